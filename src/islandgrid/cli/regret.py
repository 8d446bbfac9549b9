"""``islandgrid regret SITE.toml``: every strategy against perfect foresight."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors
from islandgrid.cli.helpfmt import JOB_POLICY_HELP, RESOLUTION_HELP, STRATEGY_CHOICES


def _strict(row: dict[str, Any]) -> dict[str, Any]:
    """The row with non-finite numbers as None (null in strict JSON)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


def register(app: typer.Typer) -> None:
    """Add the ``regret`` command to ``app``."""

    @app.command()
    @friendly_errors
    def regret(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        resolution: Annotated[str | None, typer.Option(help=RESOLUTION_HELP)] = None,
        strategy: Annotated[
            list[str] | None,
            typer.Option("--strategy", "-s", help=f"Only these strategies (repeatable), from {STRATEGY_CHOICES}."),
        ] = None,
        out: Annotated[Path | None, typer.Option(help="Write regret.csv and regret.json here.")] = None,
        job_policy: Annotated[str | None, typer.Option(help=JOB_POLICY_HELP)] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the rows as JSON, nothing else.")] = False,
    ) -> None:
        """Cost, CO2, diesel hours, PV share and unserved energy of every strategy, and its regret
        against perfect foresight."""
        import pandas as pd

        import islandgrid
        from islandgrid.compute.place import site_with_job_policy
        from islandgrid.dispatch.registry import get_strategy
        from islandgrid.simulate.regret import REGRET_COLUMNS, default_strategies, reference_name, regret_rows

        site = islandgrid.load_site(site_file)
        site = site_with_job_policy(site, job_policy)
        names = list(strategy) if strategy else default_strategies()
        for name in names:
            get_strategy(name)  # unknown names fail before any work
        total = len(names) + (0 if reference_name(default_strategies()) in names else 1)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
            disable=json_out,
        ) as bar:
            task = bar.add_task("strategies", total=total)
            started: list[str] = []

            def step(name: str) -> None:
                if started:
                    bar.advance(task)
                started.append(name)
                bar.update(task, description=f"simulating {name}")

            ref, rows = regret_rows(site, names, resolution, progress=step)
            bar.advance(task)
        rows = [_strict(r) for r in rows]
        frame = pd.DataFrame(rows)
        doc = {"reference": ref, "rows": rows}
        if out is not None:
            with atomic_dir(out) as tmp:
                frame.to_csv(tmp / "regret.csv", index=False)
                (tmp / "regret.json").write_text(json.dumps(doc, indent=1, allow_nan=False))
        if json_out:
            typer.echo(json.dumps(doc, allow_nan=False))
            return
        cur = site.economics.currency
        table = Table(
            title=f"{site.location.name}: regret against perfect foresight ('{ref}'), {site.simulation.year}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            collapse_padding=True,
        )
        table.add_column("strategy", no_wrap=True)
        for key, label, unit in REGRET_COLUMNS:
            shown = {"cost": f"k {unit.format(currency=cur)}", "co2_kg": "t", "pv_share": "%"}.get(key, unit)
            table.add_column(escape(f"{label.split()[0]} [{shown}]"), justify="right", min_width=6)
            table.add_column("Δ", justify="right", min_width=6, no_wrap=True)
        table.add_column(escape("run [s]"), justify="right", min_width=5)
        for r in rows:
            cells = [r["strategy"]]
            for key, _, _ in REGRET_COLUMNS:
                v, g = r[key], r[f"regret_{key}"]
                if v is None or g is None:  # not a finite number
                    cells += ["-", "-"]
                elif key == "pv_share":
                    cells += [f"{100 * v:.1f}", f"{100 * g:+.1f}"]
                elif key == "unserved_kwh":
                    cells += [f"{v:,.1f}", f"{g:+,.1f}"]
                elif key in ("cost", "co2_kg"):  # thousands: k currency, t CO2
                    cells += [f"{v / 1e3:,.1f}", f"{g / 1e3:+,.1f}"]
                else:
                    cells += [f"{v:,.1f}", f"{g:+,.1f}"]
            cells.append(f"{r['seconds']:.1f}")
            table.add_row(*cells)
        console = Console()
        console.print(table)
        console.print(
            "[dim]cost = grid bill + fuel - export + carbon at the site's carbon price; "
            "Δ = regret, > 0 is worse than the reference (for PV share: fewer percentage points).[/]",
            highlight=False,
        )
        if out is not None:
            console.print(f"wrote {out}/regret.csv, regret.json")
