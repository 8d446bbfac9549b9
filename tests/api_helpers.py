"""A small deterministic in-memory ControllerView for the API and dashboard tests.

``FakeView(live=False)`` advances only on ``step()``; ``FakeView(live=True)`` advances one
simulated minute per wall-clock second (checked on every call), so a browser sees values move.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from islandgrid.api import create_app
from islandgrid.controller.alarms import AlarmBoard, AlarmKind
from islandgrid.controller.budget import Forecast, Live, Room, budget, live_from_status
from islandgrid.devices.clock import iso_utc
from islandgrid.devices.faults import FAULT_KINDS
from islandgrid.errors import DeviceError, InputError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

START = datetime(2026, 6, 21, 1, 0, tzinfo=UTC)  # 09:00 in Hohhot: the sun is up
SETPOINTS = {"reserve_frac": (0.0, 0.9), "soc_max_frac": (0.5, 1.0), "genset_start_soc_frac": (0.05, 0.6)}
STRATEGIES = ("load_following", "cycle_charging", "combined", "mpc")
FAULTS = (*FAULT_KINDS, "controller_restart")

#: The API token of the test apps, and the header that carries it.
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

#: Where the test clients send their requests: a host name the API answers to.
LOCAL_URL = "http://127.0.0.1"


def local_client(app: Any, **kwargs: Any) -> TestClient:
    """A TestClient that talks to ``app`` as ``http://127.0.0.1`` (the API refuses other Host names)."""
    return TestClient(app, base_url=LOCAL_URL, **kwargs)


E_GRID = 0.6849  # kg/kWh, MEE Inner Mongolia 2022
E_DIESEL = 0.95  # kg/kWh at part load
BAT_KWH = 500.0
CRITICAL_KW = 18.0  # the toy room's critical load group [kW]
SITE_TZ = "Asia/Shanghai"
TOY_ROOM = Room(flex_rating_kw=81.0, grid_import_kw=300.0)  # 60 kW IT x PUE 1.35; the grid connection


def toy_pv_kw(epoch_s: float) -> float:
    """The toy PV array's output at ``epoch_s`` [kW]: a half sine from 05:30 to 19:30 Hohhot time, 200 kW peak."""
    h_local = (epoch_s / 3600.0 + 8.0) % 24
    return max(0.0, 200.0 * math.sin(math.pi * (h_local - 5.5) / 14)) if 5.5 < h_local < 19.5 else 0.0


def _iso(t: datetime) -> str:
    return iso_utc(t.timestamp())  # the controller's spelling


class FakeView:
    """A toy microgrid behind the ControllerView protocol."""

    def __init__(self, *, live: bool = False, twin: bool = True, speed: float = 60.0) -> None:
        self.live = live
        self.twin = twin
        self.speed = speed
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._steps = 0
        self.now = START
        self.mode = "grid_tied"
        self.breaker = "closed"
        self.genset_state = "off"
        self.soc_frac = 0.55
        self.strategy = "load_following"
        self.setpoints: dict[str, float] = {"reserve_frac": 0.4, "soc_max_frac": 0.95, "genset_start_soc_frac": 0.2}
        self.grid_up = True
        self.resync_left = 0
        self.flows: dict[str, float] = {}
        self._history: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._pv_kwh = 0.0
        self._load_kwh = 0.0
        self._diesel_min = 0.0
        self._co2_kg = 0.0
        self.calls: list[tuple[str, Any]] = []
        # device faults (bms_trip, genset_fail_to_start, telemetry_stale, modbus_timeout) and the alarm board
        self.alarm_board = AlarmBoard()
        self.bms_tripped = False
        self.genset_failed = False
        self.stale_since: dict[str, int] = {}
        self.device_errors: dict[str, str] = {}
        self.unserved_kw = 0.0
        self.unserved_critical_kw = 0.0
        self._unserved_critical_kwh = 0.0
        self.loops = {"fast": "running", "planning": "running"}
        self._event("start", "controller started (fake view)", {"strategy": self.strategy})
        self._step()

    # --- the toy physics -------------------------------------------------------------------
    def _event(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        self._events.append({"ts": _iso(self.now), "kind": kind, "message": message, "data": data or {}})

    def _set_mode(self, mode: str, why: str) -> None:
        if mode != self.mode:
            self._event("mode_change", f"{self.mode} → {mode}: {why}", {"from": self.mode, "to": mode})
            self.mode = mode

    def _step(self) -> None:
        self.now = START + timedelta(minutes=self._steps)
        self._steps += 1
        pv = toy_pv_kw(self.now.timestamp())
        load = 120.0 + 8.0 * math.sin(self._steps / 7.0)
        if self.resync_left > 0:
            self.resync_left -= 1
            if self.resync_left == 0:
                self.breaker = "closed"
                self._set_mode("grid_tied", "synchronised, PCC breaker closed")
        islanded = self.breaker == "open"
        net = load - pv  # + deficit
        genset = 0.0
        if islanded and self.soc_frac < self.setpoints["genset_start_soc_frac"] and self.genset_state != "running":
            self.genset_state = "running"
            self._event("genset_start", "genset started: SoC below the start setpoint")
        if self.genset_state == "running":
            genset = 100.0
        self.unserved_kw = self.unserved_critical_kw = 0.0
        if self.mode == "blackout" and not (self.bms_tripped and self.genset_failed):
            self.genset_state = "running"
            self._set_mode("islanded", "genset formed the bus")
        if islanded and self.bms_tripped and self.genset_failed:  # nothing can form the bus
            self._set_mode("blackout", "bus dead: BMS tripped and the genset failed")
            self.unserved_kw, self.unserved_critical_kw, pv, load = load, CRITICAL_KW, 0.0, 0.0
            self._unserved_critical_kwh += CRITICAL_KW / 60.0
        epoch = self.now.timestamp()
        if self.unserved_critical_kw > 0:
            self.alarm_board.raise_(AlarmKind.UNSERVED_CRITICAL, f"{CRITICAL_KW:.1f} kW critical load unserved", epoch)
        else:
            self.alarm_board.clear(AlarmKind.UNSERVED_CRITICAL, epoch)
        if islanded:
            battery = 0.0 if self.bms_tripped else net - genset
            if self.bms_tripped:  # no battery: the genset follows the load and PV is curtailed to the rest
                genset = min(genset, load)
                pv = min(pv, load - genset)
            if battery < 0 and self.soc_frac >= self.setpoints["soc_max_frac"]:
                pv, battery = pv + battery, 0.0  # full battery: curtail PV
            grid = 0.0
        else:
            battery = -min(250.0, -net) if net < 0 else 0.0
            if (net < 0 and self.soc_frac >= self.setpoints["soc_max_frac"]) or self.bms_tripped:
                battery = 0.0
            grid = max(0.0, net) if net > 0 else 0.0
        self.soc_frac = min(1.0, max(0.0, self.soc_frac - battery / 60.0 / BAT_KWH))
        sources = pv + max(battery, 0.0) + genset + grid
        carbon = (grid * E_GRID + genset * E_DIESEL + max(battery, 0.0) * 0.3) / sources if sources > 0 else 0.0
        self._pv_kwh += min(pv, load) / 60.0
        self._load_kwh += load / 60.0
        self._diesel_min += 1.0 if genset > 0 else 0.0
        self._co2_kg += load * carbon / 60.0
        self.flows = {
            "pv_kw": round(pv, 2),
            "battery_kw": round(battery, 2),
            "genset_kw": round(genset, 2),
            "grid_kw": round(grid, 2),
            "load_kw": round(load, 2),
            "carbon_kg_per_kwh": round(carbon, 4),
        }
        self._history.append(
            {"ts": _iso(self.now), "mode": self.mode, "soc_frac": round(self.soc_frac, 4), **self.flows}
        )

    def _catch_up(self) -> None:
        if not self.live:
            return
        due = int((time.monotonic() - self._t0) * self.speed / 60.0)
        while self._steps <= due:
            self._step()

    def step(self, n: int = 1) -> None:
        """Advance ``n`` simulated minutes."""
        with self._lock:
            for _ in range(n):
                self._step()

    # --- ControllerView ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self._lock:
            self._catch_up()
            return {
                "ts": _iso(self.now),
                "mode": self.mode,
                "soc_frac": round(self.soc_frac, 4),
                "soc_kwh": round(self.soc_frac * BAT_KWH, 1),
                **self.flows,
                "shed_kw": 0.0,
                "unserved_kw": self.unserved_kw,
                "unserved_critical_kw": self.unserved_critical_kw,
                "site_tz": SITE_TZ,
                # as the controller: not live while a device is stale or a loop is down
                "live": not self.stale_since and all(v == "running" for v in self.loops.values()),
                "loops": dict(self.loops),
                "stale_devices": sorted(self.stale_since),
                "telemetry_age_by_device_s": {
                    d: 0.4 + 60.0 * (self._steps - self.stale_since.get(d, self._steps))
                    for d in ("pv", "pcs", "genset", "pcc", "load")
                },
                "device_errors": dict(self.device_errors),
                "bms_tripped": self.bms_tripped,
                "genset_manager": "failed" if self.genset_failed else "idle",
                "genset_retry_in_s": 120.0 if self.genset_failed else None,
                "alarms": self.alarm_board.snapshot(),
                "breaker": self.breaker,
                "genset_state": self.genset_state,
                "pv_share_today_frac": round(self._pv_kwh / self._load_kwh, 4) if self._load_kwh else 0.0,
                "diesel_min_today": self._diesel_min,
                "strategy": self.strategy,
                "telemetry_age_s": 0.4,
                "twin": self.twin,
                "site_name": "Horinger AI room (fake)",
            }

    def history(self, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            self._catch_up()
            rows = [r for r in self._history if since is None or r["ts"] > since]
            return [dict(r) for r in rows[-limit:]]

    def events(self, since: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        with self._lock:
            self._catch_up()
            rows = [e for e in self._events if since is None or e["ts"] > since]
            return [dict(e) for e in rows[-limit:]]

    def kpis(self) -> dict[str, Any]:
        with self._lock:
            self._catch_up()
            today = {
                "pv_share": round(self._pv_kwh / self._load_kwh, 4) if self._load_kwh else 0.0,
                "diesel_minutes": self._diesel_min,
                "unserved_critical_kwh": round(self._unserved_critical_kwh, 3),
                "load_kwh": round(self._load_kwh, 2),
                "co2_kg": round(self._co2_kg, 2),
            }
            day = self.now.astimezone(ZoneInfo(SITE_TZ)).date().isoformat()
            return {"today": today, "since_start": dict(today), "since": _iso(START), "day": day}

    def alarms(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.alarm_board.snapshot()

    def acknowledge_alarm(self, alarm_id: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("ack", alarm_id))
            return self.alarm_board.acknowledge(alarm_id).as_dict()

    def reset_genset(self) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("genset_reset", None))
            self.genset_failed = False
            self.genset_state = "off"
            self.alarm_board.clear(AlarmKind.GENSET_FAILED, self.now.timestamp())
            self._event("command", "operator: genset reset")
            return {"accepted": "genset_reset", "genset_manager": "idle"}

    def request_mode(self, mode: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("mode", mode))
            if mode == "island":
                self.breaker = "open"
                self._set_mode("islanded", "planned islanding by the operator")
            elif mode == "grid":
                if not self.grid_up:
                    raise InputError("cannot reconnect: the grid is down", field="mode", value=mode)
                self._set_mode("resync", "operator asked to reconnect")
                self.resync_left = 2
            else:
                raise InputError("unknown mode", field="mode", value=mode, allowed="island, grid")
            self._event("command", f"operator: mode {mode}")
            return {"accepted": True, "mode": mode}

    def set_setpoints(self, values: dict[str, float]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("setpoints", values))
            for name, value in values.items():
                if name not in SETPOINTS:
                    raise InputError("unknown setpoint", field="values", value=name, allowed=", ".join(SETPOINTS))
                lo, hi = SETPOINTS[name]
                if not lo <= value <= hi:
                    raise InputError("out of range", field=f"values.{name}", value=value, allowed=f"{lo} to {hi}")
            self.setpoints.update(values)
            self._event("command", f"operator: setpoints {values}")
            return {"accepted": True, "setpoints": dict(self.setpoints)}

    def set_strategy(self, name: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("strategy", name))
            if name not in STRATEGIES:
                raise InputError("unknown strategy", field="name", value=name, allowed=", ".join(STRATEGIES))
            self.strategy = name
            self._event("command", f"operator: strategy {name}")
            return {"accepted": True, "strategy": name}

    def inject_fault(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("fault", kind))
            if not self.twin:
                raise DeviceError("this controller talks to real devices, not a twin")
            if kind not in FAULTS:
                raise InputError("unknown fault kind", field="kind", value=kind, allowed=", ".join(FAULTS))
            self._event("fault", f"twin: fault injected: {kind}", {"kind": kind, **params})
            if kind == "grid_loss":
                self.grid_up = False
                self.breaker = "open"
                self._event("grid_loss", "grid lost: PCC breaker opened, battery forms the grid")
                self._set_mode("islanded", "grid loss")
            epoch = self.now.timestamp()
            device = str(params.get("device", "pcs" if kind == "telemetry_stale" else "pcc"))
            if kind == "grid_loss":
                self.alarm_board.raise_(AlarmKind.GRID_LOST, "grid lost: PCC breaker opened", epoch)
            elif kind == "bms_trip":
                self.bms_tripped = True
                self.alarm_board.raise_(AlarmKind.BMS_TRIP, "BMS opened the battery contactor", epoch)
            elif kind == "genset_fail_to_start":
                self.genset_failed, self.genset_state = True, "fail_to_start"
                self.alarm_board.raise_(AlarmKind.GENSET_FAILED, "genset failed to start after 3 attempts", epoch)
            elif kind == "telemetry_stale":
                self.stale_since.setdefault(device, self._steps)
                self.alarm_board.raise_(AlarmKind.TELEMETRY_STALE, f"{device}: heartbeat frozen", epoch, device)
            elif kind == "modbus_timeout":
                self.device_errors[device] = "timeout"
            if kind == "grid_restore":
                self.alarm_board.clear(AlarmKind.GRID_LOST, epoch)
                self.grid_up = True
                self._event("grid_restore", "grid back: resynchronising")
                self._set_mode("resync", "grid restored")
                self.resync_left = 3
            return {"accepted": True, "kind": kind, "params": params}

    def health(self) -> dict[str, Any]:
        with self._lock:
            ok = all(v == "running" for v in self.loops.values())
            return {"ok": ok, "live": ok, "loops": dict(self.loops)}

    # --- compute (the real budget code on the toy's forecast) --------------------------------
    def _compute_inputs(self) -> tuple[Forecast, Live]:
        st = self.status()
        t0 = self.now.timestamp() // 3600 * 3600
        n = 50
        fc = Forecast(
            start_epoch_s=t0,
            dt_s=3600.0,
            pv_kw=np.array([toy_pv_kw(t0 + 3600.0 * k + 1800.0) for k in range(n)]),
            base_kw=np.full(n, CRITICAL_KW),
            grid_co2_kg_per_kwh=np.full(n, E_GRID),
            genset_planned=np.zeros(n, dtype=bool),
            charge_kw=np.zeros(n),
        )
        st = {**st, "grid_ok": self.grid_up and self.breaker == "closed", "critical_kw": CRITICAL_KW}
        st["reserve_frac"] = self.setpoints["reserve_frac"]
        return fc, live_from_status(st, self.now.timestamp())

    def compute_budget(self) -> dict[str, Any]:
        fc, live = self._compute_inputs()
        return budget(fc, live, TOY_ROOM)

    def compute_signal(self) -> dict[str, Any]:
        fc, live = self._compute_inputs()
        return budget(fc, live, TOY_ROOM, n_slots=1)["signal"]

    def compute_event(self, kind: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("compute_event", kind))
            self._event(kind, message, data)
            return dict(self._events[-1])


@pytest.fixture
def view() -> FakeView:
    """A fresh toy microgrid behind the ControllerView protocol."""
    return FakeView()


@pytest.fixture
def client(view: FakeView) -> Iterator[TestClient]:
    """A client of the API over ``view``, with the test token configured."""
    with local_client(create_app(view, token=TOKEN)) as c:
        yield c
