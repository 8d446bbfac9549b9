"""Output folders: a command writes only its own files, each atomically, and never touches anyone else's.

The cases of issue 9 §1 (``--out out`` beside ``out/ledger.db``, ``--out FILE``, ``--out .``, a foreign
file with an output's name, re-running into the same folder, a failure midway, an unusable target)
and the permissions of every output (exports included). ``report carbon`` on a one-week ledger is the
cheapest command with a folder of outputs; every command writes through the same ``atomic_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from islandgrid.cli.common import MANIFEST, atomic_dir
from islandgrid.cli.main import app
from islandgrid.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
METERS = ROOT / "examples" / "horinger-meters.csv"
REPORT_FILES = {"report.html", "report.xlsx", "summary.csv", "monthly.csv", "hourly.csv", MANIFEST}
runner = CliRunner()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its hash (temporary files included)."""
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    r = runner.invoke(app, ["ledger", "import", str(METERS), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 0, r.output
    return db


def _report(db: Path, out: str | Path) -> object:
    return runner.invoke(app, ["report", "carbon", "--db", str(db), "--out", str(out)])


def test_out_keeps_the_ledger_and_other_files_in_the_folder(ledger: Path, tmp_path: Path) -> None:
    """``--out out`` with ``out/ledger.db`` in it: the ledger and the user's notes stay byte for byte."""
    out = tmp_path / "out"
    out.mkdir()
    db = out / "ledger.db"
    db.write_bytes(ledger.read_bytes())
    (out / "notes.txt").write_text("mine\n")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = _listing(out)
    r = _report(db, out)
    assert r.exit_code == 0, r.output
    after = _listing(out)
    assert {k: after[k] for k in before} == before  # ledger.db, notes.txt, sub/data.csv identical
    extra = {"cbam.csv", "factors.csv", "percentiles.csv", "quality.csv", "uncertainty.csv", "basis.csv"}
    assert set(after) - set(before) == REPORT_FILES | extra
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == set(after) - set(before) - {MANIFEST}
    assert manifest["files"]["summary.csv"]["sha256"] == after["summary.csv"]
    assert manifest["files"]["summary.csv"]["command"].startswith("islandgrid")


def test_out_naming_an_existing_file_is_exit_2_and_the_file_is_kept(ledger: Path, tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("my results\n")
    r = _report(ledger, target)
    assert r.exit_code == 2, r.output
    assert "not a folder" in r.output and "Fix:" in r.output and "results.txt" in r.output
    assert target.read_text() == "my results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]
    r = _report(ledger, target / "sub")  # a path through a file
    assert r.exit_code == 2 and "Fix:" in r.output
    assert target.read_text() == "my results\n"


def test_out_dot_writes_into_the_current_folder(ledger: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    r = _report(ledger, ".")
    assert r.exit_code == 0, r.output
    names = {p.name for p in tmp_path.iterdir()}
    assert names >= REPORT_FILES and "keep.txt" in names
    assert not [n for n in names if n.startswith(".islandgrid-tmp")]  # no temporary left
    assert all(p.is_file() for p in tmp_path.iterdir())  # no folder left behind either


def test_a_foreign_file_with_an_output_name_is_refused_and_left_intact(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("my own summary\n")
    r = _report(ledger, out)
    assert r.exit_code == 2, r.output
    assert "summary.csv" in r.output and "Fix:" in r.output and "another --out" in r.output
    assert (out / "summary.csv").read_text() == "my own summary\n"
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]  # nothing written, no temporary left


def test_rerun_replaces_its_own_files_but_not_an_edited_one(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _report(ledger, out).exit_code == 0
    first = _listing(out)
    r = _report(ledger, out)  # the same command into the same folder: its own files are replaced
    assert r.exit_code == 0, r.output
    assert set(_listing(out)) == set(first)
    with open(out / "monthly.csv", "a") as f:  # the user edits an output: it is theirs now
        f.write("# checked by me\n")
    edited = _sha(out / "monthly.csv")
    r = _report(ledger, out)
    assert r.exit_code == 2, r.output
    assert "monthly.csv" in r.output
    assert _sha(out / "monthly.csv") == edited


def test_a_failure_midway_leaves_no_half_written_file_and_touches_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old\n")
    with atomic_dir(out) as tmp:  # a first run: a.csv is foreign, b.csv is new
        (tmp / "b.csv").write_text("1\n")
    before = _listing(out)
    with pytest.raises(ZeroDivisionError), atomic_dir(out) as tmp:
        (tmp / "b.csv").write_text("half")
        (tmp / "c.csv").write_text("half")
        _ = 1 / 0
    assert _listing(out) == before  # b.csv as it was, no c.csv, no temporary
    fresh = tmp_path / "new" / "deeper"
    with pytest.raises(ZeroDivisionError), atomic_dir(fresh) as tmp:
        (tmp / "x.csv").write_text("half")
        _ = 1 / 0
    assert not (tmp_path / "new").exists()  # the folders it created are removed again (they were empty)


def test_an_edited_manifest_entry_protects_the_file(tmp_path: Path) -> None:
    """A file islandgrid wrote is replaced only while its hash is the one in the manifest."""
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("1\n")
    (out / MANIFEST).write_text("not json")
    with pytest.raises(InputError, match=MANIFEST), atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("2\n")
    assert (out / "a.csv").read_text() == "1\n"


def test_a_folder_that_cannot_be_written_or_created_is_exit_2(ledger: Path, tmp_path: Path, monkeypatch) -> None:
    """What the OS refuses (EACCES, a read-only file system) is simulated: the tests may run as root."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    import islandgrid.cli.common as common

    monkeypatch.setattr(common.tempfile, "mkdtemp", refuse)
    r = _report(ledger, tmp_path / "new")
    assert r.exit_code == 2 and "cannot write" in r.output and "Fix:" in r.output
    assert not (tmp_path / "new").exists()  # the folder it created for nothing is removed again
    monkeypatch.setattr(Path, "mkdir", refuse)
    r = _report(ledger, tmp_path / "other")
    assert r.exit_code == 2 and "cannot create" in r.output and "Traceback" not in r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_folder_is_exit_2(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        r = _report(ledger, out)
        assert r.exit_code == 2 and "cannot write" in r.output
    finally:
        out.chmod(0o755)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_and_exports_get_the_same_permissions(ledger: Path, tmp_path: Path, umask: int) -> None:
    """Every output, exported records included, is ``0o666`` less the umask (0644 typically), never 0600."""
    old = os.umask(umask)
    try:
        out = tmp_path / "out"
        assert _report(ledger, out).exit_code == 0
        for name in ("r.csv", "r.parquet"):
            r = runner.invoke(app, ["ledger", "export", "--db", str(ledger), "--out", str(tmp_path / "x" / name)])
            assert r.exit_code == 0, r.output
    finally:
        os.umask(old)
    files = [*out.iterdir(), *(tmp_path / "x").iterdir()]
    assert len(files) > 8
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o666 & ~umask for p in files}


def test_export_never_replaces_a_foreign_file(ledger: Path, tmp_path: Path) -> None:
    mine = tmp_path / "records.csv"
    mine.write_text("my spreadsheet\n")
    r = runner.invoke(app, ["ledger", "export", "--db", str(ledger), "--out", str(mine)])
    assert r.exit_code == 2 and "records.csv" in r.output
    assert mine.read_text() == "my spreadsheet\n"
    again = tmp_path / "sub" / "r.csv"
    for _ in range(2):  # its own export is replaced on a second run
        assert runner.invoke(app, ["ledger", "export", "--db", str(ledger), "--out", str(again)]).exit_code == 0
