"""The tamper catalogue: a 1-byte change to any row of any table of a ledger is found by ``ledger verify``.

The tables are enumerated from ``sqlite_master``, so a table added later fails this test until it is
checked by verify or listed in :data:`CANNOT_CHANGE_A_FIGURE` with the reason given in docs/ledger.md.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import click.testing
import numpy as np
import pandas as pd
import pytest
import typer.main
from typer.testing import CliRunner

import islandgrid
from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.record import RECORD_DTYPE, genesis_hash
from islandgrid.ledger.signing import default_key_dir, keygen
from islandgrid.ledger.verify import verify_chain
from islandgrid.site.spec import Site

runner = CliRunner()
#: Tables whose rows cannot change a figure (docs/ledger.md says why); none today: verify checks every table.
CANNOT_CHANGE_A_FIGURE: dict[str, str] = {}
#: Bytes changed per text or blob value at most (spread over the value; short values: every byte).
POSITIONS = 24


@pytest.fixture(scope="module")
def week(horinger: Site) -> pd.DataFrame:
    return islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 150 : 24 * 157]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, horinger: Site, week: pd.DataFrame) -> Path:
    """Two chains: the seed site (pool rule) and a FIFO copy (a battery state of several parcels)."""
    db = tmp_path_factory.mktemp("tamper") / "ledger.db"
    fifo = horinger.model_copy(update={"carbon": horinger.carbon.model_copy(update={"battery_rule": "fifo"})})
    for sid in ("pool-room", "fifo-room"):  # both tips signed: table tip_signatures has a row per chain
        keygen(default_key_dir(db), sid)
    with open_ledger(db) as store:
        store.append_flows(horinger, week.iloc[:100], quality="measured", site_id="pool-room")
        store.append_flows(horinger, week.iloc[100:], quality="measured", site_id="pool-room")
        store.append_flows(fifo, week, quality="estimated", site_id="fifo-room")
        state = store.backend.get_state("fifo-room")
        assert state is not None and state[1].count("[") > 2  # several parcels
        assert len(store.backend.signatures()) == 2
    assert runner.invoke(app, ["ledger", "verify", "--db", str(db)]).exit_code == 0
    return db


def _positions(n: int) -> list[int]:
    return (
        list(range(n)) if n <= POSITIONS else sorted({round(i * (n - 1) / (POSITIONS - 1)) for i in range(POSITIONS)})
    )


def _one_byte_changes(value: object) -> Iterator[object]:
    """Values differing from ``value`` in one byte (text: one character; integer: one byte of its 8)."""
    if isinstance(value, bytes):
        for i in _positions(len(value)):
            b = bytearray(value)
            b[i] ^= 0x01
            yield bytes(b)
    elif isinstance(value, str):
        for i in _positions(len(value)):
            c = value[i]
            new = str((int(c) + 1) % 10) if c.isdigit() else chr(ord(c) ^ 0x01)
            yield value[:i] + new + value[i + 1 :]
    elif isinstance(value, int):
        for k in range(8):  # the first byte that gives a free key (a primary key must stay unique)
            yield value ^ (1 << (8 * k))
    else:  # pragma: no cover - the ledger stores no other type
        raise AssertionError(f"unexpected value {value!r}")


def _rows(con: sqlite3.Connection, table: str) -> list[int]:
    rowids = [int(r[0]) for r in con.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
    if table != "records":
        return rowids
    per_site: dict[int, list[int]] = {}
    for r in rowids:
        per_site.setdefault(r >> 40, []).append(r)
    return [k[i] for k in per_site.values() for i in sorted({0, 1, len(k) // 2, len(k) - 1})]


def test_every_table_is_checked_or_listed(ledger: Path) -> None:
    con = sqlite3.connect(ledger)
    tables = {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    checked = {"ledger_meta", "sites", "factor_sets", "records", "battery_state", "tip_signatures"}
    assert tables == checked | set(CANNOT_CHANGE_A_FIGURE)


def test_a_one_byte_change_to_any_row_of_any_table_is_found(ledger: Path, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    db.write_bytes(ledger.read_bytes())
    con = sqlite3.connect(db, isolation_level=None)  # held open: the reader uses its -wal (mode=ro)
    con.execute("PRAGMA synchronous=OFF")  # a scratch copy: no fsync per edit
    con.execute("DROP TRIGGER records_no_update")
    con.execute("DROP TRIGGER records_no_delete")
    tables = [str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    verify = typer.main.get_command(app)  # built once: the catalogue runs verify hundreds of times
    click_runner = click.testing.CliRunner()
    missed: list[str] = []
    tried = 0
    for table in tables:
        if table in CANNOT_CHANGE_A_FIGURE:
            continue
        columns = [str(r[1]) for r in con.execute(f"PRAGMA table_info({table})")]
        for rowid in _rows(con, table):
            values = con.execute(f"SELECT * FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
            row = dict(zip(columns, values, strict=True))
            for col, value in row.items():
                changed = False
                for new in _one_byte_changes(value):
                    try:
                        con.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = ?", (new, value))
                    except sqlite3.IntegrityError:
                        continue  # that key is taken: change another byte
                    tried += 1
                    r = click_runner.invoke(verify, ["ledger", "verify", "--db", str(db)])
                    if r.exit_code == 0 or "error" not in r.output:
                        missed.append(f"{table}.{col} row {rowid}: {value!r} -> {new!r}")
                    con.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = ?", (value, new))
                    changed = True
                    if isinstance(value, int):
                        break  # one byte of an integer is enough
                assert changed, f"{table}.{col}: no 1-byte change could be applied"
    con.close()
    print(f"{tried} one-byte changes")
    assert tried > 300
    assert not missed, "\n".join(missed[:20])
    assert runner.invoke(app, ["ledger", "verify", "--db", str(db)]).exit_code == 0  # every change was undone


def test_the_site_name_and_time_zone_are_covered(ledger: Path, tmp_path: Path) -> None:
    """The issue's case: renaming the site in table sites is found, with a message naming it."""
    db = tmp_path / "ledger.db"
    db.write_bytes(ledger.read_bytes())
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("UPDATE sites SET info = replace(info, 'Horinger', 'Horinger-') WHERE site_id = 'pool-room'")
    con.close()
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db), "--site-id", "pool-room"])
    assert r.exit_code == 1 and "sites.info" in r.output


def test_a_format_1_chain_still_verifies_and_keeps_its_format(
    ledger: Path, tmp_path: Path, horinger: Site, week: pd.DataFrame
) -> None:
    """A chain written before the site info was chained (format 1) verifies, says so, and appends in format 1."""
    db = tmp_path / "ledger.db"
    db.write_bytes(ledger.read_bytes())
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DROP TRIGGER records_no_update")
    con.execute("DROP TRIGGER records_no_delete")
    con.execute("DELETE FROM records WHERE key >= (SELECT site_key FROM sites WHERE site_id = 'fifo-room') << 40")
    con.execute("DELETE FROM sites WHERE site_id = 'fifo-room'")
    con.execute("DELETE FROM battery_state WHERE site_id = 'fifo-room'")
    con.execute("DELETE FROM tip_signatures")  # a chain from before signed tips
    h = genesis_hash("pool-room")
    for key, payload in con.execute("SELECT key, payload FROM records ORDER BY key").fetchall():
        rec = np.frombuffer(payload, dtype=RECORD_DTYPE).copy()
        rec["version"] = 1
        h = hashlib.sha256(h + rec.tobytes()).digest()
        con.execute("UPDATE records SET payload = ?, hash = ? WHERE key = ?", (rec.tobytes(), h, key))
    con.close()
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
    assert r.exit_code == 0 and "format-1 chain" in r.output
    more = islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 157 : 24 * 158]
    with open_ledger(db) as store:
        store.append_flows(horinger, more, quality="measured", site_id="pool-room")
        rep = verify_chain(store, "pool-room")
        tip = store.tip("pool-room")
    assert rep.format_version == 1 and rep.n_records == len(week) + 24
    assert tip is not None and tip.version == 1
