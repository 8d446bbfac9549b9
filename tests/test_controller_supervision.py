"""Supervised loops (issue 9 §2): any exception puts the plant in its safe state, raises an alarm,
restarts the loop with backoff, and the status is never served as live while a loop is down or stale."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from islandgrid.controller.core import Controller
from islandgrid.controller.service import ControllerService
from islandgrid.controller.supervisor import BACKOFF_MAX_S, BACKOFF_MIN_S, HEALTHY_RESET_S, Supervisor
from islandgrid.devices.clock import SimClock
from islandgrid.links.inprocess import InProcessLink
from islandgrid.twin.rig import SteppedRig
from islandgrid.twin.twin import Twin, profile_from_inputs
from test_hil_helpers import fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


class Breaker:
    """Makes ``Controller.decide`` raise ZeroDivisionError while ``broken`` (an arbitrary bug)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.broken = False
        self.raised = 0
        real = Controller.decide

        def decide(ctl: Controller, now_s: float) -> dict[str, dict[str, float]]:
            if self.broken:
                self.raised += 1
                return {"x": {"y": 1 / 0}}
            return real(ctl, now_s)

        monkeypatch.setattr(Controller, "decide", decide)


def _alarm(status: dict[str, Any], alarm_id: str) -> dict[str, Any] | None:
    return next((a for a in status["alarms"] if a["id"] == alarm_id), None)


def test_a_crash_in_the_fast_loop_goes_safe_alarms_recovers_and_never_serves_a_stale_status(
    horinger, inputs, monkeypatch
):
    """Grid-tied, the PCS charging from PV; a ZeroDivisionError in decide: battery setpoint 0 at once,
    mode safe, loop_down alarm, status not live (and stale once old); restarted after the backoff, the
    controller resumes from the devices; the alarm clears after a healthy period and leaves on acknowledge."""
    bug = Breaker(monkeypatch)
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 10:00", supervised=True)
    svc = rig.service
    run_for(rig, 60)
    assert rig.twin.plant.pcs_p_set_kw != 0  # the plan moves the battery
    assert svc.status()["live"] is True and svc.health()["ok"] is True
    bug.broken = True
    run_for(rig, 1)
    st = svc.status()
    assert rig.twin.plant.pcs_p_set_kw == 0  # the safe state reached the plant
    assert st["mode"] == "safe" and st["loops"]["fast"] == "down" and st["live"] is False
    assert svc.health() == {"ok": False, "live": False, "loops": {"fast": "down", "planning": "running"}}
    alarm = _alarm(st, "loop_down:fast")
    assert alarm is not None and alarm["active"] and "ZeroDivisionError" in alarm["message"]
    assert svc.event_log.of_kind("loop_crash")[0]["data"]["error"].startswith("ZeroDivisionError")
    # still broken: each restart crashes again, the backoff doubles; the status is never live meanwhile
    for _ in range(40):
        run_for(rig, 1)
        st = svc.status()
        assert st["live"] is False
        assert st["stale"] == (st["status_age_s"] > svc.site.controller.stale_after_s)
    assert svc.status()["stale"] is True  # no tick rebuilt it for several seconds
    h = svc.supervisor.loops["fast"]
    assert h.crashes >= 4 and h.backoff_s == min(BACKOFF_MIN_S * 2 ** (h.crashes - 1), BACKOFF_MAX_S)
    assert rig.twin.plant.pcs_p_set_kw == 0
    bug.broken = False
    assert asyncio.run(rig.run_until(lambda r: r.service.status()["live"], max_s=BACKOFF_MAX_S + 5))
    st = svc.status()
    assert st["mode"] == "grid_tied" and st["loops"] == {"fast": "running", "planning": "running"}
    assert st["stale"] is False and "fast loop restarted" in svc.event_log.of_kind("controller_restart")[-1]["message"]
    assert _alarm(st, "loop_down:fast")["active"]  # latched until the loop has been healthy a while
    run_for(rig, HEALTHY_RESET_S + 2)
    alarm = _alarm(svc.status(), "loop_down:fast")
    assert alarm is not None and not alarm["active"] and not alarm["acknowledged"]
    assert h.backoff_s == 0
    svc.acknowledge_alarm("loop_down:fast")
    assert _alarm(svc.status(), "loop_down:fast") is None


def test_a_crash_while_islanded_calls_the_genset_as_standby(horinger, inputs, monkeypatch):
    """Away from the grid no loop is left to start the genset when the battery runs low: the crash
    safe state asks the genset to run (standby) and holds the battery at 0 kW."""
    bug = Breaker(monkeypatch)
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 10:00", supervised=True)
    run_for(rig, 60, {10.0: ("grid_loss", {})})
    assert rig.service.status()["mode"] == "islanded" and not rig.twin.plant.genset_run_req
    bug.broken = True
    run_for(rig, 1)
    assert rig.twin.plant.genset_run_req and rig.twin.plant.pcs_p_set_kw == 0
    assert rig.twin.plant.breaker_closed is False  # no breaker operation
    assert rig.twin.plant.trace_frame().unserved_critical_kwh.sum() == 0


def test_serve_run_survives_any_exception_and_health_says_so(horinger, inputs, monkeypatch):
    """Real time (``service.run``, as in ``serve``): the controller task keeps running through a crash,
    ``health()`` is not ok while the fast loop is down, and it recovers on its own."""
    bug = Breaker(monkeypatch)
    site = fast_site(horinger, fast_loop_s=0.5)
    twin = Twin(site, start="2025-05-10 10:00", profile=profile_from_inputs(inputs), step_s=0.5)
    clock = SimClock(twin.start_epoch_s, speed=10.0)
    svc = ControllerService(site, InProcessLink(twin), clock, inputs, twin=twin)

    async def until(pred: Any, what: str, timeout_s: float = 30.0) -> None:
        end = time.monotonic() + timeout_s
        while not pred():
            assert time.monotonic() < end, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(twin.run(clock, stop)), asyncio.create_task(svc.run(stop))]
        try:
            await until(lambda: svc.status()["live"], "live")
            bug.broken = True
            await until(lambda: not svc.health()["ok"], "health not ok")
            assert svc.status()["live"] is False and svc.alarm_board.is_active("loop_down", "fast")
            assert twin.plant.pcs_p_set_kw == 0
            bug.broken = False
            await until(lambda: svc.health()["ok"] and svc.status()["live"], "recovered")
            assert not tasks[1].done() and svc.status()["mode"] == "grid_tied"
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert bug.raised >= 1


def test_a_crashed_planning_loop_drops_the_plan_and_restarts(horinger, inputs, monkeypatch):
    """The planning loop crashes (not a strategy error: those are plan_failed events): the plan is dropped
    (battery holds 0 kW grid-tied), alarm, and the loop is restarted with backoff."""
    calls = {"n": 0}

    def bad_plan(self: ControllerService) -> None:
        calls["n"] += 1
        raise KeyError("boom")

    async def scenario() -> None:
        rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 10:00")
        svc = rig.service
        await rig.run_for(2)
        monkeypatch.setattr(ControllerService, "plan_now", bad_plan)
        svc.controller.plan_bat_kw = lambda epoch_s: 25.0
        svc.next_plan_s = 0.0
        stop = asyncio.Event()
        sup = svc.supervisor
        task = asyncio.create_task(sup.keep_alive("planning", svc.loops.planning_loop, stop, time.monotonic))
        end = time.monotonic() + 20
        while sup.loops["planning"].state != "down":
            assert time.monotonic() < end
            await asyncio.sleep(0.005)
        assert svc.health()["loops"]["planning"] == "down" and svc.health()["ok"] is False
        assert svc.controller.plan_bat_kw(0.0) == 0.0
        assert svc.alarm_board.is_active("loop_down", "planning")
        while sup.loops["planning"].crashes < 2:  # restarted after the backoff, and crashed again
            assert time.monotonic() < end
            await asyncio.sleep(0.005)
        stop.set()
        await task

    asyncio.run(scenario())
    assert calls["n"] >= 2


def test_backoff_doubles_to_the_bound_and_resets_after_a_healthy_period():
    events: list[str] = []

    async def crash(name: str, exc: BaseException) -> None:
        events.append(f"crash {name}")

    sup = Supervisor(crash, lambda n: events.append(f"restart {n}"), lambda n: events.append(f"healthy {n}"))

    async def scenario() -> None:
        delays = [await sup.crashed("fast", ZeroDivisionError(), float(i)) for i in range(9)]
        assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]

    asyncio.run(scenario())
    assert not sup.restart_due("fast", 8.0 + 29.0) and sup.restart_due("fast", 8.0 + 30.0)
    sup.restarted("fast", 100.0)
    sup.ran("fast", 100.0 + HEALTHY_RESET_S - 1)
    assert sup.loops["fast"].backoff_s == 30.0
    sup.ran("fast", 100.0 + HEALTHY_RESET_S)
    assert sup.loops["fast"].backoff_s == 0.0 and events[-1] == "healthy fast"


def test_serve_shutdown_logs_a_crashed_task_instead_of_hiding_it():
    from rich.console import Console

    from islandgrid.cli.serve import finish_tasks

    async def boom() -> None:
        raise RuntimeError("twin died")

    async def scenario() -> list[str]:
        crashed = asyncio.create_task(boom(), name="islandgrid-twin")
        fine = asyncio.create_task(asyncio.sleep(0), name="islandgrid-api")
        await asyncio.sleep(0)
        console = Console(record=True, width=200)
        msgs = await finish_tasks([crashed, fine], console)
        assert "task islandgrid-twin crashed: RuntimeError: twin died" in console.export_text()
        return msgs

    assert asyncio.run(scenario()) == ["task islandgrid-twin crashed: RuntimeError: twin died"]
