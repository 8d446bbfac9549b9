"""The controller's alarm board: what an operator must see and acknowledge.

An alarm is identified by ``kind`` and ``device`` (``"telemetry_stale:pcs"``). Its life follows
the usual annunciator sequence (ISA-18.2): it is *raised* by the condition, stays *active* while
the condition holds, and is *latched* on the board until the condition has cleared **and** an
operator has acknowledged it. Raising an alarm that is already active only updates its message
and count, so a condition checked every fast-loop period gives one alarm, not thousands.

Kinds
-----
``grid_lost``           grid out of limits or gone while the site expected it
``bms_trip``            the BMS opened the battery contactor
``genset_failed``       the genset manager gave up starting or the genset tripped
``telemetry_stale``     a device's heartbeat stopped (``device`` names it)
``ledger_error``        a metered interval could not be written to the ledger
``unserved_critical``   critical load is not being served
``foreign_command``     a device's read-back differs from the controller's last command
``loop_down``           a supervised loop crashed and is being restarted (``device`` names the loop)
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from islandgrid.errors import InputError


class AlarmKind(StrEnum):
    """The kinds of alarm the controller raises (see the module docstring)."""

    GRID_LOST = "grid_lost"
    BMS_TRIP = "bms_trip"
    GENSET_FAILED = "genset_failed"
    TELEMETRY_STALE = "telemetry_stale"
    LEDGER_ERROR = "ledger_error"
    UNSERVED_CRITICAL = "unserved_critical"
    FOREIGN_COMMAND = "foreign_command"
    LOOP_DOWN = "loop_down"


@dataclass
class Alarm:
    """One alarm on the board; times are UNIX seconds [s]."""

    id: str
    kind: str
    device: str
    message: str
    raised_epoch_s: float
    active: bool = True
    acknowledged: bool = False
    cleared_epoch_s: float | None = None
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def alarm_id(kind: AlarmKind | str, device: str = "site") -> str:
    """The board's key for one alarm: ``"<kind>:<device>"``."""
    return f"{AlarmKind(kind).value}:{device}"


class AlarmBoard:
    """A thread-safe board of alarms, latched until cleared and acknowledged."""

    def __init__(self) -> None:
        self._alarms: dict[str, Alarm] = {}
        self._lock = threading.Lock()

    def raise_(self, kind: AlarmKind | str, message: str, epoch_s: float, device: str = "site") -> tuple[Alarm, bool]:
        """Raise (or refresh) an alarm; returns the alarm and whether it is newly active."""
        key = alarm_id(kind, device)
        with self._lock:
            a = self._alarms.get(key)
            if a is not None and a.active:
                a.message = message
                a.count += 1
                return a, False
            a = Alarm(id=key, kind=AlarmKind(kind).value, device=device, message=message, raised_epoch_s=epoch_s)
            self._alarms[key] = a
            return a, True

    def clear(self, kind: AlarmKind | str, epoch_s: float, device: str = "site") -> bool:
        """Mark the condition gone; returns True if an active alarm was cleared.

        A cleared alarm that was already acknowledged leaves the board; otherwise it stays,
        inactive, until acknowledged.
        """
        key = alarm_id(kind, device)
        with self._lock:
            a = self._alarms.get(key)
            if a is None or not a.active:
                return False
            a.active = False
            a.cleared_epoch_s = epoch_s
            if a.acknowledged:
                del self._alarms[key]
            return True

    def acknowledge(self, key: str) -> Alarm:
        """Acknowledge one alarm by id; an unknown id is an :class:`InputError` naming the ids on the board."""
        with self._lock:
            a = self._alarms.get(key)
            if a is None:
                known = ", ".join(sorted(self._alarms)) or "none"
                raise InputError(
                    f"no alarm {key!r} on the board (alarms now: {known}); take an id from GET /api/alarms"
                )
            a.acknowledged = True
            if not a.active:
                del self._alarms[key]
            return a

    def is_active(self, kind: AlarmKind | str, device: str = "site") -> bool:
        """Whether the alarm ``kind``/``device`` is active now."""
        with self._lock:
            a = self._alarms.get(alarm_id(kind, device))
            return a is not None and a.active

    def snapshot(self) -> list[dict[str, Any]]:
        """Every alarm on the board, active ones first, then oldest first."""
        with self._lock:
            items = [a.as_dict() for a in self._alarms.values()]
        return sorted(items, key=lambda a: (not a["active"], a["raised_epoch_s"], a["id"]))
