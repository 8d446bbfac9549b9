"""What the controller service publishes to the cluster: the compute budget, the signal, and
the cluster's events in the controller's event log (``/api/compute/*``).

The numbers come from :mod:`islandgrid.controller.budget` (pure); this module only gathers
its inputs from a running service: the planner's forecast window, the current plan and the
status.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from islandgrid.controller.budget import HORIZON_H, SLOT_S, Forecast, Room, budget, live_from_status, signal_now

if TYPE_CHECKING:  # for the annotations only: the service builds this with itself
    from islandgrid.controller.service import ControllerService
    from islandgrid.site.spec import Site

#: Event kinds the cluster may write into the controller's event log.
COMPUTE_EVENT_KINDS: tuple[str, ...] = (
    "compute_hold",
    "compute_release",
    "compute_begin",
    "compute_requeue",
    "compute_fail_open",
    "compute_alarm",
    "compute_start",
    "compute_stop",
)


def room_of(site: Site) -> Room:
    """The room's limits: rated IT times the highest PUE, and the grid's import limit [kW]."""
    pue = site.load.pue
    pue_max = pue.value if pue.kind == "constant" else max(pue.winter, pue.summer)
    return Room(flex_rating_kw=site.load.it_kw * pue_max, grid_import_kw=site.grid.import_kw)


class ComputePublisher:
    """The compute side of one :class:`ControllerService`.

    Parameters
    ----------
    svc : ControllerService
        The running service (planner, plan, status, event log).
    """

    def __init__(self, svc: ControllerService) -> None:
        self.svc = svc
        self.room = room_of(svc.site)

    def forecast(self, epoch_s: float) -> Forecast:
        """The site's forecast from the interval containing ``epoch_s``, 48 h and one slot long, with the plan."""
        svc = self.svc
        soc = svc.controller.tel.get("pcs", "soc_kwh", svc.controller.battery.soc_init_kwh)
        prob = svc.planner.window(epoch_s, soc, horizon_h=HORIZON_H + SLOT_S / 3600.0 + prob_dt_h(svc))
        start = prob.index[0].timestamp()
        dt_s = prob.dt_h * 3600.0
        n = len(prob.pv_kw)
        genset = np.zeros(n, dtype=bool)
        charge = np.zeros(n)
        plan = svc.plan
        if plan is not None:
            k = ((start + dt_s * np.arange(n) - plan.start_epoch_s) // plan.dt_s).astype(np.int64)
            inside = (k >= 0) & (k < len(plan.bat_kw))
            genset[inside] = plan.genset_on[k[inside]]
            charge[inside] = np.maximum(-plan.bat_kw[k[inside]], 0.0)
        return Forecast(
            start_epoch_s=start,
            dt_s=dt_s,
            pv_kw=np.asarray(prob.pv_kw, dtype=float),
            base_kw=self.base_kw(prob.load_kw, prob.critical_kw),
            grid_co2_kg_per_kwh=np.asarray(prob.grid_co2_kg_per_kwh, dtype=float),
            genset_planned=genset,
            charge_kw=charge,
        )

    @property
    def flexible_frac(self) -> float | None:
        """``[compute] flexible_frac``, or None without a ``[compute]`` section."""
        spec = self.svc.site.compute
        return None if spec is None else float(spec.flexible_frac)

    def base_kw(self, load_kw: np.ndarray, critical_kw: np.ndarray) -> np.ndarray:
        """The inflexible base demand [kW] (see :mod:`islandgrid.controller.budget`)."""
        f = self.flexible_frac
        return np.asarray(critical_kw if f is None else (1.0 - f) * np.asarray(load_kw), dtype=float)

    def budget(self) -> dict[str, Any]:
        """The budget for the next 48 h in 15-minute slots (:func:`~islandgrid.controller.budget.budget`)."""
        epoch = self.svc.clock.epoch_s()
        live = live_from_status(self.svc.status(), epoch, self.flexible_frac)
        return budget(self.forecast(epoch), live, self.room)

    def signal(self) -> dict[str, Any]:
        """The signal now (:func:`~islandgrid.controller.budget.signal_now`)."""
        epoch = self.svc.clock.epoch_s()
        fc = self.forecast(epoch)
        k = min(max(int((epoch - fc.start_epoch_s) // fc.dt_s), 0), len(fc.pv_kw) - 1)
        live = live_from_status(self.svc.status(), epoch, self.flexible_frac)
        return signal_now(live, self.room, float(fc.pv_kw[k]), float(fc.charge_kw[k]))

    def record(self, kind: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
        """Write one cluster event into the controller's event log; returns the record."""
        svc = self.svc
        return svc.event_log.add(svc.clock.epoch_s(), svc.clock.now_s(), kind, message, **data)


def prob_dt_h(svc: ControllerService) -> float:
    """The planner's interval length [h] (one more interval covers a slot that straddles the end)."""
    dt_h = float(svc.planner.full.dt_h)
    return dt_h if math.isfinite(dt_h) else 1.0
