"""Plotly figures of a Result: energy balance, source shares, SoC, carbon intensity, flexible jobs over the day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from islandgrid.simulate.result import Result

#: One colour per source, used in every plot.
COLOURS = {
    "pv": "#f2b705",
    "battery": "#2e86de",
    "grid": "#7f8c8d",
    "diesel": "#c0392b",
    "load": "#111111",
    "charge": "#85c1e9",
    "curtailed": "#f9e79f",
    "unserved": "#8e44ad",
}


def _layout(fig: go.Figure, ytitle: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 60, "t": 20, "b": 40},
        yaxis_title=ytitle,
        legend={"orientation": "h", "y": -0.15},
        template="plotly_white",
        hovermode="x unified",
    )
    return fig


def energy_balance(result: Result, window: slice) -> go.Figure:
    """Stacked sources serving the load (and charging the battery) over a window [kW]."""
    f = result.flows.loc[window]
    kw = 1.0 / result.dt_h
    fig = go.Figure()
    stack = (
        ("PV", (f["pv_used_kwh"] - f["grid_out_kwh"]).clip(lower=0), "pv"),
        ("Battery discharge", f["bat_out_kwh"], "battery"),
        ("Grid import", f["grid_in_kwh"], "grid"),
        ("Diesel", f["diesel_kwh"], "diesel"),
    )
    for name, series, key in stack:
        fig.add_trace(
            go.Scatter(x=f.index, y=series * kw, name=name, stackgroup="src", mode="none", fillcolor=COLOURS[key])
        )
    fig.add_trace(
        go.Scatter(
            x=f.index,
            y=-f["bat_in_kwh"] * kw,
            name="Battery charge",
            mode="none",
            fill="tozeroy",
            fillcolor=COLOURS["charge"],
        )
    )
    fig.add_trace(
        go.Scatter(x=f.index, y=f["load_kwh"] * kw, name="Load", line={"color": COLOURS["load"], "width": 1.5})
    )
    fig.add_trace(
        go.Scatter(
            x=f.index,
            y=f["pv_available_kwh"] * kw,
            name="PV available",
            line={"color": COLOURS["pv"], "width": 1, "dash": "dot"},
        )
    )
    energy_kwh = result.problem.battery.energy_kwh
    if energy_kwh > 0:
        fig.add_trace(
            go.Scatter(
                x=f.index,
                y=100 * f["soc_kwh"] / energy_kwh,
                name="SoC (right axis)",
                yaxis="y2",
                line={"color": COLOURS["battery"], "width": 1.5, "dash": "dash"},
            )
        )
        fig.update_layout(
            yaxis2={
                "overlaying": "y",
                "side": "right",
                "range": [0, 100],
                "title": "SoC [%]",
                "showgrid": False,
                "tickmode": "linear",
                "tick0": 0,
                "dtick": 20,
            }
        )
    if len(f) and result.problem.grid.import_kw > 0:
        _shade(fig, result.inputs.outages, f.index[0], f.index[-1] + pd.Timedelta(hours=result.dt_h))
    return _layout(fig, "power [kW]")


def _shade(fig: go.Figure, windows: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """Shade the outage windows (to the minute) that fall in [first, last)."""
    for start, end in zip(windows["start"], windows["end"], strict=True):
        if start >= last or end <= first:
            continue
        fig.add_vrect(
            x0=max(start, first),
            x1=min(end, last),
            fillcolor="#e74c3c",
            opacity=0.12,
            line_width=0,
            annotation_text="outage",
            annotation_position="top left",
        )


def monthly_shares(result: Result) -> go.Figure:
    """Share of each month's load served from PV, grid and diesel (through the battery) [%]."""
    served = result.flows["load_served_kwh"]
    c = result.carbon
    parts = pd.DataFrame(
        {
            "PV": served * c["load_pv_frac"],
            "Grid": served * c["load_grid_frac"],
            "Diesel": served * c["load_diesel_frac"],
        }
    )
    monthly = parts.groupby(pd.DatetimeIndex(parts.index).month).sum()
    share = 100 * monthly.div(monthly.sum(axis=1).replace(0, np.nan), axis=0)
    months = pd.to_datetime(monthly.index.astype(str), format="%m").strftime("%b")
    fig = go.Figure()
    for name, key in (("PV", "pv"), ("Grid", "grid"), ("Diesel", "diesel")):
        fig.add_trace(go.Bar(x=months, y=share[name], name=name, marker_color=COLOURS[key]))
    fig.update_layout(barmode="stack")
    fig.add_hline(y=80, line_dash="dash", line_color="#2e9d57", annotation_text="80 % PV target")
    return _layout(fig, "share of load [%]", 340)


def soc_year(result: Result) -> go.Figure:
    """Daily min / mean / max state of charge over the year [%]."""
    e = result.problem.battery.energy_kwh
    fig = go.Figure()
    if e <= 0:
        return _layout(fig, "SoC [%]", 300)
    soc = 100 * result.flows["soc_kwh"] / e
    daily = soc.resample("1D").agg(["min", "mean", "max"])
    fig.add_trace(go.Scatter(x=daily.index, y=daily["max"], line={"width": 0}, showlegend=False, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=daily.index,
            y=daily["min"],
            fill="tonexty",
            line={"width": 0},
            fillcolor="rgba(46,134,222,0.25)",
            name="daily range",
        )
    )
    fig.add_trace(go.Scatter(x=daily.index, y=daily["mean"], line={"color": COLOURS["battery"]}, name="daily mean"))
    b = result.site.battery
    for frac, label in (
        (b.soc_min_frac, "SoC min"),
        (b.reserve_frac, "islanding reserve"),
        (b.soc_max_frac, "SoC max"),
    ):
        fig.add_hline(y=100 * frac, line_dash="dot", line_color="#6b7785", annotation_text=label)
    return _layout(fig, "SoC [%]", 320)


def intensity_heatmap(result: Result) -> go.Figure:
    """Carbon intensity of the AC bus by day of year and hour of day [g/kWh]."""
    e = result.carbon["e_bus_kg_per_kwh"] * 1000
    hourly = e.resample("1h").mean()
    hidx = pd.DatetimeIndex(hourly.index)
    frame = pd.DataFrame({"day": hidx.normalize(), "hour": hidx.hour, "v": hourly.to_numpy()})
    grid = frame.pivot_table(index="hour", columns="day", values="v", aggfunc="mean")
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(), x=grid.columns, y=grid.index, colorscale="YlOrRd", colorbar={"title": "g/kWh"}, zmin=0
        )
    )
    fig.update_layout(yaxis={"dtick": 3})
    return _layout(fig, "hour of day", 360)


def jobs_day_profile(result: Result) -> go.Figure:
    """The flexible jobs' IT power by local hour of day, under the run's job policy and under ``fifo``,
    beside the PV available and the inflexible IT, each the mean over the year [kW]."""
    if result.jobs is None:
        raise ValueError("jobs_day_profile needs a run with flexible compute ([compute] or --job-policy)")
    s, fifo = result.jobs.schedule, result.jobs.fifo
    idx = pd.DatetimeIndex(s.grid.index)
    hour = idx.hour + idx.minute / 60.0
    kw = 1.0 / result.dt_h

    def by_hour(values: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=float), index=hour).groupby(level=0).mean()

    pv = by_hour(result.flows["pv_available_kwh"].to_numpy() * kw)
    fig = go.Figure()
    pv_fill = "rgba(242,183,5,0.35)"  # COLOURS["pv"], light
    fig.add_trace(go.Scatter(x=pv.index, y=pv, name="PV available", mode="none", fill="tozeroy", fillcolor=pv_fill))
    base = by_hour(s.grid.base_it_kw)
    grey = {"color": COLOURS["grid"], "dash": "dot"}
    fig.add_trace(go.Scatter(x=base.index, y=base, name="inflexible IT", line=grey))
    for name, sched, style in ((f"jobs' IT, {s.policy}", s, "solid"), ("jobs' IT, fifo", fifo, "dash")):
        jobs = by_hour(sched.flex_it_kw)
        fig.add_trace(go.Scatter(x=jobs.index, y=jobs, name=name, line={"color": COLOURS["load"], "dash": style}))
    fig.update_xaxes(title="local hour of day", dtick=3, range=[0, 24 - result.dt_h])
    return _layout(fig, "mean power [kW]", height=340)
