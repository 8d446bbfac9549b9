"""The Result of a run: flows per interval, carbon flow, KPIs and the baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from islandgrid.compute.place import JobRun
from islandgrid.inputs.series import InputSeries
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem


@dataclass(frozen=True)
class Result:
    """One simulated (or optimised) run.

    Attributes
    ----------
    site : Site
        The site that was run.
    strategy : str
        Strategy name.
    flows : pandas.DataFrame
        One column per flow [kWh per interval] plus fuel_l, soc_kwh, genset_on and
        grid_available; tz-aware interval-start index.
    carbon : pandas.DataFrame
        The carbon flow per interval (see :mod:`islandgrid.carbon.flow`).
    inputs : InputSeries
        The input series the run used.
    problem : DispatchProblem
        The arrays handed to the strategy.
    kpis : dict
        Annual KPIs (:mod:`islandgrid.simulate.kpis`).
    baseline : Result or None
        The traditional grid + diesel-backup design on the same load and outages.
    jobs : JobRun or None
        With flexible compute: the jobs, their placement and the ``fifo`` reference.
    """

    site: Site
    strategy: str
    flows: pd.DataFrame
    carbon: pd.DataFrame
    inputs: InputSeries
    problem: DispatchProblem
    kpis: dict[str, Any] = field(default_factory=dict)
    baseline: Result | None = None
    jobs: JobRun | None = None

    @property
    def dt_h(self) -> float:
        """Step length [h]."""
        return self.inputs.dt_h
