"""NPC, CRF, LCOE, replacement, salvage and payback against hand calculations.

CRF and NPC follow HOMER Pro's definitions (HOMER Pro user manual, glossary); the CRF values are those of
standard interest tables (e.g. Newnan, Engineering Economic Analysis, A/P factor:
10 %, 3 years = 0.40211; 6 %, 25 years = 0.07823), checked here to 1e-5 as printed there.
"""

from __future__ import annotations

import numpy as np
import pytest

from islandgrid.economics.battery_life import equivalent_full_cycles, throughput_life_years
from islandgrid.economics.costs import Operation, Prices, Sizes, cost_table, payback_years
from islandgrid.economics.evaluate import economics
from islandgrid.economics.finance import crf, replacement_schedule
from islandgrid.economics.sensitivity import tornado
from islandgrid.site.spec import EconomicsSpec


def test_crf_against_interest_tables() -> None:
    assert crf(0.10, 3) == pytest.approx(0.40211, abs=1e-5)
    assert crf(0.06, 25) == pytest.approx(0.07823, abs=1e-5)
    assert crf(0.0, 20) == pytest.approx(1 / 20)


def _one(x: float) -> np.ndarray:
    return np.array([x])


def test_npc_hand_case_with_replacement_and_salvage() -> None:
    """PV only: capex 1000, O&M 100 a year, life 2 years, project 3 years, i = 10 %.

    Replaced at year 2 (1000); HOMER salvage at year 3: R_rep = 2 x floor(3/2) = 2,
    R_rem = 2 - (3 - 2) = 1, S = 1000 x 1/2 = 500. By hand:
    NPC = 1000 + 100 (1/1.1 + 1/1.1^2 + 1/1.1^3) + 1000/1.1^2 - 500/1.1^3 = 1699.474.
    """
    econ = EconomicsSpec(
        discount_rate_frac=0.10, project_life_years=3, pv_capex_per_kwp=1000.0, pv_om_per_kwp_year=100.0,
        pv_life_years=2.0, carbon_price_eur_per_t=0.0,
    )  # fmt: skip
    op = Operation(
        served_kwh=_one(1000.0), export_kwh=_one(0.0), grid_cost=_one(0.0), export_revenue=_one(0.0),
        fuel_l=_one(0.0), diesel_hours=_one(0.0), co2_scope1_kg=_one(0.0), co2_scope2_kg=_one(0.0),
        battery_life_years=_one(np.inf),
    )  # fmt: skip
    t = cost_table(Sizes(_one(1.0), _one(0.0), _one(0.0), _one(0.0)), op, econ, Prices(0.0, 0.0, 1.0, 0.10))
    hand = 1000 + 100 * (1 / 1.1 + 1 / 1.21 + 1 / 1.331) + 1000 / 1.21 - 500 / 1.331
    assert t.npc[0] == pytest.approx(hand, rel=1e-12)
    assert t.npc[0] == pytest.approx(1699.474, abs=1e-3)
    assert t.annualised[0] == pytest.approx(hand * crf(0.10, 3), rel=1e-12)
    assert t.lcoe_per_kwh[0] == pytest.approx(hand * crf(0.10, 3) / 1000.0, rel=1e-12)
    assert t.flows["replacement"][0].tolist() == [0, 0, 1000, 0]
    assert t.flows["salvage"][0, 3] == pytest.approx(-500)


def test_operating_lines_are_annuities_and_carbon_is_separate() -> None:
    """Fuel, grid and carbon each cost (annual amount) / CRF; carbon = t CO2 x price."""
    econ = EconomicsSpec(discount_rate_frac=0.06, project_life_years=25)
    op = Operation(
        served_kwh=_one(1e5), export_kwh=_one(0.0), grid_cost=_one(5e4), export_revenue=_one(1e3),
        fuel_l=_one(200.0), diesel_hours=_one(10.0), co2_scope1_kg=_one(536.0), co2_scope2_kg=_one(4e4),
        battery_life_years=_one(np.inf),
    )  # fmt: skip
    pr = Prices(fuel_per_l=7.5, carbon_per_t=600.0, grid_factor_scale=1.0, discount_rate_frac=0.06)
    t = cost_table(Sizes(_one(0.0), _one(0.0), _one(0.0), _one(0.0)), op, econ, pr)
    annuity = 1 / crf(0.06, 25)
    assert t.npc_by_line["grid"][0] == pytest.approx(5e4 * annuity)
    assert t.npc_by_line["export"][0] == pytest.approx(-1e3 * annuity)
    assert t.npc_by_line["fuel"][0] == pytest.approx(200 * 7.5 * annuity)
    assert t.npc_by_line["carbon"][0] == pytest.approx((536 + 4e4) / 1000 * 600 * annuity)
    assert t.npc_excl_carbon[0] == pytest.approx(t.npc[0] - t.npc_by_line["carbon"][0])


def test_replacement_schedule_counts_and_salvage() -> None:
    counts, rem = replacement_schedule(np.array([15.0, 25.0, 30.0, 0.5]), 25)
    assert counts[0].sum() == 1 and counts[0, 15] == 1
    assert counts[1].sum() == 0 and rem[1] == 0.0  # life = project: nothing left, nothing bought
    assert rem[0] == pytest.approx(5 / 15)  # HOMER: 15 - (25 - 15) = 5 years left of 15
    assert rem[2] == pytest.approx(5 / 30)
    assert counts[3].sum() == 49  # replaced every half year, k x 0.5 < 25


def test_payback_simple_case() -> None:
    """Extra capex 1000, saving 250 a year: simple payback 4.0 years; discounted later."""
    design = np.array([1000.0] + [0.0] * 10)
    base = np.array([0.0] + [250.0] * 10)
    simple, disc = payback_years(design, base, 0.05)
    assert simple == pytest.approx(4.0)
    assert 4.0 < disc < 5.0


def test_rainflow_life_equals_throughput_model_at_exponent_one() -> None:
    """k = 1: 100 full 10 %..90 % cycles are 100 x 0.8 / 0.8 = 100 rated cycles, the same as
    HOMER's lifetime throughput; k = 2 makes the same cycles at DoD 0.8 rated 0.4 count 4x."""
    soc = np.tile([10.0, 90.0], 101)[:-1]  # 100 kWh battery
    assert equivalent_full_cycles(soc, 100.0, 0.8, 1.0) == pytest.approx(100.0, rel=0.01)
    life = throughput_life_years(np.array([100 * 80.0]), np.array([100.0]), 6000, 0.8)
    assert life[0] == pytest.approx(6000.0 / 100.0)
    assert equivalent_full_cycles(soc, 100.0, 0.4, 2.0) == pytest.approx(400.0, rel=0.01)


def test_site_economics_lines_and_baseline(horinger_result) -> None:  # type: ignore[no-untyped-def]
    """Lines add up to NPC; the baseline buys a genset sized for the peak load."""
    rep = economics(horinger_result)
    lines = rep.lines()
    line_sum = lines.loc[["capex", "om", "replacement", "salvage", "fuel", "grid", "export", "carbon"]].sum()
    assert line_sum["microgrid"] == pytest.approx(lines.loc["NPC", "microgrid"])
    peak = float(horinger_result.inputs.frame["load_kw"].max())
    econ = horinger_result.site.economics
    expect = max(peak, horinger_result.site.genset.rated_kw) * econ.genset_capex_per_kw
    assert lines.loc["capex", "baseline"] == pytest.approx(expect)
    s = rep.summary()
    assert s["lcoe_per_kwh"] == pytest.approx(s["annualised_cost"] / horinger_result.kpis["served_kwh"], rel=1e-3)
    rows = tornado(rep, econ)
    carbon = next(r for r in rows if r.parameter == "carbon price")
    assert carbon.npc_low < s["npc"] < carbon.npc_high  # more carbon price, more cost
