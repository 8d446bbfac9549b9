"""The controller service: fast loop + planning loop + metering, behind the ControllerView.

Two ways to run it:

- **real time** (``islandgrid serve``): ``await service.run(stop)`` runs the fast loop
  every ``fast_loop_s`` of clock time and the planning loop every ``planning_period_min``
  (the strategy runs in a worker thread, so a slow MPC never stalls the fast loop);
- **stepped** (tests, benchmarks): ``await service.tick()`` runs one fast-loop
  iteration, planning synchronously when it is due; ``await service.supervised_tick()``
  does the same under the supervisor, with the backoff in clock seconds.

Both loops are supervised (:mod:`islandgrid.controller.supervisor`): any exception puts the
plant in its safe state, raises a ``loop_down`` alarm and restarts the loop with backoff; the
status is never served as live while a loop is down or the status is stale.

The view methods are safe to call from any thread: requests are queued and applied at
the start of the next tick; reads return snapshots.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import CARBON_COLUMNS, CarbonState, pv_share
from islandgrid.controller.alarm_rules import genset_retry_in_s, stale_devices, unserved_critical_kw, update_alarms
from islandgrid.controller.alarms import AlarmBoard, AlarmKind
from islandgrid.controller.compute import ComputePublisher
from islandgrid.controller.core import Controller
from islandgrid.controller.events import EventLog
from islandgrid.controller.loops import SupervisedLoops
from islandgrid.controller.metering import COUNTERS, FlowSink, MemorySink, Meter, fuel_estimator
from islandgrid.controller.planning import Plan, Planner
from islandgrid.devices.clock import Clock, iso_utc
from islandgrid.devices.faults import FAULT_KINDS, FaultTarget
from islandgrid.devices.states import GENSET_FAILED, GENSET_RUNNING, GENSET_STARTING
from islandgrid.dispatch.registry import strategy_factories
from islandgrid.errors import DataFileError, DeviceError, InputError, IslandgridError
from islandgrid.inputs.series import InputSeries
from islandgrid.ledger.batch import carbon_step, initial_state
from islandgrid.ledger.record import FLAG_STALE
from islandgrid.links.base import DeviceLink
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

#: Operator setpoints ``set_setpoints`` accepts.
SETPOINTS: tuple[str, ...] = ("reserve_frac", "genset_start_soc_frac", "shed_autonomy_h")
#: Conservation tolerance of the status's own carbon flow (relative to at least 1 kg). Rows are
#: reconciled as in the ledger first, so they conserve to 1e-9; the margin is for a row beyond
#: the meter tolerance, which the ledger refuses but the live status still counts.
#: Real time a status must also be old before it is stale, on a clock faster than real time [s].
STATUS_STALE_REAL_S = 0.5
_KPI_SUMS: tuple[str, ...] = (
    "load_served_kwh",
    "pv_used_kwh",
    "pv_attributed_kwh",
    "load_co2_kg",
    "grid_in_kwh",
    "diesel_kwh",
    "fuel_l",
    "unserved_kwh",
    "unserved_critical_kwh",
    "genset_on",
    "intervals",
    "co2_kg",
    "islanded_intervals",
)
_GENSET_STATES = {0: "off", GENSET_STARTING: "starting", GENSET_RUNNING: "running", GENSET_FAILED: "fail_to_start"}


class ControllerService:
    """A running controller for one site; implements :class:`~islandgrid.controller.view.ControllerView`.

    Parameters
    ----------
    site : Site
        The site.
    link : DeviceLink
        Modbus link or in-process link.
    clock : Clock
        The twin's clock, or wall time.
    inputs : InputSeries
        The site's yearly inputs (for planning and the grid carbon factor).
    twin : FaultTarget, optional
        The twin, when there is one (fault injection needs it); real devices have none.
    sink : FlowSink, optional
        Where metered intervals go; in memory by default.
    """

    def __init__(
        self,
        site: Site,
        link: DeviceLink,
        clock: Clock,
        inputs: InputSeries,
        *,
        twin: FaultTarget | None = None,
        sink: FlowSink | None = None,
    ) -> None:
        self.site = site
        self.link = link
        self.clock = clock
        self.twin = twin
        self.sink: FlowSink = sink if sink is not None else MemorySink()
        self.event_log = EventLog()
        self.planner = Planner(site, inputs, site.controller.planning_horizon_h)
        self.controller = Controller(site, link, clock, self.event_log)
        self.meter = self._new_meter()
        self.plan: Plan | None = None
        self.next_plan_s = 0.0
        self._plan_lock = threading.Lock()
        self._requests: deque[tuple[str, Any]] = deque()
        self._history: deque[dict[str, Any]] = deque(maxlen=50000)
        self._status: dict[str, Any] = {
            "mode": "starting",
            "ts": iso_utc(clock.epoch_s()),
            "site_name": site.location.name,
        }
        self._tz = ZoneInfo(site.location.tz)
        self.ledger_rows = 0
        self.ledger_errors = 0
        self._kpi_sums: dict[str, dict[str, float]] = {}
        self.alarm_board = AlarmBoard()
        self.loops = SupervisedLoops(self)
        self.supervisor = self.loops.supervisor
        self._status_built_s = clock.now_s()
        self._status_built_real_s = time.monotonic()
        # the carbon flow of the metered intervals (pool or FIFO, as the ledger): PV share and e_bat
        self._carbon: CarbonState | None = self._initial_carbon_state()
        self.e_bat_kg_per_kwh = self._stock_intensity(self._carbon)
        self.compute = ComputePublisher(self)  # the budget and signal for the cluster (/api/compute)

    # ------------------------------------------------------------------ internals
    def _new_meter(self) -> Meter:
        dt_s = self.site.controller.meter_interval_s
        return Meter(dt_s, self.site.location.tz, self._write_flows, fuel_estimator(self.controller.genset, dt_s))

    def _write_flows(self, df: pd.DataFrame, flags: int) -> None:
        """Append one metered interval; one metered on stale telemetry is 'estimated' (flag ``stale``)."""
        epoch = self.clock.epoch_s()
        quality = "estimated" if flags & FLAG_STALE else "measured"
        try:
            self.ledger_rows += self.sink.append_flows(self.site, df, quality=quality, flags=flags)
        except IslandgridError as exc:
            self.ledger_errors += 1
            self.event_log.add(epoch, self.clock.now_s(), "ledger_error", str(exc))
            self.raise_alarm(AlarmKind.LEDGER_ERROR, f"metered interval not written to the ledger: {exc}")
            return
        self.alarm_board.clear(AlarmKind.LEDGER_ERROR, epoch)

    def raise_alarm(self, kind: AlarmKind, message: str, device: str = "site") -> None:
        """Raise an alarm; a newly active one is also an ``alarm`` event."""
        if self.alarm_board.raise_(kind, message, self.clock.epoch_s(), device=device)[1]:
            self.event_log.add(
                self.clock.epoch_s(), self.clock.now_s(), "alarm", message, alarm=kind.value, device=device
            )

    def _initial_carbon_state(self) -> CarbonState | None:
        """The battery pool the ledger ends with, when the sink is a ledger that has records."""
        get = getattr(self.sink, "carbon_state", None)
        if not callable(get):
            return None
        try:
            state = get(self.site)
        except IslandgridError as exc:
            self.event_log.add(self.clock.epoch_s(), self.clock.now_s(), "ledger_error", f"carbon state: {exc}")
            return None
        return state if isinstance(state, CarbonState) else None

    def _stock_intensity(self, state: CarbonState | None) -> float:
        """e_bat = M / (S·ηd) of a carbon state [kg/kWh] (the carbon flow's pool); 0 for an empty stock."""
        if state is None or state.energy_kwh <= 1e-9:
            return 0.0
        return state.co2_kg / (state.energy_kwh * self.site.battery.eta_discharge)

    def _carbon_step(self, rec: dict[str, Any], epoch_s: float) -> tuple[float, float]:
        """Continue the carbon flow by one metered interval with the ledger's own step (:func:`carbon_step`).

        Returns (load_pv_frac, load_co2_kg) of the interval and updates ``e_bat_kg_per_kwh``
        to the battery's intensity after it.
        """
        index = pd.DatetimeIndex([pd.Timestamp(epoch_s, unit="s", tz="UTC")])
        cols = {c: np.array([float(rec[c])]) for c in FLOW_COLUMNS}
        if self._carbon is None:  # as a new metered ledger chain: the charge already stored, of unknown origin
            self._carbon = initial_state(self.site, pd.DataFrame(cols, index=index))
        grid = np.array([self.planner.grid_co2_kg_per_kwh(epoch_s)])
        try:  # the ledger's own step (bus balance, carbon flow, tolerance), so both attribute the same energy
            _cols, _rec, carbon, self._carbon = carbon_step(self.site, cols, index, grid, self._carbon)
        except DataFileError:  # beyond the meter tolerance: the ledger refuses the row (ledger_error alarm)
            return 0.0, float(cols["grid_in_kwh"][0] * grid[0] + cols["fuel_l"][0] * self.site.genset.co2_kg_per_l)
        self.e_bat_kg_per_kwh = self._stock_intensity(self._carbon)
        pv_col, co2_col = CARBON_COLUMNS.index("load_pv_frac"), CARBON_COLUMNS.index("load_co2_kg")
        return float(carbon[0, pv_col]), float(carbon[0, co2_col])

    def plan_now(self) -> None:
        c = self.controller
        epoch = self.clock.epoch_s()
        soc = c.tel.get("pcs", "soc_kwh", c.battery.soc_init_kwh)
        try:
            plan = self.planner.plan(c.op.strategy, epoch, soc)
        except Exception as exc:  # a strategy failure must never stop the controller
            self.event_log.add(epoch, self.clock.now_s(), "plan_failed", f"{c.op.strategy}: {exc}")
            return
        with self._plan_lock:
            self.plan = plan
        c.plan_bat_kw = plan.at_kw
        self.event_log.add(
            epoch,
            self.clock.now_s(),
            "plan",
            f"{plan.strategy}: {len(plan.bat_kw)} intervals, battery now {plan.at(epoch)[0]:.1f} kW",
            strategy=plan.strategy,
        )

    def _apply_requests(self) -> None:
        c = self.controller
        while self._requests:
            kind, arg = self._requests.popleft()
            now_e, now_s = self.clock.epoch_s(), self.clock.now_s()
            if kind == "mode":
                c.op.want_island = arg == "island"
                self.event_log.add(now_e, now_s, "operator", f"operator requests {arg}", request=arg)
            elif kind == "setpoints":
                for k, v in arg.items():
                    if k == "reserve_frac":
                        c.op.reserve_frac = v
                    elif k == "genset_start_soc_frac":
                        c.cfg = c.cfg.model_copy(update={"genset_start_soc_frac": v})
                    elif k == "shed_autonomy_h":
                        c.shedder.autonomy_h = v
                self.event_log.add(now_e, now_s, "operator", f"setpoints {arg}", **arg)
            elif kind == "strategy":
                c.op.strategy = arg
                self.next_plan_s = now_s
                self.event_log.add(now_e, now_s, "operator", f"strategy -> {arg}", strategy=arg)
            elif kind == "restart":
                self.restart()
            elif kind == "genset_reset" and not c.gm.retry("operator reset"):
                self.event_log.add(now_e, now_s, "operator", f"genset reset refused: the manager is {c.gm.state}")

    def restart(self, why: str = "controller restarted (state dropped)") -> None:
        """Controller restart: all in-memory state is lost; it resumes from what the devices say."""
        old = self.controller
        self.controller = Controller(self.site, self.link, self.clock, self.event_log)
        # operator requests and setpoints are the service's, not the controller's memory
        self.controller.op = old.op
        self.controller.cfg = old.cfg
        self.controller.shedder.autonomy_h = old.shedder.autonomy_h
        self.meter = self._new_meter()
        self.plan = None
        self.next_plan_s = self.clock.now_s()
        self.event_log.add(self.clock.epoch_s(), self.clock.now_s(), "controller_restart", why)

    def _counters(self) -> dict[str, float] | None:
        tel, now_s = self.controller.tel, self.controller.last_tick_s
        out = {}
        for col, (dev, point) in COUNTERS.items():
            h = tel.devices[dev]
            if not h.values or h.last_ok_s < now_s - 1e-9 or h.error is not None:
                return None
            value = h.values.get(point)  # a counter the device leaves unimplemented: no reading
            if value is None:
                return None
            out[col] = value
        return out

    # ------------------------------------------------------------------ the loops
    async def tick(self, plan_sync: bool = True) -> None:
        """One fast-loop iteration (+ planning when due and ``plan_sync``), then metering."""
        self._apply_requests()
        c = self.controller
        await c.tick()
        now_s = self.clock.now_s()
        if plan_sync and now_s >= self.next_plan_s and c.started:
            self.next_plan_s = now_s + self.site.controller.planning_period_min * 60.0
            self.plan_now()
        tel = c.tel
        row = self.meter.tick(
            self.clock.epoch_s(),
            self._counters(),
            tel.get("pcs", "soc_kwh"),
            c.grid_normal() and tel.get("pcc", "breaker_closed") >= 1,
            tel.get("genset", "state") == GENSET_RUNNING,
            stale=frozenset(d for d, _ in COUNTERS.values() if not c.fresh(d, now_s)),
        )
        if row is not None:
            ep = float(row.pop("ts_epoch_s"))
            rec: dict[str, Any] = {"ts": iso_utc(ep), "mode": c.mode}
            rec.update({k: float(row[k]) for k in FLOW_COLUMNS})
            self._history.append(rec)
            self._account(rec, ep)
        self._update_alarms()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Rebuild the status served to the API from what the controller knows now."""
        self._status_built_s = self.clock.now_s()
        self._status_built_real_s = time.monotonic()
        self._status = self._build_status()

    def _update_alarms(self) -> None:
        epoch = self.clock.epoch_s()
        for a in update_alarms(self.alarm_board, self.controller, epoch, self.clock.now_s()):
            self.event_log.add(epoch, self.clock.now_s(), "alarm", a["message"], alarm=a["kind"], device=a["device"])

    async def supervised_tick(self) -> None:
        """:meth:`tick` under the supervisor, the backoff in clock seconds (the stepped rig)."""
        await self.loops.supervised_tick()

    async def run(self, stop: asyncio.Event) -> None:
        """Real-time mode: the supervised fast and planning loops until ``stop`` is set."""
        await self.loops.run(stop)

    # ------------------------------------------------------------------ status
    def _build_status(self) -> dict[str, Any]:
        c = self.controller
        t = c.tel
        now_s = self.clock.now_s()
        pv_kw, bat_kw, gen_kw = t.get("pv", "p_kw"), t.get("pcs", "p_kw"), t.get("genset", "p_kw")
        grid_kw, load_kw = t.get("pcc", "p_kw"), t.get("load", "p_kw")
        demand_kw = t.get("load", "p_demand_kw")
        epoch = self.clock.epoch_s()
        grid_f = self.planner.grid_co2_kg_per_kwh(epoch)
        gp = c.genset
        diesel_kg_h = float(gp.fuel_l_per_h(gen_kw)) * gp.co2_kg_per_l if gen_kw > 0 else 0.0
        # the carbon flow's bus intensity (Kang 2012) with the powers now; the battery carries its pool's intensity
        # (e_bat of the metered carbon flow), not zero
        e_bat = self.e_bat_kg_per_kwh
        supply = max(pv_kw, 0) + max(bat_kw, 0) + max(gen_kw, 0) + max(grid_kw, 0)
        emitted = max(grid_kw, 0) * grid_f + diesel_kg_h + max(bat_kw, 0) * e_bat
        intensity = emitted / supply if supply > 1e-9 else 0.0
        k = self.kpis()["today"]
        ages = {d: (round(t.age_s(d, now_s), 3) if math.isfinite(t.age_s(d, now_s)) else None) for d in t.devices}
        known_ages = [a for a in ages.values() if a is not None]
        return {
            "ts": iso_utc(epoch),
            "site_name": self.site.location.name,
            "site_tz": self.site.location.tz,  # the dashboard shows site-local time in this zone
            "mode": c.mode,
            "soc_frac": t.get("pcs", "soc_frac"),
            "soc_kwh": t.get("pcs", "soc_kwh"),
            "pv_kw": pv_kw,
            "battery_kw": bat_kw,
            "genset_kw": gen_kw,
            "grid_kw": grid_kw,
            "load_kw": load_kw,
            "load_demand_kw": demand_kw,
            "critical_kw": t.get("load", "p_critical_demand_kw"),
            "unserved_kw": max(demand_kw - load_kw, 0.0),
            "breaker": "closed" if t.get("pcc", "breaker_closed") >= 1 else "open",
            "grid_ok": c.grid_normal(),
            "genset_state": _GENSET_STATES.get(int(t.get("genset", "state")), "unknown"),
            "genset_manager": c.gm.state,  # idle, starting, running, retry_wait, failed
            "bms_tripped": t.get("pcs", "bms_tripped") >= 1,
            "carbon_intensity_kg_per_kwh": intensity,
            "carbon_kg_per_kwh": intensity,  # alias used by the API models
            "grid_carbon_kg_per_kwh": grid_f,
            "battery_carbon_kg_per_kwh": e_bat,
            "pv_share_today": k["pv_share"],
            "pv_share_today_frac": k["pv_share"],  # alias used by the API models
            "diesel_minutes_today": k["diesel_minutes"],
            "diesel_min_today": k["diesel_minutes"],  # alias used by the API models
            "shed_groups": c.shedder.shed_names(),
            "shed_kw": max(demand_kw - load_kw, 0.0) if c.shedder.mask else 0.0,
            "telemetry_age_s": max(known_ages) if known_ages else None,
            "telemetry_age_by_device_s": ages,
            "device_errors": {d: h.error for d, h in t.devices.items() if h.error},
            "reserve_frac": c.op.reserve_frac,
            "strategy": c.op.strategy,
            "want_island": c.op.want_island,
            "twin": self.twin is not None,
            "speed": self.clock.speed if math.isfinite(self.clock.speed) else None,
            "ledger_rows": self.ledger_rows,
            **self._health_fields(now_s),
        }

    def _health_fields(self, now_s: float) -> dict[str, Any]:
        """The supervision and alarm fields of the status (see docs/controller.md, Status fields)."""
        c = self.controller
        stale = stale_devices(c, now_s)
        return {
            "alarms": self.alarm_board.snapshot(),
            "loops": self.supervisor.states(),
            "stale_devices": stale,
            "live": self.supervisor.all_running() and not stale,
            "unserved_critical_kw": unserved_critical_kw(c),
            "genset_retry_in_s": genset_retry_in_s(c, now_s),
            "ledger_errors": self.ledger_errors,
        }

    # ------------------------------------------------------------------ ControllerView
    def status(self) -> dict[str, Any]:
        """Now: see :meth:`ControllerView.status` (field names in docs/controller.md).

        Never live while stale: a status older than ``stale_after_s`` of clock time (the fast loop
        is down or stuck) or with a loop down is ``live: false``, ``stale: true`` with its age. A
        twin clock running faster than real time also needs :data:`STATUS_STALE_REAL_S` of real
        time, so that at ``--speed 3600`` the gap between two ticks is not taken for a stuck loop.
        """
        st = dict(self._status)
        age_s = max(self.clock.now_s() - self._status_built_s, 0.0)
        real_ok = math.isinf(self.clock.speed) or time.monotonic() - self._status_built_real_s > STATUS_STALE_REAL_S
        stale = age_s > self.site.controller.stale_after_s and real_ok
        st["status_age_s"] = round(age_s, 3)
        st["stale"] = stale
        st["loops"] = self.supervisor.states()
        st["live"] = bool(st.get("live", False)) and not stale and self.supervisor.all_running()
        st["alarms"] = self.alarm_board.snapshot()
        return st

    def health(self) -> dict[str, Any]:
        """``ok`` while every loop runs; ``live`` as in the status; the loops' states."""
        st = self.status()
        return {"ok": self.supervisor.all_running(), "live": st["live"], "loops": st["loops"]}

    def alarms(self) -> list[dict[str, Any]]:
        """The alarm board, active alarms first (:meth:`AlarmBoard.snapshot`)."""
        return self.alarm_board.snapshot()

    def acknowledge_alarm(self, alarm_id: str) -> dict[str, Any]:
        """Acknowledge one alarm; an unknown id raises :class:`~islandgrid.errors.InputError`."""
        a = self.alarm_board.acknowledge(alarm_id)
        self.event_log.add(self.clock.epoch_s(), self.clock.now_s(), "operator", f"alarm {a.id} acknowledged")
        return a.as_dict()

    def reset_genset(self) -> dict[str, Any]:
        """Operator reset of a failed genset manager: a new start sequence when the genset is needed."""
        self._requests.append(("genset_reset", None))
        return {"accepted": "genset_reset", "genset_manager": self.controller.gm.state}

    def compute_budget(self) -> dict[str, Any]:
        """The compute power budget, 15-minute slots for 48 h (:mod:`islandgrid.controller.budget`)."""
        return self.compute.budget()

    def compute_signal(self) -> dict[str, Any]:
        """The compute signal now: green, amber or red with its reason."""
        return self.compute.signal()

    def compute_event(self, kind: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
        """Write a cluster event (a job held, released, requeued...) into the event log."""
        return self.compute.record(kind, message, data)

    def history(self, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Metered intervals (FLOW_COLUMNS + ts + mode), oldest first."""
        rows = list(self._history)
        if since:
            rows = [r for r in rows if r["ts"] > since]
        return rows[-limit:] if limit > 0 else []

    def events(self, since: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """The event log, oldest first."""
        return self.event_log.since(since, limit)

    def _account(self, rec: dict[str, Any], epoch_s: float) -> None:
        """Add one metered interval to the running KPI sums (per local day and in total)."""
        day = datetime.fromtimestamp(epoch_s, tz=self._tz).date().isoformat()
        co2 = rec["grid_in_kwh"] * self.planner.grid_co2_kg_per_kwh(epoch_s) + rec["fuel_l"] * (
            self.controller.genset.co2_kg_per_l
        )
        pv_frac, load_co2 = self._carbon_step(rec, epoch_s)
        flows = {**rec, "pv_attributed_kwh": rec["load_served_kwh"] * pv_frac, "load_co2_kg": load_co2}
        for key in (day, "total"):
            acc = self._kpi_sums.setdefault(key, dict.fromkeys(_KPI_SUMS, 0.0))
            for k in _KPI_SUMS[:-3]:
                acc[k] += flows[k]
            acc["intervals"] += 1
            acc["co2_kg"] += co2
            acc["islanded_intervals"] += 1.0 - rec["grid_available"]
        if len(self._kpi_sums) > 400:  # keep about a year of days
            for k in sorted(self._kpi_sums)[:-400]:
                self._kpi_sums.pop(k, None)

    def kpis(self) -> dict[str, Any]:
        """KPIs from the metered intervals: 'today' (the site-local date ``day``, in zone ``tz``) and 'total'."""
        today = datetime.fromtimestamp(self.clock.epoch_s(), tz=self._tz).date().isoformat()
        step_min = self.site.controller.meter_interval_s / 60.0

        def view(acc: dict[str, float] | None) -> dict[str, Any]:
            a = acc or dict.fromkeys(_KPI_SUMS, 0.0)
            served = a["load_served_kwh"]
            return {
                "intervals": int(a["intervals"]),
                "load_served_kwh": served,
                "pv_used_kwh": a["pv_used_kwh"],
                "pv_attributed_kwh": a["pv_attributed_kwh"],
                "grid_in_kwh": a["grid_in_kwh"],
                "diesel_kwh": a["diesel_kwh"],
                "fuel_l": a["fuel_l"],
                "unserved_kwh": a["unserved_kwh"],
                "unserved_critical_kwh": a["unserved_critical_kwh"],
                # the one pv_share (carbon.flow.pv_share): load attributed to PV ÷ load served, on the day's sums
                "pv_share": pv_share(np.array([served]), np.array([a["pv_attributed_kwh"] / max(served, 1e-12)])),
                "diesel_minutes": a["genset_on"] * step_min,
                "islanded_minutes": a["islanded_intervals"] * step_min,
                "co2_kg": a["co2_kg"],
                "co2_kg_per_kwh": a["co2_kg"] / served if served > 0 else 0.0,
                "load_co2_kg": a["load_co2_kg"],
                "load_co2_kg_per_kwh": a["load_co2_kg"] / served if served > 0 else 0.0,
            }

        total = view(self._kpi_sums.get("total"))
        total["unplanned_islandings"] = len(self.event_log.of_kind("unplanned_island"))
        return {"today": view(self._kpi_sums.get(today)), "total": total, "day": today, "tz": self.site.location.tz}

    def request_mode(self, mode: str) -> dict[str, Any]:
        """'island' (planned islanding) or 'grid' (reconnect when the grid is stable)."""
        if mode not in ("island", "grid"):
            raise InputError("unknown mode", field="mode", value=mode, allowed="island, grid")
        self._requests.append(("mode", mode))
        return {"accepted": mode, "mode": self.controller.mode}

    def set_setpoints(self, values: dict[str, float]) -> dict[str, Any]:
        """Operator setpoints; unknown names or out-of-range values raise InputError."""
        b = self.site.battery
        clean: dict[str, float] = {}
        for k, v in values.items():
            if k not in SETPOINTS:
                raise InputError("unknown setpoint", field=f"values.{k}", value=k, allowed=", ".join(SETPOINTS))
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise InputError("not a number", field=f"values.{k}", value=v) from None
            lo, hi = {"reserve_frac": (b.soc_min_frac, b.soc_max_frac), "shed_autonomy_h": (0.0, 100.0)}.get(
                k, (0.0, self.site.controller.genset_stop_soc_frac)
            )
            if not (lo <= x <= hi) or not math.isfinite(x):
                raise InputError("out of range", field=f"values.{k}", value=x, allowed=f"{lo} to {hi}")
            clean[k] = x
        self._requests.append(("setpoints", clean))
        return {"accepted": clean}

    def set_strategy(self, name: str) -> dict[str, Any]:
        """Switch the planning strategy; unknown names raise InputError."""
        names = list(strategy_factories())
        if name not in names:
            raise InputError("unknown strategy", field="name", value=name, allowed=", ".join(names))
        self._requests.append(("strategy", name))
        return {"accepted": name}

    def inject_fault(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Inject a twin fault (see :data:`~islandgrid.twin.twin.FAULT_KINDS`) or 'controller_restart'.

        Raises
        ------
        InputError
            Unknown kind or bad parameters.
        DeviceError
            No twin (real hardware) for a device fault.
        """
        params = dict(params or {})
        if kind == "controller_restart":
            self._requests.append(("restart", None))
            rec: dict[str, Any] = {"kind": kind, "params": {}}
        else:
            if kind not in FAULT_KINDS:
                raise InputError(
                    "unknown fault kind",
                    field="kind",
                    value=kind,
                    allowed=", ".join([*FAULT_KINDS, "controller_restart"]),
                )
            if self.twin is None:
                raise DeviceError("fault injection needs the twin (islandgrid serve --twin)")
            rec = self.twin.inject_fault(kind, params)
        self.event_log.add(
            self.clock.epoch_s(),
            self.clock.now_s(),
            "fault_injected",
            f"fault injected: {kind}",
            fault=kind,
            params=rec.get("params", {}),
        )
        return {"accepted": kind, "params": rec.get("params", {})}
