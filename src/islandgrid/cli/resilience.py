"""``islandgrid resilience SITE.toml``: the probability of riding through an outage."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import atomic_dir, err_console, friendly_errors


def register(app: typer.Typer) -> None:
    """Add the ``resilience`` command to ``app``."""

    @app.command()
    @friendly_errors
    def resilience(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        out: Annotated[Path | None, typer.Option(help="Write survival.html and survival.csv here.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print survival for 4, 24, 72 h as JSON.")] = False,
        max_hours: Annotated[int, typer.Option(help="Longest outage modelled \\[h].")] = 72,
        load: Annotated[str, typer.Option(help="'critical' or 'total': the load to carry.")] = "critical",
    ) -> None:
        """Survival probability of a grid outage by duration and start hour (REopt energy-resilience style)."""
        import islandgrid
        from islandgrid.resilience.survival import resilience as run_resilience
        from islandgrid.resilience.survival import write_survival_html

        site = islandgrid.load_site(site_file)
        status = err_console().status("simulating the year and the outage Markov chain", spinner="dots")
        with status if not json_out else nullcontext():
            result = islandgrid.simulate(site, resolution="1h", baseline=False)
            res = run_resilience(result, max_hours=max_hours, load=load)
        summary = res.summary()
        if out is not None:
            with atomic_dir(out) as tmp:
                write_survival_html(res, tmp / "survival.html", f"{site.location.name}: outage survival ({load} load)")
                res.curve().to_csv(tmp / "survival.csv")
        if json_out:
            typer.echo(json.dumps({"load": load, "survival": summary}))
            return
        g = site.genset
        table = Table(
            title=(
                f"{site.location.name}: P(survive an outage), {load} load; genset {g.rated_kw:g} kW "
                f"(availability {g.availability}, fail to start {g.fail_to_start_prob}, MTTF {g.mttf_h:g} h), "
                f"battery {site.battery.energy_kwh:g} kWh, PV {site.pv.kwp:g} kWp"
            ),
            title_justify="left",
        )
        for h in ("outage", "mean over start hours", "5th percentile", "worst start"):
            table.add_column(h, justify="right")
        for k, v in summary.items():
            table.add_row(k, f"{v['mean']:.4f}", f"{v['p05']:.4f}", f"{v['worst']:.4f}")
        Console().print(table)
        if out is not None:
            Console().print(f"wrote {out}/survival.html, survival.csv")
