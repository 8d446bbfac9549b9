"""Perfect-foresight optimiser: hand cases, an independent scipy formulation, bounds on the rules,
engine invariants, the certified decomposition, MILP commitment and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lp_reference
from core_helpers import battery, genset, problem
from islandgrid.errors import InputError, SolverError
from islandgrid.optimize import Penalties, solve_problem
from islandgrid.simulate.checks import check_flows
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.rules import RuleStrategy
from lp_reference import reference_lp_objective

PEN = Penalties()


def priced(p: DispatchProblem, import_price: list[float] | np.ndarray, carbon: float = 0.0) -> DispatchProblem:
    return replace(p, import_price_per_kwh=np.asarray(import_price, dtype=float), carbon_price_per_kg=carbon)


# -- hand cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [1.0, 0.9])
def test_arbitrage_by_hand(eta: float) -> None:
    """Two hours, load 10 kW, import 0.1 then 1.0 /kWh, empty battery (SoC min 0).

    By hand: buy x in hour 1 so that eta_c * eta_d * x = 10 kWh covers hour 2; cost
    = 0.1 * (10 + 10 / eta^2) + discharge tie-break 1e-4 * 10. Exact LP optimum (tolerance 1e-9).
    """
    p = priced(
        problem([0, 0], [10, 10], [True, True], bat=battery(100, 50, eta=eta, soc_init=0.0), gen=genset(0.0)),
        [0.1, 1.0],
    )
    flows, info = solve_problem(p, "lp", method="direct")
    expected = 0.1 * (10 + 10 / eta**2) + PEN.discharge_per_kwh * 10
    assert info.objective == pytest.approx(expected, rel=1e-9)
    assert flows["bat_out_kwh"][1] == pytest.approx(10.0, rel=1e-9)
    check_flows(flows, p, commitment=False)


def test_self_discharge_decays_the_energy_above_soc_min() -> None:
    """No load, no PV, nothing to do: the stored energy above SoC min decays geometrically,
    soc_t - soc_min = (1 - s dt)^(t+1) (soc_init - soc_min), as the rule engine's BMS idealisation."""
    s = 0.01
    bat = battery(100, 50, soc_min=0.1, soc_init=0.6, selfdis_per_h=s)
    p = problem([0] * 6, [0] * 6, [True] * 6, bat=bat, gen=genset(0.0))
    flows, _ = solve_problem(p, "lp", method="direct")
    expect = 10 + 50 * (1 - s) ** np.arange(1, 7)
    np.testing.assert_allclose(flows["soc_kwh"], expect, rtol=1e-9)
    check_flows(flows, p, commitment=False)


def test_outage_is_bridged_by_charging_beforehand() -> None:
    """A 3-hour outage of a 20 kW load with no genset and a battery at SoC min: perfect foresight
    charges 60 kWh (eta 1) before it, so nothing is unserved; the grid carries nothing while down."""
    up = [True, True, True, False, False, False]
    bat = battery(100, 60, soc_min=0.0, soc_init=0.0)
    p = problem([0] * 6, [20] * 6, up, bat=bat, gen=genset(0.0))
    flows, _ = solve_problem(p, "lp", method="direct")
    assert flows["unserved_kwh"].sum() == pytest.approx(0.0, abs=1e-9)
    assert flows["grid_in_kwh"][3:].max() == 0.0
    assert flows["soc_kwh"][2] == pytest.approx(60.0, rel=1e-9)


# -- independent formulation --------------------------------------------------------------


def linprog_objective(p: DispatchProblem) -> float:
    """The independent LP (:mod:`lp_reference`, no islandgrid code) on the problem's numbers."""
    b, g = p.battery, p.genset
    return reference_lp_objective(
        dt_h=p.dt_h,
        pv_kw=p.pv_kw,
        load_kw=p.load_kw,
        critical_kw=p.critical_kw,
        grid_up=p.grid_available,
        import_price=p.import_price_per_kwh,
        export_price=p.export_price_per_kwh,
        grid_kg_per_kwh=p.grid_co2_kg_per_kwh,
        carbon_price_per_kg=p.carbon_price_per_kg,
        import_kw=p.grid.import_kw,
        export_kw=p.grid.export_kw,
        e_min_kwh=b.soc_min_kwh,
        e_max_kwh=b.soc_max_kwh,
        e_init_kwh=b.soc_init_kwh,
        e_reserve_kwh=b.reserve_kwh,
        charge_kw=b.charge_kw,
        discharge_kw=b.discharge_kw,
        eta_c=b.eta_charge,
        eta_d=b.eta_discharge,
        selfdis_per_h=b.self_discharge_frac_per_h,
        rated_kw=g.rated_kw,
        nameplate_kw=g.nameplate_kw,
        f0_l_per_h_per_kw=g.f0_l_per_h_per_kw,
        f1_l_per_kwh=g.f1_l_per_kwh,
        fuel_price_per_l=g.fuel_price_per_l,
        diesel_kg_per_l=g.co2_kg_per_l,
    )


def test_the_reference_lp_imports_no_islandgrid_code() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(lp_reference.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.startswith("islandgrid")]


def objective_of(p: DispatchProblem, f: dict[str, np.ndarray]) -> float:
    """The optimiser's LP objective evaluated on any engine flows (e.g. a rule strategy's)."""
    g = p.genset
    up = np.asarray(p.grid_available, dtype=bool)
    grid = (p.import_price_per_kwh + p.carbon_price_per_kg * p.grid_co2_kg_per_kwh) * f["grid_in_kwh"]
    below = np.maximum(p.battery.reserve_kwh - f["soc_kwh"], 0.0) * up
    shed = f["unserved_kwh"] - f["unserved_critical_kwh"]
    return float(
        grid.sum()
        - (p.export_price_per_kwh * f["grid_out_kwh"]).sum()
        + f["fuel_l"].sum() * (g.fuel_price_per_l + g.co2_kg_per_l * p.carbon_price_per_kg) * (g.rated_kw > 0)
        + PEN.shed_per_kwh * shed.sum()
        + PEN.shed_critical_per_kwh * f["unserved_critical_kwh"].sum()
        + PEN.discharge_per_kwh * f["bat_out_kwh"].sum()
        + PEN.reserve_per_kwh_h * p.dt_h * below.sum()
    )


@st.composite
def small_problems(draw: st.DrawFn) -> DispatchProblem:
    n = draw(st.integers(2, 10))
    fl = st.floats(0, 60, allow_nan=False)
    pv = draw(st.lists(fl, min_size=n, max_size=n))
    load = draw(st.lists(st.floats(0, 40), min_size=n, max_size=n))
    up = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    price = draw(st.lists(st.floats(0.05, 1.5), min_size=n, max_size=n))
    eta = draw(st.floats(0.85, 1.0))
    soc_min = draw(st.floats(0.0, 0.3))
    soc_max = draw(st.floats(0.6, 1.0))
    bat = battery(
        draw(st.floats(10, 200)),
        draw(st.floats(5, 80)),
        eta=eta,
        soc_min=soc_min,
        soc_max=soc_max,
        soc_init=draw(st.floats(soc_min, soc_max)),
        reserve=draw(st.floats(soc_min, soc_max)),
        selfdis_per_h=draw(st.sampled_from([0.0, 0.001, 0.02])),
    )
    gen = genset(draw(st.sampled_from([0.0, 15.0, 50.0])), min_frac=0.3)
    p = problem(
        pv,
        load,
        up,
        bat=bat,
        gen=gen,
        dt_h=draw(st.sampled_from([1.0, 0.5])),
        import_kw=draw(st.floats(5, 100)),
        export_kw=draw(st.sampled_from([0.0, 20.0])),
        critical_frac=draw(st.floats(0, 1)),
    )
    return replace(
        p,
        import_price_per_kwh=np.asarray(price),
        export_price_per_kwh=np.asarray(price) * draw(st.floats(0, 0.9)),
        carbon_price_per_kg=draw(st.sampled_from([0.0, 0.6])),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_lp_matches_an_independent_scipy_solve(p: DispatchProblem) -> None:
    """Same optimum as the dense textbook formulation solved by scipy.optimize.linprog (1e-7 rel.),
    by both LP methods, and the engine's invariants hold on the dispatch."""
    ref = linprog_objective(p)
    for method in ("direct", "decompose"):
        flows, info = solve_problem(p, "lp", method=method)
        assert info.objective == pytest.approx(ref, rel=1e-7, abs=1e-7)
        check_flows(flows, p, commitment=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems())
def test_optimum_bounds_every_rule(p: DispatchProblem) -> None:
    """The LP optimum is never beaten by a rule strategy on the same objective (the rules' fuel,
    unserved energy, reserve shortfall and discharge priced as the LP prices them); the MILP's
    dispatch passes the engine checks, its LP bound lies below it, its genset is on/off with at
    least its minimum load while on."""
    _flows, info = solve_problem(p, "lp", method="direct")
    for name in ("load_following", "cycle_charging", "pv_first"):
        rule = RuleStrategy(name).dispatch(p)
        # (HiGHS's 1e-7 optimality tolerances on ~100 kWh-sized values: 1e-5 absolute slack)
        assert info.objective <= objective_of(p, rule) + 1e-6 * max(10.0, abs(info.objective))
    _f, free = solve_problem(p, "lp", penalties=replace(PEN, reserve_per_kwh_h=0.0))
    assert free.objective <= info.objective + 1e-6 * max(10.0, abs(info.objective))
    mflows, minfo = solve_problem(p, "milp", time_limit_s=20)
    check_flows(mflows, p)
    assert minfo.lp_bound <= minfo.objective + 1e-6 * max(10.0, abs(minfo.objective))  # solver tolerances
    on = mflows["genset_on"]
    assert set(np.unique(on)) <= {0.0, 1.0}
    g = p.genset
    gmin = min(g.min_load_kw, g.rated_kw) * p.dt_h
    assert (mflows["diesel_kwh"][on > 0] >= gmin - 1e-6).all()
    assert (mflows["diesel_kwh"][on == 0] <= 1e-9).all()


# -- MILP -----------------------------------------------------------------------------------


def test_milp_minimum_load_goes_to_dump_and_fuel_follows_homer() -> None:
    """Islanded, no PV, a battery with no usable room (SoC max = SoC min), a 10 kW load for 3 hours
    and a 50 kW genset with 30 % minimum load: the MILP runs the genset at its 15 kW minimum and
    dumps the 5 kW surplus. Fuel = F0 x rated + F1 x P per hour (HOMER's curve and example
    F0 = 0.033, F1 = 0.273, HOMER Pro user manual)."""
    bat = battery(100, 50, soc_min=0.1, soc_max=0.1 + 1e-9, soc_init=0.1)
    gen = genset(50.0, min_frac=0.3)
    p = problem([0, 0, 0], [10, 10, 10], [False] * 3, bat=bat, gen=gen, critical_frac=1.0)
    flows, info = solve_problem(p, "milp")
    np.testing.assert_allclose(flows["genset_on"], 1.0)
    np.testing.assert_allclose(flows["diesel_kwh"], 15.0, rtol=1e-9)
    np.testing.assert_allclose(flows["dump_kwh"], 5.0, rtol=1e-6)
    np.testing.assert_allclose(flows["fuel_l"], 0.033 * 50 + 0.273 * 15, rtol=1e-9)
    assert info.optimality_gap > 0  # the LP bound runs the genset only at 10 kW
    check_flows(flows, p)


def test_milp_minimum_run_time() -> None:
    """A 4-hour outage, load only in its first hour, a 3-hour minimum run time: the genset runs one
    run of 3 consecutive hours that covers that hour (where the run sits around it is a tie). (With
    the grid back the minimum run time ends: test_plant_defects.py::test_the_milp_applies_the_grid_return_policy.)"""
    gen = genset(50.0, min_frac=0.0, min_run_h=3.0)
    up = [True, False, False, False, False, True]
    p = problem([0] * 6, [20, 20, 0, 0, 0, 20], up, bat=battery(0.0, 0.0), gen=gen)
    flows, _ = solve_problem(p, "milp")
    on = flows["genset_on"]
    assert on.sum() == 3 and on[1] == 1
    assert np.count_nonzero(np.diff(np.r_[0, on, 0]) == 1) == 1  # one start
    assert flows["unserved_kwh"].sum() == pytest.approx(0.0, abs=1e-9)


# -- decomposition certificate --------------------------------------------------------------


def test_wrong_splits_are_caught_by_the_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force split guesses where the battery cannot be full (night, no PV): the duality
    certificate rejects them and the answer still equals the one-piece solve."""
    import islandgrid.optimize.decompose as dec

    n = 96
    hours = np.arange(n) % 24
    pv = np.where((hours > 8) & (hours < 16), 80.0, 0.0)
    price = np.where((hours > 17) & (hours < 22), 1.0, 0.3)
    p = priced(problem(pv, np.full(n, 20.0), np.ones(n, bool), bat=battery(200, 50, eta=0.95)), price)
    monkeypatch.setattr(dec, "split_candidates", lambda _p, _m: np.array([23, 47, 71]))
    _, info_dec = solve_problem(p, "lp", method="decompose")
    _, info_dir = solve_problem(p, "lp", method="direct")
    assert info_dec.objective == pytest.approx(info_dir.objective, rel=1e-9)
    assert info_dec.lp_bound <= info_dec.objective + 1e-9


# -- the example site ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def horinger_problem(horinger):  # type: ignore[no-untyped-def]
    from islandgrid.inputs.series import build_inputs
    from islandgrid.strategy.problem import build_problem

    return build_problem(horinger, build_inputs(horinger, None))


def test_horinger_decomposition_is_exact_and_flows_check(horinger_problem: DispatchProblem) -> None:
    """The certified decomposition equals the one-piece HiGHS optimum (1e-9 relative) on the
    example year; the flows pass the engine's checks; no load is shed with perfect foresight."""
    p = horinger_problem
    f_dec, i_dec = solve_problem(p, "lp")
    _, i_dir = solve_problem(p, "lp", method="direct")
    assert "certified" in i_dec.status
    assert i_dec.objective == pytest.approx(i_dir.objective, rel=1e-9)
    assert i_dec.optimality_gap <= 1e-9
    check_flows(f_dec, p, commitment=False)
    assert f_dec["unserved_kwh"].sum() < 1e-6


def test_optimal_strategy_through_the_engine_and_regret(horinger) -> None:  # type: ignore[no-untyped-def]
    """'optimal_lp' runs through simulate like any strategy; the regret table's reference is
    'optimal' (the perfect-foresight MILP), which reports its gap, and pv_first costs more."""
    import islandgrid
    from islandgrid.simulate.regret import default_strategies, reference_name, regret_rows

    r = islandgrid.simulate(horinger, "optimal_lp", baseline=False)
    assert r.strategy == "optimal_lp"
    assert reference_name(default_strategies()) == "optimal"
    ref, rows = regret_rows(horinger, ["pv_first"])
    assert ref == "optimal"
    by = {row["strategy"]: row for row in rows}
    assert by["optimal"]["regret_cost"] == 0.0
    assert by["optimal"]["optimality_gap"] is not None and by["optimal"]["optimality_gap"] <= 1e-3
    # pv_first keeps the same reserve as the optimum, so it cannot be cheaper
    assert by["pv_first"]["regret_cost"] > 0


# -- bad input and failures -----------------------------------------------------------------


def test_bad_options_are_input_errors() -> None:
    p = problem([0, 0], [1, 1], [True, True])
    with pytest.raises(InputError, match="mode"):
        solve_problem(p, "nlp")
    with pytest.raises(InputError, match="end_soc"):
        solve_problem(p, "lp", end_soc="cyclic")
    with pytest.raises(InputError, match="method"):
        solve_problem(p, "lp", method="magic")


def test_end_soc_that_cannot_be_reached_is_a_solver_error_saying_what_to_relax() -> None:
    """Islanded, nothing to charge from, self-discharge: ending at the start SoC is impossible.
    (Infeasibility cannot come from anything else: every bus row has an unserved slack.)"""
    bat = battery(100, 50, soc_init=0.5, selfdis_per_h=0.01)
    p = problem([0, 0, 0], [0, 0, 0], [False] * 3, bat=bat, gen=genset(0.0))
    with pytest.raises(SolverError, match="end_soc='free'"):
        solve_problem(p, "lp", end_soc="initial", method="direct")
    solve_problem(p, "lp", end_soc="free")  # relaxing it works


def test_time_limit_gives_a_clear_solver_error(horinger_problem: DispatchProblem) -> None:
    with pytest.raises(SolverError, match="time limit"):
        solve_problem(horinger_problem, "lp", method="direct", time_limit_s=1e-4)


def test_relax_and_round_fallback_is_feasible_and_above_the_bound() -> None:
    """The MILP's no-solution-in-time fallback: genset on wherever the LP uses it (runs extended to
    the minimum run time, or until the grid is back), the rest re-solved as an LP: feasible, engine
    checks pass, >= LP bound."""
    from islandgrid.optimize.build import build_model
    from islandgrid.optimize.highs import run_lp
    from islandgrid.optimize.solve import _relax_and_round, flows_from_solution

    up = [True, False, False, True, False, True, True, True]
    gen = genset(40.0, min_frac=0.3, min_run_h=2.0)
    p = problem([0, 5, 30, 0, 0, 0, 0, 0], [25] * 8, up, bat=battery(40, 20, soc_init=0.2), gen=gen)
    lp = build_model(p, "lp")
    x_lp, obj_lp, _ = run_lp(lp, 10.0)
    mi = build_model(p, "milp")
    x, obj, _ = _relax_and_round(mi, lp, x_lp, 10.0)
    flows = flows_from_solution(mi, x)
    check_flows(flows, p)
    assert obj >= obj_lp - 1e-9
    on = flows["genset_on"]
    runs = np.diff(np.r_[0, on, 0])
    ends = np.flatnonzero(runs == -1)
    lengths = ends - np.flatnonzero(runs == 1)
    assert len(lengths) and (lengths >= 1).all()
    # a run shorter than the minimum run time ends only where the grid is back (grid-return policy)
    assert all(n >= 2 or (e < len(up) and up[e]) for n, e in zip(lengths, ends, strict=True))
