"""The controller's event log: every transition, command and fault, with timestamps."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from islandgrid.devices.clock import iso_utc


class EventLog:
    """A bounded, thread-safe log of ``{ts, t_s, kind, message, data}`` records, oldest first.

    Parameters
    ----------
    maxlen : int
        Records kept in memory; older ones are dropped (the ledger keeps the flows).
    """

    def __init__(self, maxlen: int = 20000) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, epoch_s: float, t_s: float, kind: str, message: str, **data: Any) -> dict[str, Any]:
        """Append one event; ``epoch_s`` is the UNIX time [s], ``t_s`` the clock's seconds since start."""
        rec = {"ts": iso_utc(epoch_s), "t_s": round(t_s, 3), "kind": kind, "message": message, "data": data}
        with self._lock:
            self._items.append(rec)
            self.count += 1
        return rec

    def since(self, since: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Events with ``ts`` after ``since`` (ISO UTC), oldest first, at most ``limit`` (the newest)."""
        with self._lock:
            items = list(self._items)
        if since:
            items = [e for e in items if e["ts"] > since]
        return items[-limit:] if limit > 0 else []

    def kinds(self) -> list[str]:
        """Kinds of every event kept, in order."""
        with self._lock:
            return [e["kind"] for e in self._items]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every event of one kind, oldest first."""
        with self._lock:
            return [e for e in self._items if e["kind"] == kind]
