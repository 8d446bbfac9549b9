"""The Slurm adapter's loop with a fake cluster: the state file, fail-open, the supervisor, the
API client against the real API over HTTP, and the command's bad-input messages."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from typer.testing import CliRunner

from api_helpers import TOKEN, FakeView
from islandgrid.api import create_app
from islandgrid.cli.main import app as cli_app
from islandgrid.controller.budget import Forecast, Live, Room, budget
from islandgrid.errors import InputError
from islandgrid.scheduler.adapter import Adapter, load_owned
from islandgrid.scheduler.client import ApiClient, ApiError
from islandgrid.scheduler.decide import Action, Options
from islandgrid.scheduler.jobs import Job, parse_marks
from islandgrid.scheduler.slurm import Outcome

ROOM = Room(flex_rating_kw=81.0, grid_import_kw=300.0)


class FakeCluster:
    """Slurm as a dict of jobs; records every action; ``queue`` may be told to raise."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = {j.job_id: j for j in jobs}
        self.applied: list[tuple[str, str]] = []
        self.crash_next = 0

    def queue(self) -> list[Job]:
        if self.crash_next > 0:
            self.crash_next -= 1
            raise RuntimeError("squeue output changed")
        return list(self.jobs.values())

    def apply(self, actions: list[Action]) -> list[Outcome]:
        from dataclasses import replace

        for a in actions:
            self.applied.append((a.kind, a.job_id))
            j = self.jobs[a.job_id]
            if a.kind == "hold":
                self.jobs[a.job_id] = replace(j, reason="JobHeldAdmin", priority=0)
            elif a.kind == "release":
                self.jobs[a.job_id] = replace(j, reason="Priority", priority=100)
            elif a.kind == "begin":
                self.jobs[a.job_id] = replace(j, eligible_epoch_s=a.begin_epoch_s)
        return [Outcome(a, True) for a in actions]


class Source:
    """A controller with no sun for 50 h: the budget of the controller's own code; ``down`` when unreachable."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.down = False
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.skew_s = 0.0

    def budget(self) -> dict[str, Any]:
        if self.down:
            raise ApiError("ConnectError")
        now = self.clock() + self.skew_s
        fc = Forecast(
            now // 3600 * 3600,
            3600.0,
            np.zeros(50),
            np.full(50, 18.0),
            np.full(50, 0.7),
            np.zeros(50, bool),
            np.zeros(50),
        )
        live = Live(now, True, True, 0.0, 0.6, 0.4, 0.0, 18.0)
        return budget(fc, live, ROOM)

    def post_event(self, kind: str, message: str, data: dict[str, Any]) -> None:
        if self.down:
            raise ApiError("ConnectError")
        self.events.append((kind, message, data))


def job(jid: str, comment: str | None = "flex=72h kw=5", **kw: Any) -> Job:
    base: dict[str, Any] = dict(
        job_id=jid,
        state="PENDING",
        reason="Priority",
        priority=100,
        time_limit_s=3600.0,
        time_used_s=0.0,
        submit_epoch_s=time.time() - 60,
        eligible_epoch_s=None,
        deadline_epoch_s=None,
        requeue=False,
        marks=parse_marks(comment),
    )
    return Job(**{**base, **kw})


@pytest.fixture
def clock() -> list[float]:
    return [time.time()]


def test_holds_are_kept_in_an_atomic_state_file_and_undone_after_a_restart(tmp_path: Path, clock: list[float]) -> None:
    state = tmp_path / "state" / "adapter.json"
    cluster = FakeCluster([job("1"), job("2", comment=None), job("3", reason="JobHeldAdmin")])
    src = Source(lambda: clock[0])
    a = Adapter(src, cluster, Options(), state_path=state, fail_open_s=900.0, clock=lambda: clock[0])
    rep = a.step()
    assert rep.mode == "budget" and cluster.applied == [("hold", "1")]  # no sun within 48 h, may wait 72 h
    doc = json.loads(state.read_text())
    assert doc["held"] == ["1"] and sorted(doc["seen"]) == ["1", "3"]
    assert [p.name for p in state.parent.iterdir()] == ["adapter.json"]  # no temporary left behind
    assert src.events[-1][0] == "compute_hold" and "no PV surplus" in src.events[-1][1]
    # a new adapter (a restart) with the controller gone: after 900 s it releases its own hold only
    src.down = True
    b = Adapter(src, cluster, Options(), state_path=state, fail_open_s=900.0, clock=lambda: clock[0])
    assert b.owned.held == {"1"}
    assert b.step().mode == "idle"
    clock[0] += 901.0
    rep = b.step()
    assert rep.mode == "fail_open" and cluster.applied[-1] == ("release", "1")
    assert ("release", "3") not in cluster.applied  # an administrator's hold
    assert json.loads(state.read_text())["held"] == []
    src.down = False
    b.step()
    assert [k for k, _, _ in src.events].count("compute_alarm") == 1  # sent once the API was back
    assert any(k == "compute_start" for k, _, _ in src.events)


def test_a_budget_from_another_clock_is_no_budget(clock: list[float]) -> None:
    cluster = FakeCluster([job("1")])
    src = Source(lambda: clock[0])
    src.skew_s = 2 * 3600.0
    a = Adapter(src, cluster, Options(), fail_open_s=900.0, clock=lambda: clock[0])
    assert a.step().mode == "idle" and cluster.applied == []


def test_a_state_file_that_is_not_the_adapters_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="--state-file"):
        load_owned(bad)
    assert bad.read_text() == "[1, 2]"  # never replaced


def test_a_crashing_loop_fails_open_raises_an_alarm_and_restarts(tmp_path: Path) -> None:
    cluster = FakeCluster([job("1")])
    src = Source(time.time)
    a = Adapter(src, cluster, Options(), state_path=tmp_path / "s.json")
    a.step()
    assert cluster.applied == [("hold", "1")]
    cluster.crash_next = 2  # the next step crashes, and the safe state's own squeue too: it is retried later

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(a.run(stop, interval_s=0.05))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if a.supervisor.loops["slurm"].crashes and a.supervisor.loops["slurm"].state == "running":
                break
        stop.set()
        await task

    asyncio.run(main())
    h = a.supervisor.loops["slurm"]
    assert h.crashes == 1 and h.state == "running" and "RuntimeError" in (h.last_error or "")
    alarms = [m for k, m, _ in src.events if k == "compute_alarm"]
    assert alarms and "crashed" in alarms[0]


def test_the_safe_state_after_a_crash_releases_the_holds(tmp_path: Path) -> None:
    cluster = FakeCluster([job("1")])
    a = Adapter(Source(time.time), cluster, Options(), state_path=tmp_path / "s.json")
    a.step()
    asyncio.run(a._on_crash("slurm", RuntimeError("boom")))
    assert cluster.applied == [("hold", "1"), ("release", "1")] and a.owned.held == set()


# --- the client against the real API over HTTP ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api_url() -> Iterator[tuple[str, FakeView]]:
    view = FakeView()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(view, token=TOKEN), host="127.0.0.1", port=port, log_level="warning")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", view
    finally:
        server.should_exit = True
        t.join(10)


def test_the_client_reads_the_budget_and_writes_events_over_http(api_url: tuple[str, FakeView]) -> None:
    url, view = api_url
    c = ApiClient(url, TOKEN)
    doc = c.budget()
    assert len(doc["slots"]) == 192 and doc["signal"]["level"] == "green"
    c.post_event("compute_release", "job 5: release: PV surplus now", {"job_id": "5", "kw": 5.0})
    assert view.events()[-1]["kind"] == "compute_release" and view.events()[-1]["data"]["job_id"] == "5"
    c.post_events([("compute_hold", f"job {i}: hold", {"job_id": str(i)}) for i in range(3)])
    assert [e["data"]["job_id"] for e in view.events()[-3:]] == ["0", "1", "2"]  # one request, in order
    with pytest.raises(ApiError, match="422"):
        c.post_events([])
    with pytest.raises(ApiError, match="422"):
        c.post_events([("compute_hold", "x", {})] * 1001)
    with pytest.raises(ApiError, match="401"):
        ApiClient(url, "wrong-token-0123456789").post_event("compute_hold", "x", {})
    with pytest.raises(ApiError, match="422"):
        c.post_event("drop_tables", "x", {})
    c.close()
    with pytest.raises(ApiError, match=r"ConnectError|connect"):
        ApiClient(f"http://127.0.0.1:{_free_port()}", TOKEN, timeout_s=1.0).budget()


# --- the command's bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--api", "ftp://x"], "--api"),
        (["--api", "http://127.0.0.1:1", "--green-share", "2"], "--green-share"),
        (["--api", "http://127.0.0.1:1", "--interval-s", "0"], "--interval-s"),
        (["--api", "http://127.0.0.1:1", "--interval-s", "120", "--fail-open-s", "60"], "--fail-open-s"),
        (["--api", "http://127.0.0.1:1", "--job-kw", "0"], "--job-kw"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args: list[str], needle: str) -> None:
    r = CliRunner().invoke(cli_app, ["compute", "slurm", *args])
    assert r.exit_code == 2 and needle in r.output and "Traceback" not in r.output
