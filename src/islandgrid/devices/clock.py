"""Clocks: the twin's simulated time (scaled real time or stepped by hand) and wall time.

All clocks count seconds from their start (``now_s``) and map that onto UNIX time
(``epoch_s``), so the controller timestamps its events and ledger rows the same way
whether it runs against the twin at ``--speed 60``, in a stepped test, or on hardware.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of time for the controller and the twin."""

    speed: float

    def now_s(self) -> float:
        """Seconds since the clock started [s]."""
        ...

    def epoch_s(self) -> float:
        """UNIX time now [s]."""
        ...


class SimClock:
    """Twin time running ``speed`` times faster than real time.

    Parameters
    ----------
    start_epoch_s : float
        UNIX time the twin starts at [s].
    speed : float
        Twin seconds per real second [-].
    """

    def __init__(self, start_epoch_s: float, speed: float = 1.0) -> None:
        self.start_epoch_s = start_epoch_s
        self.speed = speed
        self._t0 = time.monotonic()

    def now_s(self) -> float:
        """Twin seconds since start [s]."""
        return (time.monotonic() - self._t0) * self.speed

    def epoch_s(self) -> float:
        """Twin UNIX time [s]."""
        return self.start_epoch_s + self.now_s()


class ManualClock:
    """A clock that only moves when :meth:`advance` is called (stepped tests and benchmarks)."""

    def __init__(self, start_epoch_s: float) -> None:
        self.start_epoch_s = start_epoch_s
        self.speed = float("inf")
        self.t_s = 0.0

    def advance(self, dt_s: float) -> None:
        """Move the clock forward by ``dt_s`` [s]."""
        self.t_s += dt_s

    def now_s(self) -> float:
        """Seconds since start [s]."""
        return self.t_s

    def epoch_s(self) -> float:
        """UNIX time [s]."""
        return self.start_epoch_s + self.t_s


class WallClock:
    """Real time, for real hardware."""

    def __init__(self) -> None:
        self.speed = 1.0
        self._t0 = time.monotonic()
        self.start_epoch_s = time.time()

    def now_s(self) -> float:
        """Seconds since start [s]."""
        return time.monotonic() - self._t0

    def epoch_s(self) -> float:
        """UNIX time [s]."""
        return self.start_epoch_s + self.now_s()


def iso_utc(epoch_s: float) -> str:
    """ISO 8601 UTC string with milliseconds, e.g. '2025-06-21T04:00:00.000Z'."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
