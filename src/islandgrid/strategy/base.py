"""The strategy seam: a :class:`DispatchProblem` in, per-interval flows out.

Every dispatch strategy (the rule-based ones here, the optimisers and MPC later)
implements :class:`Strategy`. The engine builds one ``DispatchProblem`` from the
site's input series, hands it to the strategy and gets back a dict of arrays with
the keys in :data:`FLOW_COLUMNS`. The engine then checks the invariants and wraps
the arrays into a :class:`~islandgrid.simulate.result.Result`.

Sign conventions: every flow is a non-negative energy in the interval [kWh].
Balance in every interval (energy conservation on the AC bus):

    pv_used + grid_in + diesel + bat_out = load_served + bat_in + grid_out + dump
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from islandgrid.components.battery import BatteryParams
from islandgrid.components.genset import GensetParams

if TYPE_CHECKING:
    from islandgrid.site.spec import Site

#: Energy flows per interval [kWh], in the order the engine returns them.
ENERGY_COLUMNS: tuple[str, ...] = (
    "load_kwh",  # demand: IT x PUE
    "critical_load_kwh",  # the part of load_kwh that must never be shed
    "load_served_kwh",
    "unserved_kwh",  # load_kwh - load_served_kwh (shed + critical unserved)
    "unserved_critical_kwh",
    "pv_available_kwh",
    "pv_used_kwh",  # pv_available - pv_curtailed; into the AC bus
    "pv_curtailed_kwh",
    "grid_in_kwh",
    "grid_out_kwh",
    "diesel_kwh",
    "bat_in_kwh",  # AC energy into the battery
    "bat_out_kwh",  # AC energy out of the battery
    "bat_selfdis_kwh",  # stored energy lost to self-discharge
    "dump_kwh",  # genset minimum-load surplus nothing could absorb
)
#: Other per-interval columns.
STATE_COLUMNS: tuple[str, ...] = (
    "fuel_l",  # fuel burnt [L]
    "soc_kwh",  # stored energy at the END of the interval [kWh]
    "genset_on",  # 1.0 while the genset runs in the interval
    "grid_available",  # grid-connected share of the interval: 1.0 up all of it, 0.0 islanded [-]
)
FLOW_COLUMNS: tuple[str, ...] = ENERGY_COLUMNS + STATE_COLUMNS


@dataclass(frozen=True)
class GridParams:
    """Grid connection limits.

    Attributes
    ----------
    import_kw, export_kw : float
        Limits at the PCC [kW]; export 0 means no export.
    """

    import_kw: float
    export_kw: float


@dataclass(frozen=True)
class DispatchProblem:
    """Everything a strategy needs for one run, as plain arrays of equal length.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        Interval starts, tz-aware.
    dt_h : float
        Interval length [h].
    pv_kw : ndarray
        Available PV AC power, mean over the interval [kW].
    load_kw, critical_kw : ndarray
        Total demand (IT x PUE) and its critical part [kW].
    grid_available : ndarray of float
        Grid-connected share of each interval, 0 (islanded all of it) to 1 (up all of it) [-]
        (outage windows kept to the minute: :func:`islandgrid.inputs.grid.grid_fraction`); a bool
        array reads as 1 / 0. Stored as float64.
    import_price_per_kwh, export_price_per_kwh : ndarray
        Tariff [currency/kWh].
    grid_co2_kg_per_kwh : ndarray
        Grid carbon factor [kg/kWh].
    battery, genset, grid : params
        Component parameters.
    options : dict
        Strategy parameters from the site file (e.g. the cycle-charging setpoint).
    grid_up_at_start : ndarray of bool or None
        Whether the grid is up at each interval's start: which part of a partly islanded interval
        comes first (:func:`islandgrid.components.physics.grid_parts`); None: the islanded part
        first. Whole intervals do not read it.
    site : Site or None
        The site the problem was built from (location, PV array, outage model), for
        strategies that model rather than read the inputs (the clear-sky forecaster,
        the MPC's outage-risk reserve); None for hand-built problems.
    """

    index: pd.DatetimeIndex
    dt_h: float
    pv_kw: np.ndarray
    load_kw: np.ndarray
    critical_kw: np.ndarray
    grid_available: np.ndarray
    import_price_per_kwh: np.ndarray
    export_price_per_kwh: np.ndarray
    grid_co2_kg_per_kwh: np.ndarray
    battery: BatteryParams
    genset: GensetParams
    grid: GridParams
    carbon_price_per_kg: float = 0.0
    options: dict[str, float] = field(default_factory=dict)
    site: Site | None = field(default=None, repr=False, compare=False)
    grid_up_at_start: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        share = np.ascontiguousarray(np.asarray(self.grid_available, dtype=np.float64))
        object.__setattr__(self, "grid_available", share)
        start = self.grid_up_at_start
        up = share >= 1.0 if start is None or len(start) != len(share) else np.asarray(start, dtype=bool)
        object.__setattr__(self, "grid_up_at_start", np.ascontiguousarray(up))

    @property
    def up_at_start(self) -> np.ndarray:
        """Whether the grid is up at each interval's start (bool)."""
        assert self.grid_up_at_start is not None
        return self.grid_up_at_start

    @property
    def n(self) -> int:
        """Number of intervals."""
        return len(self.index)


class Strategy(Protocol):
    """A dispatch strategy.

    ``dispatch`` returns a dict with every key of :data:`FLOW_COLUMNS`, each a float
    array of length ``problem.n``.
    """

    @property
    def name(self) -> str:
        """The strategy's registry name."""
        ...

    def dispatch(self, problem: DispatchProblem) -> dict[str, np.ndarray]:
        """Decide the flows of every interval."""
        ...
