"""``islandgrid simulate SITE --scenarios N``: the site's design over N scenario years."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from islandgrid.cli.common import atomic_dir
from islandgrid.cli.scenario_opts import quantile_table, scenario_bar


def simulate_scenarios(
    site: Any,
    n: int,
    json_out: bool,
    strategy: str | None,
    resolution: str | None,
    out: Path | None,
    cluster: str | None,
    workers: int | None,
    seed: int | None,
) -> None:
    """Run, then print (or ``--json``) the quantiles and target probabilities; ``--out`` adds the files."""
    from islandgrid.reports.scenario_plots import write_cdfs
    from islandgrid.scenarios.study import run_site
    from islandgrid.scenarios.summary import summary_json

    sim = site.simulation.model_copy(
        update={k: v for k, v in (("strategy", strategy), ("resolution", resolution)) if v is not None}
    )
    site = site.model_copy(update={"simulation": sim})
    with scenario_bar("scenarios", disable=json_out) as step:
        res = run_site(site, n, seed=seed, cluster=cluster, workers=workers, progress=step)
    payload = summary_json(res.values, n, res.seed, res.one_draw)
    title = f"{site.location.name}: {sim.strategy}, {sim.resolution} steps, {n:,} scenario years (seed {res.seed})"
    if out is not None:
        with atomic_dir(out) as tmp:
            res.frame().to_parquet(tmp / "scenarios.parquet")
            (tmp / "scenarios.json").write_text(json.dumps(payload, indent=1, default=float))
            write_cdfs(res.values, res.one_draw, title, tmp / "scenarios.html")
    if json_out:
        typer.echo(json.dumps(payload, default=float))
        return
    console = Console()
    console.print(quantile_table(payload["quantiles"], res.one_draw, title, site.economics.currency))
    for name, p in payload["p_targets_met"].items():
        console.print(f"P({name}) = {p:.1%}" if name != "all" else f"P(all targets met) = {p:.1%}", highlight=False)
    if out is not None:
        console.print(f"wrote {out}/scenarios.html (CDFs), scenarios.parquet, scenarios.json")
