"""``islandgrid report carbon``: GHG Scope 1/2, hourly CFE, intensity, per-job and CBAM-style block.

All tables come from one :class:`CarbonReport`, built from the ledger's records; the HTML,
the CSV files and the XLSX workbook are written from the same frames, so they agree to the gram.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from islandgrid.carbon.accounting import (
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
from islandgrid.carbon.jobs import H100_SXM_KW, allocate_jobs, read_jobs
from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import VerifyReport, read_records, verify_chain
from islandgrid.reports.plots import COLOURS

#: Q1-2026 CBAM certificate price (GUIDE §2) [EUR/t].
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
    jobs : pandas.DataFrame or None
        Per-job allocation.
    cbam : CbamBlock
        The CBAM-style block.
    factors : pandas.DataFrame
        Every factor the records used, with provenance.
    summary : pandas.DataFrame
        Headline figures (item, value, unit).
    records : pandas.DataFrame
        The per-interval intensity and load (for the plots).
    """

    site: dict[str, str]
    chain: VerifyReport
    monthly: pd.DataFrame
    hourly: pd.DataFrame
    percentiles: pd.DataFrame
    jobs: pd.DataFrame | None
    cbam: CbamBlock
    factors: pd.DataFrame
    summary: pd.DataFrame
    records: pd.DataFrame


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
                    "factor_set": digest[:16],
                }
            )
    return pd.DataFrame(rows)


def not_measured_share(records: pd.DataFrame) -> float:
    """Share of the load served [0, 1] in records whose quality is not 'measured' (estimated: e.g. metered on
    stale telemetry, flag ``stale``; default: filled); 0 when nothing was served."""
    served = records["load_served_kwh"].to_numpy(dtype=float)
    total = float(served.sum())
    return float(served[(records["quality"] != "measured").to_numpy()].sum()) / total if total > 0 else 0.0


def build_report(
    store: LedgerStore,
    site_id: str | None = None,
    *,
    jobs_csv: Path | None = None,
    carbon_price_eur_per_t: float = CBAM_PRICE_Q1_2026_EUR_PER_T,
    kw_per_gpu: float = H100_SXM_KW,
    pue: float | None = None,
) -> CarbonReport:
    """Verify the chain, then compute every table of the report from its records.

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
    jobs = None
    if jobs_csv is not None:
        jobs = allocate_jobs(read_jobs(jobs_csv, tz), records, kw_per_gpu=kw_per_gpu, pue=pue)
    tot = mon.loc["total"]
    lb_t = (tot["scope1_kg"] + tot["scope2_location_kg"]) / 1000.0
    mb_t = (tot["scope1_kg"] + tot["scope2_market_kg"]) / 1000.0
    summary = pd.DataFrame(
        [
            ("load served", tot["load_served_kwh"], "kWh"),
            ("share of the load served not measured (estimated, default)", not_measured_share(records), "-"),
            ("PV share of load (pv_share)", tot["pv_share"], "-"),
            ("hourly CFE score", cfe_score(hrs), "-"),
            ("Scope 1 (diesel)", tot["scope1_kg"], "kg CO2"),
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
    recs = pd.DataFrame(
        {
            "e_bus_kg_per_kwh": records["e_bus_kg_per_kwh"].to_numpy(),
            "load_served_kwh": records["load_served_kwh"].to_numpy(),
        },
        index=pd.DatetimeIndex(records.index).tz_convert(tz),
    )
    return CarbonReport(
        site=info,
        chain=chain,
        monthly=mon,
        hourly=hrs,
        percentiles=pct,
        jobs=jobs,
        cbam=cbam,
        factors=_factor_table(sets),
        summary=summary,
        records=recs,
    )


# -- plots ------------------------------------------------------------------------------------------
def _layout(fig: go.Figure, ytitle: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 30, "t": 20, "b": 40},
        yaxis_title=ytitle,
        legend={"orientation": "h", "y": -0.18},
        template="plotly_white",
    )
    return fig


def plot_monthly(rep: CarbonReport) -> go.Figure:
    """Monthly Scope 1 and Scope 2 (location- and market-based) [t CO2]."""
    m = rep.monthly.drop(index="total")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=m.index, y=m["scope1_kg"] / 1000, name="Scope 1 (diesel)", marker_color=COLOURS["diesel"]))
    fig.add_trace(
        go.Bar(x=m.index, y=m["scope2_location_kg"] / 1000, name="Scope 2 location-based", marker_color=COLOURS["grid"])
    )
    fig.add_trace(
        go.Scatter(
            x=m.index,
            y=(m["scope1_kg"] + m["scope2_market_kg"]) / 1000,
            name="Scope 1 + 2 market-based",
            mode="lines+markers",
            line={"color": "#2e86de"},
        )
    )
    fig.update_layout(barmode="stack")
    return _layout(fig, "t CO2")


def plot_cfe(rep: CarbonReport) -> go.Figure:
    """Hourly CFE score: the mean by hour of day, and per day [%]."""
    h = rep.hourly
    idx = pd.DatetimeIndex(h.index)
    by_hour = h.groupby(idx.hour)[["cfe_kwh", "load_kwh"]].sum()
    score = 100 * by_hour["cfe_kwh"] / by_hour["load_kwh"].replace(0, np.nan)
    fig = go.Figure(go.Bar(x=by_hour.index, y=score, marker_color=COLOURS["pv"], name="CFE by hour of day"))
    fig.add_hline(y=100 * cfe_score(h), line_dash="dash", annotation_text=f"year {100 * cfe_score(h):.1f} %")
    fig.update_xaxes(title="hour of day (local)", dtick=2)
    return _layout(fig, "carbon-free share of load [%]", 320)


def plot_distribution(rep: CarbonReport) -> go.Figure:
    """Histogram of interval intensity weighted by load served [g/kWh]."""
    r = rep.records
    e = 1000 * r["e_bus_kg_per_kwh"].to_numpy()
    w = r["load_served_kwh"].to_numpy()
    hi = max(float(e.max()) if len(e) else 1.0, 1.0)
    counts, edges = np.histogram(e, bins=60, range=(0, hi * 1.001), weights=w)
    share = 100 * counts / max(float(counts.sum()), 1e-12)
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=share, width=np.diff(edges), marker_color="#7f8c8d"))
    for _, row in rep.percentiles.iterrows():
        if row["statistic"] in ("p5", "p50", "p95"):
            fig.add_vline(x=1000 * row["kg_per_kwh"], line_dash="dot", annotation_text=row["statistic"])
    fig.update_xaxes(title="carbon intensity of the bus [g CO2/kWh]")
    return _layout(fig, "share of load served [%]", 320)


def plot_heatmap(rep: CarbonReport) -> go.Figure:
    """Hourly intensity by day (local time) [g/kWh]."""
    h = rep.hourly
    idx = pd.DatetimeIndex(h.index)
    wall = idx.tz_localize(None) if idx.tz is not None else idx
    days, day_of = np.unique(wall.normalize().to_numpy(), return_inverse=True)
    # (hour, day) grid by index arithmetic; an hour that occurs twice (DST ends) shows its mean
    total = np.zeros((24, len(days)))
    count = np.zeros((24, len(days)))
    g = 1000 * h["intensity_kg_per_kwh"].to_numpy(dtype=float)
    np.add.at(total, (idx.hour.to_numpy(), day_of), g)
    np.add.at(count, (idx.hour.to_numpy(), day_of), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(count > 0, total / count, np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=np.datetime_as_string(days, unit="D").tolist(),
            y=np.arange(24),
            colorscale="YlOrRd",
            colorbar={"title": "g/kWh"},
            zmin=0,
        )
    )
    fig.update_yaxes(title="hour of day (local)", dtick=3)
    return _layout(fig, "hour of day (local)", 380)


# -- output -----------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#1d2733;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}
h2{font-size:19px;margin-top:34px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.muted{color:#6b7785}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:160px;flex:1}
.card .t{font-size:12px;color:#6b7785}.card .v{font-size:22px;font-weight:600}.card .s{font-size:12px;color:#6b7785}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #eef1f4;
text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#f6f8fa;border-left:4px solid #2e86de;padding:8px 12px;margin:10px 0}
code{font-size:12px}
"""


def _num(v: object, digits: int = 3) -> str:
    if isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool):
        x = float(v)
        if not np.isfinite(x):
            return ""
        x = 0.0 if abs(x) < 0.5 * 10**-digits else x
        return f"{x:,.{digits}f}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, digits: dict[str, int] | None = None, default: int = 3, index: bool = False) -> str:
    d = df.reset_index() if index else df
    digits = digits or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    body = []
    for row in d.itertuples(index=False):
        cells = []
        for col, v in zip(d.columns, row, strict=True):
            if isinstance(v, pd.Timestamp):
                cells.append(f"<td>{v.strftime('%Y-%m-%d %H:%M %Z')}</td>")
            elif isinstance(v, float | np.floating | int | np.integer) and not isinstance(v, bool):
                raw = repr(float(v))
                cells.append(f"<td class='n' data-v='{raw}'>{_num(v, digits.get(str(col), default))}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_MONTH_COLS = [
    "load_served_kwh",
    "pv_share",
    "scope1_kg",
    "scope2_location_kg",
    "scope2_market_kg",
    "load_co2_kg",
    "intensity_kg_per_kwh",
]


def render_html(rep: CarbonReport) -> str:
    """The self-contained HTML report (plotly.js embedded, works offline)."""
    from plotly.offline import get_plotlyjs

    s = rep.summary.set_index("item")["value"]
    name = html.escape(rep.site.get("name", rep.chain.site_id))
    cards = [
        ("Scope 1 + 2 location-based", f"{(s['Scope 1 (diesel)'] + s['Scope 2 location-based']) / 1000:,.3f} t"),
        ("Scope 1 + 2 market-based", f"{(s['Scope 1 (diesel)'] + s['Scope 2 market-based']) / 1000:,.3f} t"),
        ("Intensity of load served", f"{1000 * s['intensity of the load served']:,.1f} g/kWh"),
        ("PV share of load", f"{100 * s['PV share of load (pv_share)']:.1f} %"),
        ("Hourly CFE score", f"{100 * s['hourly CFE score']:.1f} %"),
        ("Carbon cost (location)", f"€{s['carbon cost, Scope 1 + 2 location-based']:,.0f}"),
    ]
    card_html = "".join(f"<div class='card'><div class='t'>{t}</div><div class='v'>{v}</div></div>" for t, v in cards)
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
        jobs_html = _table(rep.jobs, {"it_kw": 2, "pv_share": 4, "intensity_kg_per_kwh": 4, "covered_h": 2})
    cbam_rows = pd.DataFrame(rep.cbam.rows(), columns=["item", "value", "unit"])
    ch = rep.chain
    chain_html = (
        f"Chain <code>{html.escape(ch.site_id)}</code> verified intact: {ch.n_records:,} records, "
        f"{ch.first} to {ch.last} UTC, {ch.gaps} gap(s) flagged. Tip hash <code>{ch.tip_hash}</code>."
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>islandgrid carbon report: {name}</title><style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>Carbon report: {name}</h1>
<div class="muted">{chain_html}</div>
<div class="cards">{card_html}</div>
<h2>Summary</h2>{_table(rep.summary, {"value": 3})}
<h2>Monthly and annual GHG Protocol figures (local time)</h2>
{_table(month, {"pv_share": 4, "intensity_kg_per_kwh": 4}, index=True)}
<p class="muted">Scope 2 market-based: grid import and PV whose certificates were sold at the residual factor,
GEC-backed PV at 0. kg with three decimals: figures agree with the ledger, the CSV and the XLSX to the gram.</p>
<h2>Monthly Scope 1 and Scope 2</h2>{fig_html["Monthly Scope 1 and Scope 2"]}
<h2>Hourly CFE score</h2><p class="muted">Σ<sub>h</sub> min(load<sub>h</sub>, carbon-free supply to the
load<sub>h</sub>) ÷ Σ load; carbon-free supply is the PV-attributed load, including PV stored in the battery.</p>
{fig_html["Hourly CFE score by hour of day"]}
<h2>Distribution of carbon intensity</h2>{_table(rep.percentiles, {"kg_per_kwh": 4})}
{fig_html["Distribution of carbon intensity (load-weighted)"]}
<h2>Hourly carbon intensity by day</h2>{fig_html["Hourly carbon intensity by day"]}
<h2>Per-job allocation</h2><p class="muted">IT energy × PUE of each interval × the bus intensity of that interval
(GPU-hours at {H100_SXM_KW} kW per GPU unless set: NVIDIA H100 SXM board power).</p>{jobs_html}
<h2>CBAM-style indirect-emissions block</h2>
<div class="note">{html.escape(SCOPE_STATEMENT)}</div>{_table(cbam_rows, {"value": 4})}
<h2>Emission factors used</h2>{_table(rep.factors, {"value": 4})}
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
    }
    if rep.jobs is not None:
        jobs = rep.jobs.copy()
        for c in ("start", "end"):
            jobs[c] = jobs[c].map(pd.Timestamp.isoformat)
        tables["jobs"] = (jobs, False)
    for name, (df, idx) in tables.items():
        df.to_csv(out_dir / f"{name}.csv", index=idx)
    write_xlsx(out_dir / "report.xlsx", tables)


# -- XLSX -------------------------------------------------------------------------------------------


def _cell_values(values: pd.Series | pd.Index) -> list[object]:
    """One column as plain Python values: numbers as floats, times as ISO text, NaN as an empty cell."""
    if values.dtype.kind in "iuf":
        return [None if x != x else x for x in values.to_numpy(dtype=float).tolist()]
    out: list[object] = []
    for x in values.tolist():
        if x is None or (isinstance(x, float) and x != x):
            out.append(None)
        elif isinstance(x, pd.Timestamp):
            out.append(x.isoformat())
        elif isinstance(x, bool | int | float | str):
            out.append(x)
        else:
            out.append(str(x))
    return out


def write_xlsx(path: Path, sheets: dict[str, tuple[pd.DataFrame, bool]]) -> None:
    """One worksheet per frame (name -> (frame, write the index)), header row in bold, via XlsxWriter.

    Columns are written whole (``write_column``): pandas' ``to_excel`` formats cell by cell and
    takes about 1 s for the hourly sheet of a year; this takes a fraction of that. Numbers keep
    16 significant digits, so the workbook agrees with the CSV files to the gram.
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    try:
        bold = wb.add_format({"bold": True})
        for name, (df, index) in sheets.items():
            ws = wb.add_worksheet(name[:31])
            columns: list[tuple[str, pd.Series | pd.Index]] = []
            if index:
                columns.append((str(df.index.name or ""), df.index))
            columns.extend((str(c), df[c]) for c in df.columns)
            ws.write_row(0, 0, [c for c, _ in columns], bold)
            for j, (_, values) in enumerate(columns):
                ws.write_column(1, j, _cell_values(values))
    finally:
        wb.close()
