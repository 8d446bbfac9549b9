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

#: KPI rows of the table: key, label, unit, format.
KPI_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("load_kwh", "Load", "MWh", "mwh"),
    ("pv_share", "PV share of load (through battery)", "%", "pct"),
    ("renewable_fraction", "Renewable fraction (HOMER)", "%", "pct"),
    ("pv_available_kwh", "PV available", "MWh", "mwh"),
    ("pv_curtailed_kwh", "PV curtailed", "MWh", "mwh"),
    ("grid_import_kwh", "Grid import", "MWh", "mwh"),
    ("grid_export_kwh", "Grid export", "MWh", "mwh"),
    ("diesel_kwh", "Diesel energy", "MWh", "mwh"),
    ("diesel_hours", "Diesel run hours", "h", "f1"),
    ("diesel_starts", "Diesel starts", "", "int"),
    ("fuel_l", "Fuel", "L", "int"),
    ("battery_throughput_kwh", "Battery throughput", "MWh", "mwh"),
    ("battery_cycles", "Battery equivalent full cycles", "", "f1"),
    ("grid_outage_events", "Grid outages", "", "int"),
    ("grid_outage_hours", "Hours islanded", "h", "f1"),
    ("unserved_kwh", "Unserved energy", "kWh", "f1"),
    ("unserved_critical_kwh", "Unserved critical energy", "kWh", "f1"),
    ("availability", "Availability", "%", "pct3"),
    ("co2_kg", "CO2 (Scope 1 + 2 location)", "t", "t"),
    ("carbon_intensity_kg_per_kwh", "Carbon intensity of load", "g/kWh", "g"),
    ("energy_cost", "Energy cost (grid + fuel - export)", "k", "k"),
)


def _fmt(value: float, kind: str) -> str:
    formats = {
        "mwh": lambda v: f"{v / 1000:,.1f}",
        "pct": lambda v: f"{100 * v:.1f}",
        "pct3": lambda v: f"{100 * v:.3f}",
        "f1": lambda v: f"{v:,.1f}",
        "int": lambda v: f"{v:,.0f}",
        "t": lambda v: f"{v / 1000:,.1f}",
        "g": lambda v: f"{1000 * v:,.0f}",
        "k": lambda v: f"{v / 1000:,.1f}",
    }
    return formats[kind](float(value))


def kpi_table(kpis: dict[str, Any], baseline: dict[str, Any] | None, title: str) -> Table:
    """A rich table of the KPIs with the traditional design beside them."""
    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column("microgrid", justify="right")
    if baseline is not None:
        table.add_column("grid + diesel backup", justify="right")
    for key, label, unit, kind in KPI_ROWS:
        row = [label, unit, _fmt(kpis[key], kind)]
        if baseline is not None:
            row.append(_fmt(baseline[key], kind))
        table.add_row(*row)
    if baseline is not None and "co2_reduction" in kpis:
        table.add_row("CO2 reduction vs baseline", "%", _fmt(kpis["co2_reduction"], "pct"), "")
    return table


def targets_verdict(kpis: dict[str, Any]) -> list[str]:
    """The seed's targets, met or missed, in plain words."""
    lines = []
    checks = (
        (kpis["pv_share"] > 0.80, f"PV share {100 * kpis['pv_share']:.1f} % (target > 80 %)"),
        (kpis["diesel_hours"] < 50, f"diesel {kpis['diesel_hours']:.1f} h a year (target < 50 h)"),
        (
            kpis["unserved_critical_kwh"] <= 1e-6,
            f"critical unserved {kpis['unserved_critical_kwh']:.1f} kWh (target 0)",
        ),
        (
            kpis.get("co2_reduction", 0.0) >= 0.85,
            f"CO2 {100 * kpis.get('co2_reduction', 0.0):.1f} % below the grid + diesel design (target ~85 %)",
        ),
    )
    for ok, text in checks:
        lines.append(("MET    " if ok else "MISSED ") + text)
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command()
    @friendly_errors
    def simulate(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the KPIs as one JSON object, nothing else.")
        ] = False,
        resolution: Annotated[str | None, typer.Option(help="1h, 15min or 1min; overrides the site file.")] = None,
        strategy: Annotated[str | None, typer.Option(help="Dispatch strategy; overrides the site file.")] = None,
        out: Annotated[
            Path | None, typer.Option(help="Write flows (Parquet, CSV), kpis.json and report.html here.")
        ] = None,
    ) -> None:
        """Simulate a year and print the KPIs beside the traditional grid + diesel design."""
        import islandgrid
        from islandgrid.reports.simulation import write_outputs

        site = islandgrid.load_site(site_file)
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
        console.print(kpi_table(kpis, base, title))
        for line in targets_verdict(kpis):
            style = "green" if line.startswith("MET") else "yellow"
            console.print(f"[{style}]{line}[/]", highlight=False)
        if out is not None:
            console.print(f"wrote {out}/report.html, flows.parquet, flows.csv, kpis.json")
