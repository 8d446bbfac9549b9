"""``islandgrid report carbon``: the carbon report from a ledger (HTML with plots, CSV, XLSX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from islandgrid.cli.common import atomic_dir, friendly_errors


def register(app: typer.Typer) -> None:
    """Add the ``report`` command group to ``app``."""
    report = typer.Typer(help="Reports from the ledger.", no_args_is_help=True)
    app.add_typer(report, name="report")

    @report.command("carbon")
    @friendly_errors
    def carbon(
        db: Annotated[Path, typer.Option("--db", help="The ledger database.")],
        out: Annotated[Path, typer.Option("--out", help="Folder for report.html, CSV files and report.xlsx.")],
        jobs: Annotated[Path | None, typer.Option("--jobs", help="CSV: job_id,start,end and kw or gpu_hours.")] = None,
        site_id: Annotated[str | None, typer.Option("--site-id", help="The chain, if the ledger has several.")] = None,
        carbon_price: Annotated[
            float, typer.Option("--carbon-price", help="EUR per t CO2; default the Q1-2026 CBAM price.")
        ] = 75.36,
        kw_per_gpu: Annotated[float, typer.Option("--kw-per-gpu", help="Board power per GPU \\[kW].")] = 0.7,
        pue: Annotated[float | None, typer.Option("--pue", help="PUE where the ledger has no IT energy \\[-].")] = None,
        fuel_log: Annotated[Path | None, typer.Option("--fuel-log", help="CSV of fuel purchases: date,litres.")] = None,
        cbam_goods: Annotated[
            Path | None, typer.Option("--cbam-goods", help="CSV: installation,cn_code,tonnes,electricity_mwh.")
        ] = None,
    ) -> None:
        """Scope 1 (CO2e) and 2 (location, market), hourly CFE, data quality, basis of preparation, per-job CO2."""
        from islandgrid.cli.ledger import open_existing
        from islandgrid.errors import InputError
        from islandgrid.reports.carbon import build_report, write_report

        if not 0 <= carbon_price <= 10000:
            raise InputError(
                "carbon price out of range", field="--carbon-price", value=carbon_price, allowed="0 to 10000 EUR/t"
            )
        with open_existing(db) as store:
            sid = store.known_site(site_id)
            rep = build_report(
                store,
                sid,
                jobs_csv=jobs,
                carbon_price_eur_per_t=carbon_price,
                kw_per_gpu=kw_per_gpu,
                pue=pue,
                fuel_log=fuel_log,
                cbam_goods=cbam_goods,
            )
        with atomic_dir(out) as tmp:
            write_report(rep, tmp)
        for w in rep.warnings:
            Console(stderr=True).print(f"warning: {w}", style="yellow", highlight=False)
        tot = rep.monthly.loc["total"]
        Console().print(
            f"Scope 1 {tot['scope1_kg'] / 1000:,.3f} t, Scope 2 location {tot['scope2_location_kg'] / 1000:,.3f} t, "
            f"market {tot['scope2_market_kg'] / 1000:,.3f} t; wrote {out}/report.html, report.xlsx and CSV files",
            highlight=False,
        )
