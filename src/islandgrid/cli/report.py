"""``islandgrid report carbon`` (the carbon report: HTML with plots, CSV, XLSX) and ``report jobs`` (per-job export)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from islandgrid.cli.common import atomic_dir, friendly_errors

T = TypeVar("T")


def _publish(out: Path, write: Callable[[Path], T], warnings: list[str]) -> T:
    """Write a report's files into ``out`` as one atomic step (``atomic_dir``), then print its warnings."""
    with atomic_dir(out) as tmp:
        result = write(tmp)
    for w in warnings:
        Console(stderr=True).print(f"warning: {w}", style="yellow", highlight=False)
    return result


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
        _publish(out, lambda tmp: write_report(rep, tmp), rep.warnings)
        tot = rep.monthly.loc["total"]
        Console().print(
            f"Scope 1 {tot['scope1_kg'] / 1000:,.3f} t, Scope 2 location {tot['scope2_location_kg'] / 1000:,.3f} t, "
            f"market {tot['scope2_market_kg'] / 1000:,.3f} t; wrote {out}/report.html, report.xlsx and CSV files",
            highlight=False,
        )

    @report.command("jobs")
    @friendly_errors
    def jobs_export(
        db: Annotated[Path, typer.Option("--db", help="The ledger database.")],
        jobs: Annotated[Path, typer.Option("--jobs", help="CSV: job_id,start,end and kw, gpu_hours or gpu_count.")],
        out: Annotated[Path, typer.Option("--out", help="Folder for emissions.csv, sci.csv and jobs.csv.")],
        site_id: Annotated[str | None, typer.Option("--site-id", help="The chain, if the ledger has several.")] = None,
        kw_per_gpu: Annotated[float, typer.Option("--kw-per-gpu", help="Board power per GPU \\[kW].")] = 0.7,
        pue: Annotated[float | None, typer.Option("--pue", help="PUE where the ledger has no IT energy \\[-].")] = None,
        server_kg: Annotated[
            float, typer.Option("--embodied-server-kg", help="SCI: embodied CO2e of a server without GPUs \\[kg].")
        ] = 2500.0,
        gpu_kg: Annotated[float, typer.Option("--embodied-gpu-kg", help="SCI: embodied CO2e of a GPU \\[kg].")] = 150.0,
        gpus_per_server: Annotated[int, typer.Option("--gpus-per-server", help="SCI: GPUs in a server.")] = 8,
        life_years: Annotated[
            float, typer.Option("--hardware-life-years", help="SCI: expected server lifespan \\[years].")
        ] = 6.0,
    ) -> None:
        """Each finished job's emissions from the ledger: CodeCarbon's emissions.csv layout and the SCI per GPU-hour."""
        from dataclasses import replace

        from islandgrid.carbon.jobs import read_jobs
        from islandgrid.cli.ledger import open_existing
        from islandgrid.errors import InputError
        from islandgrid.reports.job_export import IDLE_RUN_ID, EmbodiedBasis, job_emissions

        for name, value, lo, hi in (
            ("--embodied-server-kg", server_kg, 0.0, 1e5),
            ("--embodied-gpu-kg", gpu_kg, 0.0, 1e4),
            ("--gpus-per-server", gpus_per_server, 1, 64),
            ("--hardware-life-years", life_years, 0.5, 30.0),
        ):
            if not lo <= value <= hi:
                raise InputError("out of range", field=name, value=value, allowed=f"{lo:g} to {hi:g}")
        basis = EmbodiedBasis()
        given = EmbodiedBasis(server_kg, gpu_kg, gpus_per_server, life_years, source="given on the command line")
        if replace(given, source=basis.source) != basis:
            basis = given
        with open_existing(db) as store:
            sid = store.known_site(site_id)
            tz = store.site_info(sid).get("tz", "UTC")
            em = job_emissions(store, read_jobs(jobs, tz), sid, kw_per_gpu=kw_per_gpu, pue=pue, embodied=basis)
        names = _publish(out, em.write, em.warnings)
        jobs_only = em.codecarbon[em.codecarbon["run_id"] != IDLE_RUN_ID]
        Console(soft_wrap=True).print(
            f"{len(jobs_only)} job(s): {jobs_only['co2_location_kg'].sum():,.1f} kg CO2 location-based, "
            f"{jobs_only['co2_market_kg'].sum():,.1f} kg market-based, {jobs_only['co2e_kg'].sum():,.1f} kg CO2e; "
            f"ledger tip {em.chain.n_records - 1}:{em.chain.tip_hash}; wrote {', '.join(names)} in {out}",
            highlight=False,
        )

    @report.command("gc")
    @friendly_errors
    def granular(
        db: Annotated[Path, typer.Option("--db", help="The ledger database.")],
        site_file: Annotated[Path, typer.Option("--site", help="The site file (PV and battery capacity, location).")],
        out: Annotated[Path, typer.Option("--out", help="Folder for gc.json.")],
        site_id: Annotated[str | None, typer.Option("--site-id", help="The chain, if not the site's own.")] = None,
    ) -> None:
        """Hourly granular-certificate claims (EnergyTag data model), schema-validated, with the ledger tip."""
        import json

        from islandgrid.cli.ledger import open_existing
        from islandgrid.ledger.batch import site_id_of
        from islandgrid.reports.granular import Devices, gc_document
        from islandgrid.site import load_site

        site = load_site(site_file)
        devices = Devices(
            pv_w=round(site.pv.kwp / site.pv.dc_ac_ratio * 1000),
            battery_w=round(site.battery.discharge_kw * 1000),
            lat_deg=site.location.lat_deg,
            lon_deg=site.location.lon_deg,
        )
        with open_existing(db) as store:
            sid = store.known_site(site_id_of(site, site_id))
            with Console(stderr=True).status("building and validating the export against its schema"):
                doc = gc_document(store, devices, sid)
        with atomic_dir(out) as tmp:
            (tmp / "gc.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
        hours = doc["hourly"]
        load = sum(x["load_served_wh"] for x in hours)
        prod = sum(x["matched_production_wh"] for x in hours)
        sd = sum(x["matched_storage_wh"] for x in hours)
        tip = doc["ledger_tip"]
        Console(soft_wrap=True).print(
            f"{len(doc['granular_certificate_bundles'])} GC bundles, {len(doc['storage_charge_records'])} storage "
            f"charge and {len(doc['storage_discharge_records'])} discharge records; load {load / 1e6:,.3f} MWh, "
            f"matched by production {prod / 1e6:,.3f} MWh and storage discharge {sd / 1e6:,.3f} MWh "
            f"({(prod + sd) / load if load else 0:.1%}); {doc['data_quality']}; valid against "
            f"energytag-gc-export-1.schema.json; ledger tip {tip['seq']}:{tip['tip_hash']}; wrote {out}/gc.json",
            highlight=False,
        )
