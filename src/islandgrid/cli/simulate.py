"""``islandgrid simulate SITE.toml``: a simulated year, its KPIs beside the baseline, a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors
from islandgrid.cli.helpfmt import JOB_POLICY_HELP, RESOLUTION_HELP, STRATEGY_HELP
from islandgrid.cli.scenario_opts import ClusterOpt, ScenariosOpt, SeedOpt, WorkersOpt
from islandgrid.reports.kpi_format import JOB_KPI_ROWS, KPI_ROWS, fmt_kpi, targets_verdict


def kpi_table(kpis: dict[str, Any], baseline: dict[str, Any] | None, title: str, currency: str = "CNY") -> Table:
    """A rich table of the KPIs with the traditional design beside them."""
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column("microgrid", justify="right")
    if baseline is not None:
        table.add_column("grid + diesel backup", justify="right")
    for key, label, unit, kind in KPI_ROWS:
        row = [label, unit.format(currency=currency), fmt_kpi(kpis[key], kind)]
        if baseline is not None:
            row.append(fmt_kpi(baseline[key], kind))
        table.add_row(*row)
    if "jobs_total" in kpis:  # flexible compute: the job KPIs of the policy (the baseline runs fifo)
        for key, label, unit, kind in JOB_KPI_ROWS:
            row = [f"{label} ({kpis['job_policy']})" if key == "jobs_total" else label, unit, fmt_kpi(kpis[key], kind)]
            if baseline is not None:
                row.append("")
            table.add_row(*row)
    if baseline is not None and "co2_reduction" in kpis:
        table.add_row("CO2 reduction vs baseline", "%", fmt_kpi(kpis["co2_reduction"], "pct"), "")
    return table


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command()
    @friendly_errors
    def simulate(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the KPIs as one JSON object, nothing else.")
        ] = False,
        resolution: Annotated[str | None, typer.Option(help=RESOLUTION_HELP)] = None,
        strategy: Annotated[str | None, typer.Option(help=STRATEGY_HELP)] = None,
        job_policy: Annotated[str | None, typer.Option(help=JOB_POLICY_HELP)] = None,
        out: Annotated[
            Path | None, typer.Option(help="Write flows (Parquet, CSV), kpis.json and report.html here.")
        ] = None,
        scenarios: ScenariosOpt = None,
        cluster: ClusterOpt = None,
        workers: WorkersOpt = None,
        seed: SeedOpt = None,
    ) -> None:
        """Simulate a year and print the KPIs beside the traditional grid + diesel design."""
        import islandgrid
        from islandgrid.compute.place import site_with_job_policy
        from islandgrid.reports.simulation import write_outputs

        site = islandgrid.load_site(site_file)
        site = site_with_job_policy(site, job_policy)
        if scenarios is not None:
            from islandgrid.cli.scenario_sim import simulate_scenarios

            simulate_scenarios(site, scenarios, json_out, strategy, resolution, out, cluster, workers, seed)
            return
        stages = {
            "inputs": "weather, PV, load, outages",
            "dispatch": "dispatch + checks + carbon flow",
            "baseline": "grid + diesel baseline",
            "kpis": "KPIs",
        }
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
            disable=json_out,
        ) as bar:
            task = bar.add_task("loading", total=len(stages) + (1 if out else 0))

            def step(stage: str) -> None:
                bar.update(task, description=stages.get(stage, stage), advance=1)

            result = islandgrid.simulate(site, strategy=strategy, resolution=resolution, progress=step)
            if out is not None:
                bar.update(task, description=f"writing {out}")
                with atomic_dir(out) as tmp:
                    write_outputs(result, tmp)
        kpis = result.kpis
        if json_out:
            typer.echo(json.dumps(kpis, default=float))
            return
        console = Console()
        base = result.baseline.kpis if result.baseline is not None else None
        title = f"{site.location.name}: {result.strategy}, {result.inputs.resolution} steps, {site.simulation.year}"
        console.print(kpi_table(kpis, base, title, site.economics.currency))
        for line in targets_verdict(kpis):
            style = "green" if line.startswith("MET") else "yellow"
            console.print(f"[{style}]{line}[/]", highlight=False)
        if out is not None:
            console.print(f"wrote {out}/report.html, flows.parquet, flows.csv, kpis.json")
