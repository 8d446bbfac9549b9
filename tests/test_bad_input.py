"""Issue 9 §5: bad input that used to be accepted is refused (exit 2, file, field, value, range, fix)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import islandgrid
from badinput_helpers import EXAMPLES, assert_refused, base_site, run, snapshot, write_site
from islandgrid.errors import SiteFileError
from islandgrid.inputs.series import build_inputs
from islandgrid.inputs.weather import great_circle_km
from islandgrid.site import site_from_dict


def _load(d: dict) -> islandgrid.Site:
    return site_from_dict(d, source="site.toml", base_dir=EXAMPLES)


def _refused(d: dict, *fragments: str) -> str:
    with pytest.raises(SiteFileError) as info:
        _load(d)
    text = str(info.value)
    for frag in fragments:
        assert frag in text, f"{frag!r} not in {text!r}"
    return text


def test_great_circle_distance() -> None:
    # one degree along a meridian on the IUGG mean sphere: 2 pi 6371.0088 / 360 = 111.195 km
    assert great_circle_km(40.0, 111.0, 41.0, 111.0) == pytest.approx(111.195, abs=1e-3)
    assert great_circle_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(20015.1, abs=0.1)


def test_site_far_from_the_weather_station_is_refused(tmp_path: Path) -> None:
    d = base_site()
    d["location"]["lat_deg"] = -40.82  # the Hohhot file's latitude with the sign flipped
    site = write_site(tmp_path, d)
    before = snapshot(tmp_path)
    r = run("simulate", site, "--out", tmp_path / "out")
    assert_refused(
        r, str(site), "location.lat_deg", "-40.82", "9,078 km", "CHN_Nei.Mongol.Hohhot", "within 100 km", "Fix:"
    )
    assert snapshot(tmp_path) == before


def test_distance_limit_is_the_site_files_choice(tmp_path: Path) -> None:
    d = base_site()
    d["location"]["lat_deg"], d["location"]["lon_deg"] = 40.38, 111.82  # Horinger itself, ~50 km from Hohhot
    assert len(build_inputs(_load(d)).frame) == 8760
    d["location"]["lat_deg"] = 42.0  # ~130 km north of the station: refused by default ...
    with pytest.raises(SiteFileError, match="max_distance_km"):
        build_inputs(_load(d))
    d["weather"]["max_distance_km"] = 200  # ... unless the site file says that station is right
    assert len(build_inputs(_load(d)).frame) == 8760


@pytest.mark.parametrize(
    ("loads", "fuel", "field", "point"),
    [
        ([0.25, 0.5, 0.75, 1.0], [7.9, 12.7, 12.0, 25.5], "genset.datasheet_fuel_l_per_h", "point 3 (12)"),
        ([0.25, 0.5, 0.75, 1.0], [7.9, 12.7, 12.7, 25.5], "genset.datasheet_fuel_l_per_h", "point 3 (12.7)"),
        ([0.25, 0.75, 0.5, 1.0], [7.9, 12.7, 19.6, 25.5], "genset.datasheet_load_frac", "point 3 (0.5)"),
    ],
)
def test_datasheet_points_must_rise_with_load(loads: list, fuel: list, field: str, point: str) -> None:
    d = base_site()
    d["genset"]["datasheet_load_frac"], d["genset"]["datasheet_fuel_l_per_h"] = loads, fuel
    _refused(d, "site.toml", f"[{field}]", point, "must rise", "Allowed: strictly increasing", "Fix:")


def test_tou_band_with_start_equal_to_end() -> None:
    d = base_site()
    d["grid"]["tou"] = [{"start_hour": 8, "end_hour": 8, "price_per_kwh": 0.78}]
    _refused(d, "[grid.tou.0]", "start_hour = end_hour = 8", "Allowed: start_hour != end_hour", "Fix:")


@pytest.mark.parametrize(
    ("bands", "hours"),
    [
        ([(8, 12), (11, 14)], "hour(s) 11"),
        ([(22, 6), (5, 8)], "hour(s) 5"),  # the first band wraps past midnight
        ([(0, 24), (17, 21)], "17, 18, 19, 20"),
    ],
)
def test_overlapping_tou_bands(bands: list[tuple[int, int]], hours: str) -> None:
    d = base_site()
    d["grid"]["tou"] = [{"start_hour": s, "end_hour": e, "price_per_kwh": 0.5} for s, e in bands]
    _refused(d, "[grid.tou]", "overlap at", hours, "Allowed: bands that share no hour", "Fix:")


def test_touching_tou_bands_are_fine() -> None:
    d = base_site()
    d["grid"]["tou"] = [
        {"start_hour": 23, "end_hour": 7, "price_per_kwh": 0.28},
        {"start_hour": 7, "end_hour": 23, "price_per_kwh": 0.78},
    ]
    assert [b.hours() for b in _load(d).grid.tou] == [{23, 0, 1, 2, 3, 4, 5, 6}, set(range(7, 23))]


def test_outage_file_without_an_outage_in_the_simulated_year(tmp_path: Path) -> None:
    d = base_site()
    d["grid"].pop("outages")
    d["grid"]["outages_csv"] = "outages.csv"
    (tmp_path / "outages.csv").write_text(
        "start,end\n2023-03-01 10:00,2023-03-01 12:00\n2024-07-02 09:00,2024-07-02 10:00\n"
    )
    site = write_site(tmp_path, d)
    before = snapshot(tmp_path)
    r = run("simulate", site, "--out", tmp_path / "out")
    assert_refused(r, "outages.csv", "[start, end]", "no outage falls inside", "2 outage(s)", "Allowed:", "Fix:")
    assert snapshot(tmp_path) == before
    # one outage inside the year is enough; those of other years are ignored
    (tmp_path / "outages.csv").write_text(
        "start,end\n2024-03-01 10:00,2024-03-01 12:00\n2025-03-01 10:00,2025-03-01 12:00\n"
    )
    up = build_inputs(islandgrid.load_site(site)).frame["grid_available"]
    assert int((up == 0).sum()) == 2


def test_job_drawing_more_than_the_room(tmp_path: Path, meter_ledger: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "job_id,start,end,kw,gpu_hours\nok,2025-06-01 00:00,2025-06-02 00:00,40,\n"
        "big,2025-06-01 00:00,2025-06-02 00:00,40000,\ngpus,2025-06-02 00:00,2025-06-02 10:00,,7200\n"
    )
    before = snapshot(tmp_path)
    r = run("report", "carbon", "--db", meter_ledger, "--out", tmp_path / "rep", "--jobs", jobs)
    # 7200 GPU-hours over 10 h at 0.7 kW a GPU is 504 kW, in a room that drew at most 56.9 kW
    assert_refused(r, str(jobs), "[kw]", "2 job(s)", "job big draws 40,000.0 kW", "job gpus draws 504.0 kW", "56.9 kW")
    assert snapshot(tmp_path) == before


def test_factors_unknown_kind() -> None:
    assert_refused(run("factors", "--kind", "bogus"), "[--kind]", "'bogus'", "location, residual, fossil, fuel", "Fix:")
    ok = run("factors", "--kind", "fuel")
    assert ok.exit_code == 0 and "IPCC" in ok.stdout and "MEE" not in ok.stdout  # fuel factors only


def test_mistyped_key_is_named_with_the_closest_valid_key() -> None:
    d = base_site()
    d["pv"]["kwpp"] = d["pv"].pop("kwp")
    text = _refused(d, "[pv.kwpp]", "unknown field", "did you mean 'kwp'?", "Fix: rename 'kwpp' to 'kwp'")
    assert "missing" not in text
    d = base_site()
    d["batery"] = d.pop("battery")
    _refused(d, "[batery]", "did you mean 'battery'?")
    d = base_site()
    d["pv"]["zzz"] = 1  # nothing close: no guess, the valid keys are listed
    text = _refused(d, "[pv.zzz]", "unknown field", "Allowed: the keys of [pv]: kwp, tilt_deg")
    assert "did you mean" not in text


@pytest.fixture(scope="module")
def meter_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger of the example meter file (a week of June 2025)."""
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    r = run(
        "ledger", "import", EXAMPLES / "horinger-meters.csv", "--db", db, "--site", EXAMPLES / "horinger-ai-room.toml"
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    assert len(pd.read_csv(EXAMPLES / "horinger-meters.csv")) > 100
    return db
