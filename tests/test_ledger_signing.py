"""The signed tip: keygen, the signature refreshed on every append, verify --pubkey, the tip in every export."""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from islandgrid.cli.main import app
from islandgrid.ledger import open_ledger
from islandgrid.ledger.signing import KEY_SUFFIX, PUB_SUFFIX, default_key_dir

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
METERS = ROOT / "examples" / "horinger-meters.csv"
SID = "horinger-ai-room"
runner = CliRunner()


def _import(db: Path, meters: Path = METERS) -> None:
    r = runner.invoke(app, ["ledger", "import", str(meters), "--site", str(SITE), "--db", str(db)])
    assert r.exit_code == 0, r.output


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, str]:
    """A ledger of the example week, its site's key generated: (db, public key hex)."""
    db = tmp_path / "l.db"
    _import(db)
    r = runner.invoke(app, ["ledger", "keygen", "--db", str(db)])
    assert r.exit_code == 0, r.output
    m = re.search(r"public key \(publish it\):\s+([0-9a-f]{64})", r.output)
    assert m is not None and "BEGIN PUBLIC KEY" in r.output, r.output
    return db, m.group(1)


def _verify(db: Path, *args: str):
    return runner.invoke(app, ["ledger", "verify", "--db", str(db), *args])


def test_keygen_stores_a_private_key_0600_beside_the_ledger(signed: tuple[Path, str]) -> None:
    db, public = signed
    keys = default_key_dir(db)
    assert keys.parent == db.parent
    key = keys / f"{SID}{KEY_SUFFIX}"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert (keys / f"{SID}{PUB_SUFFIX}").read_text().strip() == public
    assert public not in key.read_text()  # the private key file is PEM, not the public key
    r = runner.invoke(app, ["ledger", "keygen", "--db", str(db)])  # a second key would orphan the published one
    assert r.exit_code == 2 and "already has a signing key" in r.output
    assert runner.invoke(app, ["ledger", "keygen", "--db", str(db.parent / "none.db")]).exit_code == 2


def test_verify_with_the_published_key(signed: tuple[Path, str], tmp_path: Path) -> None:
    db, public = signed
    r = _verify(db, "--pubkey", public)
    assert r.exit_code == 0 and "signed by" in r.output, r.output
    pem = tmp_path / "site.pub"  # a file holding the key works too
    pem.write_text(public + "\n")
    assert _verify(db, "--pubkey", str(pem)).exit_code == 0
    r = _verify(db, "--pubkey", "ab" * 32)
    assert r.exit_code == 1 and "not by the published" in r.output
    assert _verify(db, "--pubkey", "not-a-key").exit_code == 2


def test_the_signature_follows_every_append(signed: tuple[Path, str], tmp_path: Path) -> None:
    """An append after keygen re-signs the tip (the key is found beside the ledger)."""
    db, public = signed
    lines = (ROOT / "examples" / "horinger-meters.csv").read_text().splitlines()
    with open_ledger(db, readonly=True) as store:
        before = store.signature(SID)
    assert before is not None and before.seq == 167
    later = tmp_path / "later.csv"  # the week's last day again, a week later: continues the chain after a gap
    rows = [lines[0]] + [
        re.sub(r"2025-06-0(\d)", lambda m: f"2025-06-{int(m.group(1)) + 7:02d}", x) for x in lines[-24:]
    ]
    later.write_text("\n".join(rows) + "\n")
    _import(db, later)
    with open_ledger(db, readonly=True) as store:
        after = store.signature(SID)
        tip = store.tip(SID)
    assert after is not None and tip is not None and after.seq == tip.seq > 167 and after.tip.hex() == tip.hash
    assert _verify(db, "--pubkey", public).exit_code == 0


def test_an_unsigned_append_or_a_truncation_is_found(signed: tuple[Path, str]) -> None:
    db, public = signed
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("UPDATE tip_signatures SET seq = seq + 3")  # as if 3 signed records had been cut off
    con.close()
    r = _verify(db)
    assert r.exit_code == 1 and "tip_signatures" in r.output  # the seq is signed: the edit breaks the signature
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM tip_signatures")
    con.close()
    assert _verify(db).exit_code == 0  # an unsigned chain verifies ...
    r = _verify(db, "--pubkey", public)
    assert r.exit_code == 1 and "not signed" in r.output  # ... but not against a published key


def test_every_export_carries_the_tip_and_signature(signed: tuple[Path, str], tmp_path: Path) -> None:
    db, public = signed
    out = tmp_path / "x"
    for name in ("r.csv", "r.parquet"):
        r = runner.invoke(app, ["ledger", "export", "--db", str(db), "--out", str(out / name)])
        assert r.exit_code == 0, r.output
    with open_ledger(db, readonly=True) as store:
        sig = store.signature(SID)
    assert sig is not None
    want = sig.as_dict()
    assert json.loads((out / "r.csv.tip.json").read_text()) == want
    meta = pq.read_schema(out / "r.parquet").metadata
    assert json.loads(meta[b"islandgrid.ledger_tip"]) == want
    assert want["public_key"] == public and want["tip_hash"] and len(str(want["signature"])) == 128
    rep = tmp_path / "rep"
    r = runner.invoke(app, ["report", "carbon", "--db", str(db), "--out", str(rep)])
    assert r.exit_code == 0, r.output
    html = (rep / "report.html").read_text()
    assert str(want["signature"]) in html and public in html and f"167:{want['tip_hash']}" in html
    import openpyxl

    sheet = openpyxl.load_workbook(rep / "report.xlsx", read_only=True)["ledger"]
    rows = {str(a): str(b) for a, b in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["signature"] == want["signature"] and rows["tip_hash"] == want["tip_hash"] and rows["seq"] == "167"
    # the private key is in no exported file
    private = (default_key_dir(db) / f"{SID}{KEY_SUFFIX}").read_text().splitlines()[1]
    for f in [*out.iterdir(), *rep.iterdir()]:
        assert private.encode() not in f.read_bytes(), f
