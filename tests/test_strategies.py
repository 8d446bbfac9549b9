"""Hand-computed 3-step cases for each rule strategy.

Every expected value below is worked out by hand in the comment above it, from the
rules documented in :mod:`islandgrid.strategy.rules` (dt = 1 h, so kW = kWh).
"""

from __future__ import annotations

import numpy as np
import pytest

from core_helpers import battery, genset, problem
from islandgrid.simulate.checks import check_flows
from islandgrid.strategy.rules import RuleStrategy


def run(name: str, p):
    strategy = RuleStrategy(name)
    flows = strategy.dispatch(p)
    check_flows(flows, p, commitment=strategy.commits_genset)
    return flows


def test_pv_first_grid_tied_holds_reserve() -> None:
    # 100 kWh / 50 kW, eta 1, start 50 kWh, reserve 30 kWh, grid up, no export.
    # t0: pv 80, load 30 -> PV serves 30, charges 50 (power limit) -> soc 100.
    # t1: load 40 -> battery 40 (down to reserve allows 70) -> soc 60.
    # t2: load 60 -> battery 30 (to the reserve), grid 30 -> soc 30.
    p = problem([80, 0, 0], [30, 40, 60], [True] * 3, bat=battery(soc_init=0.5, reserve=0.3))
    f = run("pv_first", p)
    np.testing.assert_allclose(f["bat_in_kwh"], [50, 0, 0])
    np.testing.assert_allclose(f["bat_out_kwh"], [0, 40, 30])
    np.testing.assert_allclose(f["grid_in_kwh"], [0, 0, 30])
    np.testing.assert_allclose(f["soc_kwh"], [100, 60, 30])
    np.testing.assert_allclose(f["diesel_kwh"], [0, 0, 0])


def test_pv_first_restores_reserve_from_grid() -> None:
    # start 10 kWh, reserve 30 kWh: t0 load 10 from the grid, plus 20 kWh of grid charge to the reserve.
    p = problem([0], [10], [True], bat=battery(soc_init=0.1, reserve=0.3))
    f = run("pv_first", p)
    assert f["grid_in_kwh"][0] == pytest.approx(30)
    assert f["bat_in_kwh"][0] == pytest.approx(20)
    assert f["soc_kwh"][0] == pytest.approx(30)


def test_load_following_discharges_below_reserve_when_grid_tied() -> None:
    # HOMER load following has no islanding reserve: start 50, min 10 -> 40 kWh available.
    p = problem([0], [40], [True], bat=battery(soc_init=0.5, reserve=0.3, soc_min=0.1))
    f = run("load_following", p)
    assert f["bat_out_kwh"][0] == pytest.approx(40)
    assert f["grid_in_kwh"][0] == pytest.approx(0)


def test_pv_first_islanded_genset_covers_what_battery_cannot() -> None:
    # Grid down. Battery start 20 kWh, min 10 -> 10 kWh available. Genset 40 kW, min load 12 kW.
    # t0: load 30. Battery covers 10 kWh (the first third), genset runs r = 2/3 of the hour at 30 kW
    #     -> diesel 20 kWh; fuel = 0.033*40*(2/3) + 0.273*20 = 0.88 + 5.46 = 6.34 L.
    # t1: genset already on, battery at min -> genset 30 kWh for the whole hour; fuel 1.32 + 8.19 = 9.51 L.
    # t2: pv 50, load 30 -> no net load, genset stops, 20 kWh surplus charges the battery -> soc 30.
    p = problem(
        [0, 0, 50],
        [30, 30, 30],
        [False] * 3,
        bat=battery(soc_init=0.2, soc_min=0.1),
        gen=genset(rated_kw=40, min_frac=0.3),
    )
    f = run("pv_first", p)
    np.testing.assert_allclose(f["diesel_kwh"], [20, 30, 0], atol=1e-9)
    np.testing.assert_allclose(f["fuel_l"], [6.34, 9.51, 0], atol=1e-9)
    np.testing.assert_allclose(f["genset_on"], [2 / 3, 1, 0], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [10, 10, 30], atol=1e-9)
    assert f["unserved_kwh"].sum() == 0


def test_cycle_charging_runs_full_output_to_setpoint() -> None:
    # Grid down, battery at its 10 kWh minimum, setpoint 50 kWh, genset 40 kW (min 12).
    # t0: genset at 40 kW: 10 to the load, 30 into the battery -> soc 40.
    # t1: soc below setpoint: 10 to the load, only 10 more fits below the setpoint -> 20 kWh, soc 50.
    # t2: setpoint reached, battery covers the load -> soc 40, genset off.
    p = problem(
        [0, 0, 0],
        [10, 10, 10],
        [False] * 3,
        bat=battery(soc_init=0.1, soc_min=0.1),
        gen=genset(rated_kw=40, min_frac=0.3),
        setpoint_frac=0.5,
    )
    f = run("cycle_charging", p)
    np.testing.assert_allclose(f["diesel_kwh"], [40, 20, 0], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [40, 50, 40], atol=1e-9)


def test_load_following_runs_at_minimum_load_and_banks_surplus() -> None:
    # Same as above with load following: the genset runs at its 12 kW minimum; 2 kWh surplus charges.
    p = problem(
        [0, 0, 0],
        [10, 10, 10],
        [False] * 3,
        bat=battery(soc_init=0.1, soc_min=0.1),
        gen=genset(rated_kw=40, min_frac=0.3),
    )
    f = run("load_following", p)
    np.testing.assert_allclose(f["diesel_kwh"], [12, 12, 12], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [12, 14, 16], atol=1e-9)


def test_minimum_run_time_extends_a_short_run_while_islanded() -> None:
    # Hour 1, islanded: the battery covers 25 of 30 kWh, so the genset starts when it reaches its
    # floor and runs the last 1/6 h at 30 kW (5 kWh). Its 0.5 h minimum run time carries over:
    # hour 2, still islanded, PV 40 kW covers the load and its 10 kWh surplus charges the battery;
    # nothing needs the genset, yet it runs the remaining 1/3 h at its 12 kW minimum load (4 kWh,
    # banked in the battery) and then stops: SoC 10 + 10 + 4 = 24 kWh.
    p = problem(
        [0, 40],
        [30, 30],
        [False, False],
        bat=battery(soc_init=0.35, soc_min=0.1),
        gen=genset(rated_kw=40, min_run_h=0.5),
    )
    f = run("pv_first", p)
    np.testing.assert_allclose(f["genset_on"], [1 / 6, 1 / 3], atol=1e-9)
    np.testing.assert_allclose(f["diesel_kwh"], [5, 4], atol=1e-9)
    np.testing.assert_allclose(f["bat_out_kwh"], [25, 0], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [10, 24], atol=1e-9)


def test_the_grid_returning_ends_the_minimum_run() -> None:
    # The grid-return policy: as above, but the grid is back in hour 2. The minimum run time protects
    # the engine while it carries an island; with the grid back nothing needs it, so it stops at the
    # start of hour 2 instead of running 1/3 h at minimum load in parallel with the grid. The grid
    # serves the load (under cycle charging after the 1.67 kWh its full-output start banked).
    p = problem(
        [0, 0], [30, 30], [False, True], bat=battery(soc_init=0.35, soc_min=0.1), gen=genset(rated_kw=40, min_run_h=0.5)
    )
    for name in ("pv_first", "load_following", "cycle_charging"):
        f = run(name, p)
        np.testing.assert_allclose(f["genset_on"], [1 / 6, 0], atol=1e-9)
        assert f["diesel_kwh"][1] == 0.0
        assert f["grid_in_kwh"][1] + f["bat_out_kwh"][1] == pytest.approx(30)
    f = run("pv_first", p)
    np.testing.assert_allclose(f["grid_in_kwh"], [0, 30], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [10, 10], atol=1e-9)


def test_start_delay_sheds_non_critical_first() -> None:
    # Battery empty (at min), 6-minute start delay: the first 0.1 h of 40 kW (4 kWh) cannot be served.
    # Critical share 0.5 -> 20 kWh critical; the 4 kWh shortfall is shed from non-critical load.
    p = problem([0], [40], [False], bat=battery(soc_init=0.1, soc_min=0.1), gen=genset(rated_kw=50, delay_h=0.1))
    f = run("pv_first", p)
    assert f["unserved_kwh"][0] == pytest.approx(4)
    assert f["unserved_critical_kwh"][0] == pytest.approx(0)
    assert f["diesel_kwh"][0] == pytest.approx(36)


def test_no_source_means_critical_unserved() -> None:
    # No genset, battery at min, grid down: all 40 kWh unserved, 20 of it critical.
    p = problem([0], [40], [False], bat=battery(soc_init=0.1, soc_min=0.1), gen=genset(rated_kw=0))
    f = run("pv_first", p)
    assert f["unserved_kwh"][0] == pytest.approx(40)
    assert f["unserved_critical_kwh"][0] == pytest.approx(20)


def test_reserve_is_used_before_shedding_when_import_limited() -> None:
    # Grid up but limited to 10 kW, no genset: pv_first holds a 30 kWh reserve but uses it rather than shed.
    p = problem(
        [0], [50], [True], bat=battery(soc_init=0.3, reserve=0.3, soc_min=0.0), gen=genset(rated_kw=0), import_kw=10
    )
    f = run("pv_first", p)
    assert f["unserved_kwh"][0] == pytest.approx(10)  # 50 - 10 grid - 30 battery
    assert f["bat_out_kwh"][0] == pytest.approx(30)


# -- battery_first: the reference semantics (issue 10 §6) ----------------------------------


def test_battery_first_by_hand() -> None:
    # Off-grid. 100 kWh battery, 50 kW, eta_c = eta_d = 0.9, SoC 10-90 kWh, start 30 kWh
    # (20 kWh above SoC min = 18 kWh at the discharge efficiency). Genset 30 kW, 9 kW minimum.
    # t0: net = 50 - 10 = 40: battery min(40, 50, 18) = 18 -> SoC 10; genset min(22, 30) = 22.
    #     fuel = 0.033 x 30 + 0.273 x 22 = 0.99 + 6.006 = 6.996 L.
    # t1: net 40: battery 0 (at SoC min); genset 30 (its rating); 10 kWh shed (critical 20 kWh kept).
    #     fuel = 0.99 + 8.19 = 9.18 L.
    # t2: PV 100, load 20: surplus 80; charge min(80, 50, (90 - 10) / 0.9 = 88.9) = 50 -> SoC 55;
    #     30 kWh spilled; genset off, no fuel.
    p = problem(
        [10, 0, 100],
        [50, 40, 20],
        [False] * 3,
        bat=battery(100, 50, eta=0.9, soc_min=0.1, soc_max=0.9, soc_init=0.3),
        gen=genset(rated_kw=30, min_frac=0.3),
        import_kw=0,
    )
    f = run("battery_first", p)
    np.testing.assert_allclose(f["bat_out_kwh"], [18, 0, 0], atol=1e-9)
    np.testing.assert_allclose(f["diesel_kwh"], [22, 30, 0], atol=1e-9)
    np.testing.assert_allclose(f["unserved_kwh"], [0, 10, 0], atol=1e-9)
    np.testing.assert_allclose(f["unserved_critical_kwh"], [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(f["bat_in_kwh"], [0, 0, 50], atol=1e-9)
    np.testing.assert_allclose(f["pv_curtailed_kwh"], [0, 0, 30], atol=1e-9)
    np.testing.assert_allclose(f["soc_kwh"], [10, 10, 55], atol=1e-9)
    np.testing.assert_allclose(f["genset_on"], [1, 1, 0])
    np.testing.assert_allclose(f["fuel_l"], [6.996, 9.18, 0], atol=1e-9)


@pytest.mark.parametrize(("min_frac", "diesel", "dump"), [(0.3, 9.0, 7.0), (0.0, 2.0, 0.0)])
def test_battery_first_minimum_load_as_set(min_frac: float, diesel: float, dump: float) -> None:
    # Net 12 kWh, 10 kWh in the battery (eta 1): the genset covers 2 kWh; with a 9 kW minimum load
    # it runs at 9 kW and the 7 kWh surplus is dumped (the battery's discharge is held); 0 allowed.
    p = problem(
        [0],
        [12],
        [False],
        bat=battery(100, 50, soc_min=0.1, soc_init=0.2),
        gen=genset(rated_kw=30, min_frac=min_frac),
        import_kw=0,
    )
    f = run("battery_first", p)
    assert f["bat_out_kwh"][0] == pytest.approx(10)
    assert f["diesel_kwh"][0] == pytest.approx(diesel)
    assert f["dump_kwh"][0] == pytest.approx(dump)
    assert f["fuel_l"][0] == pytest.approx(0.033 * 30 + 0.273 * diesel)


def test_battery_first_uses_the_battery_where_load_following_keeps_its_genset_on() -> None:
    # The documented difference. Islanded, eta 1, SoC 20 kWh (min 10), genset 40 kW, 12 kW minimum,
    # 2 h minimum run.
    # Hour 0, net 30: both give the battery's 10 kWh, then 20 kWh of diesel (load following starts
    #   the genset when the battery reaches its floor, 1/3 into the hour: run fraction 2/3).
    # Hour 1, PV 40, load 30: 10 kWh of PV charges both batteries. Load following's genset is held
    #   by its minimum run time and runs all hour at its 12 kW minimum, into the battery.
    # Hour 2, net 8: battery-first discharges 8 kWh, no diesel. Load following runs out the last
    #   1/3 h of its minimum run at 12 kW: 4 kWh of diesel.
    bat = battery(100, 50, soc_min=0.1, soc_init=0.2)
    gen = genset(rated_kw=40, min_frac=0.3, min_run_h=2.0)
    p = problem([0, 40, 0], [30, 30, 8], [False] * 3, bat=bat, gen=gen, import_kw=0)
    bf = run("battery_first", p)
    lf = run("load_following", p)
    np.testing.assert_allclose(bf["diesel_kwh"], [20, 0, 0], atol=1e-9)
    np.testing.assert_allclose(bf["bat_out_kwh"], [10, 0, 8], atol=1e-9)
    np.testing.assert_allclose(bf["genset_on"], [1, 0, 0])
    np.testing.assert_allclose(lf["diesel_kwh"], [20, 12, 4], atol=1e-9)
    np.testing.assert_allclose(lf["genset_on"], [2 / 3, 1, 1 / 3], atol=1e-9)


def test_battery_first_is_in_the_registry() -> None:
    from islandgrid.dispatch.registry import get_strategy, strategy_factories

    assert "battery_first" in strategy_factories()
    assert get_strategy("battery_first").name == "battery_first"
