"""The 2023 provincial grid factors (issue 14 §2): in the registry with their announcement and table, paired with the
2023 residual, refused beside a 2022 residual, and market-based never below location-based without certificates."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import islandgrid
from islandgrid.carbon.factors import FACTORS, get_factor
from islandgrid.carbon.pairing import scope2_factors
from islandgrid.cli.main import app
from islandgrid.errors import SiteFileError
from islandgrid.ledger import open_ledger
from islandgrid.reports.carbon import build_report
from islandgrid.site import site_from_dict
from islandgrid.site.spec import Site

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: MEE & NBS announcement 2025 No. 47 (2025-12-31), attachment Table 3, provincial averages [kg CO2/kWh]
#: (values read from a public transcription of Table 3; see the caveat in carbon/factors.py).
TABLE_3_2023 = {"inner-mongolia": 0.6479, "ningxia": 0.6187, "gansu": 0.4471, "guizhou": 0.5683}


def _site(**grid_and_carbon: object) -> Site:
    data = tomllib.loads((EXAMPLES / "horinger-ai-room.toml").read_text())
    carbon = grid_and_carbon.pop("carbon", {})
    data["grid"].update(grid_and_carbon)
    data["carbon"] = dict(carbon)  # type: ignore[call-overload]
    return site_from_dict(data, "s.toml", EXAMPLES)


@pytest.mark.parametrize(("province", "value"), sorted(TABLE_3_2023.items()))
def test_the_2023_provincial_factors_carry_their_announcement_and_table(province: str, value: float) -> None:
    f = get_factor(f"mee-{province}-2023")
    assert (f.value, f.year, f.kind, f.unit) == (value, 2023, "location", "kg CO2/kWh")
    assert "2025 No. 47" in f.source_document and "Table 3" in f.table and "provincial" in f.table
    # each province also has its 2022 factor (announcement of 2024-12-20): the 2023 one is a new name, not a revision
    assert get_factor(f"mee-{province}-2022").year == 2022


def test_the_registry_matches_the_announcements_published_changes() -> None:
    # China Electric Power News, 2026-01-15, on announcement 2025 No. 47: the 2023 national average excluding
    # market-traded non-fossil power is 0.6096 kg/kWh, "4.1 % above 2022" (0.5856): 0.6096 / 0.5856 = 1.0410
    r23, r22 = get_factor("mee-national-residual-2023").value, get_factor("mee-national-residual-2022").value
    assert r23 / r22 - 1 == pytest.approx(0.041, abs=5e-4)
    names = [f.ref for f in FACTORS]
    assert len(names) == len(set(names))  # every name@version once


def test_a_2023_grid_factor_pairs_with_the_2023_residual_and_refuses_the_2022_one() -> None:
    pair = scope2_factors(_site(carbon_factor="mee-inner-mongolia-2023"))
    assert pair.location is not None and pair.location.ref == "mee-inner-mongolia-2023@1"
    assert isinstance(pair.residual, type(pair.location)) and pair.residual.name == "mee-national-residual-2023"
    with pytest.raises(SiteFileError) as e:
        _site(carbon_factor="mee-inner-mongolia-2023", carbon={"residual_factor": "mee-national-residual-2022"})
    assert e.value.exit_code == 2 and "2023" in str(e.value) and "2022" in str(e.value)


def test_with_2023_factors_market_based_is_not_below_location_based(horinger: Site) -> None:
    site = _site(carbon_factor="mee-inner-mongolia-2023")
    flows = islandgrid.simulate(site, baseline=False).flows.iloc[24 * 174 : 24 * 181]
    with open_ledger(":memory:") as store:
        store.append_flows(site, flows, quality="measured")
        rep = build_report(store)
    s = rep.summary.set_index("item")["value"]
    assert s["Scope 2 market-based"] >= s["Scope 2 location-based"] > 0
    f = rep.factors.set_index("role")
    assert (f.loc["grid", "year"], f.loc["residual", "year"]) == ("2023", "2023")
    # location-based Scope 2 = grid import x 0.6479 (no certificates, no gap fill): the factor is the registry's
    assert s["Scope 2 location-based"] == pytest.approx(flows["grid_in_kwh"].sum() * 0.6479, rel=1e-9)


def test_factors_lists_them() -> None:
    r = CliRunner().invoke(app, ["factors", "--kind", "location"], env={"COLUMNS": "400"}, terminal_width=400)
    assert r.exit_code == 0 and "mee-inner-mongolia-2023" in r.output and "2026.3" in r.output
