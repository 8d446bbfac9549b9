"""Supervision of the controller's loops: a crashed loop puts the plant in its safe state,
raises an alarm and is restarted with a bounded backoff; nothing dies silently.

Each supervised loop (``fast``, ``planning``) is ``running`` or ``down``. On any exception
(not only islandgrid's own) the loop is marked ``down``, the ``on_crash`` callback puts the
plant in the safe state and raises a ``loop_down`` alarm, and the loop is started again after
a backoff that starts at :data:`BACKOFF_MIN_S` and doubles up to :data:`BACKOFF_MAX_S`. Once a
restarted loop has run without a crash for :data:`HEALTHY_RESET_S`, the backoff is reset and
the alarm cleared (it stays on the board, latched, until acknowledged). This is the restart
discipline of Erlang/OTP supervisors (Armstrong, *Making reliable distributed systems in the
presence of software errors*, PhD thesis, KTH 2003, ch. 5) with exponential backoff.

The supervisor is clock-agnostic: ``serve`` measures backoff in real seconds (the event
loop's monotonic time), the stepped rig in clock seconds, so tests are deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: First restart delay after a crash [s].
BACKOFF_MIN_S = 0.5
#: Longest restart delay [s]; the delay doubles per crash up to this.
BACKOFF_MAX_S = 30.0
#: A restarted loop that runs this long without a crash resets the backoff and clears its alarm [s].
HEALTHY_RESET_S = 60.0
#: The supervised loops.
LOOPS: tuple[str, ...] = ("fast", "planning")


@dataclass
class LoopHealth:
    """One loop's supervision state; times in the supervisor's time base [s]."""

    name: str
    state: str = "running"  # "running" or "down"
    crashes: int = 0
    last_error: str | None = None
    backoff_s: float = 0.0
    restart_at_s: float | None = None
    running_since_s: float | None = None
    recovering: bool = False  # restarted after a crash, not yet healthy for HEALTHY_RESET_S


class Supervisor:
    """Crash bookkeeping and backoff of the controller's loops.

    Parameters
    ----------
    on_crash : callable
        ``on_crash(loop, exc)``: awaited after a crash (safe state, alarm, event).
    on_restart : callable
        ``on_restart(loop)``: called when a crashed loop is started again.
    on_healthy : callable
        ``on_healthy(loop)``: called once a restarted loop has run ``healthy_s`` without a crash.
    backoff_min_s, backoff_max_s, healthy_s : float
        First and largest restart delay, and the healthy period [s].
    loops : tuple of str
        The loops supervised (the controller's by default; the Slurm adapter has its own).
    """

    def __init__(
        self,
        on_crash: Callable[[str, BaseException], Awaitable[None]],
        on_restart: Callable[[str], None],
        on_healthy: Callable[[str], None],
        *,
        backoff_min_s: float = BACKOFF_MIN_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        healthy_s: float = HEALTHY_RESET_S,
        loops: tuple[str, ...] = LOOPS,
    ) -> None:
        self.on_crash = on_crash
        self.on_restart = on_restart
        self.on_healthy = on_healthy
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.healthy_s = healthy_s
        self.loops: dict[str, LoopHealth] = {name: LoopHealth(name) for name in loops}

    # ------------------------------------------------------------------ state
    def states(self) -> dict[str, str]:
        """``{"fast": "running" | "down", "planning": ...}``."""
        return {name: h.state for name, h in self.loops.items()}

    def all_running(self) -> bool:
        """Every loop is running."""
        return all(h.state == "running" for h in self.loops.values())

    async def crashed(self, name: str, exc: BaseException, now_s: float) -> float:
        """Mark ``name`` down after ``exc``, run ``on_crash``; returns the restart delay [s]."""
        h = self.loops[name]
        h.state = "down"
        h.crashes += 1
        h.last_error = f"{type(exc).__name__}: {exc}"
        h.backoff_s = self.backoff_min_s if h.backoff_s <= 0 else min(2.0 * h.backoff_s, self.backoff_max_s)
        h.restart_at_s = now_s + h.backoff_s
        h.running_since_s = None
        log.error(
            "%s loop crashed (%s); restart in %.1f s\n%s",
            name,
            h.last_error,
            h.backoff_s,
            "".join(traceback.format_exception(exc)),
        )
        try:
            await self.on_crash(name, exc)
        except Exception:  # the safe state is best effort: a second failure must not stop supervision
            log.exception("controller %s loop: entering the safe state failed", name)
        return h.backoff_s

    def restart_due(self, name: str, now_s: float) -> bool:
        """A down loop whose backoff has passed."""
        h = self.loops[name]
        return h.state == "down" and h.restart_at_s is not None and now_s >= h.restart_at_s - 1e-9

    def restarted(self, name: str, now_s: float) -> None:
        """The loop runs again (after its backoff)."""
        h = self.loops[name]
        h.state = "running"
        h.restart_at_s = None
        h.running_since_s = now_s
        h.recovering = True
        self.on_restart(name)

    def ran(self, name: str, now_s: float) -> None:
        """One good iteration of ``name``: after ``healthy_s`` of them the backoff resets."""
        h = self.loops[name]
        if h.running_since_s is None:
            h.running_since_s = now_s
        if h.recovering and now_s - h.running_since_s >= self.healthy_s:
            h.recovering = False
            h.backoff_s = 0.0
            self.on_healthy(name)

    # ------------------------------------------------------------------ real time
    async def keep_alive(
        self,
        name: str,
        body: Callable[[asyncio.Event], Awaitable[None]],
        stop: asyncio.Event,
        now: Callable[[], float],
    ) -> None:
        """Run ``body(stop)`` until ``stop``; restart it after any exception, with backoff in ``now()`` seconds."""
        while not stop.is_set():
            try:
                await body(stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = await self.crashed(name, exc, now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return
            self.restarted(name, now())
