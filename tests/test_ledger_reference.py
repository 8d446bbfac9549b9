"""The stdlib-only reference verifier printed in docs/ledger.md reproduces ``ledger verify``'s tip."""

from __future__ import annotations

import ast
import hashlib
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.batch import site_grid_factor
from islandgrid.ledger.record import RECORD_DTYPE, genesis_hash
from islandgrid.site.spec import Site

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
METERS = ROOT / "examples" / "horinger-meters.csv"
STDLIB = {"hashlib", "json", "math", "sqlite3", "struct", "sys"}
runner = CliRunner()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code block under '## Reference verifier' in docs/ledger.md, written to a file."""
    text = (ROOT / "docs" / "ledger.md").read_text(encoding="utf-8")
    section = text.split("## Reference verifier", 1)[1]
    code = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert code is not None
    tree = ast.parse(code.group(1))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {str(n.module).split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == STDLIB  # no islandgrid, no numpy: the standard library only
    assert len(code.group(1).splitlines()) <= 80
    out = tmp_path_factory.mktemp("ref") / "verify_ledger.py"
    out.write_text(code.group(1), encoding="utf-8")
    return out


def _run(reference: Path, db: Path, *site: str) -> subprocess.CompletedProcess[str]:
    # -I -S: no PYTHONPATH, no site-packages: islandgrid cannot be imported even by accident
    return subprocess.run(
        [sys.executable, "-I", "-S", str(reference), str(db), *site],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=reference.parent,
    )


def _verify_tip(db: Path, *site: str) -> str:
    args = ["--site-id", site[0]] if site else []
    r = runner.invoke(app, ["ledger", "verify", "--db", str(db), *args])
    assert r.exit_code == 0, r.output
    m = re.search(r"tip\s+(\d+:[0-9a-f]{64})", r.output)
    assert m is not None, r.output
    return m.group(1)


def _ref_tip(reference: Path, db: Path, *site: str) -> str:
    p = _run(reference, db, *site)
    assert p.returncode == 0, p.stderr
    m = re.search(r"tip\s+(\d+:[0-9a-f]{64})", p.stdout)
    assert m is not None, p.stdout
    return m.group(1)


def test_reference_reproduces_the_tip_of_an_imported_ledger(reference: Path, tmp_path: Path) -> None:
    """Metered rows with filled gaps (the raised gap-fill factor) and reconciled rows."""
    db = tmp_path / "l.db"
    r = runner.invoke(app, ["ledger", "import", str(METERS), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert _ref_tip(reference, db) == _verify_tip(db)


def test_reference_reproduces_format_1_and_format_2_tips(
    reference: Path, tmp_path: Path, horinger: Site, horinger_result
) -> None:
    db = tmp_path / "two.db"
    flows = horinger_result.flows.iloc[24 * 150 : 24 * 153]
    with open_ledger(db) as store:
        store.append_flows(horinger, flows, quality="estimated", site_id="old-room")
        store.append_flows(horinger, flows, quality="estimated", site_id="new-room")
    con = sqlite3.connect(db, isolation_level=None)  # rewrite old-room as a format-1 chain
    con.execute("DROP TRIGGER records_no_update")
    key = con.execute("SELECT site_key FROM sites WHERE site_id = 'old-room'").fetchone()[0]
    h = genesis_hash("old-room")
    rows = con.execute("SELECT key, payload FROM records WHERE key >> 40 = ? ORDER BY key", (key,)).fetchall()
    for k, payload in rows:
        rec = np.frombuffer(payload, dtype=RECORD_DTYPE).copy()
        rec["version"] = 1
        h = hashlib.sha256(h + rec.tobytes()).digest()
        con.execute("UPDATE records SET payload = ?, hash = ? WHERE key = ?", (rec.tobytes(), h, k))
    con.close()
    for sid in ("old-room", "new-room"):
        assert _ref_tip(reference, db, sid) == _verify_tip(db, sid)
    assert _run(reference, db).returncode != 0  # two sites: it asks for one


def test_reference_rejects_a_reforged_chain(reference: Path, tmp_path: Path, horinger: Site, horinger_result) -> None:
    db = tmp_path / "forged.db"
    flows = horinger_result.flows.iloc[24 * 150 : 24 * 152]
    grid = site_grid_factor(horinger, flows.index).copy()
    grid[30:] *= 0.5
    with open_ledger(db) as store:
        store.append_flows(horinger, flows, quality="estimated", grid_co2_kg_per_kwh=grid)
    p = _run(reference, db)
    assert p.returncode == 1 and "seq 30: e_grid_kg_per_kwh" in p.stderr
