"""A site and its input series as one :class:`~islandgrid.strategy.base.DispatchProblem`: the arrays
and component parameters every strategy, the MPC, the optimiser and the controller's planner dispatch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from islandgrid.components.battery import battery_params
from islandgrid.components.genset import genset_params
from islandgrid.inputs.series import InputSeries
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem, GridParams


def build_problem(site: Site, inputs: InputSeries) -> DispatchProblem:
    """Assemble the strategy's arrays and component parameters."""
    f = inputs.frame
    econ = site.economics
    return DispatchProblem(
        index=pd.DatetimeIndex(f.index),
        dt_h=inputs.dt_h,
        pv_kw=np.ascontiguousarray(f["pv_kw"].to_numpy(dtype=float)),
        load_kw=np.ascontiguousarray(f["load_kw"].to_numpy(dtype=float)),
        critical_kw=np.ascontiguousarray(f["critical_kw"].to_numpy(dtype=float)),
        grid_available=f["grid_available"].to_numpy(dtype=float),
        import_price_per_kwh=f["import_price_per_kwh"].to_numpy(dtype=float),
        export_price_per_kwh=f["export_price_per_kwh"].to_numpy(dtype=float),
        grid_co2_kg_per_kwh=f["grid_co2_kg_per_kwh"].to_numpy(dtype=float),
        battery=battery_params(site.battery),
        genset=genset_params(site.genset, site.location.elevation_m),
        grid=GridParams(import_kw=site.grid.import_kw, export_kw=site.grid.export_kw),
        carbon_price_per_kg=econ.carbon_price_eur_per_t * econ.eur_to_currency / 1000.0,
        options={
            "cycle_charging_setpoint_frac": site.simulation.cycle_charging_setpoint_frac,
            "cycle_charging_band_frac": site.simulation.cycle_charging_band_frac,
        },
        site=site,
        grid_up_at_start=inputs.up_at_start,
    )
