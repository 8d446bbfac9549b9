"""Restart on an existing ledger (issue 9 §2): ``serve`` resumes after the ledger's last record (or refuses a
``--start`` before it, exit 2), and a ledger error is an alarm, not only a log line."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from islandgrid.cli.main import app as cli_app
from islandgrid.controller.metering import LedgerSink
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.twin.rig import SteppedRig
from test_api_serve import SITE, Running
from test_hil_helpers import fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _ledger_ahead_of_now(horinger, inputs, path: Path) -> float:
    """A ledger whose records run an hour ahead of the wall clock (a twin ran at --speed 60 before);
    returns where its last record ends [UNIX s]."""
    start = pd.Timestamp.now(tz=horinger.location.tz).floor("min") + pd.Timedelta(hours=1)
    sink = LedgerSink(str(path))
    try:
        rig = SteppedRig(fast_site(horinger, fast_loop_s=5.0), inputs, start.isoformat(), sink=sink)
        run_for(rig, 200)
        assert rig.service.ledger_rows >= 2 and rig.service.ledger_errors == 0
        tip = read_records(sink.store).index[-1]
    finally:
        sink.close()
    return tip.timestamp() + 60


def test_a_start_before_the_ledgers_last_record_is_refused(horinger, inputs, tmp_path: Path):
    db = tmp_path / "ledger.sqlite"
    end_s = _ledger_ahead_of_now(horinger, inputs, db)
    before = db.read_bytes()
    start = pd.Timestamp.now(tz=horinger.location.tz).strftime("%Y-%m-%dT%H:%M")
    args = ["serve", str(SITE), "--twin", "--db", str(db), "--start", start, "--port", "0"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    end = pd.Timestamp(end_s, unit="s", tz="UTC").tz_convert(horinger.location.tz)
    assert "--start" in out and end.isoformat() in out and "islandgrid serving" not in out
    assert db.read_bytes() == before


def test_serve_resumes_after_the_ledgers_last_record(horinger, inputs, tmp_path: Path):
    """No --start: the twin starts where the ledger ends, so the metered rows are appended (not refused
    every minute while the dashboard says 'live, 0 records')."""
    db = tmp_path / "ledger.sqlite"
    end_s = _ledger_ahead_of_now(horinger, inputs, db)
    n0 = verify_chain_n(db)
    running = Running(twin_mode=True, speed=60.0, host="127.0.0.1", port=0, token=None, db=db, start=None).start()
    try:
        deadline = time.monotonic() + 60
        while True:
            st = httpx.get(f"{running.url}/api/status", timeout=10).json()
            if st.get("ledger_rows", 0) >= 2:
                break
            assert time.monotonic() < deadline, st
            time.sleep(0.1)
        assert st["ledger_errors"] == 0 and not [a for a in st["alarms"] if a["kind"] == "ledger_error"]
    finally:
        running.stop()
    sink = LedgerSink(str(db))
    try:
        rec = read_records(sink.store)
        assert verify_chain(sink.store).n_records == len(rec) >= n0 + 2
        assert rec.index[n0].timestamp() >= end_s  # the new rows follow the old tip
    finally:
        sink.close()


def verify_chain_n(db: Path) -> int:
    sink = LedgerSink(str(db))
    try:
        return verify_chain(sink.store).n_records
    finally:
        sink.close()


def test_a_ledger_error_is_an_alarm(horinger, inputs, tmp_path: Path):
    """A controller whose clock is behind the ledger's tip cannot append: the ledger_error alarm is raised
    (and the status says so), and it clears once rows are written again."""
    sink = LedgerSink(str(tmp_path / "ledger.sqlite"))
    try:
        site = fast_site(horinger, fast_loop_s=5.0)
        first = SteppedRig(site, inputs, "2025-05-10 10:00", sink=sink)
        run_for(first, 300)
        again = SteppedRig(site, inputs, "2025-05-10 10:00", sink=sink)  # the twin clock restarted behind
        run_for(again, 150)
        svc = again.service
        st = svc.status()
        assert st["ledger_errors"] >= 1 and st["ledger_rows"] == 0
        alarm = next(a for a in st["alarms"] if a["kind"] == "ledger_error")
        assert alarm["active"] and "does not follow the ledger's last record" in alarm["message"]
        assert "alarm" in svc.event_log.kinds()
        run_for(again, 300)  # past the old tip: rows are appended again, the alarm clears (latched until ack)
        assert svc.ledger_rows >= 1
        alarm = next(a for a in svc.alarms() if a["kind"] == "ledger_error")
        assert not alarm["active"]
    finally:
        sink.close()
