"""Plots of the carbon report (plotly figures, embedded in the HTML)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from islandgrid.reports.accounting import cfe_score
from islandgrid.reports.plots import COLOURS

if TYPE_CHECKING:  # annotations only: the report module renders with these
    from islandgrid.reports.carbon import CarbonReport


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
