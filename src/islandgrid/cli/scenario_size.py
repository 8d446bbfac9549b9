"""``islandgrid size SITE --scenarios N --confidence c``: the cheapest design that holds at that confidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from islandgrid.cli.common import atomic_dir
from islandgrid.cli.scenario_opts import scenario_bar

#: Columns of the design tables at confidence.
CONF_COLUMNS: tuple[str, ...] = (
    "pv_kwp", "battery_kwh", "battery_kw", "genset_kw", "strategy", "pv_share", "diesel_hours",
    "unserved_critical_kwh", "co2_kg", "capex", "npc", "npc_p90", "feasible",
)  # fmt: skip


def size_scenarios(
    site: Any,
    spec: Any,
    n: int,
    confidence: float,
    json_out: bool,
    out: Path | None,
    show: int,
    cluster: str | None,
    workers: int | None,
    seed: int | None,
    design_table: Any,
) -> None:
    """Run the search under scenarios; print the answer beside the one-draw answer and the front."""
    from islandgrid.errors import TargetError
    from islandgrid.scenarios.confident import size_confident

    with scenario_bar("design-years", disable=json_out) as step:
        res = size_confident(site, spec, n, confidence, seed=seed, cluster=cluster, workers=workers, progress=step)
    one = res.one_draw
    currency = site.economics.currency
    t = res.table
    front = t.iloc[res.pareto][list(CONF_COLUMNS)].reset_index(drop=True) if len(t) else t
    pct = f"P{round(100 * (1 - confidence))}/P{round(100 * confidence)}"
    summary: dict[str, Any] = {
        "scenarios": n,
        "confidence": confidence,
        "seed": res.seed,
        "designs": res.designs_searched,
        "design_years": res.design_years,
        "seconds": res.seconds,
        "best": None if res.best is None else {k: _plain(t.iloc[res.best][k]) for k in CONF_COLUMNS},
        "one_draw_best": None
        if one.best is None
        else {k: _plain(one.table.iloc[one.best][k]) for k in CONF_COLUMNS if k in one.table},
        "pareto": [{k: _plain(v) for k, v in r.items()} for r in front.to_dict(orient="records")],
    }
    if out is not None:
        with atomic_dir(out) as tmp:
            t.to_csv(tmp / "designs_at_confidence.csv", index=False)
            front.to_csv(tmp / "pareto_at_confidence.csv", index=False)
            (tmp / "best_at_confidence.json").write_text(json.dumps(summary, indent=1, default=float))
    if json_out:
        typer.echo(json.dumps(summary, default=float))
        if res.best is None:
            raise typer.Exit(2)
        return
    console = Console(width=max(Console().width, 170))
    console.print(
        f"{res.designs_searched:,} designs x {n:,} scenarios at confidence {confidence:g}: "
        f"{res.design_years:,} design-years simulated ({res.designs_searched * n:,} without pruning) in "
        f"{res.seconds:.1f} s; {len(t):,} designs could still hold after pruning"
    )
    if one.best is not None:
        console.print(
            design_table(one.table.iloc[[one.best]], "One draw (the site's outage seed, typical weather)", currency)
        )
    if res.best is None:
        raise TargetError(
            f"no searched design meets the targets at confidence {confidence:g} over {n} scenarios",
            field="--confidence",
            value=confidence,
            allowed="a lower confidence, relaxed targets or wider ranges",
            fix="lower --confidence, relax [sizing] targets or widen the ranges",
        )
    console.print(
        design_table(
            t.iloc[[res.best]].assign(lcoe_per_kwh=t["lcoe_per_kwh"].iloc[res.best]),
            f"At confidence {confidence:g} ({pct}: PV share at P{round(100 * (1 - confidence))}, diesel hours, "
            f"unserved critical and CO2 at P{round(100 * confidence)}; NPC = mean over scenarios)",
            currency,
        )
    )
    console.print(
        design_table(
            front.head(show).assign(lcoe_per_kwh=float("nan")),
            f"Pareto front at confidence {confidence:g}: mean NPC vs P{round(100 * confidence)} CO2 "
            f"({len(front)} designs, up to 10 % above the answer's NPC)",
            currency,
        )
    )
    if out is not None:
        console.print(f"wrote {out}/designs_at_confidence.csv, pareto_at_confidence.csv, best_at_confidence.json")


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v
