"""``islandgrid regret``: every chosen strategy against the perfect-foresight reference on an hourly year:
the table, strict --json, --out files, and bad input exiting 2 with a message that names the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SITE = str(EXAMPLES / "horinger-ai-room.toml")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # a wide table: no truncated cells
    return subprocess.run(
        [sys.executable, "-m", "islandgrid.cli.main", *args], capture_output=True, text=True, env=env, timeout=600
    )


def _reject(name: str) -> None:
    raise AssertionError(f"--json printed {name}, which is not JSON")


def test_regret_json_and_out(tmp_path: Path) -> None:
    out = tmp_path / "regret"
    r = cli("regret", SITE, "--resolution", "1h", "-s", "pv_first", "-s", "load_following", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout, parse_constant=_reject)  # strict JSON and nothing else on stdout
    ref = doc["reference"]
    rows = {row["strategy"]: row for row in doc["rows"]}
    # the reference is added to the chosen strategies
    assert set(rows) == {ref, "pv_first", "load_following"}
    base = rows[ref]
    for key in ("cost", "co2_kg", "diesel_hours", "unserved_kwh"):
        assert base[f"regret_{key}"] == 0.0
        for row in rows.values():
            assert row[f"regret_{key}"] == pytest.approx(row[key] - base[key], abs=1e-6)
    for row in rows.values():
        # pv_share regret is signed so that > 0 is worse: reference minus strategy
        assert row["regret_pv_share"] == pytest.approx(base["pv_share"] - row["pv_share"], abs=1e-12)
        assert 0 < row["pv_share"] < 1 and row["cost"] > 0 and row["seconds"] >= 0
    # (no sign is asserted for the rules' regret: a reference that holds the islanding reserve can
    # cost more than rules that do not)
    # --out wrote the same rows
    frame = pd.read_csv(out / "regret.csv")
    assert set(frame["strategy"]) == set(rows)
    saved = json.loads((out / "regret.json").read_text(), parse_constant=_reject)
    assert saved["reference"] == ref and len(saved["rows"]) == 3


def test_regret_table() -> None:
    r = cli("regret", SITE, "--resolution", "1h", "-s", "pv_first")
    assert r.returncode == 0, r.stderr
    assert "regret against perfect foresight" in r.stdout
    assert "pv_first" in r.stdout and "cost [k CNY]" in r.stdout and "CO2 [t]" in r.stdout
    ref_line = next(ln for ln in r.stdout.splitlines() if ln.strip("│ ").startswith(("optimal", "mpc_perfect")))
    assert "+0 " in ref_line or "+0.0" in ref_line  # the reference's own regret is zero


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("-s", "nope"), "simulation.strategy"),
        (("--resolution", "7min", "-s", "pv_first"), "--resolution"),
    ],
)
def test_regret_bad_input_exits_2_nothing_written(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    out = tmp_path / "out"
    r = cli("regret", SITE, *args, "--out", str(out))
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert not out.exists()
