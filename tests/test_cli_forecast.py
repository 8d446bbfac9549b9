"""``islandgrid forecast``: the skill table on an hourly year, --json records, --out skill.csv, and bad
input exiting 2 with a message that names the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SITE = str(EXAMPLES / "horinger-ai-room.toml")
# hourly, a 6 h horizon issued every 7 h (so the issue times cycle through the hours of the day)
FAST = ("--resolution", "1h", "--horizon-h", "6", "--issue-every-h", "7")


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "islandgrid.cli.main", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def _reject(name: str) -> None:
    raise AssertionError(f"--json printed {name}, which is not JSON")


def test_forecast_json_records(tmp_path: Path) -> None:
    out = tmp_path / "fc"
    r = cli("forecast", SITE, *FAST, "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout, parse_constant=_reject)  # strict JSON (no NaN) and nothing else on stdout
    frame = pd.DataFrame(rows)
    assert {"forecaster", "series", "lead_h", "rmse_kw", "mae_kw", "skill"} <= set(frame.columns)
    assert set(frame["forecaster"]) == {"perfect", "persistence", "clearsky", "noisy"}
    assert set(frame["series"]) == {"pv", "load"}
    assert frame["lead_h"].max() <= 6.0
    # perfect has zero error; persistence is the skill reference (skill 0); MAE <= RMSE always
    perfect = frame[frame["forecaster"] == "perfect"]
    assert (perfect["rmse_kw"] == 0).all() and (perfect["skill"] == 1).all()
    assert frame["skill"].notna().all()
    assert (frame.loc[frame["forecaster"] == "persistence", "skill"] == 0).all()
    assert (frame["mae_kw"] <= frame["rmse_kw"] + 1e-9).all()
    # PV error of a real forecaster is positive and not absurd for a 220 kWp array
    pv = frame[(frame["series"] == "pv") & (frame["forecaster"] == "clearsky")]
    assert ((pv["rmse_kw"] > 0) & (pv["rmse_kw"] < 220)).all()
    # --out wrote the same table
    csv = pd.read_csv(out / "skill.csv")
    assert len(csv) == len(frame)
    assert csv["rmse_kw"].to_numpy() == pytest.approx(frame["rmse_kw"].to_numpy())


def test_forecast_table() -> None:
    r = cli("forecast", SITE, *FAST)
    assert r.returncode == 0, r.stderr
    assert "PV forecast error by lead time" in r.stdout and "load forecast error by lead time" in r.stdout
    assert "persistence" in r.stdout and "clearsky" in r.stdout and "skill" in r.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--resolution", "7min"), "--resolution"),
        (("--horizon-h", "0"), "--horizon-h"),
        (("--issue-every-h", "0"), "--issue-every-h"),
    ],
)
def test_forecast_bad_option_exits_2(args: tuple[str, ...], fragment: str) -> None:
    r = cli("forecast", SITE, *args)
    assert r.returncode == 2
    assert fragment in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_forecast_bad_site_exits_2_nothing_written(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    text = (EXAMPLES / "horinger-ai-room.toml").read_text().replace("kwp = 220", "kwp = -220")
    (tmp_path / "site.toml").write_text(text)
    r = cli("forecast", "site.toml", *FAST, "--out", "out", cwd=tmp_path)
    assert r.returncode == 2
    assert "pv.kwp" in r.stderr and "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "out").exists()
    r = cli("forecast", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "site file not found" in r.stderr
