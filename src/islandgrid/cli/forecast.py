"""``islandgrid forecast SITE.toml``: forecast skill by lead time against persistence."""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors
from islandgrid.cli.helpfmt import RESOLUTION_HELP


def register(app: typer.Typer) -> None:
    """Add the ``forecast`` command to ``app``."""

    @app.command()
    @friendly_errors
    def forecast(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        resolution: Annotated[str | None, typer.Option(help=RESOLUTION_HELP)] = None,
        horizon_h: Annotated[float, typer.Option(help="Forecast horizon \\[h].", min=1, max=168)] = 48.0,
        issue_every_h: Annotated[float, typer.Option(help="Hours between issued forecasts.", min=0.25)] = 1.0,
        out: Annotated[Path | None, typer.Option(help="Write skill.csv here.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the table as JSON records.")] = False,
    ) -> None:
        """RMSE and MAE of every forecaster by lead time, and skill = 1 - RMSE/RMSE(persistence)."""
        import islandgrid
        from islandgrid.forecast.registry import FORECASTERS, build_forecaster
        from islandgrid.forecast.skill import skill_table
        from islandgrid.inputs.series import build_inputs
        from islandgrid.strategy.problem import build_problem

        site = islandgrid.load_site(site_file)
        status = err_console().status("building inputs and issuing forecasts over the year", spinner="dots")
        with status if not json_out else nullcontext():
            inputs = build_inputs(site, resolution)
            problem = build_problem(site, inputs)
            forecasters = {name: build_forecaster(name, problem) for name in FORECASTERS}
            table = skill_table(problem, forecasters, horizon_h=horizon_h, issue_every_h=issue_every_h)
        if out is not None:
            with atomic_dir(out) as tmp:
                table.to_csv(tmp / "skill.csv", index=False)
        if json_out:
            # strict JSON: an undefined skill (persistence has zero error there, e.g. PV at night) is null
            records = [
                {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                for row in table.to_dict(orient="records")
            ]
            typer.echo(json.dumps(records, allow_nan=False))
            return
        console = Console()
        names = [n for n in forecasters if n != "perfect"]  # zero error by construction (tested)
        for series, label in (("pv", "PV"), ("load", "load")):
            t = Table(
                title=(
                    f"{site.location.name}: {label} forecast error by lead time, {inputs.resolution} steps, "
                    f"issued every {issue_every_h:g} h over {site.simulation.year}; skill vs persistence"
                ),
                title_justify="left",
            )
            t.add_column("lead [h]", justify="right")
            for name in names:
                t.add_column(f"{name}\nRMSE|MAE kW", justify="right")
                if name != "persistence":
                    t.add_column(f"{name}\nskill", justify="right")
            sub = table[table["series"] == series]
            for lead in sorted(sub["lead_h"].unique()):
                row = [f"{lead:g}"]
                for name in names:
                    r = sub[(sub["forecaster"] == name) & (sub["lead_h"] == lead)].iloc[0]
                    row.append(f"{r['rmse_kw']:.1f}|{r['mae_kw']:.1f}")
                    if name != "persistence":
                        row.append(f"{r['skill']:+.3f}")
                t.add_row(*row)
            console.print(t)
        console.print("[dim]perfect: zero error by construction, omitted[/]", highlight=False)
        for name, what in FORECASTERS.items():
            console.print(f"[dim]{name}: {what}[/]", highlight=False)
        if out is not None:
            console.print(f"wrote {out}/skill.csv")
