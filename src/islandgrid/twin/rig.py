"""A stepped rig: twin + link + controller service on one manual clock (tests, benchmarks).

The twin steps its physics, then the controller ticks whenever a fast-loop period is
due, as fast as the CPU allows: an hour of twin time takes a few seconds.
"""

from __future__ import annotations

from typing import Any

from islandgrid.controller.metering import FlowSink
from islandgrid.controller.service import ControllerService
from islandgrid.devices.clock import ManualClock
from islandgrid.inputs.series import InputSeries
from islandgrid.links.base import DeviceLink
from islandgrid.links.inprocess import InProcessLink
from islandgrid.site.spec import Site
from islandgrid.twin.twin import Twin, profile_from_inputs


class SteppedRig:
    """Twin, link and service on a :class:`ManualClock`.

    Parameters
    ----------
    site : Site
        The site.
    inputs : InputSeries
        Its inputs (shared, they take a second to build).
    start : str
        Twin start, site-local, e.g. '2025-06-21 06:00'.
    link : DeviceLink, optional
        Default: an :class:`InProcessLink` to the twin.
    supervised : bool
        Tick through :meth:`ControllerService.supervised_tick` (a crash is survived, as in
        ``serve``) instead of :meth:`ControllerService.tick` (a crash fails the test at once).
    """

    def __init__(
        self,
        site: Site,
        inputs: InputSeries,
        start: str,
        *,
        link: DeviceLink | None = None,
        sink: FlowSink | None = None,
        trace: bool = True,
        supervised: bool = False,
    ) -> None:
        step_s = site.controller.fast_loop_s
        self.twin = Twin(site, start=start, profile=profile_from_inputs(inputs), step_s=step_s, trace=trace)
        self.clock = ManualClock(self.twin.start_epoch_s)
        self.link: DeviceLink = link if link is not None else InProcessLink(self.twin)
        self.service = ControllerService(site, self.link, self.clock, inputs, twin=self.twin, sink=sink)
        self.step_s = step_s
        self.supervised = supervised

    async def run_for(self, seconds: float, at: dict[float, tuple[str, dict[str, Any]]] | None = None) -> None:
        """Advance ``seconds`` of twin time; ``at`` maps twin times [s] to faults to inject then."""
        pending = sorted((at or {}).items())
        end = self.clock.now_s() + seconds
        while self.clock.now_s() + 1e-9 < end:
            while pending and pending[0][0] <= self.clock.now_s() + 1e-9:
                kind, params = pending.pop(0)[1]
                self.service.inject_fault(kind, params)
            self.twin.step()
            self.clock.advance(self.step_s)
            await (self.service.supervised_tick() if self.supervised else self.service.tick())

    async def run_until(self, predicate: Any, max_s: float) -> bool:
        """Step until ``predicate(rig)`` is true or ``max_s`` have passed; returns whether it became true."""
        end = self.clock.now_s() + max_s
        while self.clock.now_s() < end:
            await self.run_for(self.step_s)
            if predicate(self):
                return True
        return False
