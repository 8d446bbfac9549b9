"""The fast loop and the state machine: read every device, decide, write the commands.

Modes (``Controller.mode``):

- ``grid_tied``: follow the plan's battery power, never below the islanding reserve.
- ``islanding``: planned islanding; drive the PCC flow to zero, then open the breaker.
- ``islanded``: the PCS forms the grid; genset and load shedding as needed; watch the
  grid and move to ``resync`` once it has been normal for ``stable_grid_s``.
- ``resync``: steer the PCS's frequency and voltage to the grid's and command the breaker
  closed only when Δf, ΔV and Δφ are all within limits; ``grid_tied`` once the PCC reports
  it closed. A close the breaker's sync-check relay refuses (``close_refusals`` counts up)
  ends the attempt like a timeout: back to ``islanded`` for another stable period. Give up
  after ``resync_timeout_s``.
- ``blackout``: nothing forms the bus (battery tripped or empty and no genset). Start the
  genset; close onto a normal grid at once (dead-bus closing needs no synchronism). The
  PCS is held in standby (grid-following), so it never energises the whole room by itself.
- ``black_start``: the battery holds energy above its minimum (at least
  ``BLACK_START_MIN_FRAC`` of its capacity): shed every group, reset a
  tripped BMS (every 30 s) and have the PCS form the bus in the same command set; once the
  bus is live, ``islanded`` restores the groups one at a time. Back to ``blackout`` when
  the battery is empty.
- ``safe``: the controller is blind (no fresh PCC or PCS data for ``blind_after_s``): the
  documented safe state of :mod:`islandgrid.controller.safe`. It leaves ``safe`` once PCC and
  PCS data are fresh again, in the mode the breaker and bus imply.

Control points that read back other than the device took them, and a breaker opened by a
command the controller did not send, are foreign commands (:mod:`islandgrid.controller.commands`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from islandgrid.components.battery import battery_params
from islandgrid.components.genset import genset_params
from islandgrid.controller.commands import TRIP_BY_COMMAND, CommandWatch, ForeignWrite
from islandgrid.controller.events import EventLog
from islandgrid.controller.genset import GensetManager
from islandgrid.controller.resync import resync_step
from islandgrid.controller.safe import leave_safe, safe_step
from islandgrid.controller.shedding import LoadShedder
from islandgrid.controller.telemetry import Telemetry
from islandgrid.devices.clock import Clock
from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.devices.states import GENSET_RUNNING, PCS_FOLLOW, PCS_FORM, REFUSED_NAMES
from islandgrid.errors import DeviceError, DeviceTimeoutError
from islandgrid.links.base import DeviceLink
from islandgrid.site.spec import Site

MODES: tuple[str, ...] = ("grid_tied", "islanding", "islanded", "resync", "blackout", "black_start", "safe")
#: Energy above the minimum SoC a black start from the battery needs, as a fraction of capacity.
BLACK_START_MIN_FRAC = 0.01
#: Seconds between two BMS reset attempts while the BMS is tripped.
BMS_RESET_EVERY_S = 30.0


@dataclass
class TickTiming:
    """Timing of one fast-loop tick, in real seconds (perf_counter)."""

    start: float = 0.0
    read_done: float = 0.0
    decided: float = 0.0
    written: float = 0.0
    detected_outage: bool = False


@dataclass
class Operator:
    """Operator requests and setpoints (changed through the view)."""

    want_island: bool = False
    reserve_frac: float = 0.4
    strategy: str = "pv_first"
    extra: dict[str, float] = field(default_factory=dict)


class Controller:
    """One site's controller: state machine, genset manager, load shedder.

    Parameters
    ----------
    site : Site
        The site (battery, genset, grid and [controller] sections).
    link : DeviceLink
        How to reach the devices.
    clock : Clock
        Time source (the twin's clock, or wall time on hardware).
    events : EventLog
        Where every event goes.
    """

    def __init__(self, site: Site, link: DeviceLink, clock: Clock, events: EventLog) -> None:
        self.site = site
        self.cfg = site.controller
        self.link = link
        self.clock = clock
        self.events = events
        self.battery = battery_params(site.battery)
        self.genset = genset_params(site.genset, site.location.elevation_m)
        self.tel = Telemetry()
        self.op = Operator(reserve_frac=site.battery.reserve_frac, strategy=site.simulation.strategy)
        self.mode = "grid_tied"
        self.mode_since_s = 0.0
        self.prev_mode = "grid_tied"
        self.plan_bat_kw: Callable[[float], float] = lambda epoch_s: 0.0
        self.gm = GensetManager(
            start_delay_s=site.genset.start_delay_s,
            start_timeout_s=self.cfg.genset_start_timeout_s,
            retries=self.cfg.genset_start_retries,
            retry_wait_s=self.cfg.genset_retry_wait_s,
            min_run_s=site.genset.min_run_min * 60.0,
            emit=self.emit,
            cooldown_s=self.cfg.genset_retry_cooldown_s,
        )
        self.shedder = LoadShedder(
            self.cfg.shed_groups, self.cfg.shed_shares_frac, self.cfg.shed_autonomy_h, self.cfg.shed_hold_s, self.emit
        )
        self.grid_stable_since_s: float | None = None
        self.resync_since_s = 0.0
        self.island_since_s = 0.0
        self.last_written: dict[tuple[str, str], float] = {}
        self.last_rewrite_s = -math.inf
        self.comm_state: dict[str, str | None] = {d: None for d in DEVICE_NAMES}
        self.stale_flag: dict[str, bool] = {d: False for d in DEVICE_NAMES}
        self.timing = TickTiming()
        self.outage_detect_times_s: list[tuple[float, float]] = []  # (detected, commanded) perf_counter
        self.last_bms_reset_s = -math.inf
        self.close_sent_s: float | None = None  # a close command waits for the PCC to confirm it
        self.close_sync: tuple[float, float, float] = (0.0, 0.0, 0.0)  # Δf, ΔV, Δφ when it was sent
        self.refusals_seen = 0.0  # the PCC's close_refusals counter, last seen
        self.bms_trip_seen = False
        self.watch = CommandWatch()
        self.foreign: list[ForeignWrite] = []  # foreign commands seen in the last tick
        self.started = False
        self.ticks = 0
        self.last_tick_s = -math.inf

    # ------------------------------------------------------------------ events
    def emit(self, kind: str, message: str, **data: Any) -> None:
        self.events.add(self.clock.epoch_s(), self.clock.now_s(), kind, message, **data)

    def set_mode(self, mode: str, message: str, **data: Any) -> None:
        if mode == self.mode:
            return
        self.prev_mode = self.mode
        self.mode = mode
        self.mode_since_s = self.clock.now_s()
        self.emit("mode", f"{self.prev_mode} -> {mode}: {message}", mode=mode, previous=self.prev_mode, **data)

    # ------------------------------------------------------------------ helpers
    def grid_normal(self) -> bool:
        """The PCC meter's grid side is inside the normal V/f band."""
        c = self.cfg
        v = self.tel.get("pcc", "grid_v_pu")
        hz = self.tel.get("pcc", "grid_hz")
        return c.grid_v_min_pu <= v <= c.grid_v_max_pu and abs(hz - c.nominal_hz) <= c.grid_df_max_hz

    def fresh(self, device: str, now_s: float) -> bool:
        """Data of ``device`` is younger than ``stale_after_s``."""
        return self.tel.age_s(device, now_s) <= self.cfg.stale_after_s

    def battery_usable_kwh(self) -> float:
        """Energy above the minimum SoC [kWh]; 0 when the BMS is tripped."""
        if self.tel.get("pcs", "bms_tripped") >= 1:
            return 0.0
        return max(self.tel.get("pcs", "soc_kwh") - self.battery.soc_min_kwh, 0.0)

    def sync_values(self) -> tuple[float, float, float]:
        """(Δf [Hz], ΔV [frac], Δφ [deg]) between the bus and the grid at the PCC."""
        t = self.tel
        df = abs(t.get("pcc", "bus_hz") - t.get("pcc", "grid_hz"))
        dv = abs(t.get("pcc", "bus_v_pu") - t.get("pcc", "grid_v_pu"))
        return df, dv, abs(t.get("pcc", "dphi_deg"))

    # ------------------------------------------------------------------ the loop
    async def read_all(self, now_s: float) -> None:
        """Read the five devices concurrently; record failures and freshness changes."""
        results = await asyncio.gather(*(self.link.read(d) for d in DEVICE_NAMES), return_exceptions=True)
        for name, res in zip(DEVICE_NAMES, results, strict=True):
            if isinstance(res, dict):
                self.tel.update(name, res, now_s)
                if self.tel.devices[name].last_fresh_s == now_s:  # a new image, not a frozen one
                    self._foreign(self.watch.check(name, res))
                if self.comm_state[name] is not None:
                    self.emit("device_ok", f"{name}: answering again", device=name)
                    self.comm_state[name] = None
            elif isinstance(res, DeviceError):
                kind = "timeout" if isinstance(res, DeviceTimeoutError) else "exception"
                self.tel.fail(name, kind, str(res))
                if self.comm_state[name] != kind:
                    self.emit(f"device_{kind}", str(res), device=name)
                    self.comm_state[name] = kind
            elif isinstance(res, BaseException):
                raise res
            stale = self.tel.known(name) and not self.fresh(name, now_s)
            if stale and not self.stale_flag[name] and self.comm_state[name] is None:
                self.emit(
                    "telemetry_stale", f"{name}: data unchanged for {self.tel.age_s(name, now_s):.0f} s", device=name
                )
            elif not stale and self.stale_flag[name]:
                self.emit("telemetry_fresh", f"{name}: data fresh again", device=name)
            self.stale_flag[name] = stale

    def _foreign(self, writes: list[ForeignWrite]) -> None:
        """Log foreign writes and re-assert the controller's own command on the next write."""
        for w in writes:
            self.foreign.append(w)
            self.last_written.pop((w.device, w.point), None)
            self.emit("foreign_command", w.message(), device=w.device, point=w.point, expected=w.expected, got=w.got)

    async def tick(self) -> dict[str, dict[str, float]]:
        """One fast-loop iteration: read → decide → write. Returns the commands written."""
        tm = TickTiming(start=time.perf_counter())
        now_s = self.clock.now_s()
        self.last_tick_s = now_s
        self.foreign = []
        await self.read_all(now_s)
        tm.read_done = time.perf_counter()
        mode_before = self.mode
        cmds = self.decide(now_s)
        tm.decided = time.perf_counter()
        await self.write(cmds, now_s)
        tm.written = time.perf_counter()
        if mode_before == "grid_tied" and self.mode == "islanded":
            tm.detected_outage = True
            self.outage_detect_times_s.append((tm.read_done, tm.written))
        self.timing = tm
        self.ticks += 1
        return cmds

    async def write(self, cmds: dict[str, dict[str, float]], now_s: float) -> None:
        """Write what changed (everything again every 10 s, in case a device restarted)."""
        rewrite = now_s - self.last_rewrite_s >= 10.0
        if rewrite:
            self.last_rewrite_s = now_s
        jobs = []
        for dev, vals in cmds.items():
            edge = {k: v for k, v in vals.items() if k in ("breaker_req", "bms_reset", "alarm_reset")}
            level = {
                k: v for k, v in vals.items() if k not in edge and (rewrite or self.last_written.get((dev, k)) != v)
            }
            todo = {**level, **edge}
            if todo:
                jobs.append((dev, todo))
        results = await asyncio.gather(*(self.link.write(d, v) for d, v in jobs), return_exceptions=True)
        for (dev, vals), res in zip(jobs, results, strict=True):
            if isinstance(res, DeviceError):
                for k in vals:
                    self.last_written.pop((dev, k), None)
                if self.comm_state[dev] is None:
                    self.emit("write_failed", f"{dev}: {res}", device=dev, points=sorted(vals))
            elif isinstance(res, BaseException):
                raise res
            else:
                self.watch.wrote(dev, vals)
                for k, v in vals.items():
                    self.last_written[(dev, k)] = v

    # ------------------------------------------------------------------ decide
    def _start_mode(self) -> None:
        """First tick: take the mode the devices imply (a restart resumes, it does not reset)."""
        t = self.tel
        self.started = True
        if t.get("pcc", "breaker_closed") >= 1 and self.grid_normal():
            mode = "grid_tied"
        elif t.get("pcc", "bus_hz") > 0:
            mode = "islanded"
        else:
            mode = "blackout"
        self.mode = mode
        self.mode_since_s = self.clock.now_s()
        self.island_since_s = self.mode_since_s
        if t.get("genset", "state") == GENSET_RUNNING:
            self.gm.state = "running"
            self.gm.t_running_s = self.clock.now_s() - t.get("genset", "run_s")
        self.shedder.mask = int(t.get("load", "shed_mask"))
        self.refusals_seen = t.get("pcc", "close_refusals")
        self.bms_trip_seen = t.get("pcs", "bms_tripped") >= 1
        self.emit("controller_start", f"controller started in {mode}", mode=mode)

    def _bms_reset_due(self, now_s: float) -> bool:
        """The BMS is tripped and the last reset request is at least ``BMS_RESET_EVERY_S`` old."""
        return self.tel.get("pcs", "bms_tripped") >= 1 and now_s - self.last_bms_reset_s >= BMS_RESET_EVERY_S

    def _reset_bms(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        """Request a BMS reset in this command set."""
        cmds["pcs"]["bms_reset"] = 1.0
        self.last_bms_reset_s = now_s

    def _watch_bms(self) -> None:
        """Log the BMS tripping and coming back."""
        tripped = self.tel.get("pcs", "bms_tripped") >= 1
        if tripped != self.bms_trip_seen:
            self.bms_trip_seen = tripped
            if tripped:
                self.emit(
                    "bms_trip", "BMS tripped: the battery is unavailable", soc_frac=self.tel.get("pcs", "soc_frac")
                )
            else:
                self.emit("bms_ok", "BMS back: the battery is available again")

    def _watch_refusals(self) -> None:
        """Log every close the PCC's sync-check relay refused (its counter moved)."""
        n = self.tel.get("pcc", "close_refusals")
        if n == self.refusals_seen:
            return
        self.refusals_seen = n
        bits = int(self.tel.get("pcc", "close_refused"))
        causes = [text for bit, text in REFUSED_NAMES.items() if bits & bit]
        self.emit(
            "breaker_close_refused",
            f"the PCC breaker refused to close: {'; '.join(causes) or 'no cause given'}",
            bits=bits,
            causes=causes,
        )
        if self.close_sent_s is not None:
            self.close_sent_s = None
            if self.mode == "resync":
                self.grid_stable_since_s = self.clock.now_s()  # another stable period before the next try
                self.set_mode("islanded", "breaker refused the close")

    def decide(self, now_s: float) -> dict[str, dict[str, float]]:
        """The state machine step: returns commands per device (point -> value)."""
        t = self.tel
        if not (t.known("pcc") and t.known("pcs")):
            return {}
        if not self.started:
            self._start_mode()
        if self.fresh("pcc", now_s):
            self._watch_refusals()
        if self.fresh("pcs", now_s):
            self._watch_bms()
        cmds: dict[str, dict[str, float]] = {d: {} for d in DEVICE_NAMES}
        blind = not (self.fresh("pcc", now_s) and self.fresh("pcs", now_s))
        blind_long = max(t.age_s("pcc", now_s), t.age_s("pcs", now_s)) > self.cfg.blind_after_s
        if self.mode != "safe" and blind_long:
            self.set_mode("safe", "controller blind: no fresh PCC/PCS data", from_mode=self.mode)
        if self.mode == "safe":
            if not blind:
                leave_safe(self, now_s)
            if self.mode == "safe":
                return safe_step(self, now_s, cmds)
        m = self.mode
        if m == "grid_tied":
            self.grid_tied_step(now_s, cmds)
        elif m == "islanding":
            self._islanding(now_s, cmds)
        elif m == "resync":
            resync_step(self, now_s, cmds)
        elif m in ("blackout", "black_start"):
            self._blackout(now_s, cmds)
        if self.mode == "islanded":
            self.islanded_step(now_s, cmds)
        return {d: v for d, v in cmds.items() if v}

    def genset_cmd(self, run: bool, alarm_reset: bool) -> dict[str, float]:
        """The genset's command points: run request at the rated setpoint, or stop."""
        out = {"run_req": 1.0 if run else 0.0, "p_set_kw": self.genset.rated_kw if run else 0.0}
        if alarm_reset:
            out["alarm_reset"] = 1.0
        return out

    def _detect_outage(self) -> str | None:
        t = self.tel
        if t.get("pcc", "breaker_closed") < 1:
            return "breaker opened"
        if not self.grid_normal():
            return f"grid out of bounds: {t.get('pcc', 'grid_v_pu'):.3f} pu, {t.get('pcc', 'grid_hz'):.3f} Hz"
        return None

    def _foreign_open(self) -> bool:
        """The breaker is open by a command (not by protection) on a normal grid: not the controller's."""
        t = self.tel
        if t.get("pcc", "breaker_closed") >= 1 or t.get("pcc", "trip_cause") != TRIP_BY_COMMAND:
            return False
        if not self.grid_normal():
            return False
        w = ForeignWrite("pcc", "breaker_closed", 1.0, 0.0)
        self.foreign.append(w)
        self.emit(
            "foreign_command",
            "the PCC breaker was opened by a command the controller did not send "
            "(another Modbus master); the grid is normal: not a grid loss",
            device="pcc",
            point="breaker_req",
        )
        return True

    def grid_tied_step(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        t = self.tel
        cause = self._detect_outage()
        if cause is not None and self._foreign_open():
            self.op.want_island = True  # somebody islanded the site on purpose: stay until asked for the grid
            self.island_since_s = now_s
            self.set_mode("islanded", "the PCC breaker was opened by a command the controller did not send")
            return
        if cause is not None:
            self.island_since_s = now_s
            self.grid_stable_since_s = None
            self.set_mode("islanded", f"unplanned islanding ({cause})", cause=cause, planned=False)
            self.emit("unplanned_island", f"grid lost: {cause}; PCS forms the grid", cause=cause)
            return
        if self.op.want_island:
            if self.battery_usable_kwh() <= 0 or t.get("pcs", "bms_tripped") >= 1:
                self.op.want_island = False
                self.emit("island_refused", "planned islanding refused: battery unavailable")
            else:
                self.set_mode("islanding", "planned islanding requested")
                self._islanding(now_s, cmds)
                return
        soc = t.get("pcs", "soc_kwh")
        reserve_kwh = self.op.reserve_frac * self.battery.energy_kwh
        p = self.plan_bat_kw(self.clock.epoch_s())
        if p > 0 and soc <= reserve_kwh:
            p = 0.0  # hold the islanding reserve
        if soc < reserve_kwh - 0.005 * self.battery.energy_kwh:
            p = min(p, -0.2 * self.battery.charge_kw)  # rebuild the reserve
        p = min(max(p, -self.battery.charge_kw), self.battery.discharge_kw)
        cmds["pcs"].update({"p_set_kw": p, "mode_req": PCS_FOLLOW, "hz_set": self.cfg.nominal_hz, "v_set_pu": 1.0})
        cmds["pv"]["limit_frac"] = 1.0
        if self._bms_reset_due(now_s):
            self._reset_bms(now_s, cmds)
        g = self.gm.tick(now_s, t.get("genset", "state"), False, self.fresh("genset", now_s))
        if self.gm.state == "failed":
            self.gm.reset()
        cmds["genset"].update(self.genset_cmd(g.run_req, g.alarm_reset))
        cmds["load"]["shed_req"] = float(self.shedder.tick_grid_tied(now_s))

    def _islanding(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        t = self.tel
        cause = self._detect_outage()
        if cause is not None:
            self.island_since_s = now_s
            self.set_mode("islanded", f"grid lost while islanding ({cause})", cause=cause, planned=False)
            return
        pcc_kw = t.get("pcc", "p_kw")
        if abs(pcc_kw) <= self.cfg.planned_island_pcc_kw and now_s > self.mode_since_s:
            cmds["pcc"]["breaker_req"] = 1.0
            cmds["pcs"].update({"mode_req": PCS_FORM, "p_set_kw": 0.0})
            self.island_since_s = now_s
            self.set_mode("islanded", f"planned islanding: breaker opened at {pcc_kw:.2f} kW", pcc_kw=pcc_kw)
            self.emit("planned_island", f"breaker opened at PCC flow {pcc_kw:.2f} kW", pcc_kw=pcc_kw, planned=True)
            return
        if now_s - self.mode_since_s > self.cfg.planned_island_timeout_s:
            self.op.want_island = False
            self.set_mode("grid_tied", "planned islanding aborted: PCC flow did not reach zero")
            self.emit("planned_island_aborted", f"PCC flow still {pcc_kw:.2f} kW", pcc_kw=pcc_kw)
            return
        p = t.get("pcs", "p_kw") + pcc_kw
        p = min(max(p, -t.get("pcs", "p_chg_max_kw")), t.get("pcs", "p_dis_max_kw"))
        cmds["pcs"].update({"p_set_kw": p, "mode_req": PCS_FOLLOW})

    def islanded_step(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        t = self.tel
        if t.get("pcc", "breaker_closed") >= 1 and self.grid_normal():  # closed, and not by the controller
            self.foreign.append(ForeignWrite("pcc", "breaker_closed", 0.0, 1.0))
            why = "the PCC breaker was closed by a command the controller did not send"
            self.emit("foreign_command", f"{why} (another Modbus master)", device="pcc", point="breaker_req")
            self.op.want_island = False
            self.set_mode("grid_tied", why)
            self.grid_tied_step(now_s, cmds)
            return
        if (
            t.get("pcc", "bus_hz") <= 0
            and t.get("pcs", "mode") < PCS_FORM
            and t.get("genset", "state") != GENSET_RUNNING
        ):
            self.set_mode("blackout", "bus dead: battery cannot form it and no genset runs")
            self.emit("blackout", "bus dead", soc_frac=t.get("pcs", "soc_frac"))
            self._blackout(now_s, cmds)
            return
        cmds["pcs"].update({"mode_req": PCS_FORM, "p_set_kw": 0.0, "hz_set": self.cfg.nominal_hz, "v_set_pu": 1.0})
        if self._bms_reset_due(now_s):
            self._reset_bms(now_s, cmds)
        self.island_sources(now_s, cmds)
        # reconnection: grid normal for stable_grid_s, and the operator has not asked to stay islanded
        if self.grid_normal() and not self.op.want_island:
            if self.grid_stable_since_s is None:
                self.grid_stable_since_s = now_s
                self.emit("grid_normal", "grid back inside the normal band; waiting for it to stay stable")
            if now_s - self.grid_stable_since_s >= self.cfg.stable_grid_s:
                self.resync_since_s = now_s
                self.set_mode("resync", f"grid stable for {now_s - self.grid_stable_since_s:.0f} s")
        elif not self.grid_normal():
            if self.grid_stable_since_s is not None:
                self.emit("grid_abnormal", "grid left the normal band again")
            self.grid_stable_since_s = None

    def island_sources(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        """Genset and load shedding while islanded (or black-starting)."""
        t = self.tel
        soc_frac = t.get("pcs", "soc_frac")
        usable = self.battery_usable_kwh()
        gen_running = t.get("genset", "state") == GENSET_RUNNING and self.fresh("genset", now_s)
        demand = t.get("load", "p_demand_kw")
        crit = t.get("load", "p_critical_demand_kw")
        pv_kw = t.get("pv", "p_avail_kw") if self.fresh("pv", now_s) else 0.0
        net_kw = t.get("load", "p_kw") - pv_kw
        short = net_kw > 0 and usable / net_kw < self.cfg.shed_autonomy_h  # start before shedding
        want = (
            short
            or soc_frac <= self.cfg.genset_start_soc_frac
            or usable <= 0
            or not self.fresh("pcs", now_s)
            or (self.gm.state in ("running", "starting", "retry_wait") and soc_frac < self.cfg.genset_stop_soc_frac)
        )
        g = self.gm.tick(now_s, t.get("genset", "state"), want, self.fresh("genset", now_s))
        cmds["genset"].update(self.genset_cmd(g.run_req, g.alarm_reset))
        if not self.fresh("load", now_s):  # blind load meter: shedding frozen, never decided on stale demand
            cmds["load"]["shed_req"] = float(self.shedder.mask)
            return
        mask = self.shedder.tick_islanded(
            now_s,
            critical_kw=crit,
            noncritical_kw=max(demand - crit, 0.0),
            pv_kw=pv_kw,
            battery_kwh=usable,
            battery_kw=t.get("pcs", "p_dis_max_kw") if usable > 0 else 0.0,
            genset_kw=self.genset.rated_kw if gen_running else 0.0,
            genset_pending=self.gm.state in ("starting", "retry_wait") and self.genset.rated_kw > 0,
        )
        cmds["load"]["shed_req"] = float(mask)

    def _blackout(self, now_s: float, cmds: dict[str, dict[str, float]]) -> None:
        t = self.tel
        bus_live = t.get("pcc", "bus_hz") > 0
        if self.grid_normal() and t.get("pcc", "breaker_closed") < 1 and not bus_live:
            cmds["pcc"]["breaker_req"] = 2.0  # dead-bus closing: no synchronism needed
            cmds["pcs"].update({"mode_req": PCS_FOLLOW, "p_set_kw": 0.0})
            self.set_mode("grid_tied", "dead bus closed onto a normal grid")
            self.emit("reconnected", "dead-bus closing onto a normal grid", dead_bus=True)
            return
        if bus_live:
            self.island_since_s = now_s
            self.set_mode("islanded", "bus live again")
            return
        tripped = t.get("pcs", "bms_tripped") >= 1
        has_energy = (
            t.get("pcs", "soc_kwh") - self.battery.soc_min_kwh >= BLACK_START_MIN_FRAC * self.battery.energy_kwh
        )
        reset_due = self._bms_reset_due(now_s)
        if has_energy and (self.mode == "black_start" or not tripped or reset_due):
            if self.mode != "black_start":
                self.shedder.shed_all(now_s, "black start")
                self.set_mode("black_start", "black start from the battery")
                self.emit("black_start", "the PCS energises the dead bus with every non-critical group shed")
            cmds["pcs"].update({"mode_req": PCS_FORM, "p_set_kw": 0.0, "hz_set": self.cfg.nominal_hz, "v_set_pu": 1.0})
        else:
            if self.mode == "black_start":
                self.set_mode("blackout", "black start abandoned: the battery is empty")
            # standby: a PCS that comes back (BMS reset) must not energise the whole room by itself
            cmds["pcs"].update({"mode_req": PCS_FOLLOW, "p_set_kw": 0.0})
        if reset_due:  # in the same command set as the form request: the bus is energised the step it closes
            self._reset_bms(now_s, cmds)
        g = self.gm.tick(now_s, t.get("genset", "state"), True, self.fresh("genset", now_s))
        cmds["genset"].update(self.genset_cmd(g.run_req, g.alarm_reset))
        cmds["load"]["shed_req"] = float(self.shedder.mask)
