"""Crash safety: SIGKILL a writer in the middle of ledger writes, many times; no committed record is lost.

A warm parent process (imports done, flows loaded, carbon kernel compiled) forks one writer per round,
so that a round costs milliseconds, not an interpreter start. The writer appends small transactions
(1 to 50 rows) of a series it never exhausts (a simulated year, laid end to end), printing ``begin``
before each append and ``commit`` after it returned. The test kills it with SIGKILL at a random moment,
then checks that the chain verifies and that every acknowledged record is there.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import verify_chain

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
ROUNDS = 24
MIN_LIVE_KILLS = 20
MIN_MID_WRITE_KILLS = 5

# The parent forks a writer for every seed read from stdin, then reports how the writer ended.
# Everything a writer needs is loaded before the fork; the writer opens its own connection.
ZYGOTE = r"""
import os, sys
import numpy as np
import pandas as pd
import islandgrid
from islandgrid.ledger import open_ledger

db, site_file, flows_file = sys.argv[1:4]
site = islandgrid.load_site(site_file)
flows = pd.read_pickle(flows_file)
n = len(flows)
step = flows.index[1] - flows.index[0]
dt_s = int(step.total_seconds())
with open_ledger(":memory:") as warm:  # load the compiled carbon kernel before forking
    warm.append_flows(site, flows.iloc[:2], dt_s=dt_s)


def say(text):  # one write(2) of a short line is atomic: a kill never leaves half a line in the pipe
    os.write(1, (text + "\n").encode())


def write(seed):
    rng = np.random.default_rng(seed)
    store = open_ledger(db)
    while True:  # never finishes: the series repeats, one year after the other
        tip = store.tip()
        start = 0 if tip is None else tip.seq + 1
        lap, off = divmod(start, n)
        chunk = flows.iloc[off : min(off + int(rng.integers(1, 51)), n)]
        chunk = chunk.set_axis(chunk.index + lap * n * step)
        last = start + len(chunk) - 1
        say(f"begin {start} {last}")
        store.append_flows(site, chunk, dt_s=dt_s)
        say(f"commit {last}")  # append_flows returned: acknowledged


say("ready")
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            write(int(line))
        finally:
            os._exit(3)  # only reached if the writer failed
    say(f"pid {pid}")
    _, status = os.waitpid(pid, 0)
    say(f"ended {status}")
"""


class _Lines:
    """Lines from a pipe, with a deadline: a stuck writer fails the test with what it said, never hangs it."""

    def __init__(self, fd: int, deadline: float, log: Path) -> None:
        self.fd, self.deadline, self.log = fd, deadline, log
        self.buf = b""
        self.seen: list[str] = []

    def __call__(self) -> str:
        while b"\n" not in self.buf:
            left = self.deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(left, 0.0))
            assert ready, f"no word from the writers in time; last lines {self.seen[-5:]}; stderr {self._err()}"
            chunk = os.read(self.fd, 65536)
            assert chunk, f"the writers' parent died; last lines {self.seen[-5:]}; stderr {self._err()}"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.seen.append(line.decode())
        return self.seen[-1]

    def _err(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""


def test_sigkill_mid_write_loses_no_committed_record(tmp_path: Path, horinger_result: islandgrid.Result) -> None:
    db = tmp_path / "crash.db"
    flows_file = tmp_path / "flows.pkl"
    horinger_result.flows.to_pickle(flows_file)  # simulated once here, not in every writer
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rng = np.random.default_rng(7)
    committed = -1
    live_kills = mid_write_kills = 0
    err_log = tmp_path / "writers.err"
    with open(err_log, "w") as err:
        parent = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(db), str(SITE), str(flows_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
    assert parent.stdin is not None and parent.stdout is not None
    read = _Lines(parent.stdout.fileno(), time.monotonic() + 150.0, err_log)
    pid = None
    try:
        assert read() == "ready"
        for round_ in range(ROUNDS):
            parent.stdin.write(f"{round_}\n".encode())
            parent.stdin.flush()
            # the writer's first "begin" and its parent's "pid" race: take both, in either order
            lines: list[str] = []
            while pid is None or not lines:
                line = read()
                assert not line.startswith("ended"), f"the writer failed at once: {line}; stderr {read._err()}"
                if line.startswith("pid"):
                    pid = int(line.split()[1])
                else:
                    lines.append(line)
            time.sleep(float(rng.uniform(0.0, 0.04)))  # it is writing: kill it at a random moment
            os.kill(pid, signal.SIGKILL)  # not yet reaped (its parent waits for it), so the pid is still its own
            while not (line := read()).startswith("ended"):
                lines.append(line)
            pid = None  # reaped by its parent
            status = int(line.split()[1])
            # it was alive when the signal came (it never returns on its own)
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (status, read._err())
            live_kills += 1
            attempted = committed
            for ln in lines:
                kind, *seqs = ln.split()
                if kind == "commit":
                    committed = max(committed, int(seqs[0]))
                else:
                    attempted = max(attempted, int(seqs[1]))
            mid_write_kills += int(lines[-1].startswith("begin"))
            with open_ledger(db) as store:
                rep = verify_chain(store)  # still verifies after every kill
                tip = store.tip()
            assert tip is not None and tip.seq >= committed  # nothing acknowledged was lost
            assert tip.seq <= attempted  # and nothing appeared that was never written
            assert rep.n_records == tip.seq + 1
            committed = tip.seq  # a write that finished but was not acknowledged is committed too
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            parent.stdin.close()
        try:
            parent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            parent.kill()
            parent.wait()
        parent.stdout.close()
    print(f"{live_kills} kills of a live writer, {mid_write_kills} inside append_flows, {committed + 1} records")
    assert live_kills >= MIN_LIVE_KILLS
    assert mid_write_kills >= MIN_MID_WRITE_KILLS  # most kills land inside append_flows
    assert committed >= ROUNDS  # the writers got somewhere
