"""CBAM supplier data (issue 14 §4): embedded indirect emissions per CN code, the price line only where it applies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import islandgrid
from islandgrid.carbon.cbam_supplier import electricity_factor, good_category
from islandgrid.errors import DataFileError
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import read_records
from islandgrid.reports.carbon import build_report
from islandgrid.site.spec import Site


@pytest.fixture(scope="module")
def db(horinger: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    flows = islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 174 : 24 * 181]  # with a diesel outage
    path = tmp_path_factory.mktemp("cbam") / "l.db"
    with open_ledger(path) as store:
        store.append_flows(horinger, flows, quality="measured")
    return path


@pytest.mark.parametrize(
    ("cn", "category", "counted"),
    [("25232900", "cement", True), ("31021010", "fertilisers", True), ("31056000", "not a CBAM good", False),
     ("72081000", "iron and steel", False), ("76011000", "aluminium", False), ("28041000", "hydrogen", False),
     ("84713000", "not a CBAM good", False)],
)  # fmt: skip
def test_indirect_emissions_count_for_cement_and_fertilisers_only(cn: str, category: str, counted: bool) -> None:
    assert good_category(cn) == (category, counted)


def test_supplier_block_by_hand(db: Path, tmp_path: Path) -> None:
    goods = tmp_path / "goods.csv"
    goods.write_text(
        "installation,cn_code,tonnes,electricity_mwh\nkiln 1,25232900,1200,96.5\nsmelter,76011000,10,150\n"
    )
    with open_ledger(db) as s:
        rep = build_report(s, cbam_goods=goods)
        rec = read_records(s)
    t = rep.cbam_supplier
    assert t is not None
    genset = rec["diesel_co2_kg"].sum() / rec["diesel_kwh"].sum()
    served = rec["load_served_kwh"]
    share_d = (served * rec["load_diesel_frac"]).sum() / served.sum()
    share_g = (served * rec["load_grid_frac"]).sum() / served.sum()
    ef = share_d * genset + share_g * 0.6849
    assert electricity_factor(rec)["ef"] == pytest.approx(ef, rel=1e-12) and genset > 0
    kiln = t.set_index("installation").loc["kiln 1"]
    assert kiln["embedded_indirect_t"] == pytest.approx(96.5 * ef) and kiln["ef_pv_t_per_mwh"] == 0.0
    assert kiln["specific_indirect_t_per_t"] == pytest.approx(96.5 * ef / 1200)
    assert kiln["carbon_price_eur"] == pytest.approx(96.5 * ef * 75.36) and kiln["ef_source"].startswith("actual")
    smelter = t.set_index("installation").loc["smelter"]
    assert not smelter["indirect_counted_in_cbam"] and pd.isna(smelter["carbon_price_eur"])


def test_a_bad_goods_file_names_the_line(db: Path, tmp_path: Path) -> None:
    goods = tmp_path / "goods.csv"
    goods.write_text("installation,cn_code,tonnes,electricity_mwh\nkiln,2523,0,5\n")
    with open_ledger(db) as s, pytest.raises(DataFileError, match="line 2: cn_code"):
        build_report(s, cbam_goods=goods)
