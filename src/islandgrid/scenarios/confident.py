"""``size --scenarios N --confidence c``: the cheapest design whose targets hold at that confidence.

A design's targets hold at confidence c when its PV share at the (1 - c) quantile over the scenarios
is at least ``pv_share_min`` and its diesel hours and unserved critical energy at the c quantile are at
most their limits (:func:`islandgrid.scenarios.summary.at_confidence`). Its cost is the mean NPC over
the scenarios (each scenario's year priced as the one-draw search prices a year); the Pareto front at
that confidence is mean NPC against CO2 at the c quantile, over the designs that hold.

Two prunings keep the cheapest design exact. (1) Scenarios run in blocks; after each block a design
that has already missed a target in more scenarios than :func:`~islandgrid.scenarios.summary.max_violations`
allows is dropped: whatever its other scenarios give, it cannot hold at that confidence. (2) Before
that, the one-draw-cheapest feasible designs (up to 24) are run through all N scenarios; the lowest mean NPC
U among those that hold bounds the answer, and every design whose NPC lower bound
(:func:`npc_lower_bound`: capex and fixed O&M, less the most salvage and export income it could earn,
no fuel, grid or carbon cost) exceeds U x (1 + ``front_margin``) is dropped. The Pareto front at
confidence is therefore complete up to that NPC, and reported up to it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.scenarios.draws import base_year
from islandgrid.scenarios.runner import ScenarioProgress, run_scenarios
from islandgrid.scenarios.summary import at_confidence, derive, max_violations, target_met
from islandgrid.site.sizing import SizingSpec
from islandgrid.site.spec import Site
from islandgrid.sizing.designs import DESIGN_COLUMNS, param_rows
from islandgrid.sizing.kernel import KPI_COLUMNS
from islandgrid.sizing.search import TARGETS, SizingResult, pareto_front, price_designs, run_sizing, site_inputs


@dataclass(frozen=True)
class ConfidentSizing:
    """The search under scenarios, beside the one-draw search.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design that held through every block: the design, the KPIs at confidence
        (``pv_share``, ``diesel_hours``, ``unserved_critical_kwh``, ``co2_kg``), ``npc`` (mean over
        scenarios), ``npc_p90``, ``capex`` and ``feasible``.
    pareto : ndarray of int
        Rows of the front at that confidence, by rising NPC.
    best : int or None
        Row of the cheapest design whose targets hold.
    one_draw : SizingResult
        The one-draw search over the same designs.
    n, confidence, seed : int, float, int
        The run.
    design_years : int
        Design-years simulated in the scenario pass.
    designs_searched : int
        Designs in the grid.
    seconds : float
        Wall time of the scenario pass [s].
    """

    table: pd.DataFrame
    pareto: np.ndarray
    best: int | None
    one_draw: SizingResult
    n: int
    confidence: float
    seed: int
    design_years: int
    designs_searched: int
    seconds: float


def npc_lower_bound(site: Site, designs: pd.DataFrame) -> np.ndarray:
    """An NPC no year of the design can go below [currency].

    Capex and the fixed O&M of PV and battery are paid whatever happens; replacements net of their
    salvage are never negative; the initial units' salvage is at most their replacement cost at the
    project's end; fuel, grid and carbon cost are at least 0 (with no negative price), and export
    income at most the export limit all year at the highest export price.
    """
    from islandgrid.economics.costs import Sizes, cost_table, discount_factors, site_prices

    econ = site.economics
    zero = np.zeros(len(designs))
    sizes = Sizes(*(designs[c].to_numpy(dtype=float) for c in ("pv_kwp", "battery_kwh", "battery_kw", "genset_kw")))
    from islandgrid.economics.costs import Operation

    op = Operation(zero, zero, zero, zero, zero, zero, zero, zero, np.full(len(designs), np.inf))
    table = cost_table(sizes, op, econ, site_prices(econ, site.genset.fuel_price_per_l))
    df = discount_factors(econ.discount_rate_frac, econ.project_life_years)
    capex = table.npc_by_line["capex"]
    salvage_max = econ.replacement_cost_frac * capex * df[-1]
    export_max = site.grid.export_kw * 8760.0 * max(site.grid.export_price_per_kwh, 0.0) * float(np.sum(df[1:]))
    return np.asarray(capex + table.npc_by_line["om"] - salvage_max - export_max)


def _blocks(n: int) -> list[tuple[int, int]]:
    edges = sorted({0, min(n, 3), min(n, 10), min(n, 30), n})
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def size_confident(
    site: Site,
    spec: SizingSpec,
    n: int,
    confidence: float,
    *,
    seed: int | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    progress: ScenarioProgress | None = None,
    front_margin: float = 0.10,
) -> ConfidentSizing:
    """Search the site's ``[sizing]`` designs under ``n`` scenarios at ``confidence``.

    ``progress`` is called with (design-years done, design-years at most).
    """
    one = run_sizing(site, spec)
    designs = one.table[list(DESIGN_COLUMNS)]
    # flexible jobs: the placement the deterministic search ended on (its last round's design)
    site_x, inputs = site_inputs(site, one.job_rounds[-1].placed_on if one.job_rounds else None)
    base = base_year(site_x, inputs)
    params = param_rows(site_x, designs)
    seed = site.scenarios.seed if seed is None else seed
    m = len(designs)
    active = [
        (name, col, sense, getattr(spec, name)) for name, col, sense in TARGETS if getattr(spec, name) is not None
    ]
    alive = np.arange(m)
    misses = {name: np.zeros(m, dtype=np.int64) for name, _, _, _ in active}
    kept: dict[int, list[np.ndarray]] = {}
    fuel = site.genset.fuel_price_per_l
    t0 = time.perf_counter()
    done_years = 0
    cands = max(1, min(24, m // 200))  # a few per cent of the pass at most
    cap = _cost_cap(site, one, base, params, n, confidence, active, seed, cluster, workers, cands)
    if cap is not None:
        done_years += min(cands, int(one.table["feasible"].sum())) * n
        alive = alive[npc_lower_bound(site, designs) <= cap * (1.0 + front_margin)]
    total = done_years + alive.size * n
    for a, b in _blocks(n):

        def step(done: int, _total: int, rows: int = alive.size, before: int = done_years, tot: int = total) -> None:
            if progress is not None:
                progress(before + done * rows, tot)

        k = run_scenarios(
            base, params[alive], b - a, k0=a, seed=seed, cluster=cluster, workers=workers, progress=step
        )
        done_years += alive.size * (b - a)
        vals = derive(k, fuel)
        ok = np.ones(alive.size, dtype=bool)
        for name, col, sense, limit in active:
            misses[name][alive] += np.sum(~target_met(vals[col], sense, float(limit)), axis=1)
            ok &= misses[name][alive] <= max_violations(n, sense, confidence)
        for i, d in enumerate(alive.tolist()):
            if ok[i]:
                kept.setdefault(d, []).append(k[i])
        alive = alive[ok]
        total = done_years + alive.size * (n - b)
    seconds = time.perf_counter() - t0
    table = _confident_table(site, designs, alive, kept, n, confidence, active)
    front = pareto_front(table["npc"].to_numpy(), table["co2_kg"].to_numpy()) if len(table) else np.zeros(0, int)
    feasible = np.nonzero(table["feasible"].to_numpy())[0] if len(table) else np.zeros(0, int)
    best = int(feasible[np.argmin(table["npc"].to_numpy()[feasible])]) if feasible.size else None
    return ConfidentSizing(
        table=table,
        pareto=front,
        best=best,
        one_draw=one,
        n=n,
        confidence=confidence,
        seed=seed,
        design_years=done_years,
        designs_searched=m,
        seconds=seconds,
    )


def _cost_cap(
    site: Site,
    one: SizingResult,
    base: object,
    params: np.ndarray,
    n: int,
    confidence: float,
    active: list[tuple[str, str, int, float]],
    seed: int,
    cluster: str | None,
    workers: int | None,
    candidates: int = 24,
) -> float | None:
    """The lowest mean NPC among the one-draw-cheapest feasible designs that hold over all N scenarios.

    Any design that holds bounds the answer's NPC from above; None when none of the candidates holds.
    """
    t = one.table
    feasible = np.nonzero(t["feasible"].to_numpy())[0]
    order = feasible[np.argsort(t["npc"].to_numpy()[feasible], kind="stable")][:candidates]
    if order.size == 0:
        return None
    k = run_scenarios(base, params[order], n, seed=seed, cluster=cluster, workers=workers)  # type: ignore[arg-type]
    kept = {int(d): [k[i]] for i, d in enumerate(order.tolist())}
    rows = _confident_table(site, t[list(DESIGN_COLUMNS)], order, kept, n, confidence, active)
    ok = rows["feasible"].to_numpy()
    return float(rows["npc"].to_numpy()[ok].min()) if ok.any() else None


def _confident_table(
    site: Site,
    designs: pd.DataFrame,
    alive: np.ndarray,
    kept: dict[int, list[np.ndarray]],
    n: int,
    confidence: float,
    active: list[tuple[str, str, int, float]],
) -> pd.DataFrame:
    """KPIs at confidence and NPC over the scenarios of the designs that held."""
    cols = ["pv_share", "diesel_hours", "unserved_critical_kwh", "co2_kg", "npc", "npc_p90", "capex", "feasible"]
    if alive.size == 0:
        return pd.DataFrame(columns=[*designs.columns, *cols])
    k = np.stack([np.concatenate(kept[d], axis=0) for d in alive.tolist()])  # (a, n, NK)
    vals = derive(k, site.genset.fuel_price_per_l)
    rows = designs.iloc[alive].reset_index(drop=True)
    flat = pd.DataFrame(k.reshape(-1, len(KPI_COLUMNS)), columns=list(KPI_COLUMNS))
    flat = pd.concat([rows.loc[rows.index.repeat(n)].reset_index(drop=True), flat], axis=1)
    costs = price_designs(site, flat)
    npc = np.asarray(costs.npc).reshape(alive.size, n)
    out = rows.copy()
    out["pv_share"] = at_confidence(vals["pv_share"], +1, confidence)
    out["diesel_hours"] = at_confidence(vals["diesel_hours"], -1, confidence)
    out["unserved_critical_kwh"] = at_confidence(vals["unserved_critical_kwh"], -1, confidence)
    out["co2_kg"] = at_confidence(vals["co2_kg"], -1, confidence)
    out["npc"] = npc.mean(axis=1)
    out["npc_p90"] = np.quantile(npc, 0.9, axis=1)
    out["capex"] = np.asarray(costs.npc_by_line["capex"]).reshape(alive.size, n)[:, 0]
    feasible = np.ones(alive.size, dtype=bool)
    for _, col, sense, limit in active:
        feasible &= target_met(out[col].to_numpy(), sense, float(limit))
    out["feasible"] = feasible
    out["lcoe_per_kwh"] = np.asarray(costs.lcoe_per_kwh).reshape(alive.size, n).mean(axis=1)
    return out
