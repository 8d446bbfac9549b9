"""Reading commands never write: ``ledger verify``, ``ledger export``, ``report carbon`` and the API's ledger reads
open the database read-only and leave the file, and its folder, byte for byte as they were."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from islandgrid.api.ledger_views import ledger_page, ledger_verify
from islandgrid.cli.main import app
from islandgrid.errors import DataFileError
from islandgrid.ledger import open_ledger

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
METERS = ROOT / "examples" / "horinger-meters.csv"
runner = CliRunner()


def _state(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` (``-wal``/``-shm`` included) with its hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _commands(db: Path, out: Path) -> list[list[str]]:
    return [
        ["ledger", "verify", "--db", str(db)],
        ["ledger", "export", "--db", str(db), "--out", str(out / "r.csv")],
        ["report", "carbon", "--db", str(db), "--out", str(out / "report")],
    ]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    r = runner.invoke(app, ["ledger", "import", str(METERS), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 0, r.output
    return db


def test_reading_a_ledger_leaves_the_file_and_its_folder_identical(ledger: Path, tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "ledger.db"
    shutil.copy(ledger, db)  # a WAL database that no process has open: no -wal, no -shm
    before = _state(folder)
    assert list(before) == ["ledger.db"]
    for args in _commands(db, tmp_path):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
        assert _state(folder) == before, args  # no -wal/-shm left, not a byte changed


def test_reading_while_a_writer_has_the_ledger_open(ledger: Path, tmp_path: Path) -> None:
    """With ``serve`` appending (its -wal and -shm exist), a reader uses them and adds nothing."""
    db = tmp_path / "ledger.db"
    shutil.copy(ledger, db)
    with open_ledger(db) as writer:
        assert writer.tip() is not None
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["ledger.db", "ledger.db-shm", "ledger.db-wal"]
        r = runner.invoke(app, ["ledger", "verify", "--db", str(db)])
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in tmp_path.iterdir()) == names


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_foreign_sqlite_file_is_exit_2_and_untouched(tmp_path: Path, journal: str) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "shop.db"
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA journal_mode={journal}")
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")
    con.execute("INSERT INTO orders (item) VALUES ('bread')")
    con.commit()
    con.close()
    before = _state(folder)
    assert list(before) == ["shop.db"]
    importing = ["ledger", "import", str(METERS), "--site", str(SITE), "--db", str(db)]  # a writer refuses it too
    for args in [*_commands(db, tmp_path), importing]:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "not a usable ledger database" in r.output and "shop.db" in r.output and "Fix:" in r.output
        assert _state(folder) == before, args  # no ledger tables or triggers added, nothing beside it
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "report").exists()


def test_an_unknown_site_is_exit_2_naming_the_sites_that_exist(ledger: Path, tmp_path: Path) -> None:
    for args in _commands(ledger, tmp_path):
        r = runner.invoke(app, [*args, "--site-id", "nope"])
        assert r.exit_code == 2, (args, r.output)
        assert "nope" in r.output and "horinger-ai-room" in r.output and "intact" not in r.output
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "report").exists()


def test_the_api_reads_the_ledger_read_only(ledger: Path, tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    shutil.copy(ledger, db)
    before = _state(tmp_path)
    assert ledger_verify(db)["n_records"] == 168
    assert len(ledger_page(db, since=None, limit=5, newest=True)[1]) == 5
    assert _state(tmp_path) == before
    foreign = tmp_path / "notes.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    before = _state(tmp_path)
    with pytest.raises(DataFileError, match="not a usable ledger"):
        ledger_verify(foreign)
    assert _state(tmp_path) == before
