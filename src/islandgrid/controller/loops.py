"""The controller service's two loops under supervision: what a crash does to the plant.

A crash of the **fast loop** (any exception but the device and store errors the loop logs
and survives as ``tick_error``) puts the plant in the safe state of
:func:`~islandgrid.controller.safe.crash_commands` (battery setpoint 0, genset as standby away
from the grid, breaker and shedding untouched), marks the mode ``safe``, raises the
``loop_down`` alarm and logs a ``loop_crash`` event; after the backoff the loop restarts
with a fresh controller that resumes from what the devices say (as a controller restart). A
crash of the **planning loop** drops the plan (the grid-tied battery setpoint holds at 0)
and re-plans when it restarts. See :mod:`islandgrid.controller.supervisor` for the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from islandgrid.controller.alarms import AlarmKind
from islandgrid.controller.safe import crash_commands
from islandgrid.controller.supervisor import Supervisor
from islandgrid.errors import IslandgridError

if TYPE_CHECKING:  # for the annotations only: the service builds this with itself
    from islandgrid.controller.service import ControllerService


class SupervisedLoops:
    """The fast and planning loops of one :class:`ControllerService`, supervised.

    Parameters
    ----------
    svc : ControllerService
        The service whose loops these are.
    """

    def __init__(self, svc: ControllerService) -> None:
        self.svc = svc
        self.supervisor = Supervisor(self.on_crash, self.on_restart, self.on_healthy)

    # ------------------------------------------------------------------ stepped
    async def supervised_tick(self) -> None:
        """One fast-loop tick under the supervisor; the backoff runs in clock seconds."""
        now_s = self.svc.clock.now_s()
        sup = self.supervisor
        if sup.loops["fast"].state == "down":
            if not sup.restart_due("fast", now_s):
                return
            sup.restarted("fast", now_s)
        try:
            await self.svc.tick()
        except Exception as exc:
            await sup.crashed("fast", exc, now_s)
            return
        sup.ran("fast", now_s)

    # ------------------------------------------------------------------ real time
    async def run(self, stop: asyncio.Event) -> None:
        """Both loops until ``stop``; the backoff runs in real (event-loop) seconds."""
        now = asyncio.get_running_loop().time
        await asyncio.gather(
            self.supervisor.keep_alive("fast", self.fast_loop, stop, now),
            self.supervisor.keep_alive("planning", self.planning_loop, stop, now),
        )

    async def fast_loop(self, stop: asyncio.Event) -> None:
        """Tick every ``fast_loop_s`` of clock time until ``stop``."""
        svc = self.svc
        period_real_s = svc.site.controller.fast_loop_s / max(svc.clock.speed, 1e-9)
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while not stop.is_set():
            try:
                await svc.tick(plan_sync=False)
            except IslandgridError as exc:  # a device or store error: logged, the loop carries on
                svc.event_log.add(svc.clock.epoch_s(), svc.clock.now_s(), "tick_error", str(exc))
            self.supervisor.ran("fast", loop.time())
            next_t += period_real_s
            delay = next_t - loop.time()
            if delay < -period_real_s:  # overran by more than a period: skip, do not burst
                next_t = loop.time()
                delay = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(delay, 0.0))

    async def planning_loop(self, stop: asyncio.Event) -> None:
        """Re-plan every ``planning_period_min`` (in a worker thread) until ``stop``."""
        svc = self.svc
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            now_s = svc.clock.now_s()
            if now_s >= svc.next_plan_s and svc.controller.started:
                svc.next_plan_s = now_s + svc.site.controller.planning_period_min * 60.0
                await asyncio.to_thread(svc.plan_now)
            self.supervisor.ran("planning", loop.time())
            await asyncio.sleep(max(min(svc.site.controller.fast_loop_s / max(svc.clock.speed, 1e-9), 1.0), 0.01))

    # ------------------------------------------------------------------ supervisor callbacks
    async def on_crash(self, loop: str, exc: BaseException) -> None:
        """Safe state (fast loop) or no plan (planning loop), the ``loop_down`` alarm, a ``loop_crash`` event."""
        svc = self.svc
        now_s = svc.clock.now_s()
        h = self.supervisor.loops[loop]
        msg = f"{loop} loop crashed ({h.last_error}); restart in {h.backoff_s:g} s"
        svc.event_log.add(svc.clock.epoch_s(), now_s, "loop_crash", msg, loop=loop, error=h.last_error)
        svc.raise_alarm(AlarmKind.LOOP_DOWN, msg, device=loop)
        c = svc.controller
        if loop == "planning":
            c.plan_bat_kw = lambda epoch_s: 0.0  # no plan: the battery holds (setpoint 0)
            return
        c.set_mode("safe", f"{loop} loop crashed")
        try:
            await c.write(crash_commands(c, now_s), now_s)
        finally:
            svc.refresh_status()

    def on_restart(self, loop: str) -> None:
        """A crashed loop starts again: the fast loop with a fresh controller, the planning loop re-plans."""
        svc = self.svc
        if loop == "fast":  # whatever the crash left behind is dropped: resume from the devices
            svc.restart(f"fast loop restarted after crash {self.supervisor.loops[loop].crashes}")
        else:
            svc.next_plan_s = svc.clock.now_s()

    def on_healthy(self, loop: str) -> None:
        """A restarted loop ran long enough: its alarm clears (latched until acknowledged)."""
        svc = self.svc
        svc.alarm_board.clear(AlarmKind.LOOP_DOWN, svc.clock.epoch_s(), device=loop)
        svc.event_log.add(svc.clock.epoch_s(), svc.clock.now_s(), "loop_ok", f"{loop} loop healthy again", loop=loop)
