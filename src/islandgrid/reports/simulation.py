"""Outputs of ``islandgrid simulate --out``: flows (Parquet, CSV), kpis.json and an offline HTML report."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.compute.checks import late_jobs
from islandgrid.reports import plots
from islandgrid.reports.kpi_format import JOB_KPI_ROWS, KPI_ROWS, fmt_kpi
from islandgrid.simulate.result import Result


def write_outputs(result: Result, out_dir: Path) -> None:
    """Write flows.parquet, flows.csv, kpis.json and report.html into ``out_dir`` (and, with flexible
    compute, jobs.csv: each job's times and outcome, and job_events.csv: every start, pause, resume
    and finish with its reason).

    The flows files hold the flows, SoC and the carbon-flow columns, with the
    interval start in local time (ISO 8601 with offset).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    table = pd.concat([result.flows, result.carbon], axis=1)
    table.index.name = "interval_start"
    table.to_parquet(out_dir / "flows.parquet")
    table.to_csv(out_dir / "flows.csv", float_format="%.6g")
    (out_dir / "kpis.json").write_text(json.dumps(result.kpis, indent=2, default=float) + "\n", encoding="utf-8")
    (out_dir / "report.html").write_text(render_report(result), encoding="utf-8")
    if result.jobs is not None:
        s = result.jobs.schedule
        jobs = s.grid.jobs.frame()
        jobs["start"] = s.grid.index[0] + pd.to_timedelta(s.start_min, unit="min")
        jobs["finish"] = s.finish_time()
        jobs["late"] = late_jobs(s)
        jobs["feasible"] = s.grid.feasible()
        jobs["resumes"] = s.n_resumes
        jobs.to_csv(out_dir / "jobs.csv", index=False, float_format="%.6g")
        s.event_log().to_csv(out_dir / "job_events.csv", index=False)


def genset_runs(result: Result) -> pd.DataFrame:
    """Contiguous genset runs: start, end, hours, energy [kWh], fuel [L]."""
    on = result.flows["genset_on"].to_numpy() > 0
    return _runs(result, on, {"diesel_kwh": "diesel_kwh", "fuel_l": "fuel_l"})


def outage_events(result: Result) -> pd.DataFrame:
    """Grid outages as simulated: each window to the minute (hours exact at every step length), with
    what covered it: the battery, diesel and unserved energy of the intervals it touches [kWh]."""
    sums = {"bat_out_kwh": "battery_kwh", "diesel_kwh": "diesel_kwh", "unserved_kwh": "unserved_kwh"}
    cols = ["start", "end", "hours", *sums.values()]
    idx = pd.DatetimeIndex(result.flows.index)
    if result.problem.grid.import_kw <= 0 or len(idx) == 0:
        return pd.DataFrame(columns=cols)  # off-grid: islanded all year, no outage events
    first, last = idx[0], idx[-1] + pd.Timedelta(hours=result.dt_h)
    rows: list[dict[str, Any]] = []
    for start, end in zip(result.inputs.outages["start"], result.inputs.outages["end"], strict=True):
        a, b = max(start, first), min(end, last)
        if a >= b:
            continue
        i = int(idx.searchsorted(a, side="right")) - 1
        j = int(idx.searchsorted(b, side="left"))
        row: dict[str, Any] = {"start": a, "end": b, "hours": (b - a) / pd.Timedelta(hours=1)}
        for col, name in sums.items():
            row[name] = float(result.flows[col].iloc[i:j].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _runs(result: Result, mask: np.ndarray, sums: dict[str, str]) -> pd.DataFrame:
    idx = pd.DatetimeIndex(result.flows.index)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    step = pd.Timedelta(hours=result.dt_h)
    rows: list[dict[str, Any]] = []
    for s, e in zip(starts, ends, strict=True):
        row: dict[str, Any] = {
            "start": idx[int(s)],
            "end": idx[int(e) - 1] + step,
            "hours": float(result.flows["genset_on"].iloc[s:e].sum() * result.dt_h)
            if "fuel_l" in sums
            else (e - s) * result.dt_h,
        }
        for col, name in sums.items():
            row[name] = float(result.flows[col].iloc[s:e].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=["start", "end", "hours", *sums.values()])


def _week(result: Result, month: int) -> slice:
    """The 7 days starting on the Monday closest to the 15th of ``month``."""
    idx = pd.DatetimeIndex(result.flows.index)
    mid = pd.Timestamp(year=idx[0].year, month=month, day=15, tz=idx.tz)
    start = (mid - pd.Timedelta(days=mid.weekday())).normalize()
    return slice(start, start + pd.Timedelta(days=7) - pd.Timedelta(seconds=1))


def _table(df: pd.DataFrame, floatfmt: str = "{:,.1f}") -> str:
    if df.empty:
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cells = []
        for v in row:
            if isinstance(v, pd.Timestamp):
                cells.append(v.strftime("%Y-%m-%d %H:%M"))
            elif isinstance(v, float):
                cells.append(floatfmt.format(v))
            else:
                cells.append(html.escape(str(v)))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kpi_cards(k: dict[str, Any]) -> str:
    cards = [
        ("PV share of load", f"{100 * k['pv_share']:.1f} %", "target > 80 %", k["pv_share"] > 0.8),
        ("Diesel run hours", f"{k['diesel_hours']:.1f} h", "target < 50 h", k["diesel_hours"] < 50),
        (
            "CO2 vs grid + diesel",
            f"−{100 * k.get('co2_reduction', 0.0):.1f} %",
            "target ≈ −85 %",
            k.get("co2_reduction", 0.0) >= 0.85,
        ),
        ("Critical unserved", f"{k['unserved_critical_kwh']:.1f} kWh", "target 0", k["unserved_critical_kwh"] <= 1e-6),
        ("Carbon intensity", f"{1000 * k['carbon_intensity_kg_per_kwh']:.0f} g/kWh", "of load served", None),
        (
            "CO2",
            f"{k['co2_kg'] / 1000:,.1f} t",
            f"baseline {k.get('baseline_co2_kg', float('nan')) / 1000:,.1f} t",
            None,
        ),
    ]
    out = []
    for title, value, sub, ok in cards:
        cls = "" if ok is None else ("ok" if ok else "miss")
        badge = "" if ok is None else (" ✓" if ok else " ✗")
        out.append(
            f"<div class='card {cls}'><div class='t'>{title}</div><div class='v'>{value}{badge}</div>"
            f"<div class='s'>{sub}</div></div>"
        )
    return "<div class='cards'>" + "".join(out) + "</div>"


def _kpi_table(result: Result) -> str:
    base = result.baseline.kpis if result.baseline is not None else None
    rows = []
    for key, label, unit, kind in KPI_ROWS:
        b = fmt_kpi(base[key], kind) if base is not None else ""
        unit_txt = unit.format(currency=result.site.economics.currency)
        rows.append(
            f"<tr><td>{label}</td><td>{unit_txt}</td><td class='n'>{fmt_kpi(result.kpis[key], kind)}</td>"
            f"<td class='n'>{b}</td></tr>"
        )
    return (
        "<table><thead><tr><th>KPI</th><th>unit</th><th>microgrid</th><th>grid + diesel backup</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _jobs_section(result: Result) -> str:
    """Flexible training jobs: the job KPIs and where the policy put the jobs' power in the day."""
    if result.jobs is None:
        return ""
    k = result.kpis
    rows = "".join(
        f"<tr><td>{label}</td><td>{unit}</td><td class='n'>{fmt_kpi(k[key], kind)}</td></tr>"
        for key, label, unit, kind in JOB_KPI_ROWS
        if key in k
    )
    fig = plots.jobs_day_profile(result).to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False}
    )
    policy = html.escape(result.jobs.schedule.policy)
    return f"""<section id="jobs"><h2>Flexible training jobs: {policy}</h2>
<div class="muted">The jobs' IT power over the day, mean over the year, placed by <b>{policy}</b> and, for
reference, first come first served (<b>fifo</b>); every start, pause, resume and finish with its reason is in
job_events.csv, each job in jobs.csv.</div>
<div class="grid2"><div>{fig}</div><div><table><thead><tr><th>job KPI</th><th>unit</th><th>{policy}</th></tr>
</thead><tbody>{rows}</tbody></table></div></div></section>"""


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;
color:#1d2733;padding:0 16px}
h1{font-size:26px;margin-bottom:4px}
h2{font-size:19px;margin-top:34px;border-bottom:1px solid #dde3ea;padding-bottom:4px}
.muted{color:#6b7785}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #dde3ea;border-radius:8px;padding:10px 14px;min-width:160px;flex:1}
.card .t{font-size:12px;color:#6b7785}.card .v{font-size:22px;font-weight:600}.card .s{font-size:12px;color:#6b7785}
.card.ok{border-left:5px solid #2e9d57}.card.miss{border-left:5px solid #d9822b}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #eef1f4;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:8px}
"""


def render_report(result: Result) -> str:
    """The self-contained HTML report (plotly.js embedded, works offline)."""
    from plotly.offline import get_plotlyjs

    site = result.site
    k = result.kpis
    figs = [
        ("Summer week: energy balance", plots.energy_balance(result, _week(result, 7))),
        ("Winter week: energy balance", plots.energy_balance(result, _week(result, 1))),
        ("Monthly source shares of the load (through the battery)", plots.monthly_shares(result)),
        ("Battery state of charge over the year", plots.soc_year(result)),
        ("Carbon intensity of the load, by day and hour", plots.intensity_heatmap(result)),
    ]
    fig_html = [
        f"<h2>{title}</h2>" + fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for title, fig in figs
    ]
    runs = genset_runs(result)
    outages = outage_events(result)
    jobs_txt = f", job policy <b>{html.escape(result.jobs.schedule.policy)}</b>" if result.jobs is not None else ""
    pvy = k["pv_available_kwh"] / site.pv.kwp if site.pv.kwp > 0 else 0.0
    curve = result.problem.genset.curve
    factor = result.inputs.grid_factor
    factor_txt = (
        f"{factor.value} {factor.unit} ({factor.name}; {factor.publisher}, {factor.source_document})"
        if factor is not None
        else "from the site file"
    )
    assumptions = f"""
<ul>
<li>Weather: {html.escape(str(site.weather.epw.name if site.weather.epw else site.weather.pv_csv))};
PV by pvlib's PVWatts chain: {site.pv.kwp:g} kWp at {site.pv.tilt_deg:g}° tilt, azimuth {site.pv.azimuth_deg:g}°,
losses {100 * site.pv.losses_frac:.0f} %, DC/AC {site.pv.dc_ac_ratio:g}; specific yield {pvy:,.0f} kWh/kWp·a AC.</li>
<li>Battery {site.battery.energy_kwh:g} kWh, {site.battery.charge_kw:g}/{site.battery.discharge_kw:g} kW,
η {site.battery.eta_charge:g}/{site.battery.eta_discharge:g},
SoC {site.battery.soc_min_frac:g}–{site.battery.soc_max_frac:g},
islanding reserve {site.battery.reserve_frac:g}.</li>
<li>Genset {site.genset.rated_kw:g} kW ({result.problem.genset.rated_kw:.1f} kW after altitude derate);
fuel curve F0 = {curve.f0_l_per_h_per_kw:.4f} L/h/kW, F1 = {curve.f1_l_per_kwh:.4f} L/kWh ({curve.source}
{f", RMS residual {curve.rms_residual_l_per_h:.2f} L/h" if curve.source == "datasheet fit" else ""});
minimum load {100 * site.genset.min_load_frac:.0f} %, minimum run {site.genset.min_run_min:g} min,
minimum off {site.genset.min_off_min:g} min (minimum run ends when the grid is back);
{site.genset.co2_kg_per_l:g} kg CO2/L (IPCC 2006).</li>
<li>Grid factor: {html.escape(factor_txt)}. Outages: {k["grid_outage_events"]} events,
{k["grid_outage_hours"]:.1f} h islanded, kept to the minute at {result.inputs.resolution} steps: an interval
an outage covers in part runs as its islanded and its connected part.</li>
<li>Baseline ("traditional design"): the same load and outages, the grid supplies all load and a genset sized for the
peak covers every outage.</li>
<li>pv_share = load energy attributed to PV by proportional sharing through the battery pool ÷ load served.</li>
</ul>"""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>islandgrid: {html.escape(site.location.name)}</title><style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>{html.escape(site.location.name)}</h1>
<div class="muted">Strategy <b>{html.escape(result.strategy)}</b>, {result.inputs.resolution} steps, year
{site.simulation.year}{jobs_txt}; load {k["load_kwh"] / 1000:,.0f} MWh a year. Generated by islandgrid.</div>
{_kpi_cards(k)}
<h2>KPIs beside the traditional grid + diesel-backup design</h2>{_kpi_table(result)}
{"".join(fig_html)}
{_jobs_section(result)}
<div class="grid2"><div><h2>Grid outages</h2>{_table(outages)}</div>
<div><h2>Genset runs</h2>{_table(runs)}</div></div>
<h2>Assumptions</h2>{assumptions}
</body></html>"""
