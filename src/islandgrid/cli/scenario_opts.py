"""Shared CLI pieces of the scenario runs: the options, the progress bar and the quantile table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from islandgrid.cli.common import err_console

ScenariosOpt = Annotated[
    int | None,
    typer.Option(
        "--scenarios",
        min=1,
        help="Run N scenario years (outages, weather, load, genset fail-to-start; the site's [scenarios] section) "
        "and report P10/P50/P90 and the probability of each target.",
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="A Dask scheduler (tcp://HOST:8786) to run the scenarios on; default $ISLANDGRID_DASK_SCHEDULER, "
        "else this machine's cores.",
    ),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="Local threads for scenarios (default: cores).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Scenario seed (default: [scenarios] seed).")]

#: KPI rows of the scenario table: key, label, unit, scale.
SCENARIO_ROWS: tuple[tuple[str, str, str, float], ...] = (
    ("pv_share", "PV share of load", "%", 100.0),
    ("diesel_hours", "Diesel run hours", "h", 1.0),
    ("diesel_starts", "Diesel starts", "", 1.0),
    ("fuel_l", "Fuel", "L", 1.0),
    ("grid_import_kwh", "Grid import", "MWh", 1e-3),
    ("pv_curtailed_kwh", "PV curtailed", "MWh", 1e-3),
    ("unserved_critical_kwh", "Unserved critical energy", "kWh", 1.0),
    ("unserved_kwh", "Unserved energy", "kWh", 1.0),
    ("co2_kg", "CO2 (Scope 1 + 2 location)", "t", 1e-3),
    ("co2_reduction", "CO2 reduction vs baseline", "%", 100.0),
    ("energy_cost", "Energy cost (grid + fuel - export)", "k", 1e-3),
)


@contextmanager
def scenario_bar(what: str, disable: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr: scenarios done, rate and time left; yields the (done, total) callback."""
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
        disable=disable,
    ) as bar:
        task = bar.add_task(what, total=None, rate="")

        def step(done: int, total: int) -> None:
            speed = bar.tasks[task].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:,.0f}/s" if speed else "")

        yield step


def quantile_table(q: dict[str, dict[str, float]], one: dict[str, Any] | None, title: str, currency: str) -> Table:
    """P10, P50, P90 and mean of the headline KPIs, with the one-draw figure beside them."""
    table = Table(title=title, title_justify="left")
    for h in ("KPI", "unit", "P10", "P50", "P90", "mean", "one draw"):
        table.add_column(h, justify="left" if h in ("KPI", "unit") else "right")
    for key, label, unit, scale in SCENARIO_ROWS:
        if key not in q:
            continue
        digits = 1 if scale != 1.0 or key.endswith("hours") or key.endswith("kwh") else 0
        fmt = f"{{:,.{digits}f}}"
        cells = [fmt.format(q[key][c] * scale) for c in ("p10", "p50", "p90", "mean")]
        cells.append(fmt.format(one[key] * scale) if one is not None and key in one else "")
        table.add_row(label, unit.replace("k", f"k {currency}") if unit == "k" else unit, *cells)
    return table
