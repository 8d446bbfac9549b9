"""Re-forging: a chain rewritten with other factors (or other derived CO2) and recomputed hashes fails verify."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import islandgrid
from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.backend import SITE_STRIDE
from islandgrid.ledger.batch import site_grid_factor
from islandgrid.ledger.record import FLAG_SIMULATED, RECORD_DTYPE, genesis_hash
from islandgrid.ledger.verify import read_records
from islandgrid.site.spec import Site

runner = CliRunner()
N = 400  # records
FORGED = 380  # records whose grid factor is halved


@pytest.fixture(scope="module")
def flows(horinger_result: islandgrid.Result):
    return horinger_result.flows.iloc[24 * 150 : 24 * 150 + N]


def test_a_reforged_grid_factor_fails_verify(tmp_path: Path, horinger: Site, flows) -> None:
    """The issue's case: half the grid factor in 380 records, carbon flow and every hash recomputed."""
    db = tmp_path / "forged.db"
    grid = site_grid_factor(horinger, flows.index).copy()
    grid[N - FORGED :] *= 0.5
    with open_ledger(db) as store:  # the store itself writes the forgery: every hash and figure consistent
        store.append_flows(horinger, flows, quality="estimated", grid_co2_kg_per_kwh=grid, flags=FLAG_SIMULATED)
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
    assert r.exit_code == 1, r.output
    assert f"seq {N - FORGED}" in r.output and "e_grid_kg_per_kwh" in r.output


def test_the_honest_chain_verifies(tmp_path: Path, horinger: Site, flows) -> None:
    db = tmp_path / "honest.db"
    with open_ledger(db) as store:
        store.append_flows(horinger, flows, quality="estimated", flags=FLAG_SIMULATED)
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
    assert r.exit_code == 0, r.output


def _rewrite(db: Path, seq: int, edit) -> None:
    """Apply ``edit`` to record ``seq``'s payload, then recompute every hash after it (a forger's rewrite)."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DROP TRIGGER records_no_update")
    info = con.execute("SELECT info FROM sites").fetchone()[0]
    sid = con.execute("SELECT site_id FROM sites").fetchone()[0]
    h = genesis_hash(sid, info)
    for key, payload in con.execute("SELECT key, payload FROM records ORDER BY key").fetchall():
        rec = np.frombuffer(payload, dtype=RECORD_DTYPE).copy()
        if key == SITE_STRIDE + seq:
            edit(rec)
        h = hashlib.sha256(h + rec.tobytes()).digest()
        con.execute("UPDATE records SET payload = ?, hash = ? WHERE key = ?", (rec.tobytes(), h, key))
    con.close()


@pytest.fixture
def honest(tmp_path: Path, horinger: Site, flows) -> Path:
    db = tmp_path / "l.db"
    with open_ledger(db) as store:
        store.append_flows(horinger, flows.iloc[:48], quality="estimated", flags=FLAG_SIMULATED)
    return db


def test_a_forged_derived_co2_fails_verify(honest: Path) -> None:
    """Grid CO2 nudged by 1e-12 (inside the 1e-9 conservation check) with every hash recomputed."""
    with open_ledger(honest, readonly=True) as store:
        seq = int(np.flatnonzero(read_records(store)["grid_co2_kg"].to_numpy() > 0)[0])

    def edit(rec: np.ndarray) -> None:
        assert rec["grid_co2_kg"][0] > 0
        rec["grid_co2_kg"] *= 1 + 1e-12

    _rewrite(honest, seq, edit)
    r = runner.invoke(app, ["ledger", "verify", "--db", str(honest)])
    assert r.exit_code == 1, r.output
    assert f"seq {seq}" in r.output and "grid_co2_kg" in r.output


def test_simulated_cannot_become_measured(honest: Path) -> None:
    """Quality and flags are in the hashed payload: a relabelled record breaks the chain."""
    con = sqlite3.connect(honest, isolation_level=None)
    con.execute("DROP TRIGGER records_no_update")
    payload = con.execute("SELECT payload FROM records WHERE key = ?", (SITE_STRIDE + 5,)).fetchone()[0]
    rec = np.frombuffer(payload, dtype=RECORD_DTYPE).copy()
    assert rec["flags"][0] & FLAG_SIMULATED and rec["quality"][0] == 1
    rec["flags"] &= ~np.uint8(FLAG_SIMULATED)
    rec["quality"] = 0
    con.execute("UPDATE records SET payload = ? WHERE key = ?", (rec.tobytes(), SITE_STRIDE + 5))
    con.close()
    r = runner.invoke(app, ["ledger", "verify", "--db", str(honest)])
    assert r.exit_code == 1 and "seq 5" in r.output and "hash mismatch" in r.output


@pytest.fixture
def published(honest: Path) -> str:
    """The honest chain's tip as published: ``SEQ:HASH``."""
    with open_ledger(honest, readonly=True) as store:
        tip = store.tip()
    assert tip is not None and tip.seq == 47
    return f"{tip.seq}:{tip.hash}"


def _verify_tip(db: Path, tip: str):
    return runner.invoke(app, ["ledger", "verify", "--db", str(db), "--tip", tip])


def test_tip_with_seq_tells_truncation(tmp_path: Path, horinger: Site, flows, published: str, honest: Path) -> None:
    assert _verify_tip(honest, published).exit_code == 0
    db = tmp_path / "short.db"  # the same records, the last 8 never written: a valid shorter chain
    with open_ledger(db) as store:
        store.append_flows(horinger, flows.iloc[:40], quality="estimated", flags=FLAG_SIMULATED)
    r = _verify_tip(db, published)
    assert r.exit_code == 1 and "truncated: 8 records missing after seq 39" in r.output, r.output
    r = _verify_tip(db, published.split(":")[1])  # hash only: the best it can say
    assert r.exit_code == 1 and "tip not in chain: truncated or forked" in r.output, r.output


def test_tip_with_seq_tells_a_fork(tmp_path: Path, horinger: Site, flows, published: str) -> None:
    db = tmp_path / "fork.db"  # as long as the published chain, written differently from seq 20 on
    with open_ledger(db) as store:
        store.append_flows(horinger, flows.iloc[:20], quality="estimated", flags=FLAG_SIMULATED)
        store.append_flows(horinger, flows.iloc[20:48], quality="measured")
    r = _verify_tip(db, published)
    assert r.exit_code == 1 and "forked at seq 47" in r.output and "truncated" not in r.output, r.output
    r = _verify_tip(db, published.split(":")[1])
    assert r.exit_code == 1 and "tip not in chain: truncated or forked" in r.output, r.output


def test_tip_with_a_bad_seq_is_bad_input(honest: Path, published: str) -> None:
    r = _verify_tip(honest, "x" + published)
    assert r.exit_code == 2 and "--tip" in r.output
