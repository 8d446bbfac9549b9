"""``islandgrid economics SITE.toml``: NPC, LCOE, payback against the baseline, and a tornado."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import atomic_dir, friendly_errors
from islandgrid.cli.scenario_opts import ClusterOpt, ScenariosOpt, SeedOpt, WorkersOpt, scenario_bar


def register(app: typer.Typer) -> None:
    """Add the ``economics`` command to ``app``."""

    @app.command()
    @friendly_errors
    def economics(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        out: Annotated[Path | None, typer.Option(help="Write tornado.html and costs.csv here.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the headline figures as JSON.")] = False,
        scenarios: ScenariosOpt = None,
        cluster: ClusterOpt = None,
        workers: WorkersOpt = None,
        seed: SeedOpt = None,
    ) -> None:
        """Life-cycle cost of the site's design beside the grid + diesel baseline."""
        import islandgrid
        from islandgrid.economics.evaluate import economics as run_economics
        from islandgrid.economics.sensitivity import tornado, write_tornado

        site = islandgrid.load_site(site_file)
        if scenarios is not None:
            _economics_scenarios(site, scenarios, json_out, out, cluster, workers, seed)
            return
        result = islandgrid.simulate(site)
        rep = run_economics(result)
        rows = tornado(rep, site.economics)
        if out is not None:
            with atomic_dir(out) as tmp:
                write_tornado(rows, rep, tmp / "tornado.html")
                rep.lines().to_csv(tmp / "costs.csv")
        if json_out:
            typer.echo(json.dumps(rep.summary(), default=float))
            return
        cur = rep.currency
        table = Table(title=f"{site.location.name}: net present cost by line [{cur}]", title_justify="left")
        for h in ("line", "microgrid", "grid + diesel baseline"):
            table.add_column(h, justify="right")
        for name, r in rep.lines().iterrows():
            fmt = "{:,.3f}" if "LCOE" in str(name) else "{:,.0f}"
            table.add_row(str(name), fmt.format(r["microgrid"]), fmt.format(r["baseline"]))
        console = Console()
        console.print(table)
        s = rep.summary()
        console.print(
            f"payback vs baseline: {s['simple_payback_years']:.1f} years simple, "
            f"{s['discounted_payback_years']:.1f} discounted; battery {s['battery_efc_per_year']:.0f} "
            f"equivalent full cycles a year (rainflow), cells last {s['battery_life_years']:.1f} years"
        )
        sens = Table(title=f"Sensitivity of the NPC saving vs baseline [{cur}]", title_justify="left")
        for h in ("parameter", "low", "high", "saving at low", "saving at high"):
            sens.add_column(h, justify="right")
        for sr in rows:
            sens.add_row(
                sr.parameter,
                f"{sr.low_value:.3g}",
                f"{sr.high_value:.3g}",
                f"{sr.saving_low:,.0f}",
                f"{sr.saving_high:,.0f}",
            )
        console.print(sens)
        if out is not None:
            console.print(f"wrote {out}/tornado.html, costs.csv")


def _economics_scenarios(
    site: object, n: int, json_out: bool, out: Path | None, cluster: str | None, workers: int | None, seed: int | None
) -> None:
    """NPC, saving and payback as P10/P50/P90 over scenario years and price ranges."""
    import pandas as pd

    from islandgrid.scenarios.econ import economics_scenarios

    with scenario_bar("scenarios", disable=json_out) as step:
        r = economics_scenarios(site, n, seed=seed, cluster=cluster, workers=workers, progress=step)  # type: ignore[arg-type]
    payload = {k: r[k] for k in ("scenarios", "seed", "price_span_frac", "quantiles")}
    if out is not None:
        with atomic_dir(out) as tmp:
            pd.DataFrame(r["per_scenario"]).rename_axis("scenario").to_csv(tmp / "economics_scenarios.csv")
            (tmp / "economics_scenarios.json").write_text(json.dumps(payload, indent=1, default=float))
    if json_out:
        typer.echo(json.dumps(payload, default=float))
        return
    cur = site.economics.currency  # type: ignore[attr-defined]
    span = round(100 * r["price_span_frac"])
    table = Table(
        title=f"{site.location.name}: {n:,} scenario years, fuel, grid and carbon prices each within +-{span} %",  # type: ignore[attr-defined]
        title_justify="left",
    )
    for h in ("figure", "P10", "P50", "P90", "mean"):
        table.add_column(h, justify="right")
    q = r["quantiles"]
    for key, label, fmt in (
        ("npc", f"NPC microgrid [{cur}]", "{:,.0f}"),
        ("npc_baseline", f"NPC grid + diesel baseline [{cur}]", "{:,.0f}"),
        ("saving", f"NPC saving [{cur}]", "{:,.0f}"),
        ("simple_payback_years", "simple payback [years]", "{:.1f}"),
        ("discounted_payback_years", "discounted payback [years]", "{:.1f}"),
    ):
        table.add_row(label, *(fmt.format(q[key][c]) for c in ("p10", "p50", "p90", "mean")))
    Console().print(table)
    if out is not None:
        Console().print(f"wrote {out}/economics_scenarios.csv, economics_scenarios.json")
