"""``islandgrid optimize SITE.toml``: the perfect-foresight year, its KPIs beside the baseline, a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors
from islandgrid.cli.helpfmt import JOB_POLICY_HELP, RESOLUTION_HELP


def solve_lines(kpis: dict[str, Any], currency: str) -> list[str]:
    """Human-readable solve figures: objective, LP bound, gap, status, time."""
    gap = kpis["optimality_gap"]
    mip = kpis["mip_gap"]
    lines = [
        f"objective {kpis['optimal_objective']:,.2f} {currency} (costs + carbon + penalties); "
        f"LP bound {kpis['lp_bound']:,.2f} {currency}",
        f"optimality gap to the LP bound {100 * gap:.3f} %"
        + (f"; HiGHS MIP gap {100 * mip:.3f} %" if mip is not None and kpis["optimization_mode"] == "milp" else "")
        + f"; status {kpis['solver_status']}; solve {kpis['solve_seconds']:.2f} s",
    ]
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``optimize`` command to ``app``."""

    @app.command()
    @friendly_errors
    def optimize(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the KPIs as one JSON object, nothing else.")
        ] = False,
        resolution: Annotated[str | None, typer.Option(help=RESOLUTION_HELP)] = None,
        mode: Annotated[
            str, typer.Option(help="milp: hourly genset commitment (min load, min run, start cost); lp: the bound.")
        ] = "milp",
        end_soc: Annotated[
            str, typer.Option(help="free: the battery may end anywhere; initial: end at least at the start SoC.")
        ] = "free",
        time_limit: Annotated[float, typer.Option(help="Wall-time limit of each HiGHS run \\[s].")] = 300.0,
        mip_gap: Annotated[float, typer.Option(help="Relative MIP gap at which HiGHS stops [-].")] = 1e-3,
        reserve: Annotated[
            bool, typer.Option(help="Hold the islanding reserve while grid-tied (a soft floor, as the site asks).")
        ] = True,
        job_policy: Annotated[str | None, typer.Option(help=JOB_POLICY_HELP)] = None,
        out: Annotated[
            Path | None, typer.Option(help="Write flows (Parquet, CSV), kpis.json and report.html here.")
        ] = None,
    ) -> None:
        """Optimise the year with perfect foresight (HiGHS) and print the KPIs beside the grid + diesel design.

        The result bounds what any EMS can reach with the same hardware; 'islandgrid regret' compares
        every strategy against it.
        """
        import islandgrid
        from islandgrid.cli.simulate import kpi_table
        from islandgrid.compute.place import site_with_job_policy
        from islandgrid.optimize.model import validate_options
        from islandgrid.reports.kpi_format import targets_verdict
        from islandgrid.reports.simulation import write_outputs
        from islandgrid.simulate.optimal import optimize as run_optimize

        validate_options(mode, end_soc, time_limit, mip_gap)
        site = islandgrid.load_site(site_file)
        site = site_with_job_policy(site, job_policy)
        stages = {
            "inputs": "weather, PV, load, outages",
            "dispatch": "building the model",
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
            task = bar.add_task("loading")

            def step(stage: str) -> None:
                bar.update(task, description=stages.get(stage, stage))

            result = run_optimize(
                site,
                mode,
                resolution,
                end_soc=end_soc,
                time_limit_s=time_limit,
                mip_rel_gap=mip_gap,
                reserve=reserve,
                progress=step,
            )
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
        title = (
            f"{site.location.name}: perfect foresight ({result.strategy}, {mode.upper()}), "
            f"{result.inputs.resolution} steps, {site.simulation.year}"
        )
        console.print(kpi_table(kpis, base, title, site.economics.currency))
        for line in solve_lines(kpis, site.economics.currency):
            console.print(f"[dim]{line}[/]", highlight=False)
        for line in targets_verdict(kpis):
            style = "green" if line.startswith("MET") else "yellow"
            console.print(f"[{style}]{line}[/]", highlight=False)
        if out is not None:
            console.print(f"wrote {out}/report.html, flows.parquet, flows.csv, kpis.json")
