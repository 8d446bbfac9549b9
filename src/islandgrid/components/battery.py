"""Idealised linear LFP battery: separate charge and discharge efficiencies, SoC limits."""

from __future__ import annotations

from dataclasses import dataclass

from islandgrid.site.spec import BatterySpec


@dataclass(frozen=True)
class BatteryParams:
    """Battery parameters in absolute units.

    Attributes
    ----------
    energy_kwh : float
        Nameplate energy [kWh].
    charge_kw, discharge_kw : float
        AC-side power limits [kW].
    eta_charge, eta_discharge : float
        One-way efficiencies [-]; stored energy rises by ``eta_charge * bat_in`` and
        falls by ``bat_out / eta_discharge``.
    soc_min_kwh, soc_max_kwh, soc_init_kwh, reserve_kwh : float
        State-of-charge limits, start value and islanding reserve [kWh].
    self_discharge_frac_per_h : float
        Fraction of stored energy lost each hour [1/h].
    """

    energy_kwh: float
    charge_kw: float
    discharge_kw: float
    eta_charge: float
    eta_discharge: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_init_kwh: float
    reserve_kwh: float
    self_discharge_frac_per_h: float
    cycle_life: float = 6000.0
    cycle_life_dod_frac: float = 0.8


def battery_params(spec: BatterySpec) -> BatteryParams:
    """Turn a :class:`BatterySpec` (fractions) into :class:`BatteryParams` (kWh)."""
    e = spec.energy_kwh
    return BatteryParams(
        energy_kwh=e,
        charge_kw=spec.charge_kw if e > 0 else 0.0,
        discharge_kw=spec.discharge_kw if e > 0 else 0.0,
        eta_charge=spec.eta_charge,
        eta_discharge=spec.eta_discharge,
        soc_min_kwh=spec.soc_min_frac * e,
        soc_max_kwh=spec.soc_max_frac * e,
        soc_init_kwh=spec.soc_init_frac * e,
        reserve_kwh=spec.reserve_frac * e,
        self_discharge_frac_per_h=spec.self_discharge_frac_per_day / 24.0,
        cycle_life=spec.cycle_life,
        cycle_life_dod_frac=spec.cycle_life_dod_frac,
    )
