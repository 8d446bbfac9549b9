"""Builders of small DispatchProblems for hand-computed and property tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from islandgrid.components.battery import BatteryParams
from islandgrid.components.genset import FuelCurve, GensetParams
from islandgrid.strategy.base import DispatchProblem, GridParams


def battery(
    energy_kwh: float = 100.0,
    p_kw: float = 50.0,
    eta: float = 1.0,
    soc_min: float = 0.0,
    soc_max: float = 1.0,
    soc_init: float = 0.5,
    reserve: float = 0.0,
    selfdis_per_h: float = 0.0,
    eta_d: float | None = None,
) -> BatteryParams:
    """A battery with fractions of ``energy_kwh``."""
    return BatteryParams(
        energy_kwh=energy_kwh,
        charge_kw=p_kw,
        discharge_kw=p_kw,
        eta_charge=eta,
        eta_discharge=eta if eta_d is None else eta_d,
        soc_min_kwh=soc_min * energy_kwh,
        soc_max_kwh=soc_max * energy_kwh,
        soc_init_kwh=soc_init * energy_kwh,
        reserve_kwh=reserve * energy_kwh,
        self_discharge_frac_per_h=selfdis_per_h,
    )


def genset(
    rated_kw: float = 40.0,
    min_frac: float = 0.3,
    min_run_h: float = 0.0,
    min_off_h: float = 0.0,
    delay_h: float = 0.0,
    f0: float = 0.033,
    f1: float = 0.273,
) -> GensetParams:
    """A genset with HOMER's example fuel curve by default."""
    return GensetParams(
        rated_kw=rated_kw,
        nameplate_kw=rated_kw,
        f0_l_per_h_per_kw=f0,
        f1_l_per_kwh=f1,
        min_load_kw=min_frac * rated_kw,
        min_run_h=min_run_h,
        min_off_h=min_off_h,
        start_delay_h=delay_h,
        co2_kg_per_l=2.68,
        fuel_price_per_l=7.5,
        curve=FuelCurve(f0, f1),
    )


def problem(
    pv_kw: list[float] | np.ndarray,
    load_kw: list[float] | np.ndarray,
    grid_up: list[bool] | list[float] | np.ndarray,
    *,
    bat: BatteryParams | None = None,
    gen: GensetParams | None = None,
    dt_h: float = 1.0,
    import_kw: float = 1000.0,
    export_kw: float = 0.0,
    critical_frac: float = 0.5,
    setpoint_frac: float = 0.8,
) -> DispatchProblem:
    """A DispatchProblem from plain lists."""
    pv = np.asarray(pv_kw, dtype=float)
    load = np.asarray(load_kw, dtype=float)
    n = len(pv)
    index = pd.date_range("2025-01-01", periods=n, freq=pd.Timedelta(hours=dt_h), tz="Asia/Shanghai")
    return DispatchProblem(
        index=index,
        dt_h=dt_h,
        pv_kw=pv,
        load_kw=load,
        critical_kw=load * critical_frac,
        grid_available=np.asarray(grid_up, dtype=float),
        import_price_per_kwh=np.full(n, 0.5),
        export_price_per_kwh=np.zeros(n),
        grid_co2_kg_per_kwh=np.full(n, 0.6),
        battery=bat or battery(),
        genset=gen or genset(),
        grid=GridParams(import_kw, export_kw),
        options={"cycle_charging_setpoint_frac": setpoint_frac},
    )
