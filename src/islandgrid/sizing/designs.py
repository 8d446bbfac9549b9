"""Candidate designs: the search grid, a design as a Site, and its kernel parameter row.

The parameter row is derived exactly as :func:`islandgrid.strategy.rules.run_into` derives
the kernel's arguments from the site (through the same ``battery_params`` and
``genset_params``), so a design evaluated by the sizing kernel and the same design run by
``islandgrid.simulate`` see identical numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.components.battery import battery_params
from islandgrid.components.genset import genset_params
from islandgrid.errors import TargetError
from islandgrid.site.sizing import SearchRange, SizingSpec
from islandgrid.site.spec import Site
from islandgrid.sizing.kernel import PARAM_COLUMNS
from islandgrid.strategy.rules import CYCLE_CHARGING, LOAD_FOLLOWING, PV_FIRST

#: The rule strategies sizing searches, and their kernel codes.
STRATEGY_CODES: dict[str, int] = {
    "pv_first": PV_FIRST,
    "load_following": LOAD_FOLLOWING,
    "cycle_charging": CYCLE_CHARGING,
}

#: The columns that define a design.
DESIGN_COLUMNS: tuple[str, ...] = ("pv_kwp", "battery_kwh", "battery_kw", "genset_kw", "strategy")


@dataclass(frozen=True)
class Design:
    """One candidate: sizes [kWp, kWh, kW, kW] and a rule strategy."""

    pv_kwp: float
    battery_kwh: float
    battery_kw: float
    genset_kw: float
    strategy: str


def _values(spec: SizingSpec, name: str) -> np.ndarray:
    rng: SearchRange = getattr(spec, name)
    v = rng.grid()
    if v.size == 0:
        raise TargetError(
            "the search range is empty",
            field=f"sizing.{name}",
            value=rng.model_dump(exclude_none=True),
            allowed="min <= max with step > 0, or a non-empty values list",
            fix=f"give {name} = {{ min = ..., max = ..., step = ... }} with min <= max",
        )
    return v


def design_grid(spec: SizingSpec) -> pd.DataFrame:
    """Every combination of the searched values, one row per design.

    A battery of 0 kWh has no power rating, so its designs are kept once (battery_kw = 0).

    Raises
    ------
    TargetError
        For an empty range, an unknown strategy, or more designs than ``max_designs``.
    """
    pv, e, p, g = (_values(spec, k) for k in ("pv_kwp", "battery_kwh", "battery_kw", "genset_kw"))
    strategies = list(dict.fromkeys(spec.strategies))
    bad = [s for s in strategies if s not in STRATEGY_CODES]
    if not strategies or bad:
        raise TargetError(
            "sizing searches the rule strategies only",
            field="sizing.strategies",
            value=spec.strategies,
            allowed=", ".join(STRATEGY_CODES),
            fix="list one or more of those names",
        )
    batteries = [(ei, pi) for ei in e for pi in p if ei > 0] + ([(0.0, 0.0)] if (e == 0).any() else [])
    n = pv.size * len(batteries) * g.size * len(strategies)
    if n > spec.max_designs:
        raise TargetError(
            f"the search grid has {n:,} designs",
            field="sizing.max_designs",
            value=spec.max_designs,
            allowed=f"at most max_designs ({spec.max_designs:,})",
            fix="use coarser steps or narrower ranges, or raise sizing.max_designs",
        )
    bat = np.asarray(batteries, dtype=float).reshape(-1, 2)
    ip, ib, ig, is_ = np.meshgrid(
        np.arange(pv.size), np.arange(len(bat)), np.arange(g.size), np.arange(len(strategies)), indexing="ij"
    )
    return pd.DataFrame(
        {
            "pv_kwp": pv[ip.ravel()],
            "battery_kwh": bat[ib.ravel(), 0],
            "battery_kw": bat[ib.ravel(), 1],
            "genset_kw": g[ig.ravel()],
            "strategy": np.asarray(strategies, dtype=object)[is_.ravel()],
        }
    )


def design_site(site: Site, design: Design) -> Site:
    """The site with a design's sizes and strategy.

    The genset keeps the site's fuel curve per kW of rating: a data-sheet curve is fitted
    once for the site's own rating and carried as HOMER's F0 [L/h/kW] and F1 [L/kWh], so a
    larger or smaller set burns proportionally (HOMER's convention for sizing a genset).
    """
    gp = genset_params(site.genset, site.location.elevation_m)
    b = site.battery
    return site.model_copy(
        update={
            "pv": site.pv.model_copy(update={"kwp": float(design.pv_kwp)}),
            "battery": b.model_copy(
                update={
                    "energy_kwh": float(design.battery_kwh),
                    "charge_kw": float(design.battery_kw),
                    "discharge_kw": float(design.battery_kw),
                }
            ),
            "genset": site.genset.model_copy(
                update={
                    "rated_kw": float(design.genset_kw),
                    "datasheet_load_frac": None,
                    "datasheet_fuel_l_per_h": None,
                    "f0_l_per_h_per_kw": gp.f0_l_per_h_per_kw,
                    "f1_l_per_kwh": gp.f1_l_per_kwh,
                }
            ),
            "simulation": site.simulation.model_copy(update={"strategy": design.strategy}),
            "sizing": None,
        }
    )


def param_rows(site: Site, designs: pd.DataFrame) -> np.ndarray:
    """Kernel parameter rows (:data:`PARAM_COLUMNS`) of every design, shape (m, 22).

    Battery and genset parameters come from ``battery_params`` / ``genset_params`` of each
    design's site, computed once per distinct size.
    """
    setpoint_frac = site.simulation.cycle_charging_setpoint_frac
    band_frac = site.simulation.cycle_charging_band_frac
    base = design_site(site, Design(0.0, 0.0, 0.0, 0.0, "pv_first"))
    bat_id = designs.groupby(["battery_kwh", "battery_kw"], sort=False).ngroup().to_numpy()
    bat_keys = designs.drop_duplicates(["battery_kwh", "battery_kw"])[["battery_kwh", "battery_kw"]].to_numpy(float)
    bat_rows = []
    for e, p in bat_keys:
        bp = battery_params(base.battery.model_copy(update={"energy_kwh": e, "charge_kw": p, "discharge_kw": p}))
        bat_rows.append([
            bp.soc_min_kwh, bp.soc_max_kwh, bp.soc_init_kwh, bp.reserve_kwh, bp.charge_kw, bp.discharge_kw,
            bp.eta_charge, bp.eta_discharge, bp.self_discharge_frac_per_h, setpoint_frac * bp.energy_kwh,
            band_frac * bp.energy_kwh,
        ])  # fmt: skip
    gen_keys, gen_id = np.unique(designs["genset_kw"].to_numpy(dtype=float), return_inverse=True)
    gen_rows = []
    for g in gen_keys:
        gp = genset_params(base.genset.model_copy(update={"rated_kw": float(g)}), site.location.elevation_m)
        gen_rows.append([
            gp.rated_kw, min(gp.min_load_kw, gp.rated_kw), gp.f0_l_per_h_per_kw * gp.nameplate_kw,
            gp.f1_l_per_kwh, gp.min_run_h, gp.start_delay_h, gp.min_off_h,
        ])  # fmt: skip
    b = np.asarray(bat_rows, dtype=float)[bat_id]
    g = np.asarray(gen_rows, dtype=float)[gen_id]
    m = len(designs)
    codes = designs["strategy"].map(STRATEGY_CODES).to_numpy(dtype=float)
    pv = designs["pv_kwp"].to_numpy(dtype=float)
    grid = np.tile([site.grid.import_kw, site.grid.export_kw], (m, 1))
    rows = np.column_stack([codes, pv, b[:, :9], g[:, :6], grid, b[:, 9], g[:, 6], b[:, 10]])
    assert rows.shape[1] == len(PARAM_COLUMNS)
    return np.ascontiguousarray(rows)
