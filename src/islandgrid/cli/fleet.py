"""``islandgrid fleet FLEET.toml``: a fleet table and chart over many sites or hub locations, under scenarios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import atomic_dir, friendly_errors
from islandgrid.cli.scenario_opts import ClusterOpt, SeedOpt, WorkersOpt, scenario_bar


def register(app: typer.Typer) -> None:
    """Add the ``fleet`` command to ``app``."""

    @app.command()
    @friendly_errors
    def fleet(
        fleet_file: Annotated[Path, typer.Argument(help="The fleet TOML file ([fleet]: sites, or site + hubs).")],
        scenarios: Annotated[
            int | None, typer.Option("--scenarios", min=1, help="Scenarios per site (default: [fleet] scenarios).")
        ] = None,
        out: Annotated[
            Path | None, typer.Option(help="Write fleet.parquet, fleet_summary.csv and fleet.html here.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the fleet table as JSON.")] = False,
        cluster: ClusterOpt = None,
        workers: WorkersOpt = None,
        seed: SeedOpt = None,
    ) -> None:
        """Simulate every site of a fleet under scenarios: P10/P50/P90 per site, a chart, Parquet results."""
        from islandgrid.reports.scenario_plots import write_fleet_chart
        from islandgrid.scenarios.fleet import FLEET_KPIS, load_fleet, run_fleet

        spec, sites = load_fleet(fleet_file)
        n = scenarios or spec.scenarios
        with scenario_bar("site-scenarios", disable=json_out) as step:
            summary, long = run_fleet(sites, n, seed=seed, cluster=cluster, workers=workers, progress=step)
        title = f"{fleet_file.name}: {len(sites)} sites x {n:,} scenario years"
        if out is not None:
            with atomic_dir(out) as tmp:
                long.to_parquet(tmp / "fleet.parquet")
                summary.to_csv(tmp / "fleet_summary.csv", index=False)
                write_fleet_chart(long, title, tmp / "fleet.html")
        if json_out:
            typer.echo(json.dumps({"scenarios": n, "sites": summary.to_dict(orient="records")}, default=float))
            return
        table = Table(title=title, title_justify="left")
        table.add_column("site")
        units = {"pv_share": "%", "diesel_hours": "h", "unserved_critical_kwh": "kWh", "co2_kg": "t"}
        for kpi, qs, _ in FLEET_KPIS:
            for q in qs:
                table.add_column(f"{kpi.split('_')[0]} {q.upper()} {units[kpi]}", justify="right")
        table.add_column("P(all targets)", justify="right")
        for r in summary.to_dict(orient="records"):
            cells = [str(r["site"])]
            for kpi, qs, scale in FLEET_KPIS:
                cells += [f"{r[f'{kpi}_{q}'] * scale:,.1f}" for q in qs]
            cells.append(f"{r['p_all_targets']:.0%}")
            table.add_row(*cells)
        console = Console(width=max(Console().width, 140))
        console.print(table)
        if out is not None:
            console.print(f"wrote {out}/fleet.html, fleet.parquet, fleet_summary.csv")
