"""Shared helpers of the controller/twin tests: a site tuned for short scenarios, invariants, a stepped run."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd

from islandgrid.site.spec import Site
from islandgrid.twin.rig import SteppedRig


def run_for(rig: SteppedRig, seconds: float, at: dict | None = None) -> None:
    """Step the in-process rig for ``seconds`` of twin time, injecting the faults of ``at`` (twin time [s] -> fault)."""
    asyncio.run(rig.run_for(seconds, at))


def fast_site(site: Site, **controller: object) -> Site:
    """The seed site with a shorter stable-grid time (scenarios stay short); overrides apply."""
    ctl = {"stable_grid_s": 60.0, "resync_timeout_s": 60.0, **controller}
    return site.model_copy(update={"controller": site.controller.model_copy(update=ctl)})


def check_invariants(trace: pd.DataFrame, soc_min_kwh: float, soc_max_kwh: float) -> None:
    """Physics invariants of every twin step (energy conservation on the bus)."""
    t = trace
    supply = t.pv_used_kwh + t.grid_in_kwh + t.diesel_kwh + t.bat_out_kwh
    demand = t.load_served_kwh + t.bat_in_kwh + t.grid_out_kwh + t.dump_kwh
    assert np.allclose(supply, demand, atol=1e-9), float(np.max(np.abs(supply - demand)))
    assert (t.soc_kwh <= soc_max_kwh + 1e-9).all()
    # energy only leaves above soc_min (it may sit below only through self-discharge)
    below = t.soc_kwh < soc_min_kwh - 1e-6
    assert (t.bat_out_kwh[below] == 0).all()
    # critical load unserved only when no source could physically serve it:
    # grid not normal, battery tripped or empty, genset not running
    crit_lost = t.unserved_critical_kwh > 1e-9
    servable = (t.grid_up > 0) | (t.battery_available > 0) | (t.genset_running > 0)
    bad = t[crit_lost & servable]
    assert bad.empty, bad.head()
