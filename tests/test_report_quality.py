"""Say what every number is (issue 14 §1): data-quality labels, projection vs inventory, basis of preparation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.record import FLAG_GAP_FILLED, FLAG_SIMULATED, FORMAT_VERSION
from islandgrid.reports.carbon import CarbonReport, build_report, render_html
from islandgrid.site.spec import Site

BASIS_HEADINGS = (
    "Organisational boundary",
    "Operational boundary",
    "Period",
    "Sources included",
    "Sources excluded, with materiality",
    "Standards and versions",
    "Versions",
    "Uncertainty",
    "Recalculation policy",
)


@pytest.fixture(scope="module")
def week(horinger: Site) -> pd.DataFrame:
    return islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 174 : 24 * 181]


def _report(site: Site, flows: pd.DataFrame, quality: str, flags: np.ndarray | int = 0) -> CarbonReport:
    with open_ledger(":memory:") as store:
        store.append_flows(site, flows, quality=quality, flags=flags)
        return build_report(store)


def test_a_simulated_ledger_is_a_projection_on_every_figure(horinger: Site, week: pd.DataFrame) -> None:
    rep = _report(horinger, week, "estimated", FLAG_SIMULATED)
    assert rep.projection
    assert set(rep.summary["data_quality"]) == {"simulated 100.0 %", "input"}
    assert (rep.monthly["data_quality"] == "simulated 100.0 %").all()
    assert (rep.hourly["simulated_share"] == 1.0).all()
    html = render_html(rep)
    assert "Carbon projection" in html and "not a GHG Protocol inventory" in html
    assert "GHG Protocol inventory figures" not in html
    assert html.count("simulated 100.0 %") >= 10  # cards, tables, each plot
    cbam = dict((k, v) for k, v, _ in rep.cbam.rows())
    assert "their metered energy" not in str(cbam["justification"]) and "projection" in str(cbam["justification"])


def test_a_metered_ledger_is_an_inventory_and_gap_fills_are_labelled(horinger: Site, week: pd.DataFrame) -> None:
    flags = np.zeros(len(week), dtype=np.uint8)
    flags[:12] = FLAG_GAP_FILLED  # half a day of a 7-day week
    rep = _report(horinger, week, "measured", flags)
    assert not rep.projection
    total = rep.quality.loc["total"]
    served = week["load_served_kwh"].to_numpy()
    assert total["gap-filled"] == pytest.approx(served[:12].sum() / served.sum())
    assert total["measured"] == pytest.approx(1 - total["gap-filled"])
    label = rep.summary["data_quality"].iloc[0]
    assert label.startswith("measured 9") and "gap-filled" in label
    # one classification: the summary's not-measured row is the labels' complement (gap-fills included)
    item = "share of the load served not measured (estimated, gap-filled, simulated)"
    assert rep.summary.set_index("item")["value"][item] == pytest.approx(1 - total["measured"])
    html = render_html(rep)
    assert "GHG Protocol inventory figures" in html and "Carbon projection" not in html
    assert "direct technical connection" in str(dict((k, v) for k, v, _ in rep.cbam.rows())["justification"])
    jobs_free = rep.hourly[["measured_share", "gap-filled_share"]].sum(axis=1)
    assert np.allclose(jobs_free, 1.0)


def test_the_basis_of_preparation_is_generated(horinger: Site, week: pd.DataFrame) -> None:
    rep = _report(horinger, week, "estimated", FLAG_SIMULATED)
    headings = [h for h, _ in rep.basis]
    for h in BASIS_HEADINGS:
        assert h in headings
    text = dict(rep.basis)
    for needle in ("refrigerant", "SF6", "Scope 3 category 3", "5 %"):
        assert needle in text["Sources excluded, with materiality"]
    assert "ISO 14064-1:2018" in text["Standards and versions"] and "AR6" in text["Standards and versions"]
    assert "islandgrid " in text["Versions"] and "registry 2026." in text["Versions"]
    assert text["Versions"].endswith(f"ledger format {FORMAT_VERSION}.")  # the chain's own format, not a literal
    assert "mee-inner-mongolia-2022@1 (Inner Mongolia, 2022)" in text["Factors"]
    u = rep.uncertainty.set_index("source")
    assert u.loc["grid factor vintage", "plus_kg"] == pytest.approx(
        rep.summary.set_index("item").loc["Scope 2 location-based", "value"] * abs(0.7025 - 0.6849) / 0.6849
    )
    assert u.loc["diesel CO2 factor", "minus_kg"] >= 0
    html = render_html(rep)
    assert "Basis of preparation" in html and "Recalculation policy" in html
