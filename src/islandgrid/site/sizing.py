"""The optional ``[sizing]`` section: search ranges and targets for ``islandgrid size``.

Example::

    [sizing]
    pv_kwp = { min = 0, max = 2000, step = 100 }
    battery_kwh = { min = 0, max = 4000, step = 250 }
    battery_kw = { values = [250, 500] }
    genset_kw = { values = [100, 150] }
    strategies = ["pv_first", "load_following", "cycle_charging"]
    pv_share_min = 0.80
    diesel_hours_max = 50
    unserved_critical_kwh_max = 0

Whether a range is empty (min above max, no values) is checked when the search is
built, and reported as a :class:`~islandgrid.errors.TargetError` naming what to change.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

_FIX: dict[str, Any] = {"fix": "a range like { min = 0, max = 2000, step = 100 } or { values = [0, 500, 1000] }"}


class SearchRange(BaseModel):
    """One searched dimension: ``min``..``max`` in ``step``s (both ends included), or ``values``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = Field(default=None, ge=0, json_schema_extra=_FIX)
    max: float | None = Field(default=None, ge=0, json_schema_extra=_FIX)
    step: float | None = Field(default=None, gt=0, json_schema_extra=_FIX)
    values: list[Annotated[float, Field(ge=0)]] | None = Field(default=None, json_schema_extra=_FIX)

    def grid(self) -> np.ndarray:
        """The searched values, sorted and unique; may be empty (the caller reports it)."""
        if self.values is not None:
            return np.unique(np.asarray(self.values, dtype=float))
        if self.min is None or self.max is None:
            return np.empty(0)
        if self.max < self.min:
            return np.empty(0)
        if self.step is None:
            return np.unique([self.min, self.max]).astype(float)
        k = int(np.floor((self.max - self.min) / self.step + 1e-9))
        return np.unique(np.round(self.min + self.step * np.arange(k + 1), 9))


class SizingSpec(BaseModel):
    """Search ranges (component sizes, strategies) and the targets a design must meet.

    A target left out is not enforced. ``unserved_critical_kwh_max`` defaults to 0:
    a design that sheds critical load is never "feasible" unless you say so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pv_kwp: SearchRange = Field(default_factory=lambda: SearchRange(min=0, max=2000, step=100))
    battery_kwh: SearchRange = Field(default_factory=lambda: SearchRange(min=0, max=4000, step=250))
    battery_kw: SearchRange = Field(default_factory=lambda: SearchRange(values=[250, 500]))
    genset_kw: SearchRange = Field(default_factory=lambda: SearchRange(values=[100, 150]))
    strategies: list[str] = Field(
        default_factory=lambda: ["pv_first", "load_following", "cycle_charging"],
        json_schema_extra={"fix": "rule strategies: pv_first, load_following, cycle_charging"},
    )
    pv_share_min: float | None = Field(default=None, ge=0, le=1, json_schema_extra={"fix": "a fraction, 0.8 = 80 %"})
    diesel_hours_max: float | None = Field(default=None, ge=0, le=8784, json_schema_extra={"fix": "hours a year"})
    unserved_critical_kwh_max: float | None = Field(
        default=0.0, ge=0, json_schema_extra={"fix": "kWh a year of critical load allowed unserved, 0"}
    )
    max_designs: int = Field(
        default=200_000, ge=1, le=5_000_000, json_schema_extra={"fix": "a cap on the grid size, 200000"}
    )
