"""``islandgrid size``: search designs, price them, keep the Pareto front, pick the cheapest
design that meets the targets, and say why when none does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numba
import numpy as np
import pandas as pd

from islandgrid.compute.place import place_jobs
from islandgrid.dispatch.registry import get_strategy
from islandgrid.economics.battery_life import throughput_life_years
from islandgrid.economics.costs import CostTable, Operation, Sizes, cost_table, site_prices
from islandgrid.errors import TargetError
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.simulate.engine import baseline_site, run_problem
from islandgrid.simulate.result import Result
from islandgrid.site.sizing import SizingSpec
from islandgrid.site.spec import Site
from islandgrid.sizing.designs import Design, design_grid, design_site, param_rows
from islandgrid.sizing.kernel import KPI_COLUMNS, evaluate_designs
from islandgrid.strategy.problem import build_problem

#: Called with (designs done, designs in total).
SizingProgress = Callable[[int, int], None]

#: Targets: (site field, KPI column, sense) — sense +1 means "at least", -1 "at most".
TARGETS: tuple[tuple[str, str, int], ...] = (
    ("pv_share_min", "pv_share", +1),
    ("diesel_hours_max", "diesel_hours", -1),
    ("unserved_critical_kwh_max", "unserved_critical_kwh", -1),
)
_TOL = {"pv_share": 1e-9, "diesel_hours": 1e-6, "unserved_critical_kwh": 1e-6}


@dataclass(frozen=True)
class SizingResult:
    """What the search found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per design: :data:`DESIGN_COLUMNS`, the KPIs, ``pv_share``, ``co2_kg``,
        ``npc``, ``lcoe_per_kwh``, ``capex``, one ``meets_<target>`` column per target and
        ``feasible``.
    pareto : ndarray of int
        Row positions of the NPC-vs-CO2 Pareto front, by rising NPC.
    best : int or None
        Row position of the cheapest feasible design (None if none is feasible).
    spec : SizingSpec
        The ranges and targets searched.
    why : list of str
        When nothing is feasible: which target binds, the best value of each, what to relax.
    notes : list of str
        Remarks on the best design (e.g. it sits at the edge of a range).
    baseline_npc : float
        NPC of the grid + diesel baseline [currency].
    seconds : float
        Wall time of the kernel [s].
    """

    table: pd.DataFrame
    pareto: np.ndarray
    best: int | None
    spec: SizingSpec
    why: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline_npc: float = float("nan")
    seconds: float = 0.0
    job_rounds: list[JobRound] = field(default_factory=list)

    def best_design(self) -> Design | None:
        """The cheapest design that meets the targets."""
        if self.best is None:
            return None
        row = self.table.iloc[self.best]
        return Design(
            float(row["pv_kwp"]),
            float(row["battery_kwh"]),
            float(row["battery_kw"]),
            float(row["genset_kw"]),
            str(row["strategy"]),
        )


@dataclass(frozen=True)
class JobRound:
    """One round of sizing with flexible jobs: the equipment the jobs were placed on, the design chosen
    on that load (None: none met the targets) and the kernel's wall time [s]."""

    placed_on: Design | None
    best: Design | None
    seconds: float


#: Most rounds of placing flexible jobs on the chosen design and searching again (:func:`run_sizing`).
JOB_ROUNDS_MAX = 4


def _equipment(site: Site, d: Design | None) -> tuple[float, float, float]:
    """What a job placement reads of a design: PV [kWp], battery [kWh] and [kW] (None: the site's own)."""
    if d is None:
        return (site.pv.kwp, site.battery.energy_kwh, site.battery.discharge_kw)
    return (d.pv_kwp, d.battery_kwh, d.battery_kw)


def _describe(site: Site, d: Design | None) -> str:
    pv, e, p = _equipment(site, d)
    return f"{pv:g} kWp / {e:g} kWh / {p:g} kW" + (" (the site's own)" if d is None else "")


def kernel_inputs(site: Site, inputs: InputSeries) -> tuple[np.ndarray, ...]:
    """Contiguous arrays for the kernel, with PV per kWp (PVWatts is linear in the nameplate)."""
    f = inputs.frame

    def col(name: str) -> np.ndarray:
        return np.ascontiguousarray(f[name].to_numpy(dtype=float))

    pv1 = col("pv_kw") / site.pv.kwp
    return (
        pv1,
        col("load_kw"),
        col("critical_kw"),
        col("grid_available"),
        inputs.up_at_start,
        col("import_price_per_kwh"),
        col("export_price_per_kwh"),
        col("grid_co2_kg_per_kwh"),
    )


def evaluate(
    site: Site,
    inputs: InputSeries,
    designs: pd.DataFrame,
    progress: SizingProgress | None = None,
    batch: int = 2048,
) -> np.ndarray:
    """Simulate every design for a year; annual sums, shape (m, len(KPI_COLUMNS)).

    ``inputs`` must have been built for a site with ``pv.kwp > 0`` (see :func:`site_inputs`).
    """
    params = param_rows(site, designs)
    pv1, load, crit, up, up_start, p_imp, p_exp, g_co2 = kernel_inputs(site, inputs)
    m = len(designs)
    kpis = np.zeros((m, len(KPI_COLUMNS)))
    threads = numba.get_num_threads()
    for a in range(0, m, batch):
        b = min(a + batch, m)
        evaluate_designs(
            params[a:b],
            inputs.dt_h,
            pv1,
            load,
            crit,
            up,
            up_start,
            p_imp,
            p_exp,
            g_co2,
            site.genset.co2_kg_per_l,
            threads,
            kpis[a:b],
        )
        if progress is not None:
            progress(b, m)
    return kpis


def site_inputs(site: Site, design: Design | None = None) -> tuple[Site, InputSeries]:
    """Inputs with a PV series to scale: the site itself, or the site at 1 kWp if it has none. With
    flexible compute (``[compute]``) the load is the jobs as its policy places them on ``design``'s
    equipment (default: the site's own), the same load for every design searched on it."""
    placed = build_inputs(site)
    if site.compute is not None and design is None:
        placed = place_jobs(site, placed).inputs
    elif site.compute is not None:
        assert design is not None
        on = design_site(site, design)
        jobs = place_jobs(on, build_inputs(on)).inputs.frame
        placed = replace(placed, frame=jobs.assign(pv_kw=placed.frame["pv_kw"]))
    if site.pv.kwp <= 0:
        site = site.model_copy(update={"pv": site.pv.model_copy(update={"kwp": 1.0})})
        placed = replace(placed, frame=placed.frame.assign(pv_kw=build_inputs(site).frame["pv_kw"]))
    return site, placed


def baseline_result(site: Site, inputs: InputSeries) -> Result:
    """The grid + diesel baseline on the same load and outages (as ``simulate`` runs it)."""
    base_site = baseline_site(site, inputs)
    base_inputs = replace(inputs, frame=inputs.frame.assign(pv_kw=0.0))
    return run_problem(base_site, base_inputs, build_problem(base_site, base_inputs), get_strategy("load_following"))


def price_designs(site: Site, table: pd.DataFrame) -> CostTable:
    """Life-cycle cost of every design from its annual sums (throughput battery life)."""
    b = site.battery
    throughput = table["bat_out_kwh"].to_numpy() / b.eta_discharge
    life = throughput_life_years(throughput, table["battery_kwh"].to_numpy(), b.cycle_life, b.cycle_life_dod_frac)
    op = Operation(
        served_kwh=table["served_kwh"].to_numpy(),
        export_kwh=table["grid_export_kwh"].to_numpy(),
        grid_cost=table["grid_cost"].to_numpy(),
        export_revenue=table["export_revenue"].to_numpy(),
        fuel_l=table["fuel_l"].to_numpy(),
        diesel_hours=table["diesel_hours"].to_numpy(),
        co2_scope1_kg=table["co2_scope1_kg"].to_numpy(),
        co2_scope2_kg=table["co2_scope2_location_kg"].to_numpy(),
        battery_life_years=life,
    )
    sizes = Sizes(
        pv_kwp=table["pv_kwp"].to_numpy(),
        battery_kwh=table["battery_kwh"].to_numpy(),
        battery_kw=table["battery_kw"].to_numpy(),
        genset_kw=table["genset_kw"].to_numpy(),
    )
    return cost_table(sizes, op, site.economics, site_prices(site.economics, site.genset.fuel_price_per_l))


def pareto_front(cost: np.ndarray, co2: np.ndarray) -> np.ndarray:
    """Positions of the designs no other design beats on both cost and CO2, by rising cost.

    Ties on both are kept once (the first).
    """
    order = np.lexsort((co2, cost))
    front = []
    best_co2 = np.inf
    for i in order:
        if co2[i] < best_co2:
            front.append(i)
            best_co2 = co2[i]
    return np.asarray(front, dtype=np.int64)


def _meets(table: pd.DataFrame, spec: SizingSpec) -> pd.DataFrame:
    out = {}
    for name, col, sense in TARGETS:
        limit = getattr(spec, name)
        v = table[col].to_numpy()
        if limit is None:
            out[f"meets_{name}"] = np.ones(len(v), dtype=bool)
        elif sense > 0:
            out[f"meets_{name}"] = v >= limit - _TOL[col]
        else:
            out[f"meets_{name}"] = v <= limit + _TOL[col]
    meets = pd.DataFrame(out, index=table.index)
    meets["feasible"] = meets.all(axis=1)
    return meets


def explain_infeasible(table: pd.DataFrame, spec: SizingSpec) -> list[str]:
    """Why no design meets the targets: the best value of each target, which ones bind, what to relax."""
    lines = []
    active = [(n, c, s) for n, c, s in TARGETS if getattr(spec, n) is not None]
    for name, col, sense in active:
        limit = getattr(spec, name)
        others = [f"meets_{n}" for n, _, _ in active if n != name]
        ok_others = table[others].all(axis=1) if others else pd.Series(True, index=table.index)
        v = table[col]
        best_all = v.max() if sense > 0 else v.min()
        met_alone = bool(table[f"meets_{name}"].any())
        pos = int(np.argmax(v.to_numpy())) if sense > 0 else int(np.argmin(v.to_numpy()))
        at = table.iloc[pos]
        where = (
            f"{at.pv_kwp:g} kWp PV, {at.battery_kwh:g} kWh / {at.battery_kw:g} kW battery, "
            f"{at.genset_kw:g} kW genset, {at.strategy}"
        )
        word = "at least" if sense > 0 else "at most"
        if not met_alone:
            edge = _edge_hint(at, spec)
            lines.append(
                f"{col} {word} {limit:g} cannot be met by any searched design: the best is {best_all:.4g} "
                f"({where}). Relax {name} to {best_all:.4g}{edge}."
            )
        elif ok_others.any():
            best_joint = v[ok_others].max() if sense > 0 else v[ok_others].min()
            lines.append(
                f"{col} {word} {limit:g} binds together with the other targets: among designs meeting those, "
                f"the best {col} is {best_joint:.4g}. Relax {name} to {best_joint:.4g}, or widen the ranges."
            )
        else:
            lines.append(f"{col} {word} {limit:g} is met by some designs (best {best_all:.4g}), but not together.")
    if not active:
        lines.append("no targets are set, yet no design was kept; check the ranges")
    return lines


def _edge_hint(row: pd.Series, spec: SizingSpec) -> str:
    hints = []
    for col in ("pv_kwp", "battery_kwh", "genset_kw"):
        top = getattr(spec, col).grid()
        if top.size and row[col] >= top.max():
            hints.append(f"sizing.{col} above {top.max():g}")
    return f", or extend {' and '.join(hints)}" if hints else ", or widen the search ranges"


def _notes(row: pd.Series, spec: SizingSpec) -> list[str]:
    notes = []
    for col in ("pv_kwp", "battery_kwh", "battery_kw", "genset_kw"):
        grid = getattr(spec, col).grid()
        if grid.size > 1 and row[col] >= grid.max() and col != "genset_kw":
            notes.append(f"the best {col} ({row[col]:g}) is the top of its range: widen sizing.{col}.max")
    return notes


def run_sizing(site: Site, spec: SizingSpec | None = None, progress: SizingProgress | None = None) -> SizingResult:
    """Search the site's ``[sizing]`` ranges and price every design.

    Parameters
    ----------
    site : Site
        The site; its ``[sizing]`` section (or ``spec``) gives ranges and targets.
    spec : SizingSpec, optional
        Overrides ``site.sizing``; defaults apply when both are missing.
    progress : callable, optional
        Called with (done, total) after each batch.

    Returns
    -------
    SizingResult
        All designs, the Pareto front, the cheapest feasible design (or why none is).
    """
    spec = spec or site.sizing or SizingSpec()
    designs = design_grid(spec)
    # flexible jobs whose placement reads the equipment: place them on the chosen design and search
    # again until the choice stops changing (fifo's placement reads none of it: one round)
    moves = site.compute is not None and site.compute.job_policy != "fifo"
    rounds: list[JobRound] = []
    placed_on: Design | None = None
    while True:
        site_x, inputs = site_inputs(site, placed_on)
        t0 = time.perf_counter()
        kpis = evaluate(site_x, inputs, designs, progress)
        seconds = time.perf_counter() - t0
        table, front, best = search_table(site, spec, designs, kpis)
        chosen = None if best is None else _design_at(table, best)
        rounds.append(JobRound(placed_on, chosen, seconds))
        if not moves or chosen is None or len(rounds) >= JOB_ROUNDS_MAX:
            break
        if _equipment(site, chosen) == _equipment(site, placed_on):
            break
        placed_on = chosen
    return sizing_result(
        site,
        spec,
        (table, front, best),
        (site_x, inputs),
        [_rounds_note(site, rounds, moves)] if site.compute is not None else [],
        seconds=sum(r.seconds for r in rounds),
        job_rounds=rounds if site.compute is not None else [],
    )


def sizing_result(
    site: Site,
    spec: SizingSpec,
    searched: tuple[pd.DataFrame, np.ndarray, int | None],
    baseline_on: tuple[Site, InputSeries],
    more_notes: list[str],
    seconds: float,
    job_rounds: list[JobRound] | None = None,
) -> SizingResult:
    """A search's result: ``searched`` (table, Pareto front, best row from :func:`search_table`), why
    nothing met the targets or the notes on the best design (then ``more_notes``), and the baseline's
    NPC on ``baseline_on`` (the site and the inputs it runs on)."""
    table, front, best = searched
    why = [] if best is not None else explain_infeasible(table, spec)
    notes = (_notes(table.iloc[best], spec) if best is not None else []) + more_notes
    base_npc = float(baseline_costs(site, baseline_result(*baseline_on)).npc[0])
    return SizingResult(
        table=table,
        pareto=front,
        best=best,
        spec=spec,
        why=why,
        notes=notes,
        baseline_npc=base_npc,
        seconds=seconds,
        job_rounds=job_rounds or [],
    )


def _design_at(table: pd.DataFrame, i: int) -> Design:
    row = table.iloc[i]
    return Design(
        float(row["pv_kwp"]), float(row["battery_kwh"]), float(row["battery_kw"]), float(row["genset_kw"]),
        str(row["strategy"]),
    )  # fmt: skip


def _rounds_note(site: Site, rounds: list[JobRound], moves: bool) -> str:
    """What the job placement rounds did, in words."""
    assert site.compute is not None
    pol = site.compute.job_policy
    if not moves:
        return f"the jobs ({pol}) placed once: fifo's placement does not depend on the equipment"
    path = " -> ".join(_describe(site, r.placed_on) for r in rounds)
    last = rounds[-1]
    if last.best is None:
        how = "no design met the targets on the last placement"
    elif _equipment(site, last.best) == _equipment(site, last.placed_on):
        how = f"fixed point after {len(rounds)} round(s): the chosen design is the one the jobs were placed on"
    else:
        how = (
            f"no fixed point in {len(rounds)} rounds (the choice still moved to {_describe(site, last.best)}); "
            "the last round's search is kept"
        )
    return f"flexible jobs ({pol}) placed on: {path}; {how}"


def search_table(
    site: Site, spec: SizingSpec, designs: pd.DataFrame, kpis: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, int | None]:
    """Price the designs' annual sums, mark the targets, find the Pareto front and the best design."""
    table = pd.concat([designs, pd.DataFrame(kpis, columns=list(KPI_COLUMNS))], axis=1)
    served = table["served_kwh"].to_numpy()
    table["pv_share"] = np.where(served > 0, table["pv_to_load_kwh"] / np.where(served > 0, served, 1.0), 0.0)
    table["co2_kg"] = table["co2_scope1_kg"] + table["co2_scope2_location_kg"]
    costs = price_designs(site, table)
    table["capex"] = costs.npc_by_line["capex"]
    table["npc"] = costs.npc
    table["npc_excl_carbon"] = costs.npc_excl_carbon
    table["lcoe_per_kwh"] = costs.lcoe_per_kwh
    table = pd.concat([table, _meets(table, spec)], axis=1)
    front = pareto_front(table["npc"].to_numpy(), table["co2_kg"].to_numpy())
    feasible = np.nonzero(table["feasible"].to_numpy())[0]
    best = int(feasible[np.argmin(table["npc"].to_numpy()[feasible])]) if feasible.size else None
    return table, front, best


def baseline_costs(site: Site, base: Result) -> CostTable:
    """Life-cycle cost of the baseline (genset sized for the peak, grid for everything else)."""
    k = base.kpis
    op = Operation(
        served_kwh=np.array([k["served_kwh"]]),
        export_kwh=np.array([k["grid_export_kwh"]]),
        grid_cost=np.array([k["grid_cost"]]),
        export_revenue=np.array([k["export_revenue"]]),
        fuel_l=np.array([k["fuel_l"]]),
        diesel_hours=np.array([k["diesel_hours"]]),
        co2_scope1_kg=np.array([k["co2_scope1_kg"]]),
        co2_scope2_kg=np.array([k["co2_scope2_location_kg"]]),
        battery_life_years=np.array([np.inf]),
    )
    sizes = Sizes(np.zeros(1), np.zeros(1), np.zeros(1), np.array([base.site.genset.rated_kw]))
    return cost_table(sizes, op, site.economics, site_prices(site.economics, site.genset.fuel_price_per_l))


def require_feasible(result: SizingResult) -> Design:
    """The best design, or a :class:`TargetError` that says what to relax."""
    d = result.best_design()
    if d is None:
        raise TargetError(
            "no searched design meets the targets. " + " ".join(result.why),
            field="sizing",
            value={n: getattr(result.spec, n) for n, _, _ in TARGETS if getattr(result.spec, n) is not None},
            fix="relax the binding target or widen the ranges, as listed",
        )
    return d


def verify_design(site: Site, design: Design) -> Result:
    """Re-run a design through :func:`islandgrid.simulate` (full checks, carbon flow, baseline)."""
    import islandgrid

    return islandgrid.simulate(design_site(site, design))
