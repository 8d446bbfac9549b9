"""Distributions over scenario years: empirical CDFs of the headline KPIs, in one self-contained page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: The distributions the report shows: KPI, title, scale, unit.
CDF_KPIS: tuple[tuple[str, str, float, str], ...] = (
    ("pv_share", "PV share of load", 100.0, "%"),
    ("diesel_hours", "Diesel run hours", 1.0, "h"),
    ("co2_kg", "CO2 (Scope 1 + 2 location)", 1e-3, "t"),
    ("unserved_critical_kwh", "Unserved critical energy", 1.0, "kWh"),
)


def ecdf(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and the share of scenarios at or below each [-]."""
    x = np.sort(np.asarray(v, dtype=float))
    return x, np.arange(1, x.size + 1) / x.size


def cdf_figure(values: dict[str, np.ndarray], one_draw: dict[str, Any] | None, title: str) -> go.Figure:
    """Four empirical CDFs, with P10/P50/P90 marked and the one-draw figure as a dashed line."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=[f"{t} [{u}]" for _, t, _, u in CDF_KPIS])
    for i, (key, label, scale, unit) in enumerate(CDF_KPIS):
        r, c = divmod(i, 2)
        x, y = ecdf(values[key] * scale)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"shape": "hv"}, name=label, showlegend=False),
                      row=r + 1, col=c + 1)  # fmt: skip
        for q in (0.1, 0.5, 0.9):
            fig.add_trace(
                go.Scatter(x=[float(np.quantile(values[key], q)) * scale], y=[q], mode="markers+text",
                           text=[f"P{round(q * 100)}"], textposition="top left", showlegend=False,
                           marker={"color": "#c0392b"}),
                row=r + 1, col=c + 1,
            )  # fmt: skip
        if one_draw is not None and key in one_draw:
            fig.add_vline(
                x=float(one_draw[key]) * scale, line_dash="dash", line_color="#7f8c8d", row=r + 1, col=c + 1,
                annotation_text="one draw", annotation_position="bottom right",
                annotation_font={"color": "#7f8c8d", "size": 11},
            )  # fmt: skip
        fig.update_xaxes(title_text=unit, row=r + 1, col=c + 1)
        fig.update_yaxes(title_text="share of scenarios at or below", range=[0, 1.02], row=r + 1, col=c + 1)
    fig.update_layout(title=title, height=760, template="plotly_white", margin={"l": 60, "r": 30, "t": 80, "b": 50})
    return fig


def write_cdfs(values: dict[str, np.ndarray], one_draw: dict[str, Any] | None, title: str, path: Path) -> None:
    """The CDF page as self-contained HTML (works offline)."""
    cdf_figure(values, one_draw, title).write_html(path, include_plotlyjs=True, full_html=True)


def write_fleet_chart(long: Any, title: str, path: Path) -> None:
    """:func:`fleet_figure` as self-contained HTML (works offline)."""
    fleet_figure(long, title).write_html(path, include_plotlyjs=True, full_html=True)


def fleet_figure(long: Any, title: str) -> go.Figure:
    """Box plots per site of PV share, diesel hours and CO2 over the scenarios, each site in one colour in
    every panel.

    ``long`` has one row per site and scenario (columns ``site`` and the KPIs).
    """
    panels = [k for k in CDF_KPIS if k[0] != "unserved_critical_kwh"]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[f"{t} [{u}]" for _, t, _, u in panels])
    palette = plotly.colors.qualitative.Plotly
    sites = list(dict.fromkeys(long["site"]))
    colour = {site: palette[i % len(palette)] for i, site in enumerate(sites)}  # one colour per site, every panel
    for j, (key, _, scale, _) in enumerate(panels):
        for site, g in long.groupby("site", sort=False):
            fig.add_trace(
                go.Box(
                    y=g[key] * scale, name=str(site), boxpoints=False, showlegend=j == 0, legendgroup=str(site),
                    marker_color=colour[site],
                ),
                row=1, col=j + 1,
            )  # fmt: skip
    fig.update_layout(title=title, height=520, template="plotly_white")
    return fig
