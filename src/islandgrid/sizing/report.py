"""Sizing outputs: the NPC-vs-CO2 Pareto plot (plotly, JS embedded), tables and files."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from islandgrid.sizing.designs import DESIGN_COLUMNS
from islandgrid.sizing.search import SizingResult

#: Columns shown for a design, in order.
SHOW_COLUMNS: tuple[str, ...] = (
    *DESIGN_COLUMNS,
    "pv_share",
    "diesel_hours",
    "unserved_critical_kwh",
    "co2_kg",
    "capex",
    "npc",
    "lcoe_per_kwh",
    "feasible",
)
_MAX_CLOUD = 20000


def pareto_table(result: SizingResult) -> pd.DataFrame:
    """The Pareto front, by rising NPC."""
    return result.table.iloc[result.pareto][list(SHOW_COLUMNS)].reset_index(drop=True)


def pareto_figure(result: SizingResult, title: str, currency: str) -> go.Figure:
    """All designs (grey), feasible ones (green), the front (line) and the cheapest feasible (star)."""
    t = result.table
    fig = go.Figure()
    cloud = t if len(t) <= _MAX_CLOUD else t.sample(_MAX_CLOUD, random_state=0)

    def hover(df: pd.DataFrame) -> list[str]:
        return [
            f"{r.pv_kwp:g} kWp, {r.battery_kwh:g} kWh/{r.battery_kw:g} kW, gen {r.genset_kw:g} kW, {r.strategy}"
            f"<br>pv_share {r.pv_share:.1%}, diesel {r.diesel_hours:.0f} h, "
            f"unserved crit {r.unserved_critical_kwh:.0f} kWh"
            for r in df.itertuples()
        ]

    for mask, name, color in (
        (~cloud["feasible"], "misses a target", "#bbbbbb"),
        (cloud["feasible"], "meets targets", "#54a24b"),
    ):
        d = cloud[mask]
        fig.add_trace(
            go.Scattergl(
                x=d["co2_kg"] / 1000, y=d["npc"] / 1e6, mode="markers", name=name,
                marker={"size": 4, "color": color, "opacity": 0.6}, text=hover(d), hoverinfo="text",
            )
        )  # fmt: skip
    f = t.iloc[result.pareto]
    fig.add_trace(
        go.Scatter(
            x=f["co2_kg"] / 1000, y=f["npc"] / 1e6, mode="lines+markers", name="Pareto front",
            line={"color": "#4c78a8"}, text=hover(f), hoverinfo="text",
        )
    )  # fmt: skip
    if result.best is not None:
        b = t.iloc[[result.best]]
        fig.add_trace(
            go.Scatter(
                x=b["co2_kg"] / 1000, y=b["npc"] / 1e6, mode="markers", name="cheapest meeting targets",
                marker={"symbol": "star", "size": 16, "color": "#e45756"}, text=hover(b), hoverinfo="text",
            )
        )  # fmt: skip
    if np.isfinite(result.baseline_npc):
        fig.add_hline(
            y=result.baseline_npc / 1e6, line_dash="dot",
            annotation_text="grid + diesel baseline NPC", annotation_position="top left",
        )  # fmt: skip
    fig.update_layout(
        title=title,
        xaxis_title="CO2 [t/year] (Scope 1 + Scope 2 location-based)",
        yaxis_title=f"NPC [million {currency}]",
        height=650,
        width=1200,
        template="plotly_white",
    )
    return fig


def best_summary(result: SizingResult) -> dict[str, Any]:
    """The cheapest feasible design and its figures, or the reasons none is (for JSON)."""
    out: dict[str, Any] = {
        "designs": len(result.table),
        "seconds": result.seconds,
        "targets": {
            "pv_share_min": result.spec.pv_share_min,
            "diesel_hours_max": result.spec.diesel_hours_max,
            "unserved_critical_kwh_max": result.spec.unserved_critical_kwh_max,
        },
        "feasible_designs": int(result.table["feasible"].sum()),
        "baseline_npc": result.baseline_npc,
        "best": None,
        "why": result.why,
        "notes": result.notes,
        "job_rounds": [
            {
                "placed_on": None if r.placed_on is None else asdict(r.placed_on),
                "best": None if r.best is None else asdict(r.best),
                "seconds": r.seconds,
            }
            for r in result.job_rounds
        ],
    }
    if result.best is not None:
        row = result.table.iloc[result.best]
        out["best"] = {
            c: (str(row[c]) if c == "strategy" else bool(row[c]) if c == "feasible" else float(row[c]))
            for c in SHOW_COLUMNS
        }
    return out


def write_sizing(
    result: SizingResult, folder: Path, title: str, currency: str, verified: dict[str, Any] | None
) -> None:
    """designs.csv (every design), pareto.csv, pareto.html and best.json into ``folder``."""
    result.table.to_csv(folder / "designs.csv", index=False)
    pareto_table(result).to_csv(folder / "pareto.csv", index=False)
    pareto_figure(result, title, currency).write_html(folder / "pareto.html", include_plotlyjs=True, full_html=True)
    summary = best_summary(result)
    summary["verified_by_simulate"] = verified
    (folder / "best.json").write_text(json.dumps(summary, indent=2, default=float))
