"""The Slurm adapter against a real Slurm: Debian's slurm-wlm (slurmctld + slurmd) with munge.

The harness (tests/slurm/install.sh, start.sh, stop.sh) installs the packages when missing,
starts a single-node cluster in a temporary folder (proctrack/linuxproc, task/none, free ports)
and stops it afterwards; the set-up is stated in docs/compute-live.md. Jobs are submitted with
``sbatch`` (their output in the temporary folder, never in the repository) and their state is
read back with ``squeue``; the adapter acts through its one Slurm seam, on budgets computed by
the controller's own budget code. Skipped only where apt is unavailable (or not root, which
running slurmd needs).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from islandgrid.controller.budget import Forecast, Live, Room, budget
from islandgrid.scheduler.adapter import Adapter
from islandgrid.scheduler.client import ApiError
from islandgrid.scheduler.decide import Options
from islandgrid.scheduler.jobs import Job
from islandgrid.scheduler.runs import RunsFile
from islandgrid.scheduler.slurm import Slurm

HERE = Path(__file__).parent / "slurm"
ROOM = Room(flex_rating_kw=81.0, grid_import_kw=300.0)
HOUR = 3600.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running single-node Slurm; yields the environment its clients need."""
    if shutil.which("slurmctld") is None:
        if shutil.which("apt-get") is None:
            pytest.skip("Slurm is not installed and apt-get is unavailable to install it")
        subprocess.run(["sh", str(HERE / "install.sh")], check=False, timeout=600)
    if shutil.which("slurmctld") is None:
        pytest.skip("Slurm could not be installed (apt-get failed)")
    if os.geteuid() != 0:
        pytest.skip("the test cluster runs slurmd as root")
    d = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["sh", str(HERE / "start.sh"), str(d), str(_free_port()), str(_free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert start.returncode == 0, start.stdout + start.stderr
    env = {"SLURM_CONF": str(d / "slurm.conf"), "JOBDIR": str(d)}
    try:
        yield env
    finally:
        subprocess.run(["sh", str(HERE / "stop.sh"), str(d)], timeout=60, check=False)


def sbatch(env: dict[str, str], *args: str, cmd: str = "sleep 120") -> str:
    """Submit a job (output in the cluster's temporary folder); returns its id."""
    out = subprocess.run(
        [
            "sbatch",
            "--parsable",
            f"--chdir={env['JOBDIR']}",
            f"--output={env['JOBDIR']}/slurm-%j.out",
            *args,
            f"--wrap={cmd}",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().split(";")[0]


def squeue(env: dict[str, str]) -> dict[str, Job]:
    return {j.job_id: j for j in Slurm(env).queue()}


def wait_for(pred: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.25)
    return False


class ScriptedController:
    """The controller's side, in process: budgets from the controller's budget code on a scripted
    forecast (hourly PV) and state; events kept. ``down`` makes it unreachable."""

    def __init__(self) -> None:
        self.pv_kw = np.full(50, 100.0)
        self.state: dict[str, Any] = {"grid_ok": True, "soc_frac": 0.6, "reserve_frac": 0.4, "genset_kw": 0.0}
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.down = False

    def budget(self) -> dict[str, Any]:
        if self.down:
            raise ApiError("GET /api/compute/budget: ConnectError")
        now = time.time()
        n = len(self.pv_kw)
        fc = Forecast(
            now // HOUR * HOUR, HOUR, self.pv_kw, np.full(n, 18.0), np.full(n, 0.68), np.zeros(n, bool), np.zeros(n)
        )
        live = Live(epoch_s=now, live=True, pv_kw=float(self.pv_kw[0]), base_kw=18.0, **self.state)
        return budget(fc, live, ROOM)

    def post_event(self, kind: str, message: str, data: dict[str, Any]) -> None:
        if self.down:
            raise ApiError("POST /api/compute/events: ConnectError")
        self.events.append((kind, message, data))

    def of(self, kind: str) -> list[str]:
        return [str(d.get("job_id")) for k, _, d in self.events if k == kind]


def test_the_adapter_drives_a_real_slurm(cluster: dict[str, str], tmp_path: Path) -> None:
    ctl = ScriptedController()
    ctl.pv_kw[:3] = 0.0  # night for three hours, then 100 kW of PV
    clock_offset = [0.0]
    adapter = Adapter(
        ctl,
        Slurm(cluster),
        Options(job_kw=1.0, max_delay_h=24.0),
        state_path=tmp_path / "state.json",
        fail_open_s=120.0,
        clock=lambda: time.time() + clock_offset[0],
        runs=RunsFile(tmp_path / "runs.csv"),
    )
    other = sbatch(cluster, "-t", "30")  # not flexible: never touched
    other_held = sbatch(cluster, "-t", "30", "--hold")  # not flexible, submitted held: never released
    # flexible jobs are submitted held: Slurm would start them before the adapter sees them otherwise
    flex = sbatch(cluster, "-t", "30", "--hold", "--comment=flex kw=5")
    ckpt = sbatch(cluster, "-t", "30", "--hold", "--requeue", "--comment=flex ckpt kw=5")
    quick = sbatch(cluster, "-t", "5", "--comment=flex kw=2", cmd="sleep 1")  # runs at once (not held), finishes
    assert wait_for(lambda: squeue(cluster)[other].state == "RUNNING")
    other_before = squeue(cluster)[other]
    assert wait_for(lambda: squeue(cluster)[quick].state == "COMPLETED")

    # 1. night: both flexible jobs are adopted and deferred to the first green slot (3 h from this hour's start)
    first = adapter.step()
    assert first.mode == "budget" and first.flexible == 2
    assert sorted(ctl.of("compute_hold")) == sorted([flex, ckpt])  # the adoptions
    green_at = time.time() // HOUR * HOUR + 3 * HOUR
    q = squeue(cluster)
    for jid in (flex, ckpt):
        j = q[jid]
        assert j.state == "PENDING" and not j.held and j.eligible_epoch_s == pytest.approx(green_at, abs=1.0), j
    assert sorted(ctl.of("compute_begin")) == sorted([flex, ckpt])
    assert q[other_held].reason == "JobHeldUser" and q[other].state == "RUNNING"
    assert adapter.step().outcomes == []  # nothing changed: nothing to do

    # a flexible job its owner holds after the adapter has seen it keeps its owner's hold
    subprocess.run(["scontrol", "uhold", flex], env={**os.environ, **cluster}, check=True)
    assert adapter.step().outcomes == [] and squeue(cluster)[flex].reason == "JobHeldUser"
    subprocess.run(["scontrol", "release", flex], env={**os.environ, **cluster}, check=True)

    # 2. the sun is up now: the begin times the adapter set move to now and the jobs start
    ctl.pv_kw[:] = 100.0
    assert [o.action.kind for o in adapter.step().outcomes] == ["begin", "begin"]
    assert wait_for(lambda: all(squeue(cluster)[j].state == "RUNNING" for j in (flex, ckpt)))

    # 3. outage with the battery at its reserve: red; the checkpointable job is requeued held, the other runs on
    time.sleep(2.0)  # a run of a few seconds, for the runs file
    ctl.state.update(grid_ok=False, soc_frac=0.35)
    rep = adapter.step()
    assert [(o.action.kind, o.action.job_id, o.ok) for o in rep.outcomes] == [("requeue", ckpt, True)]
    assert wait_for(lambda: squeue(cluster)[ckpt].held)
    q = squeue(cluster)
    assert q[flex].state == "RUNNING" and q[other].state == "RUNNING" and q[other_held].reason == "JobHeldUser"
    assert ctl.of("compute_requeue") == [ckpt] and "battery_reserve" in ctl.events[-1][1]

    # 4. the controller goes away: after fail_open_s the adapter releases its own hold, not the owner's
    ctl.down = True
    assert adapter.step().mode == "stale_budget"
    clock_offset[0] = 200.0
    rep = adapter.step()
    assert rep.mode == "fail_open" and [(o.action.kind, o.action.job_id) for o in rep.outcomes] == [("release", ckpt)]
    assert wait_for(lambda: not squeue(cluster)[ckpt].held)
    assert squeue(cluster)[other_held].reason == "JobHeldUser"
    ctl.down = False
    adapter.step()
    kinds = [k for k, _, _ in ctl.events]
    assert "compute_alarm" in kinds and kinds[-1] in (
        "compute_start",
        "compute_begin",
        "compute_release",
        "compute_hold",
    )

    # the runs file: the finished run and the run the requeue ended, with their actual times, as the
    # per-job carbon export reads a jobs file
    from islandgrid.carbon.jobs import read_jobs

    runs = read_jobs(tmp_path / "runs.csv", "Asia/Shanghai").set_index("job_id")
    assert set(runs.index) == {quick, ckpt}
    assert (runs.loc[quick, "end"] - runs.loc[quick, "start"]).total_seconds() == pytest.approx(1.0, abs=2.0)
    assert runs.loc[quick, "kw"] == 2.0 and runs.loc[ckpt, "kw"] == 5.0

    # never touched: the job not marked flexible kept its submission, begin time and state
    after = squeue(cluster)[other]
    assert (after.submit_epoch_s, after.state, after.reason) == (other_before.submit_epoch_s, "RUNNING", "None")
    assert all(str(d.get("job_id")) not in (other, other_held) for _, _, d in ctl.events)
    subprocess.run(["scancel", other, other_held, flex, ckpt], env={**os.environ, **cluster}, check=False)
    assert not list(Path.cwd().glob("slurm-*.out"))


def test_the_command_against_a_live_controller_and_a_real_slurm(cluster: dict[str, str], tmp_path: Path) -> None:
    """End to end: `islandgrid serve --twin` (its clock is now), `islandgrid compute slurm --once`, a real Slurm."""
    import httpx
    from typer.testing import CliRunner

    from islandgrid.cli.main import app as cli_app

    root = Path(__file__).resolve().parents[1]
    token = tmp_path / "token.txt"
    token.write_text("e2e-token-0123456789abcdef\n")
    token.chmod(0o600)
    port = _free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "islandgrid.cli.main", "serve", str(root / "examples" / "horinger-ai-room.toml"),
         "--twin", "--port", str(port), "--token-file", str(token)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    flex = sbatch(cluster, "-t", "60", "--hold", "--comment=flex kw=1")
    other = sbatch(cluster, "-t", "60")
    try:
        assert wait_for(lambda: _answers(url), timeout_s=120.0), "the controller did not come up"
        r = CliRunner().invoke(
            cli_app,
            ["compute", "slurm", "--api", url, "--token-file", str(token), "--slurm-conf", cluster["SLURM_CONF"],
             "--state-file", str(tmp_path / "state.json"), "--once"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "signal " in r.output and f"\n│ {flex} " in r.output, r.output
        q = squeue(cluster)
        assert not q[flex].held  # released now, or at a begin time in the next 48 h
        events = httpx.get(f"{url}/api/events", params={"limit": 100}).json()
        mine = [e for e in events if e["kind"].startswith("compute_") and e["data"].get("job_id") == flex]
        assert {e["kind"] for e in mine} >= {"compute_hold", "compute_release"}  # adopted, then released
        assert all(e["data"].get("job_id") != other for e in events)
    finally:
        serve.terminate()
        serve.wait(30)
        subprocess.run(["scancel", flex, other], env={**os.environ, **cluster}, check=False)


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/api/compute/signal", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
