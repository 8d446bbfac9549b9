"""The site file: validation errors name the file, field, value, allowed range and fix."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

import islandgrid
from islandgrid.errors import SiteFileError
from islandgrid.site import site_from_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "horinger-ai-room.toml"


def base() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def check(data: dict[str, Any], *fragments: str) -> SiteFileError:
    with pytest.raises(SiteFileError) as info:
        site_from_dict(data, source="site.toml", base_dir=EXAMPLE.parent)
    text = str(info.value)
    for frag in fragments:
        assert frag in text, f"{frag!r} not in {text!r}"
    return info.value


@pytest.mark.parametrize("path", ["horinger-ai-room.toml", "reference-100kw.toml", "yinchuan-ai-room.toml"])
def test_examples_load(path: str) -> None:
    site = islandgrid.load_site(EXAMPLE.parent / path)
    assert site.pv.kwp == 220 and site.battery.energy_kwh == 500 and site.genset.rated_kw == 100


def test_watts_instead_of_kilowatts_is_caught() -> None:
    d = base()
    d["pv"]["kwp"] = 220000  # Wp, not kWp
    err = check(d, "site.toml", "[pv.kwp]", "220000", "<= 20000", "not Wp")
    assert err.exit_code == 2


def test_negative_capacity() -> None:
    d = base()
    d["battery"]["energy_kwh"] = -500
    check(d, "[battery.energy_kwh]", "-500", ">= 0")


def test_soc_min_above_max() -> None:
    d = base()
    d["battery"]["soc_min_frac"] = 0.9
    d["battery"]["soc_max_frac"] = 0.5
    check(d, "battery", "soc_min_frac (0.9) must be below soc_max_frac (0.5)", "Fix")


def test_missing_field_and_typo() -> None:
    d = base()
    del d["pv"]["kwp"]
    check(d, "[pv.kwp]", "required", "Fix")
    d = base()
    d["pv"]["kwpp"] = 1
    check(d, "[pv.kwpp]", "unknown field")


def test_missing_data_file() -> None:
    d = base()
    d["weather"]["epw"] = "nowhere.epw"
    check(d, "[weather.epw]", "nowhere.epw", "file not found")


def test_grams_instead_of_kilograms_for_grid_factor() -> None:
    d = base()
    d["grid"]["carbon_factor"] = 684.9
    check(d, "684.9", "kg per kWh")


def test_unknown_factor_name_lists_known() -> None:
    d = base()
    d["grid"]["carbon_factor"] = "mee-mars-2022"
    with pytest.raises(SiteFileError, match="mee-inner-mongolia-2022"):  # when the site is loaded, not later
        site_from_dict(d, source="site.toml", base_dir=EXAMPLE.parent)


def test_malformed_toml(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[pv\nkwp = 1")
    with pytest.raises(SiteFileError, match="not valid TOML"):
        islandgrid.load_site(p)
