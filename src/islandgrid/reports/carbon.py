"""``islandgrid report carbon``: GHG Scope 1/2, hourly CFE, intensity, per-job and CBAM-style block.

All tables come from one :class:`CarbonReport`, built from the ledger's records; the HTML,
the CSV files and the XLSX workbook are written from the same frames, so they agree to the gram.
Every figure carries its data-quality label and the report opens with a generated basis of
preparation (:mod:`islandgrid.reports.carbon_basis`); plots are in
:mod:`islandgrid.reports.carbon_plots`, tables and the XLSX writer in
:mod:`islandgrid.reports.carbon_tables`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.cbam_supplier import read_goods, supplier_table
from islandgrid.carbon.jobs import H100_SXM_KW, read_jobs
from islandgrid.carbon.scope1 import read_fuel_log, reconcile_fuel
from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import VerifyReport, read_records, verify_chain
from islandgrid.reports.accounting import (
    SCOPE_STATEMENT,
    CbamBlock,
    cbam_block,
    cfe_score,
    hourly,
    intensity_distribution,
    monthly,
    parse_factor_sets,
    record_terms,
)
from islandgrid.reports.carbon_basis import (
    basis_of_preparation,
    is_projection,
    label,
    quality_class,
    quality_shares,
    uncertainty,
)
from islandgrid.reports.carbon_plots import plot_cfe, plot_distribution, plot_heatmap, plot_monthly
from islandgrid.reports.carbon_tables import CSS, html_table, write_xlsx
from islandgrid.reports.job_export import JobEmissions, emissions_from_records

#: Q1-2026 CBAM certificate price published by the European Commission (Reg. (EU) 2023/956 Art. 21) [EUR/t].
CBAM_PRICE_Q1_2026_EUR_PER_T = 75.36


@dataclass(frozen=True)
class CarbonReport:
    """Everything the carbon report shows (frames in kg, kWh; local time).

    Attributes
    ----------
    site : dict
        Name, tz and site id.
    chain : VerifyReport
        The verified chain.
    monthly : pandas.DataFrame
        Monthly sums and a 'total' row.
    hourly : pandas.DataFrame
        Per local hour.
    percentiles : pandas.DataFrame
        Load-weighted intensity distribution.
    cbam : CbamBlock
        The CBAM-style block.
    factors : pandas.DataFrame
        Every factor the records used, with provenance.
    summary : pandas.DataFrame
        Headline figures (item, value, unit, data_quality).
    records : pandas.DataFrame
        The per-interval intensity and load (for the plots).
    quality : pandas.DataFrame
        Share of the load served per data-quality class, by month and 'total' [-].
    basis : list of (str, str)
        The basis of preparation, (heading, text).
    uncertainty : pandas.DataFrame
        Quantified uncertainty per source [kg].
    fuel : pandas.DataFrame or None
        Fuel purchases reconciled with modelled fuel, by month [L].
    job_emissions : JobEmissions or None
        The per-job export: allocation, CodeCarbon's emissions.csv layout, SCI per GPU-hour
        (:mod:`islandgrid.reports.job_export`).
    warnings : list of str
        Jobs claiming more IT energy than the meters record.
    cbam_supplier : pandas.DataFrame or None
        Embedded indirect emissions per installation and CN code (:mod:`islandgrid.carbon.cbam_supplier`).
    """

    site: dict[str, str]
    chain: VerifyReport
    monthly: pd.DataFrame
    hourly: pd.DataFrame
    percentiles: pd.DataFrame
    cbam: CbamBlock
    factors: pd.DataFrame
    summary: pd.DataFrame
    records: pd.DataFrame
    quality: pd.DataFrame
    basis: list[tuple[str, str]]
    uncertainty: pd.DataFrame
    fuel: pd.DataFrame | None = None
    job_emissions: JobEmissions | None = None
    warnings: list[str] = field(default_factory=list)
    cbam_supplier: pd.DataFrame | None = None

    @property
    def jobs(self) -> pd.DataFrame | None:
        """Per-job allocation (None without a jobs file)."""
        return None if self.job_emissions is None else self.job_emissions.jobs

    @property
    def job_export(self) -> pd.DataFrame | None:
        """The per-job export in CodeCarbon's emissions.csv layout (None without a jobs file)."""
        return None if self.job_emissions is None else self.job_emissions.codecarbon

    @property
    def projection(self) -> bool:
        """Built from simulated records: a projection, not an inventory."""
        return bool(self.quality["simulated"].to_numpy()[-1] > 0)  # the last row is the total


def _factor_table(sets: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for digest, body in sets.items():
        for role in ("grid", "diesel", "residual", "gap_fill", "pv"):
            f = body.get(role, {})
            rows.append(
                {
                    "role": role,
                    "name": f.get("ref", f.get("name", "")),
                    "value": f.get("value", np.nan),
                    "unit": f.get("unit", ""),
                    "year": str(f.get("year", "")),
                    "region": f.get("region", ""),
                    "publisher": f.get("publisher", ""),
                    "source_document": f.get("source_document", ""),
                    "table": f.get("table", ""),
                    "factor_set": digest[:16],
                }
            )
    return pd.DataFrame(rows)


def status(rep: CarbonReport) -> dict[str, str]:
    """What the report is, in the words the HTML report and the API both use.

    Returns
    -------
    dict
        ``kind`` ('projection' or 'inventory'), ``statement`` (the banner: the data-quality label and, for a
        projection, that it is not a GHG Protocol inventory nor a basis for claims) and ``table_heading``.
    """
    q_all = label(rep.quality.loc["total"].to_dict())
    if rep.projection:
        return {
            "kind": "projection",
            "statement": f"Projection from simulated data ({q_all}): not a GHG Protocol inventory, "
            "not a basis for claims.",
            "table_heading": "Projection (simulated data): Scope 1 and Scope 2 as modelled, "
            "not a GHG Protocol inventory",
        }
    return {
        "kind": "inventory",
        "statement": f"Inventory from ledger records: {q_all}.",
        "table_heading": "Monthly and annual GHG Protocol inventory figures",
    }


def not_measured_share(records: pd.DataFrame) -> float:
    """Share of the load served [0, 1] not in the 'measured' quality class (estimated, e.g. metered on
    stale telemetry; gap-filled; simulated): the complement of the labels' measured share
    (:func:`~islandgrid.reports.carbon_basis.quality_class`, the one classification); 0 when nothing was served."""
    served = records["load_served_kwh"].to_numpy(dtype=float)
    total = float(served.sum())
    return float(served[quality_class(records) != "measured"].sum()) / total if total > 0 else 0.0


def build_report(
    store: LedgerStore,
    site_id: str | None = None,
    *,
    jobs_csv: Path | None = None,
    carbon_price_eur_per_t: float = CBAM_PRICE_Q1_2026_EUR_PER_T,
    kw_per_gpu: float = H100_SXM_KW,
    pue: float | None = None,
    fuel_log: Path | None = None,
    cbam_goods: Path | None = None,
) -> CarbonReport:
    """Verify the chain, then compute every table of the report from its records.

    ``fuel_log`` (CSV ``date,litres``) reconciles the ledger's fuel with purchase records;
    ``cbam_goods`` (CSV ``installation,cn_code,tonnes,electricity_mwh``) gives the CBAM supplier data.
    An unknown site, or a chain with no records, raises :class:`InputError` naming the sites held.
    """
    held = store.sites()
    if (site_id is not None and site_id not in held) or (site_id is None and not held):
        raise InputError(
            "the ledger holds no records for this site" if held else "the ledger holds no records yet",
            field="site_id",
            value=site_id,
            allowed=", ".join(held) or "none yet (build, import or serve --db first)",
        )
    chain = verify_chain(store, site_id)
    sid = chain.site_id
    info = store.site_info(sid)
    tz = info.get("tz", "UTC")
    records = read_records(store, sid)
    sets = parse_factor_sets(store.backend.factor_sets())
    sets = {d: b for d, b in sets.items() if d in set(records["factor_set"].unique())}
    terms = record_terms(records, sets)
    mon = monthly(terms, tz)
    hrs = hourly(terms, tz)
    pct = intensity_distribution(records)
    grid_values = [float(b["grid"].get("value", np.nan)) for b in sets.values()]
    grid_default = float(np.nanmean(grid_values)) if grid_values else float("nan")
    if not np.isfinite(grid_default):
        grid_default = float(records["e_grid_kg_per_kwh"].mean())
    cbam = cbam_block(records, grid_default)
    job_em = None
    factors = _factor_table(sets)
    if jobs_csv is not None:
        region = str(factors.loc[factors["role"] == "grid", "region"].iloc[0]) if len(factors) else ""
        job_em = emissions_from_records(
            read_jobs(jobs_csv, tz), records, terms, info, region, chain, kw_per_gpu=kw_per_gpu, pue=pue
        )
    local = pd.DatetimeIndex(records.index).tz_convert(tz)
    quality = quality_shares(records, pd.Index(local.strftime("%Y-%m")))
    qd = quality.to_dict("index")
    mon["data_quality"] = [label(qd[m]) for m in mon.index]
    hq = quality_shares(records, local.floor("h"), total=False)
    hq.index = pd.DatetimeIndex(hq.index)
    for c in hq.columns:
        hrs[f"{c}_share"] = hq[c].reindex(hrs.index).fillna(0.0).to_numpy()
    tot = mon.loc["total"]
    q_all = label(qd["total"])
    lb_t = (tot["scope1_kg"] + tot["scope2_location_kg"]) / 1000.0
    mb_t = (tot["scope1_kg"] + tot["scope2_market_kg"]) / 1000.0
    summary = pd.DataFrame(
        [
            ("load served", tot["load_served_kwh"], "kWh"),
            (
                "share of the load served not measured (estimated, gap-filled, simulated)",
                not_measured_share(records),
                "-",
            ),
            ("on-site PV share (pv_share)", tot["pv_share"], "-"),
            ("certified PV share (certificates held)", tot["certified_pv_share"], "-"),
            ("hourly CFE score", cfe_score(hrs), "-"),
            ("Scope 1 (diesel)", tot["scope1_kg"], "kg CO2"),
            ("Scope 1 CH4", tot["scope1_ch4_kg"], "kg CH4"),
            ("Scope 1 N2O", tot["scope1_n2o_kg"], "kg N2O"),
            ("Scope 1 CO2e (AR6 GWP-100)", tot["scope1_co2e_kg"], "kg CO2e"),
            ("Scope 2 location-based", tot["scope2_location_kg"], "kg CO2"),
            ("Scope 2 market-based", tot["scope2_market_kg"], "kg CO2"),
            ("CO2 carried by the load", tot["load_co2_kg"], "kg CO2"),
            ("CO2 carried by export", tot["export_co2_kg"], "kg CO2"),
            ("CO2 carried by losses", tot["loss_co2_kg"], "kg CO2"),
            ("battery carbon stock at the end", float(records["bat_co2_stock_kg"].iloc[-1]), "kg CO2"),
            ("intensity of the load served", tot["intensity_kg_per_kwh"], "kg CO2/kWh"),
            ("carbon price", carbon_price_eur_per_t, "EUR/t"),
            ("carbon cost, Scope 1 + 2 location-based", lb_t * carbon_price_eur_per_t, "EUR"),
            ("carbon cost, Scope 1 + 2 market-based", mb_t * carbon_price_eur_per_t, "EUR"),
            ("carbon cost of the load's CO2", tot["load_co2_kg"] / 1000.0 * carbon_price_eur_per_t, "EUR"),
        ],
        columns=["item", "value", "unit"],
    )
    summary["data_quality"] = [("input" if i == "carbon price" else q_all) for i in summary["item"]]
    recs = pd.DataFrame(
        {
            "e_bus_kg_per_kwh": records["e_bus_kg_per_kwh"].to_numpy(),
            "load_served_kwh": records["load_served_kwh"].to_numpy(),
        },
        index=pd.DatetimeIndex(records.index).tz_convert(tz),
    )
    grid_ref = str(factors.loc[factors["role"] == "grid", "name"].iloc[0]) if len(factors) else ""
    fuel = reconcile_fuel(read_fuel_log(fuel_log, tz), records["fuel_l"], tz) if fuel_log is not None else None
    return CarbonReport(
        site=info,
        chain=chain,
        monthly=mon,
        hourly=hrs,
        percentiles=pct,
        cbam=cbam,
        factors=factors,
        summary=summary,
        records=recs,
        quality=quality,
        basis=basis_of_preparation(
            info,
            chain.first,
            chain.last,
            factors,
            sets,
            is_projection(records),
            float(terms["covered_pv_kwh"].sum() + terms["covered_grid_kwh"].sum()) / 1000.0,
            chain.format_version,
        ),
        uncertainty=uncertainty(
            {k: float(mon.iloc[-1][k]) for k in ("scope1_kg", "scope1_ch4_kg", "scope1_n2o_kg", "scope2_location_kg")},
            {str(k): float(v) for k, v in qd["total"].items()},
            grid_ref,
        ),
        fuel=fuel,
        job_emissions=job_em,
        warnings=[] if job_em is None else job_em.warnings,
        cbam_supplier=None
        if cbam_goods is None
        else supplier_table(read_goods(cbam_goods), records, carbon_price_eur_per_t, is_projection(records)),
    )


# -- output -----------------------------------------------------------------------------------------
_MONTH_COLS = [
    "load_served_kwh",
    "pv_share",
    "certified_pv_share",
    "scope1_kg",
    "scope1_co2e_kg",
    "scope2_location_kg",
    "scope2_market_kg",
    "load_co2_kg",
    "intensity_kg_per_kwh",
    "data_quality",
]


def _quality_badge(text: str) -> str:
    return f"<span class='dq' title='data quality: share of the load served'>{html.escape(text)}</span>"


def _basis_html(rep: CarbonReport) -> str:
    items = "".join(f"<dt>{html.escape(h)}</dt><dd>{html.escape(t)}</dd>" for h, t in rep.basis)
    q = rep.quality.copy()
    q.index.name = "month"
    return (
        f"<section id='basis'><h2>Basis of preparation</h2><dl class='basis'>{items}</dl>"
        f"<h3>Uncertainty (annual totals, kg)</h3>{html_table(rep.uncertainty, {'minus_kg': 1, 'plus_kg': 1})}"
        f"<h3>Data quality by month (share of the load served)</h3>{html_table(q, index=True)}</section>"
    )


def render_html(rep: CarbonReport) -> str:
    """The self-contained HTML report (plotly.js embedded, works offline)."""
    from plotly.offline import get_plotlyjs

    s = rep.summary.set_index("item")["value"]
    q_all = str(rep.summary["data_quality"].iloc[0])
    name = html.escape(rep.site.get("name", rep.chain.site_id))
    cards = [
        ("Scope 1 + 2 location-based", f"{(s['Scope 1 (diesel)'] + s['Scope 2 location-based']) / 1000:,.3f} t"),
        ("Scope 1 + 2 market-based", f"{(s['Scope 1 (diesel)'] + s['Scope 2 market-based']) / 1000:,.3f} t"),
        ("Intensity of load served", f"{1000 * s['intensity of the load served']:,.1f} g/kWh"),
        ("On-site PV share", f"{100 * s['on-site PV share (pv_share)']:.1f} %"),
        ("Hourly CFE score (certificates held)", f"{100 * s['hourly CFE score']:.1f} %"),
        ("Carbon cost (location)", f"€{s['carbon cost, Scope 1 + 2 location-based']:,.0f}"),
    ]
    card_html = "".join(
        f"<div class='card'><div class='t'>{t}</div><div class='v'>{v}</div><div class='s'>{_quality_badge(q_all)}"
        "</div></div>"
        for t, v in cards
    )
    figs = [
        ("Monthly Scope 1 and Scope 2", plot_monthly(rep)),
        ("Hourly CFE score by hour of day", plot_cfe(rep)),
        ("Distribution of carbon intensity (load-weighted)", plot_distribution(rep)),
        ("Hourly carbon intensity by day", plot_heatmap(rep)),
    ]
    fig_html = {t: f.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}) for t, f in figs}
    month = rep.monthly[_MONTH_COLS]
    jobs_html = "<p class='muted'>No jobs file given (<code>--jobs JOBS.csv</code>).</p>"
    if rep.jobs is not None:
        jobs_html = html_table(rep.jobs, {"it_kw": 2, "intensity_kg_per_kwh": 4, "covered_h": 2}, default=3)
        jobs_html += "".join(f"<div class='note warn'>{html.escape(w)}</div>" for w in rep.warnings)
    fuel_html = "<p class='muted'>No fuel-purchase log given (<code>--fuel-log FUEL.csv</code>).</p>"
    if rep.fuel is not None:
        fuel_html = html_table(rep.fuel, {"difference_frac": 4}, default=1, index=True)
    cbam_rows = pd.DataFrame(rep.cbam.rows(), columns=["item", "value", "unit"])
    supplier_html = "<p class='muted'>No goods file given (<code>--cbam-goods GOODS.csv</code>).</p>"
    if rep.cbam_supplier is not None:
        supplier_html = html_table(rep.cbam_supplier, default=4)
    ch = rep.chain
    chain_html = (
        f"Chain <code>{html.escape(ch.site_id)}</code> verified intact: {ch.n_records:,} records, "
        f"{ch.first} to {ch.last} UTC, {ch.gaps} gap(s) flagged. Tip <code>{ch.n_records - 1}:{ch.tip_hash}</code>"
        + (
            " (not signed)."
            if ch.signature is None
            else f", Ed25519 signature <code>{ch.signature.signature.hex()}</code> by public key "
            f"<code>{ch.signature.public_key.hex()}</code> (check: <code>ledger verify --pubkey</code>)."
        )
    )
    st = status(rep)
    kind = st["table_heading"]
    css = "note warn" if rep.projection else "note"
    banner = f"<div class='{css}' id='status'>{html.escape(st['statement'])}</div>"
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>islandgrid carbon report: {name}</title><style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>Carbon {"projection" if rep.projection else "report"}: {name}</h1>
<div class="muted">{chain_html}</div>{banner}
<div class="cards">{card_html}</div>
{_basis_html(rep)}
<h2>Summary</h2>{html_table(rep.summary, {"value": 3})}
<h2>{kind} (local time)</h2>
{html_table(month, {"pv_share": 4, "certified_pv_share": 4, "intensity_kg_per_kwh": 4}, index=True)}
<p class="muted">Scope 2 market-based: grid import and on-site PV to the load not covered by certificates in the
register, at max(residual, location factor); only certificates held count. kg with three decimals: figures agree
with the ledger, the CSV and the XLSX to the gram.</p>
<h2>Monthly Scope 1 and Scope 2</h2>{_quality_badge(q_all)}{fig_html["Monthly Scope 1 and Scope 2"]}
<h2>Hourly CFE score</h2><p class="muted">Σ<sub>h</sub> min(load<sub>h</sub>, CFE supply<sub>h</sub>) ÷ Σ load;
CFE supply: certificate-backed on-site PV (first in, first out through the battery), grid import backed by
granular certificates, and the grid's carbon-free share of the rest where one is given.</p>
{_quality_badge(q_all)}{fig_html["Hourly CFE score by hour of day"]}
<h2>Distribution of carbon intensity</h2>{_quality_badge(q_all)}{html_table(rep.percentiles, {"kg_per_kwh": 4})}
{fig_html["Distribution of carbon intensity (load-weighted)"]}
<h2>Hourly carbon intensity by day</h2>{_quality_badge(q_all)}{fig_html["Hourly carbon intensity by day"]}
<h2>Per-job allocation</h2><p class="muted">IT energy × PUE of each interval × the bus intensity of that interval
(GPU-hours at {H100_SXM_KW} kW per GPU unless set: NVIDIA H100 SXM board power).</p>{jobs_html}
<h2>Fuel purchases and modelled fuel</h2>{fuel_html}
<h2>CBAM-style indirect-emissions block</h2>
<div class="note">{html.escape(SCOPE_STATEMENT)}</div>{html_table(cbam_rows, {"value": 4})}
<h3>CBAM supplier data (goods made with this electricity)</h3>{supplier_html}
<h2>Emission factors used</h2>{html_table(rep.factors, {"value": 4})}
</body></html>"""


def write_report(rep: CarbonReport, out_dir: Path) -> None:
    """Write report.html, summary/monthly/hourly/percentiles/cbam/factors(/jobs).csv and report.xlsx."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(render_html(rep), encoding="utf-8")
    hourly_out = rep.hourly.copy()
    hourly_out.index = pd.DatetimeIndex(hourly_out.index).map(pd.Timestamp.isoformat)
    cbam = pd.DataFrame(rep.cbam.rows(), columns=["item", "value", "unit"])
    tables: dict[str, tuple[pd.DataFrame, bool]] = {
        "summary": (rep.summary, False),
        "monthly": (rep.monthly, True),
        "hourly": (hourly_out, True),
        "percentiles": (rep.percentiles, False),
        "cbam": (cbam, False),
        "factors": (rep.factors, False),
        "quality": (rep.quality, True),
        "uncertainty": (rep.uncertainty, False),
        "basis": (pd.DataFrame(rep.basis, columns=["heading", "text"]), False),
    }
    if rep.fuel is not None:
        tables["fuel"] = (rep.fuel, True)
    if rep.cbam_supplier is not None:
        tables["cbam_supplier"] = (rep.cbam_supplier, False)
    if rep.job_emissions is not None:  # emissions.csv (CodeCarbon's layout), sci.csv, jobs.csv
        tables.update({k: (v, False) for k, v in rep.job_emissions.tables().items()})
    for name, (df, idx) in tables.items():
        df.to_csv(out_dir / f"{name}.csv", index=idx)
    write_xlsx(out_dir / "report.xlsx", {**tables, "ledger": (tip_frame(rep.chain), False)})


def tip_frame(chain: VerifyReport) -> pd.DataFrame:
    """The verified tip and its signature as (item, value) rows: the ``ledger`` sheet of report.xlsx."""
    sig = chain.signature
    items: dict[str, object] = {"site_id": chain.site_id, "seq": chain.n_records - 1, "tip_hash": chain.tip_hash}
    items["format_version"] = chain.format_version
    items.update({} if sig is None else {k: v for k, v in sig.as_dict().items() if k not in items})
    return pd.DataFrame({"item": list(items), "value": [str(v) for v in items.values()]})
