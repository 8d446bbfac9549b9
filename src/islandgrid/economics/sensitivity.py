"""One-at-a-time sensitivity of NPC to fuel price, carbon price, grid factor and discount rate,
drawn as a tornado (plotly, JS embedded, offline).

The rule strategies do not look at prices, so a year's operation does not change when a
price does: re-pricing the same simulated year is exact, not an approximation. (A grid
factor changes only the carbon line; a price-aware strategy would need a re-run.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from islandgrid.economics.costs import Prices, cost_table
from islandgrid.economics.evaluate import EconomicsReport


@dataclass(frozen=True)
class SensitivityRow:
    """One bar of the tornado.

    Attributes
    ----------
    parameter : str
        What varied, with its low and high values in the label.
    low_value, high_value : float
        The parameter at the two ends.
    npc_low, npc_high : float
        Microgrid NPC at each end [currency].
    saving_low, saving_high : float
        Baseline NPC minus microgrid NPC at each end [currency].
    """

    parameter: str
    low_value: float
    high_value: float
    npc_low: float
    npc_high: float
    saving_low: float
    saving_high: float


def _variants(p: Prices, span_frac: float) -> list[tuple[str, str, float, float]]:
    lo, hi = 1.0 - span_frac, 1.0 + span_frac
    return [
        ("fuel price", "fuel_per_l", p.fuel_per_l * lo, p.fuel_per_l * hi),
        ("carbon price", "carbon_per_t", p.carbon_per_t * lo, p.carbon_per_t * hi),
        ("grid CO2 factor", "grid_factor_scale", lo, hi),
        ("discount rate", "discount_rate_frac", max(p.discount_rate_frac - 0.03, 0.0), p.discount_rate_frac + 0.03),
    ]


def tornado(report: EconomicsReport, econ_spec: object, span_frac: float = 0.3) -> list[SensitivityRow]:
    """NPC and saving vs baseline with each price moved down and up, one at a time.

    Parameters
    ----------
    report : EconomicsReport
        From :func:`islandgrid.economics.evaluate.economics`.
    econ_spec : EconomicsSpec
        The site's economics section (unit costs, lives).
    span_frac : float
        Relative swing of fuel price, carbon price and grid factor [-]; the discount
        rate swings by +-3 percentage points.

    Returns
    -------
    list of SensitivityRow
        Sorted by the width of the saving bar, widest first.
    """
    rows = []
    for label, attr, lo, hi in _variants(report.prices, span_frac):
        out = []
        for v in (lo, hi):
            pr = replace(report.prices, **{attr: v})
            mg = cost_table(report.sizes, report.operation, econ_spec, pr)  # type: ignore[arg-type]
            base = cost_table(report.baseline_sizes, report.baseline_operation, econ_spec, pr)  # type: ignore[arg-type]
            out.append((float(mg.npc[0]), float(base.npc[0] - mg.npc[0])))
        rows.append(SensitivityRow(label, lo, hi, out[0][0], out[1][0], out[0][1], out[1][1]))
    return sorted(rows, key=lambda r: -abs(r.saving_high - r.saving_low))


def tornado_figure(rows: list[SensitivityRow], report: EconomicsReport) -> go.Figure:
    """Two tornado panels: microgrid NPC, and its saving against the baseline."""
    cur = report.currency
    npc0 = float(report.microgrid.npc[0])
    sav0 = float(report.baseline.npc[0] - report.microgrid.npc[0])
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=(f"microgrid NPC [{cur}]", f"NPC saving vs grid + diesel [{cur}]")
    )
    labels = [f"{r.parameter}<br>{_fmt(r.low_value)} / {_fmt(r.high_value)}" for r in rows][::-1]
    rows_r = rows[::-1]
    for col, (base, lo_k, hi_k) in enumerate(((npc0, "npc_low", "npc_high"), (sav0, "saving_low", "saving_high")), 1):
        fig.add_trace(
            go.Bar(
                y=labels, x=[getattr(r, lo_k) - base for r in rows_r], base=base, orientation="h",
                name="low value", marker_color="#4c78a8", showlegend=col == 1,
            ),
            row=1, col=col,
        )  # fmt: skip
        fig.add_trace(
            go.Bar(
                y=labels, x=[getattr(r, hi_k) - base for r in rows_r], base=base, orientation="h",
                name="high value", marker_color="#e45756", showlegend=col == 1,
            ),
            row=1, col=col,
        )  # fmt: skip
        fig.add_vline(x=base, line_dash="dot", row=1, col=col)  # type: ignore[arg-type]
    fig.update_layout(
        barmode="overlay", title="Sensitivity (one at a time)", height=420, width=1300, template="plotly_white"
    )
    return fig


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def write_tornado(rows: list[SensitivityRow], report: EconomicsReport, path: Path) -> None:
    """Write the tornado as a self-contained HTML file (plotly JS embedded)."""
    tornado_figure(rows, report).write_html(path, include_plotlyjs=True, full_html=True)
