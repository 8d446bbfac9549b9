"""A catalogue of bad input across the commands (issue 9, "Done when": at least 40).

Each case prepares its files in a fresh folder and runs ``islandgrid`` in-process. Every one must
exit 2 through the friendly error path (no traceback), name the field (and the file when the bad
input is a file), and write nothing: the folder, the ``--out`` target included, is byte-identical
afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from badinput_helpers import EXAMPLES, HOHHOT_EPW, assert_refused, base_site, run, snapshot, write_site, year_csv

SITE = EXAMPLES / "horinger-ai-room.toml"
METERS = EXAMPLES / "horinger-meters.csv"
Edit = Callable[[dict[str, Any], Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it in a folder (returns the argv) and what the message must name."""

    name: str
    build: Callable[[Path], list[Any]]
    fragments: tuple[str, ...]


def _put(section: str, key: str, value: Any) -> Edit:
    def edit(d: dict[str, Any], tmp: Path) -> None:
        table = d
        for part in section.split("."):
            table = table.setdefault(part, {})
        table[key] = value

    return edit


def _drop(section: str, key: str | None = None) -> Edit:
    def edit(d: dict[str, Any], tmp: Path) -> None:
        if key is None:
            d.pop(section)
        else:
            d[section].pop(key)

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(d: dict[str, Any], tmp: Path) -> None:
        for e in edits:
            e(d, tmp)

    return edit


def site_case(name: str, edit: Edit, *fragments: str, command: tuple[str, ...] = ("simulate",)) -> Case:
    """A site file made bad by ``edit``, run by ``command`` with ``--out``: the message names site.toml."""
    return data_case(name, edit, "site.toml", *fragments, command=command)


def data_case(name: str, edit: Edit, *fragments: str, command: tuple[str, ...] = ("simulate",)) -> Case:
    """A site whose data file ``edit`` makes bad: the message names that file (in ``fragments``)."""

    def build(tmp: Path) -> list[Any]:
        d = base_site()
        edit(d, tmp)
        return [*command, write_site(tmp, d), "--out", tmp / "out"]

    return Case(name, build, fragments)


def _load_csv(change: Callable[[pd.DataFrame, Path], None]) -> Edit:
    """Load from it.csv (a full year of 50 kW), changed by ``change`` before it is written."""

    def edit(d: dict[str, Any], tmp: Path) -> None:
        d["load"].update(profile="csv", csv=str(tmp / "it.csv"))
        frame = year_csv(tmp / "it.csv", "it_kw", 50.0)
        change(frame, tmp / "it.csv")

    return edit


def _series_csv(section: str, key: str, column: str, value: float) -> Edit:
    """``[section] key`` = a full-year CSV of ``column`` = ``value``."""

    def edit(d: dict[str, Any], tmp: Path) -> None:
        path = tmp / f"{column}.csv"
        year_csv(path, column, value)
        d[section][key] = str(path)

    return edit


def _outages(text: str) -> Edit:
    def edit(d: dict[str, Any], tmp: Path) -> None:
        (tmp / "outages.csv").write_text(text)
        d["grid"].pop("outages")
        d["grid"]["outages_csv"] = str(tmp / "outages.csv")

    return edit


def _pv_csv(d: dict[str, Any], tmp: Path) -> None:
    year_csv(tmp / "pv.csv", "pv_kw", 10.0)
    d["weather"] = {"pv_csv": str(tmp / "pv.csv")}


def _file_case(name: str, write: Callable[[Path], Path], *fragments: str) -> Case:
    """A site file that is not there, not TOML, or another kind of file."""
    return Case(name, lambda tmp: ["simulate", write(tmp), "--out", tmp / "out"], fragments)


def _meters_case(name: str, change: Callable[[pd.DataFrame], pd.DataFrame], *fragments: str) -> Case:
    """``ledger import`` of the example meter file changed by ``change``: no ledger may appear."""

    def build(tmp: Path) -> list[Any]:
        frame = change(pd.read_csv(METERS, dtype=str, keep_default_na=False))
        frame.to_csv(tmp / "meters.csv", index=False)
        return ["ledger", "import", tmp / "meters.csv", "--db", tmp / "ledger.db", "--site", SITE]

    return Case(name, build, ("meters.csv", *fragments))


def _ledger_case(name: str, argv: Callable[[Path], list[Any]], *fragments: str) -> Case:
    """A command reading a copy of the meter ledger (which must stay byte-identical)."""

    def build(tmp: Path) -> list[Any]:
        shutil.copyfile(_LEDGER["db"], tmp / "ledger.db")
        return argv(tmp)

    return Case(name, build, fragments)


def _jobs(text: str, *extra: str) -> Callable[[Path], list[Any]]:
    def argv(tmp: Path) -> list[Any]:
        (tmp / "jobs.csv").write_text("job_id,start,end,kw,gpu_hours\n" + text)
        return [
            "report",
            "carbon",
            "--db",
            tmp / "ledger.db",
            "--out",
            tmp / "report",
            "--jobs",
            tmp / "jobs.csv",
            *extra,
        ]

    return argv


def _set_cell(column: str, row: int, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


_LEDGER: dict[str, Path] = {}
_JUNE = "2025-06-01 00:00,2025-06-02 00:00"

CASES: list[Case] = [
    # -- the site file: ranges, types, keys, sections, cross-field rules -------------------------------
    site_case("pv_kwp_in_watts", _put("pv", "kwp", 220000), "[pv.kwp]", "220000", "<= 20000"),
    site_case("battery_energy_negative", _put("battery", "energy_kwh", -500), "[battery.energy_kwh]", ">= 0"),
    site_case("soc_min_above_max", _put("battery", "soc_min_frac", 0.99), "[battery]", "soc_min_frac"),
    site_case("latitude_out_of_range", _put("location", "lat_deg", 95), "[location.lat_deg]", "<= 90"),
    site_case("longitude_out_of_range", _put("location", "lon_deg", 200), "[location.lon_deg]", "<= 180"),
    site_case("unknown_time_zone", _put("location", "tz", "Mars/Olympus"), "[location.tz]", "Mars/Olympus"),
    site_case("tilt_not_a_number", _put("pv", "tilt_deg", "steep"), "[pv.tilt_deg]", "'steep'"),
    site_case("rating_with_unit_text", _put("genset", "rated_kw", "100 kW"), "[genset.rated_kw]", "'100 kW'"),
    site_case("list_instead_of_number", _put("battery", "charge_kw", [250]), "[battery.charge_kw]"),
    site_case("section_is_a_number", _put("location", "name", 7), "[location.name]"),
    site_case("mistyped_key", _both(_put("pv", "kwpp", 220), _drop("pv", "kwp")), "[pv.kwpp]", "did you mean 'kwp'?"),
    site_case("mistyped_section", _put("batery", "energy_kwh", 500), "[batery]", "did you mean 'battery'?"),
    site_case("missing_key", _drop("load", "it_kw"), "[load.it_kw]", "required"),
    site_case("missing_section", _drop("battery"), "[battery]", "required"),
    site_case("weather_file_not_found", _put("weather", "epw", "/nowhere/x.epw"), "[weather.epw]", "file not found"),
    site_case(
        "two_weather_sources",
        _both(_put("weather", "pv_csv", str(HOHHOT_EPW))),
        "[weather]",
        "exactly one of 'epw' or 'pv_csv'",
    ),
    site_case("grid_factor_in_grams", _put("grid", "carbon_factor", 684.9), "[grid]", "carbon_factor", "684.9"),
    site_case("unknown_factor_name", _put("grid", "carbon_factor", "mee-mars-2022"), "[grid.carbon_factor]"),
    site_case("unknown_resolution", _put("simulation", "resolution", "2h"), "[simulation.resolution]", "'2h'"),
    site_case("year_out_of_range", _put("simulation", "year", 1800), "[simulation.year]", ">= 1990"),
    site_case(
        "tou_start_equals_end",
        _put("grid", "tou", [{"start_hour": 8, "end_hour": 8, "price_per_kwh": 0.7}]),
        "[grid.tou.0]",
        "start_hour = end_hour",
    ),
    site_case(
        "tou_bands_overlap",
        _put(
            "grid",
            "tou",
            [
                {"start_hour": 22, "end_hour": 6, "price_per_kwh": 0.3},
                {"start_hour": 5, "end_hour": 9, "price_per_kwh": 0.7},
            ],
        ),
        "[grid.tou]",
        "overlap at hour(s) 5",
    ),
    site_case(
        "datasheet_fuel_falls",
        _put("genset", "datasheet_fuel_l_per_h", [7.9, 12.7, 11.0, 25.5]),
        "[genset.datasheet_fuel_l_per_h]",
        "must rise",
    ),
    site_case(
        "datasheet_lengths_differ",
        _put("genset", "datasheet_fuel_l_per_h", [7.9, 12.7, 19.6]),
        "[genset]",
        "datasheet_load_frac and datasheet_fuel_l_per_h need the same length",
    ),
    site_case("site_far_from_weather_station", _put("location", "lat_deg", -40.82), "[location.lat_deg", "km"),
    site_case(
        "shed_shares_do_not_sum_to_1",
        _put("controller", "shed_shares_frac", [0.5, 0.3, 0.3]),
        "[controller]",
        "shed_shares_frac",
    ),
    site_case("device_port_out_of_range", _put("devices.pv", "port", 70000), "[devices.pv.port]", "<= 65535"),
    site_case("discount_rate_in_percent", _put("economics", "discount_rate_frac", 6), "[economics.discount_rate_frac]"),
    site_case("pue_below_1", _put("load.pue", "winter", 0.9), "[load.pue.winter]", ">= 1"),
    site_case("csv_profile_without_csv", _put("load", "profile", "csv"), "[load]", "load.csv"),
    site_case("sizing_range_negative", _put("sizing.pv_kwp", "min", -100), "[sizing.pv_kwp.min]", command=("size",)),
    site_case(
        "unknown_strategy_in_site_file", _put("simulation", "strategy", "bogus"), "simulation.strategy", "'bogus'"
    ),
    site_case(
        "temperature_pue_without_weather",
        _pv_csv,
        "[load.pue.kind]",
        "needs an EPW",
    ),
    # -- data files: kinds, gaps, units, malformed values ---------------------------------------------
    data_case(
        "weather_file_is_a_csv",
        _both(_load_csv(lambda f, p: None), _put("weather", "epw", "it.csv")),
        "it.csv",
        "[weather.epw]",
    ),
    data_case(
        "load_csv_gap", _load_csv(lambda f, p: f.drop(index=100).to_csv(p, index=False)), "it.csv", "[timestamp]", "gap"
    ),
    data_case(
        "load_csv_in_watts",
        _load_csv(lambda f, p: f.assign(it_kw=50000.0).to_csv(p, index=False)),
        "it.csv",
        "[it_kw]",
        "looks like W",
    ),
    data_case(
        "load_csv_wrong_units_header",
        _load_csv(lambda f, p: f.rename(columns={"it_kw": "it_w"}).to_csv(p, index=False)),
        "it.csv",
        "[header]",
        "missing column 'it_kw'",
    ),
    data_case(
        "load_csv_malformed_value",
        _load_csv(
            lambda f, p: (
                f.astype({"it_kw": str})
                .assign(it_kw=lambda x: x["it_kw"].where(x.index != 500, "5O"))
                .to_csv(p, index=False)
            )
        ),
        "it.csv",
        "[it_kw]",
        "line 502",
    ),
    data_case(
        "load_csv_short",
        _load_csv(lambda f, p: f.iloc[:4000].to_csv(p, index=False)),
        "it.csv",
        "[timestamp]",
        "not the simulated year",
    ),
    data_case(
        "load_csv_unsorted",
        _load_csv(lambda f, p: f.iloc[::-1].to_csv(p, index=False)),
        "it.csv",
        "[timestamp]",
        "strictly increasing",
    ),
    data_case(
        "carbon_csv_in_grams", _series_csv("grid", "carbon_csv", "kg_per_kwh", 684.9), "kg_per_kwh.csv", "[kg_per_kwh]"
    ),
    data_case(
        "outages_none_in_the_year",
        _outages("start,end\n2019-05-01 10:00,2019-05-01 11:00\n"),
        "outages.csv",
        "[start, end]",
    ),
    data_case(
        "outage_ends_before_start",
        _outages("start,end\n2025-05-01 11:00,2025-05-01 10:00\n"),
        "outages.csv",
        "[start, end]",
        "ends before",
    ),
    data_case(
        "outages_wrong_header",
        _outages("from,to\n2025-05-01 10:00,2025-05-01 11:00\n"),
        "outages.csv",
        "[header]",
        "start,end",
    ),
    _file_case("site_file_missing", lambda tmp: tmp / "nope.toml", "nope.toml", "site file not found"),
    _file_case("site_file_is_a_weather_file", lambda tmp: HOHHOT_EPW, "Hohhot", "not valid TOML"),
    _file_case("site_file_is_a_folder", lambda tmp: tmp, "site file not found"),
    _file_case(
        "site_file_malformed_toml",
        lambda tmp: (tmp / "bad.toml", (tmp / "bad.toml").write_text("[pv\nkwp = 1\n"))[0],
        "bad.toml",
        "not valid TOML",
    ),
    # -- command-line options -------------------------------------------------------------------------
    Case(
        "resolution_option",
        lambda tmp: ["simulate", SITE, "--resolution", "2h", "--out", tmp / "o"],
        ("[--resolution]", "'2h'"),
    ),
    Case(
        "strategy_option",
        lambda tmp: ["simulate", SITE, "--strategy", "bogus", "--out", tmp / "o"],
        ("strategy", "'bogus'"),
    ),
    Case(
        "forecast_resolution",
        lambda tmp: ["forecast", SITE, "--resolution", "7min", "--out", tmp / "o"],
        ("[--resolution]",),
    ),
    Case("optimize_mode", lambda tmp: ["optimize", SITE, "--mode", "bogus", "--out", tmp / "o"], ("[mode]", "'bogus'")),
    Case("factors_kind", lambda tmp: ["factors", "--kind", "bogus"], ("[--kind]", "'bogus'")),
    Case("serve_port", lambda tmp: ["serve", SITE, "--port", "70000"], ("[--port]", "70000")),
    Case("serve_speed_without_twin", lambda tmp: ["serve", SITE, "--speed", "60"], ("[--speed]",)),
    # -- the ledger and its reports -------------------------------------------------------------------
    _meters_case("meters_wrong_units_header", lambda f: f.rename(columns={"pv_kwh": "pv_kw"}), "[header]", "pv_kwh"),
    _meters_case("meters_negative_energy", _set_cell("grid_in_kwh", 3, "-5"), "line 5", "grid_in_kwh"),
    _meters_case("meters_malformed_timestamp", _set_cell("timestamp", 0, "yesterday"), "line 2", "timestamp"),
    Case("verify_missing_ledger", lambda tmp: ["ledger", "verify", "--db", tmp / "nope.db"], ("[--db]", "nope.db")),
    _ledger_case(
        "export_unknown_format",
        lambda tmp: ["ledger", "export", "--db", tmp / "ledger.db", "--out", tmp / "x.txt"],
        "[--out]",
        "x.txt",
    ),
    _ledger_case("job_above_room_power", _jobs(f"big,{_JUNE},4000,\n"), "jobs.csv", "[kw]", "job big"),
    _ledger_case(
        "jobs_missing_columns",
        lambda tmp: (
            tmp / "jobs.csv",
            (tmp / "jobs.csv").write_text("id,when\nx,y\n"),
            ["report", "carbon", "--db", tmp / "ledger.db", "--out", tmp / "report", "--jobs", tmp / "jobs.csv"],
        )[2],
        "jobs.csv",
        "[header]",
    ),
    _ledger_case("job_ends_before_start", _jobs("late,2025-06-02 00:00,2025-06-01 00:00,10,\n"), "jobs.csv", "line 2"),
    _ledger_case(
        "job_kw_and_gpu_hours", _jobs(f"both,{_JUNE},10,100\n"), "jobs.csv", "exactly one of kw and gpu_hours"
    ),
    _ledger_case("carbon_price_negative", _jobs(f"ok,{_JUNE},10,\n", "--carbon-price", "-1"), "[--carbon-price]"),
    _ledger_case("pue_option_out_of_range", _jobs(f"ok,{_JUNE},10,\n", "--pue", "5"), "[--pue]", "1 to 3"),
]


def test_catalogue_is_large_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module", autouse=True)
def _meter_ledger(tmp_path_factory: pytest.TempPathFactory) -> None:
    db = tmp_path_factory.mktemp("ledger") / "ledger.db"
    r = run("ledger", "import", METERS, "--db", db, "--site", SITE)
    assert r.exit_code == 0, r.stdout + r.stderr
    _LEDGER["db"] = db


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_exits_2_names_the_field_and_writes_nothing(case: Case, tmp_path: Path) -> None:
    argv = case.build(tmp_path)
    before = snapshot(tmp_path)
    result = run(*argv)
    assert_refused(result, *case.fragments)
    assert snapshot(tmp_path) == before  # no --out folder, no ledger, no temporary left behind
