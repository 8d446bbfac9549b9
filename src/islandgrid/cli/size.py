"""``islandgrid size SITE.toml``: the cheapest design that meets the targets, and the Pareto front."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors
from islandgrid.cli.helpfmt import JOB_POLICY_HELP
from islandgrid.cli.scenario_opts import ClusterOpt, ScenariosOpt, SeedOpt, WorkersOpt

#: KPIs compared between the sizing kernel and a full ``islandgrid.simulate`` re-run.
VERIFY_KPIS: tuple[str, ...] = (
    "pv_share",
    "diesel_hours",
    "unserved_critical_kwh",
    "fuel_l",
    "grid_import_kwh",
    "co2_kg",
)


def _design_table(df: Any, title: str, currency: str) -> Table:
    table = Table(title=title, title_justify="left")
    heads = [
        ("PV kWp", "pv_kwp", "{:,.0f}"),
        ("bat kWh", "battery_kwh", "{:,.0f}"),
        ("bat kW", "battery_kw", "{:,.0f}"),
        ("gen kW", "genset_kw", "{:,.0f}"),
        ("strategy", "strategy", "{}"),
        ("PV share", "pv_share", "{:.1%}"),
        ("diesel h", "diesel_hours", "{:,.1f}"),
        ("unserved crit kWh", "unserved_critical_kwh", "{:,.1f}"),
        ("CO2 t", "co2_kg", "{:,.1f}"),
        (f"capex {currency}", "capex", "{:,.0f}"),
        (f"NPC {currency}", "npc", "{:,.0f}"),
        (f"LCOE {currency}/kWh", "lcoe_per_kwh", "{:.3f}"),
        ("meets targets", "feasible", "{}"),
    ]
    for h, _, _ in heads:
        table.add_column(h, justify="left" if h == "strategy" else "right")
    for row in df.itertuples():
        cells = []
        for _, col, fmt in heads:
            v = getattr(row, col)
            cells.append(fmt.format(v / 1000.0 if col == "co2_kg" else v))
        table.add_row(*cells)
    return table


def verify(site: Any, design: Any, row: Any) -> dict[str, Any]:
    """Re-run the design through ``islandgrid.simulate``; both KPI sets and the largest relative gap."""
    from islandgrid.sizing.search import verify_design

    res = verify_design(site, design)
    out: dict[str, Any] = {"kernel": {}, "simulate": {}, "max_rel_diff": 0.0}
    for k in VERIFY_KPIS:
        a, b = float(row[k]), float(res.kpis[k])
        out["kernel"][k], out["simulate"][k] = a, b
        out["max_rel_diff"] = max(out["max_rel_diff"], abs(a - b) / max(abs(b), 1e-9) if abs(a - b) > 1e-9 else 0.0)
    out["co2_reduction"] = float(res.kpis.get("co2_reduction", float("nan")))
    return out


def register(app: typer.Typer) -> None:
    """Add the ``size`` command to ``app``."""

    @app.command()
    @friendly_errors
    def size(
        site_file: Annotated[
            Path, typer.Argument(help="The TOML site file (its \\[sizing] section sets ranges and targets).")
        ],
        out: Annotated[
            Path | None, typer.Option(help="Write designs.csv, pareto.csv, pareto.html and best.json here.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
        show: Annotated[int, typer.Option(help="Pareto rows to print.")] = 15,
        job_policy: Annotated[str | None, typer.Option(help=JOB_POLICY_HELP)] = None,
        jobs_per_design: Annotated[
            bool,
            typer.Option(
                "--jobs-per-design",
                help="Flexible jobs: place them on every design's own PV and battery (exact, minutes on a "
                "full grid) instead of on the chosen design until it stops changing (the default).",
            ),
        ] = False,
        scenarios: ScenariosOpt = None,
        confidence: Annotated[
            float,
            typer.Option(
                min=0.5,
                max=0.99,
                help="With --scenarios: the share of scenarios the targets must hold in (PV share at its "
                "P10, diesel hours and unserved critical energy at their P90 for 0.9).",
            ),
        ] = 0.9,
        cluster: ClusterOpt = None,
        workers: WorkersOpt = None,
        seed: SeedOpt = None,
    ) -> None:
        """Search PV, battery, genset and strategy for the cheapest design (NPC) that meets the targets."""
        import islandgrid
        from islandgrid.compute.place import site_with_job_policy
        from islandgrid.site.sizing import SizingSpec
        from islandgrid.sizing.report import best_summary, pareto_table, write_sizing
        from islandgrid.sizing.search import require_feasible, run_sizing

        site = site_with_job_policy(islandgrid.load_site(site_file), job_policy)
        spec = site.sizing or SizingSpec()
        if site.sizing is None and not json_out:
            err_console().print("no [sizing] section: searching the default ranges with no PV or diesel target")
        if scenarios is not None and jobs_per_design:
            raise typer.BadParameter("--jobs-per-design does not combine with --scenarios", param_hint="--scenarios")
        if scenarios is not None:
            from islandgrid.cli.scenario_size import size_scenarios

            size_scenarios(
                site, spec, scenarios, confidence, json_out, out, show, cluster, workers, seed, _design_table
            )
            return
        with Progress(
            TextColumn("sizing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
            disable=json_out,
        ) as bar:
            task = bar.add_task("designs", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            if jobs_per_design:
                from islandgrid.sizing.per_design import run_sizing_per_design

                result = run_sizing_per_design(site, spec, progress=step)
            else:
                result = run_sizing(site, spec, progress=step)
        currency = site.economics.currency
        console = Console(width=max(Console().width, 170))
        front = pareto_table(result)
        if result.best is None:
            if not json_out:
                console.print(
                    _design_table(front.head(show), "Pareto front: NPC vs CO2 (none meets all targets)", currency)
                )
            require_feasible(result)  # raises TargetError: exit 2 with what to relax
        design = require_feasible(result)
        best = result.best
        assert best is not None
        checked = verify(site, design, result.table.iloc[best])
        title = f"{site.location.name}: sizing"
        if out is not None:
            with atomic_dir(out) as tmp:
                write_sizing(result, tmp, title, currency, checked)
        if json_out:
            summary = best_summary(result)
            summary["verified_by_simulate"] = checked
            typer.echo(json.dumps(summary, default=float))
            return
        n = len(result.table)
        console.print(
            f"{n:,} designs, each a full simulated year, in {result.seconds:.2f} s "
            f"({n / max(result.seconds, 1e-9):,.0f}/s); "
            f"{int(result.table['feasible'].sum()):,} meet the targets"
        )
        console.print(_design_table(result.table.iloc[[best]], "Cheapest design meeting the targets", currency))
        console.print(
            f"re-run through islandgrid.simulate: largest relative KPI difference {checked['max_rel_diff']:.1e}; "
            f"CO2 reduction vs grid + diesel {checked['co2_reduction']:.1%}; "
            f"baseline NPC {result.baseline_npc:,.0f} {currency}"
        )
        for note in result.notes:
            console.print(f"[yellow]note:[/] {note}")
        console.print(_design_table(front.head(show), f"Pareto front: NPC vs CO2 ({len(front)} designs)", currency))
        if out is not None:
            console.print(f"wrote {out}/pareto.html, pareto.csv, designs.csv, best.json")
