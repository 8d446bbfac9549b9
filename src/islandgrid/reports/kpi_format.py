"""KPI labels, units and number formats shared by the CLI table and the HTML report."""

from __future__ import annotations

from typing import Any

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
    ("energy_cost", "Energy cost (grid + fuel - export)", "k {currency}", "k"),
)


#: Rows of the job KPIs, shown when a run has flexible compute (key, label, unit, kind).
JOB_KPI_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("jobs_total", "Jobs", "", "int"),
    ("jobs_infeasible", "Jobs infeasible even alone", "", "int"),
    ("jobs_late", "Jobs late (feasible ones)", "", "int"),
    ("jobs_late_fifo_met", "of which fifo met", "", "int"),
    ("job_delay_h_mean", "Job delay, mean", "h", "f1"),
    ("job_delay_h_p95", "Job delay, 95th percentile", "h", "f1"),
    ("gpu_hours", "GPU hours", "GPU h", "int"),
    ("job_resumes", "Job resumes", "", "int"),
    ("flexible_energy_shifted_kwh", "Job energy moved vs fifo", "MWh", "mwh"),
    ("cfe_hourly_score", "Hourly CFE score", "%", "pct"),
)


def fmt_kpi(value: float, kind: str) -> str:
    """Format a KPI value for a table (``kind`` picks the unit scaling and digits)."""
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
    text = formats[kind](float(value))
    if text.startswith("-") and float(text.replace(",", "")) == 0.0:
        text = text[1:]  # a tiny negative (e.g. HOMER's renewable fraction with genset dump) prints as 0
    return text


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
