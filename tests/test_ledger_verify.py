"""Tamper evidence, meter import, export and the ledger CLI (exit codes, nothing half-written)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from islandgrid.carbon.flow import CarbonState
from islandgrid.cli.main import app
from islandgrid.errors import ChainBrokenError
from islandgrid.ledger import open_ledger, verify
from islandgrid.ledger.backend import SITE_STRIDE
from islandgrid.ledger.record import RECORD_DTYPE, RECORD_SIZE, genesis_hash
from islandgrid.ledger.store import state_json
from islandgrid.ledger.verify import read_records, verify_chain

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
METERS = ROOT / "examples" / "horinger-meters.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ledger") / "l.db"
    r = runner.invoke(app, ["ledger", "import", str(METERS), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 0, r.output
    return db


def _copy(db: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy.db"
    with open_ledger(db) as s:  # checkpoint the WAL into the file
        s.backend._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    shutil.copy(db, out)
    return out


def _raw(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DROP TRIGGER IF EXISTS records_no_update")
    con.execute("DROP TRIGGER IF EXISTS records_no_delete")
    return con


def test_intact_chain_verifies_and_exits_0(built: Path) -> None:
    r = runner.invoke(app, ["ledger", "verify", "--db", str(built)])
    assert r.exit_code == 0, r.output
    assert "intact" in r.output
    with open_ledger(built) as s:
        rep = verify_chain(s)
    assert rep.n_records == 168 and rep.gaps == 0


def test_triggers_refuse_update_and_delete(built: Path, tmp_path: Path) -> None:
    db = _copy(built, tmp_path)
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM records WHERE key = ?", (SITE_STRIDE + 3,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE records SET ts = 0")


@settings(max_examples=40, deadline=None)
@given(seq=st.integers(0, 167), byte=st.integers(0, RECORD_SIZE - 1), bit=st.integers(0, 7))
def test_any_flipped_payload_bit_is_found(
    built: Path, tmp_path_factory: pytest.TempPathFactory, seq, byte, bit
) -> None:
    db = _copy(built, tmp_path_factory.mktemp("t"))
    con = _raw(db)
    key = SITE_STRIDE + seq
    (payload,) = con.execute("SELECT payload FROM records WHERE key = ?", (key,)).fetchone()
    b = bytearray(payload)
    b[byte] ^= 1 << bit
    con.execute("UPDATE records SET payload = ? WHERE key = ?", (bytes(b), key))
    con.close()
    with open_ledger(db) as s, pytest.raises(ChainBrokenError, match=f"seq {seq}"):
        verify_chain(s)


@pytest.mark.parametrize("attack", ["delete", "insert", "reorder", "hash"])
def test_deleted_inserted_reordered_records_are_named(built: Path, tmp_path: Path, attack: str) -> None:
    db = _copy(built, tmp_path)
    con = _raw(db)
    k = SITE_STRIDE
    if attack == "delete":
        con.execute("DELETE FROM records WHERE key = ?", (k + 50,))
    elif attack == "insert":  # shift the tail up by one and insert a copy at 50
        rows = con.execute("SELECT key, ts, payload, hash FROM records WHERE key >= ? ORDER BY key DESC", (k + 50,))
        moved = rows.fetchall()
        for key, *_ in moved:
            con.execute("UPDATE records SET key = ? WHERE key = ?", (key + 1, key))
        con.execute("INSERT INTO records VALUES (?, ?, ?, ?)", (k + 50, *moved[-1][1:]))
    elif attack == "reorder":
        a = con.execute("SELECT ts, payload, hash FROM records WHERE key = ?", (k + 50,)).fetchone()
        b = con.execute("SELECT ts, payload, hash FROM records WHERE key = ?", (k + 51,)).fetchone()
        con.execute("UPDATE records SET ts = ?, payload = ?, hash = ? WHERE key = ?", (*b, k + 50))
        con.execute("UPDATE records SET ts = ?, payload = ?, hash = ? WHERE key = ?", (*a, k + 51))
    else:
        con.execute("UPDATE records SET hash = ? WHERE key = ?", (b"\0" * 32, k + 50))
    con.close()
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
    assert r.exit_code == 1
    # the copy inserted at 50 pushes the original down: the original still chains, the copy at 51 does not
    assert f"seq {51 if attack == 'insert' else 50}" in r.output


def _forge(db: Path, seq: int, edit) -> None:
    """Change record ``seq``'s payload and re-hash the chain from there on (what a forger with write access does)."""
    con = _raw(db)
    site_id, info = con.execute("SELECT site_id, info FROM sites").fetchone()
    rows = con.execute("SELECT key, payload FROM records ORDER BY key").fetchall()
    h = genesis_hash(site_id, info)  # format 2: the genesis carries the site's stored info
    for i, (key, payload) in enumerate(rows):
        if i == seq:
            rec = np.frombuffer(payload, dtype=RECORD_DTYPE).copy()
            edit(rec)
            payload = rec.tobytes()
            con.execute("UPDATE records SET payload = ? WHERE key = ?", (payload, key))
        h = hashlib.sha256(h + payload).digest()
        if i >= seq:
            con.execute("UPDATE records SET hash = ? WHERE key = ?", (h, key))
    con.close()


@pytest.mark.parametrize("slice_size", [5, 7, 10_000])
def test_checks_carry_across_verify_slices(built: Path, tmp_path: Path, monkeypatch, slice_size: int) -> None:
    """Verification reads the chain in slices: what spans two slices (battery stock, interval order) is still checked,
    and every finding names the same record as one pass over the whole chain."""
    monkeypatch.setattr(verify, "VERIFY_SLICE", slice_size)
    with open_ledger(built) as s:
        whole = verify_chain(s)
    assert whole.n_records == 168
    cases = [
        ("flip", 50, "hash mismatch"),
        ("stock", 50, "carbon not conserved"),  # 50 starts a slice of 5 and of 10: the stock crosses the boundary
        ("stock", 49, "carbon not conserved"),
        ("early", 50, "starts before the previous interval ends"),
        ("late", 35, "not flagged after_gap"),  # 35 starts a slice of 5 and of 7
    ]
    for kind, seq, message in cases:
        (tmp_path / f"{kind}{seq}").mkdir()
        db = _copy(built, tmp_path / f"{kind}{seq}")
        if kind == "flip":
            con = _raw(db)
            (payload,) = con.execute("SELECT payload FROM records WHERE key = ?", (SITE_STRIDE + seq,)).fetchone()
            b = bytearray(payload)
            b[300] ^= 4
            con.execute("UPDATE records SET payload = ? WHERE key = ?", (bytes(b), SITE_STRIDE + seq))
            con.close()
        elif kind == "stock":
            _forge(db, seq, lambda r: r.__setitem__("bat_co2_stock_kg", r["bat_co2_stock_kg"] + 0.5))
        elif kind == "early":
            _forge(db, seq, lambda r: r.__setitem__("ts_s", r["ts_s"] - 600))
        else:
            _forge(db, seq, lambda r: r.__setitem__("ts_s", r["ts_s"] + 3600))
        if kind in ("early", "late"):  # keep the row's ts column in step with the payload
            con = _raw(db)
            (payload,) = con.execute("SELECT payload FROM records WHERE key = ?", (SITE_STRIDE + seq,)).fetchone()
            ts = int(np.frombuffer(payload, dtype=RECORD_DTYPE)["ts_s"][0])
            con.execute("UPDATE records SET ts = ? WHERE key = ?", (ts, SITE_STRIDE + seq))
            con.close()
        with open_ledger(db) as s, pytest.raises(ChainBrokenError, match=f"seq {seq} .*{message}"):
            verify_chain(s)


def test_truncation_found_with_the_published_tip(built: Path, tmp_path: Path) -> None:
    with open_ledger(built) as s:
        tip = s.tip()
    assert tip is not None
    db = _copy(built, tmp_path)
    con = _raw(db)
    con.execute("DELETE FROM records WHERE key > ?", (SITE_STRIDE + 160,))
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
    assert r.exit_code == 1 and "battery state" in r.output  # the stored state still belongs to seq 167
    with open_ledger(db) as s:  # a careful forger also writes the state after seq 160 (one pool parcel)
        v = s.tip().values  # type: ignore[union-attr]
    parcel = tuple(
        v[k] for k in ("bat_energy_kwh", "bat_co2_stock_kg", "bat_pv_frac", "bat_grid_frac", "bat_diesel_frac")
    )
    con.execute("UPDATE battery_state SET seq = 160, state = ?", (state_json(CarbonState((parcel,))),))
    con.close()
    assert runner.invoke(app, ["ledger", "verify", "--db", str(db)]).exit_code == 0  # a shorter valid chain
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db), "--tip", tip.hash])
    assert r.exit_code == 1 and "truncated" in r.output


def test_import_fills_gaps_conservatively_and_flags(built: Path) -> None:
    """The example file lacks two intervals (lines dropped on purpose): filled, 'default', fossil factor."""
    with open_ledger(built) as s:
        rec = read_records(s)
    filled = rec[(rec["flags"] & 1).astype(bool)]
    assert len(filled) == 2
    assert (filled["quality"] == "default").all()
    # MEE 2023 national fossil-only factor 0.8273 kg/kWh (MEE & NBS 2023) > the site's 0.6849: the higher one
    assert filled["e_grid_kg_per_kwh"].tolist() == [0.8273, 0.8273]
    neighbours = rec["load_served_kwh"].iloc[[29, 32]].max()
    assert filled["load_served_kwh"].tolist() == [neighbours, neighbours]
    assert (rec["quality"] == "estimated").sum() == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda df: df.assign(grid_in_kwh=df["grid_in_kwh"].where(df.index != 4, -5.0)), "line 6: grid_in_kwh"),
        (lambda df: df.iloc[[0, 2, 1, *range(3, len(df))]], "line 4: timestamp"),
        (lambda df: df.assign(load_kwh=df["load_kwh"].astype(str).where(df.index != 7, "abc")), "line 9"),
        (lambda df: df.drop(columns=["fuel_l"]), "missing columns"),
        (lambda df: df.assign(load_kwh=df["load_kwh"].where(df.index != 10, 500.0)), "line 12: sources"),
        (lambda df: df.assign(quality=df["quality"].where(df.index != 2, "guessed")), "line 4: quality"),
    ],
)
def test_bad_meter_files_exit_2_and_leave_the_ledger_untouched(built: Path, tmp_path: Path, edit, message) -> None:
    db = _copy(built, tmp_path)
    before = db.read_bytes()
    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(METERS)).to_csv(bad, index=False)
    r = runner.invoke(app, ["ledger", "import", str(bad), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 2, r.output
    assert message in r.output.replace("\n", " ")
    assert "Traceback" not in r.output
    assert db.read_bytes() == before
    fresh = tmp_path / "fresh.db"
    r = runner.invoke(app, ["ledger", "import", str(bad), "--site", str(SITE), "--db", str(fresh)])
    assert r.exit_code == 2 and not fresh.exists()  # validated before the ledger is created


def test_export_csv_and_parquet_agree_to_the_gram(built: Path, tmp_path: Path) -> None:
    for name in ("r.csv", "r.parquet"):
        out = tmp_path / name
        assert runner.invoke(app, ["ledger", "export", "--db", str(built), "--out", str(out)]).exit_code == 0
        df = pd.read_csv(out) if name.endswith("csv") else pd.read_parquet(out)
        with open_ledger(built) as s:
            rec = read_records(s)
        assert len(df) == len(rec)
        np.testing.assert_array_equal(df["load_co2_kg"].to_numpy(), rec["load_co2_kg"].to_numpy())
        assert df["hash"].iloc[-1] == rec["hash"].iloc[-1]
    r = runner.invoke(app, ["ledger", "export", "--db", str(built), "--out", str(tmp_path / "x.json")])
    assert r.exit_code == 2


def test_missing_ledger_exits_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["ledger", "verify", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 2 and not (tmp_path / "none.db").exists()


def test_factors_command_lists_provenance() -> None:
    r = runner.invoke(app, ["factors", "--kind", "residual"])
    assert r.exit_code == 0
    assert "0.6096" in r.output and "0.5856" in r.output and "MEE/NBS" in r.output


@pytest.mark.parametrize("command", [["ledger", "verify"], ["ledger", "export", "--out", "x.csv"]])
def test_a_file_that_is_not_a_ledger_is_bad_input(tmp_path: Path, command: list[str]) -> None:
    """A wrong file given as --db: exit 2, a message naming the file and the fix, the file untouched."""
    db = tmp_path / "notes.db"
    db.write_bytes(b"these are my notes, not a database\n" * 100)
    before = db.read_bytes()
    args = [*command[:2], "--db", str(db), *command[2:]]
    if "--out" in args:
        args[args.index("--out") + 1] = str(tmp_path / "x.csv")
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "not a usable ledger database" in r.output and "Fix:" in r.output and "notes.db" in r.output
    assert db.read_bytes() == before
    assert not (tmp_path / "x.csv").exists()
