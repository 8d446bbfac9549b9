"""Outage survival of a site, REopt energy-resilience style, from a simulated year.

For every hour of the year an outage could start in, the Markov chain of
:mod:`islandgrid.resilience.markov` runs with that hour's battery state (from the
simulated year), the PV of the hours that follow, the critical load, and the genset's
availability, failure to start and MTTF. The result is the probability of riding through
an outage of each duration, by start hour; the survival curve is its mean over starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from islandgrid.errors import InputError
from islandgrid.resilience.markov import survival_matrix
from islandgrid.simulate.result import Result

#: The durations the CLI reports [h].
HEADLINE_HOURS: tuple[int, ...] = (4, 24, 72)


@dataclass(frozen=True)
class Resilience:
    """Survival probabilities of one site.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        Outage start times (local time).
    durations_h : ndarray
        Outage durations [h], 1..max.
    survival : ndarray, shape (starts, durations)
        P(survive) for each start and duration [-].
    load : str
        'critical' or 'total': which load must be carried.
    """

    index: pd.DatetimeIndex
    durations_h: np.ndarray
    survival: np.ndarray
    load: str

    def curve(self) -> pd.DataFrame:
        """Mean, 5th percentile and worst survival over starts, by duration [-]."""
        return pd.DataFrame(
            {
                "mean": self.survival.mean(axis=0),
                "p05": np.percentile(self.survival, 5, axis=0),
                "worst": self.survival.min(axis=0),
            },
            index=pd.Index(self.durations_h, name="duration_h"),
        )

    def at(self, hours: float) -> dict[str, float]:
        """Mean, 5th percentile and worst survival for one duration [-]."""
        i = int(np.searchsorted(self.durations_h, hours))
        if i >= self.durations_h.size or self.durations_h[i] != hours:
            raise InputError(
                "no survival for that duration",
                field="hours",
                value=hours,
                allowed=f"1 to {int(self.durations_h[-1])} whole hours",
                fix="ask for a modelled duration or raise max_hours",
            )
        col = self.survival[:, i]
        return {"mean": float(col.mean()), "p05": float(np.percentile(col, 5)), "worst": float(col.min())}

    def by_start_hour(self, hours: float) -> pd.Series:
        """Mean survival for one duration by the local hour of day the outage starts [-]."""
        i = int(np.searchsorted(self.durations_h, hours))
        return pd.Series(self.survival[:, i], index=self.index.hour).groupby(level=0).mean()

    def summary(self) -> dict[str, dict[str, float]]:
        """:data:`HEADLINE_HOURS` that are modelled, each with mean, p05, worst."""
        return {f"{h}h": self.at(h) for h in HEADLINE_HOURS if h <= self.durations_h[-1]}


def resilience(result: Result, max_hours: int = 72, load: str = "critical", n_bins: int = 101) -> Resilience:
    """Survival probabilities from a simulated year at hourly steps.

    Parameters
    ----------
    result : Result
        An hourly run (``islandgrid.simulate(site, resolution='1h')``).
    max_hours : int
        Longest outage modelled [h].
    load : {'critical', 'total'}
        The load that must be carried through the outage.
    n_bins : int
        Battery SoC bins (REopt's ``num_battery_bins``); 101 = 1 % steps.

    Returns
    -------
    Resilience
        Survival by start hour and duration.
    """
    if load not in ("critical", "total"):
        raise InputError(
            "unknown load choice", field="load", value=load, allowed="critical, total", fix="pick one of those"
        )
    if result.dt_h != 1.0:
        raise InputError(
            "resilience runs on hourly steps",
            field="simulation.resolution",
            value=result.inputs.resolution,
            allowed="1h",
            fix="simulate with resolution='1h'",
        )
    if not 1 <= max_hours <= 24 * 30:
        raise InputError("outage length out of range", field="max_hours", value=max_hours, allowed="1 to 720 h")
    p = result.problem
    b, g = p.battery, p.genset
    site = result.site
    demand = p.critical_kw if load == "critical" else p.load_kw
    net = demand - p.pv_kw
    soc_end = result.flows["soc_kwh"].to_numpy()
    soc_start = np.concatenate([[b.soc_init_kwh], soc_end[:-1]])
    usable = max(b.soc_max_kwh - b.soc_min_kwh, 0.0)
    start_usable = np.clip(soc_start - b.soc_min_kwh, 0.0, usable)
    surv = survival_matrix(
        net,
        start_usable,
        max_hours,
        n_gens=1,
        gen_kw=g.rated_kw,
        availability=site.genset.availability,
        fail_to_start=site.genset.fail_to_start_prob,
        mttf_steps=site.genset.mttf_h / result.dt_h,
        usable_kwh=usable,
        battery_kw=b.discharge_kw,
        eta_charge=b.eta_charge,
        eta_discharge=b.eta_discharge,
        n_bins=n_bins,
        dt_h=result.dt_h,
    )
    idx = pd.DatetimeIndex(result.flows.index).tz_convert(site.location.tz)
    return Resilience(index=idx, durations_h=np.arange(1, max_hours + 1, dtype=float), survival=surv, load=load)


def survival_figure(res: Resilience, title: str) -> go.Figure:
    """Survival curve (mean, 5th percentile, worst start) and survival by start hour."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("P(survive) by outage duration", "P(survive) by local start hour"),
        column_widths=[0.55, 0.45],
    )
    c = res.curve()
    for name, col, dash in (
        ("mean over starts", "mean", "solid"),
        ("5th percentile", "p05", "dash"),
        ("worst start", "worst", "dot"),
    ):
        fig.add_trace(go.Scatter(x=c.index, y=c[col], name=name, line={"dash": dash}), row=1, col=1)
    for h in HEADLINE_HOURS:
        if h <= res.durations_h[-1]:
            s = res.by_start_hour(h)
            fig.add_trace(go.Scatter(x=s.index, y=s.values, name=f"{h} h outage", mode="lines+markers"), row=1, col=2)
    fig.update_xaxes(title_text="outage duration [h]", row=1, col=1)
    fig.update_xaxes(title_text="start hour (local)", row=1, col=2, dtick=3)
    fig.update_yaxes(title_text="probability [-]", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, height=480, width=1300, template="plotly_white")
    return fig


def write_survival_html(res: Resilience, path: Path, title: str) -> None:
    """Write the survival plot as self-contained HTML (plotly JS embedded, works offline)."""
    survival_figure(res, title).write_html(path, include_plotlyjs=True, full_html=True)
