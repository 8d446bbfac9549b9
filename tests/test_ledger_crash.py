"""Crash safety: SIGKILL a writer in the middle of ledger writes, many times; no committed record is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import verify_chain

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys, islandgrid
from islandgrid.ledger import open_ledger
site = islandgrid.load_site(sys.argv[2])
flows = islandgrid.simulate(site, baseline=False).flows
store = open_ledger(sys.argv[1])
while True:
    tip = store.tip()
    start = 0 if tip is None else tip.seq + 1
    chunk = flows.iloc[start % 8000 : start % 8000 + 500]
    if start >= 8000:
        break
    store.append_flows(site, chunk)
    print(store.tip().seq, flush=True)   # committed: append_flows returned
"""


def test_sigkill_mid_write_loses_no_committed_record(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    rng = np.random.default_rng(7)
    committed = -1
    kills = 0
    for _ in range(20):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(ROOT / "examples" / "horinger-ai-room.toml")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None
        first = p.stdout.readline()  # wait until it writes, then kill at a random moment mid-stream
        if first:
            committed = max(committed, int(first))
        time.sleep(float(rng.uniform(0.0, 0.05)))
        os.kill(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        kills += 1
        for line in out.split():
            committed = max(committed, int(line))
        with open_ledger(db) as store:
            rep = verify_chain(store)  # still verifies after every kill
            tip = store.tip()
        assert tip is not None and tip.seq >= committed  # nothing acknowledged was lost
        assert rep.n_records == tip.seq + 1
        if tip.seq >= 7999:
            break
    assert kills >= 5
