"""The scenario runner on a real Dask cluster: a scheduler and two workers as separate processes on loopback.

Asserts the cluster run equals the local run bit for bit (through the API and through the CLI's
``--cluster``), and that a worker killed mid-run is survived with the same results.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import islandgrid
from islandgrid.scenarios.runner import run_scenarios
from islandgrid.scenarios.study import own_design, study_inputs
from islandgrid.site.spec import Site
from islandgrid.sizing.designs import param_rows

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DASK = Path(sys.executable).with_name("dask")
SRC = Path(islandgrid.__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_workers(addr: str, n: int, timeout_s: float = 60.0) -> None:
    from distributed import Client

    with Client(addr, timeout="30s") as c:
        c.wait_for_workers(n, timeout=timeout_s)


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, n_workers: int) -> None:
        self.port = _free_port()
        self.addr = f"tcp://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.sched = subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.workers = [self._worker() for _ in range(n_workers)]

    def _worker(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(DASK), "worker", self.addr, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
             "--no-nanny", "--death-timeout", "60"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        """Kill the processes (a graceful worker close waits for the scheduler's timeouts: tens of seconds)."""
        for p in [*self.workers, self.sched]:
            if p.poll() is None:
                p.kill()
        for p in [*self.workers, self.sched]:
            p.wait()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not DASK.exists():
        pytest.fail(f"the dask command is missing beside {sys.executable}: install dask[distributed]")
    c = Cluster(2)
    try:
        _wait_workers(c.addr, 2)
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def study(horinger: Site):  # type: ignore[no-untyped-def]
    site_x, _, base, base_row = study_inputs(horinger)
    return base, np.vstack([param_rows(site_x, own_design(horinger)), base_row])


def test_cluster_equals_local_bit_for_bit(cluster: Cluster, study) -> None:  # type: ignore[no-untyped-def]
    base, params = study
    local = run_scenarios(base, params, 40, seed=9, batch=5)
    remote = run_scenarios(base, params, 40, seed=9, batch=5, cluster=cluster.addr)
    assert np.array_equal(local, remote)


def test_cli_cluster_option_and_env(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from islandgrid.cli.main import app

    site = str(EXAMPLES / "horinger-ai-room.toml")
    runner = CliRunner()
    r1 = runner.invoke(app, ["simulate", site, "--scenarios", "30", "--out", str(tmp_path / "local")])
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(
        app, ["simulate", site, "--scenarios", "30", "--cluster", cluster.addr, "--out", str(tmp_path / "remote")]
    )
    assert r2.exit_code == 0, r2.output
    monkeypatch.setenv("ISLANDGRID_DASK_SCHEDULER", cluster.addr)
    r3 = runner.invoke(app, ["simulate", site, "--scenarios", "30", "--out", str(tmp_path / "env")])
    assert r3.exit_code == 0, r3.output
    a = pd.read_parquet(tmp_path / "local" / "scenarios.parquet")
    for other in ("remote", "env"):
        pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / other / "scenarios.parquet"), check_exact=True)


def test_unreachable_cluster_is_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from islandgrid.cli.main import app

    addr = f"tcp://127.0.0.1:{_free_port()}"
    r = CliRunner().invoke(
        app, ["simulate", str(EXAMPLES / "horinger-ai-room.toml"), "--scenarios", "5", "--cluster", addr]
    )
    assert r.exit_code == 2
    assert "--cluster" in r.output
    r = CliRunner().invoke(
        app, ["simulate", str(EXAMPLES / "horinger-ai-room.toml"), "--scenarios", "5", "--cluster", "localhost"]
    )
    assert r.exit_code == 2 and "tcp://" in r.output


def test_worker_killed_mid_run_same_results(study) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL one of two workers after the first batch returns: its tasks rerun on the other, same array."""
    base, params = study
    params = np.tile(params, (30, 1))  # 60 design rows: each 2-scenario task runs tens of ms
    local = run_scenarios(base, params, 48, seed=4, batch=2)
    c = Cluster(2)
    try:
        _wait_workers(c.addr, 2)
        first = threading.Event()
        seen: list[int] = []

        def progress(done: int, total: int) -> None:
            seen.append(done)
            first.set()

        box: dict[str, np.ndarray] = {}
        t = threading.Thread(
            target=lambda: box.setdefault(
                "r", run_scenarios(base, params, 48, seed=4, batch=2, cluster=c.addr, progress=progress)
            )
        )
        t.start()
        assert first.wait(120)
        victim = c.workers[0]
        os.kill(victim.pid, signal.SIGKILL)
        at_kill = seen[-1]
        victim.wait(30)
        t.join(300)
        assert not t.is_alive()
        assert at_kill < 40  # killed while tasks were left
        assert np.array_equal(box["r"], local)
    finally:
        c.stop()
        time.sleep(0.1)
