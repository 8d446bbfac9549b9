"""Load shedding: non-critical groups shed in priority order when the reserve cannot carry
them, and restored in reverse order afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Emit = Callable[..., Any]


class LoadShedder:
    """Decides the shed mask (bit i = group i shed) one step at a time.

    Rule (islanded, genset not running): the battery's usable energy over the load it
    must carry (connected load minus PV) is the autonomy [h]. While the autonomy is below
    ``autonomy_h``, shed the next group in priority order, one per ``hold_s``; restore
    the last shed group once the autonomy *with it* is at least 1.5 x ``autonomy_h``.
    With the genset running, restore while genset + PV cover the load with the group.
    Power overload (load above what the sources can deliver) sheds at once, without hold.
    Grid-tied: restore one group per ``hold_s``.

    Parameters
    ----------
    groups : list of str
        Group names, the first shed first.
    shares_frac : list of float
        Each group's share of the non-critical load [-].
    autonomy_h : float
        Autonomy the battery must keep for the connected load [h].
    hold_s : float
        Minimum time between two shed or restore steps [s].
    """

    def __init__(self, groups: list[str], shares_frac: list[float], autonomy_h: float, hold_s: float, emit: Emit):
        self.groups = list(groups)
        self.shares = list(shares_frac)
        self.autonomy_h = autonomy_h
        self.hold_s = hold_s
        self.emit = emit
        self.mask = 0
        self.t_last_s = -math.inf

    def shed_names(self) -> list[str]:
        """Names of the groups shed now, in shed order."""
        return [g for i, g in enumerate(self.groups) if (self.mask >> i) & 1]

    def group_kw(self, noncritical_kw: float) -> list[float]:
        """Demand of each group [kW]."""
        return [noncritical_kw * s for s in self.shares]

    def _next_to_shed(self) -> int | None:
        for i in range(len(self.groups)):
            if not (self.mask >> i) & 1:
                return i
        return None

    def _last_shed(self) -> int | None:
        for i in reversed(range(len(self.groups))):
            if (self.mask >> i) & 1:
                return i
        return None

    def _set(self, now_s: float, i: int, shed: bool, reason: str, **data: Any) -> None:
        self.mask = self.mask | (1 << i) if shed else self.mask & ~(1 << i)
        self.t_last_s = now_s
        kind = "load_shed" if shed else "load_restored"
        verb = "shed" if shed else "restored"
        self.emit(kind, f"group '{self.groups[i]}' {verb}: {reason}", group=self.groups[i], order=i, **data)

    def shed_all(self, now_s: float, reason: str) -> None:
        """Shed every group at once (black start)."""
        for i in range(len(self.groups)):
            if not (self.mask >> i) & 1:
                self._set(now_s, i, True, reason)

    def tick_grid_tied(self, now_s: float) -> int:
        """Restore one group per hold period; returns the mask."""
        i = self._last_shed()
        if i is not None and now_s - self.t_last_s >= self.hold_s:
            self._set(now_s, i, False, "grid-tied")
        return self.mask

    def tick_islanded(
        self,
        now_s: float,
        *,
        critical_kw: float,
        noncritical_kw: float,
        pv_kw: float,
        battery_kwh: float,
        battery_kw: float,
        genset_kw: float,
        genset_pending: bool = False,
    ) -> int:
        """One islanded step.

        Parameters
        ----------
        critical_kw, noncritical_kw : float
            Demand of the critical part and of all non-critical groups together [kW].
        pv_kw : float
            PV power now [kW].
        battery_kwh : float
            Usable battery energy above the minimum SoC [kWh] (0 when unavailable).
        battery_kw : float
            Discharge power the battery can give now [kW].
        genset_kw : float
            Rated power of a running genset [kW], 0 when not running.
        genset_pending : bool
            A genset start is under way: no shedding for autonomy until it has run or failed.
        """
        gkw = self.group_kw(noncritical_kw)
        connected = critical_kw + sum(kw for i, kw in enumerate(gkw) if not (self.mask >> i) & 1)
        held = now_s - self.t_last_s >= self.hold_s
        supply_kw = pv_kw + genset_kw + battery_kw
        nxt = self._next_to_shed()
        if nxt is not None and connected > supply_kw + 1e-6:
            self._set(now_s, nxt, True, "overload", load_kw=round(connected, 2), supply_kw=round(supply_kw, 2))
            return self.mask
        if genset_kw > 0:
            last = self._last_shed()
            if last is not None and held and connected + gkw[last] <= pv_kw + genset_kw:
                self._set(now_s, last, False, "genset covers it")
            return self.mask

        def autonomy(load_kw: float) -> float:
            net = load_kw - pv_kw
            return math.inf if net <= 1e-9 else battery_kwh / net

        aut = autonomy(connected)
        if nxt is not None and held and aut < self.autonomy_h and not genset_pending:
            self._set(now_s, nxt, True, f"autonomy {aut:.2f} h < {self.autonomy_h:g} h", autonomy_h=round(aut, 3))
            return self.mask
        last = self._last_shed()
        if last is not None and held:
            aut_with = autonomy(connected + gkw[last])
            if aut_with >= 1.5 * self.autonomy_h:
                self._set(now_s, last, False, f"autonomy with it {aut_with:.2f} h", autonomy_h=round(aut_with, 3))
        return self.mask
