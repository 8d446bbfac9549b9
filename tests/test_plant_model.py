"""One plant model (issue 10 §1): the perfect-foresight optimiser and the MPC window are the same
LP/MILP, built by one builder with one set of penalties and one self-discharge model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import sparse

from core_helpers import battery, genset, problem
from islandgrid.inputs.series import build_inputs
from islandgrid.mpc import window
from islandgrid.mpc.window import WindowModel
from islandgrid.optimize import Penalties, solve_problem
from islandgrid.optimize.build import build_model, commit_schedule
from islandgrid.optimize.model import Horizon, InitialState, Model
from islandgrid.site.spec import Site
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.problem import build_problem
from mpc_helpers import sunny_days


@pytest.fixture(scope="module")
def horinger_problem(horinger: Site) -> DispatchProblem:
    return build_problem(horinger, build_inputs(horinger, "1h"))


def columns_of(model: Model, wm: WindowModel, x_window: np.ndarray) -> np.ndarray:
    """The window's solution in ``model``'s columns (matched by kind and interval or block)."""
    x = np.zeros(model.n_cols)
    for kind, (c0, times) in model.cols.items():
        w0, _ = wm.model.cols[kind]
        if kind in ("on", "start"):
            x[c0 : c0 + len(times)] = x_window[w0 + times]
        else:
            x[c0 : c0 + len(times)] = wm.model.values(x_window, kind)[times]
    return x


def assert_optimal_for(model: Model, x: np.ndarray, optimum: float) -> None:
    """``x`` is feasible for ``model`` (bounds and rows, to solver tolerance) and attains ``optimum``."""
    tol = 1e-6 * max(1.0, float(np.abs(x).max()))
    assert (x >= model.col_lower - tol).all() and (x <= model.col_upper + tol).all()
    a = sparse.csc_matrix((model.value, model.index, model.start), shape=(model.n_rows, model.n_cols))
    ax = a @ x
    assert (ax >= model.row_lower - tol).all() and (ax <= model.row_upper + tol).all()
    assert float(model.cost @ x) + model.offset == pytest.approx(optimum, rel=1e-6)


def test_one_penalties_class_and_one_builder() -> None:
    """The MPC's penalties are the optimiser's (one class, one tie-break), and its window is the
    optimiser's builder's model."""
    assert window.Penalties is Penalties
    p = sunny_days(days=1)
    wm = WindowModel(p, 24)
    assert isinstance(wm.model, Model)
    assert Penalties().discharge_per_kwh > 0 and not hasattr(Penalties(), "throughput")


def test_year_optimum_is_the_same_from_the_optimiser_and_the_window(horinger_problem: DispatchProblem) -> None:
    """Horinger, a year hourly (self-discharge 0.05 %/day, outages, the reserve): the optimiser (the LP
    by its certified decomposition, and its MILP model) and the MPC window with the year as its horizon, no
    terminal value and the period's initial state give the same optimum (1e-6 relative), and the
    window's dispatch is an optimum of the optimiser's model."""
    p = horinger_problem
    assert p.battery.self_discharge_frac_per_h > 0 and not p.grid_available.all()
    _f, lp = solve_problem(p, "lp")
    wm = WindowModel(p, p.n, terminal=False, selfdis_margin=False, mip_rel_gap=1e-9)
    plan = wm.solve(Horizon.of(p), InitialState(p.battery.soc_init_kwh))
    assert plan.mip_gap == 0.0  # its relaxation is integral: the window's MILP optimum
    assert plan.objective == pytest.approx(lp.objective, rel=1e-6)
    # the LP optimum keeps the genset off, so it is also the optimiser's MILP optimum; the window's
    # dispatch attains it in the optimiser's own MILP model
    mi = build_model(p, "milp")
    assert_optimal_for(mi, columns_of(mi, wm, plan.x), lp.objective)


@pytest.mark.parametrize("seed", [3, 4])
def test_islanded_milp_optimum_is_the_same_from_the_optimiser_and_the_window(seed: int) -> None:
    """A day islanded with a load the battery cannot carry through the night: the binaries bind.
    The optimiser's MILP and the window's MILP (both to a proven optimum) agree to 1e-6, and each
    dispatch is an optimum of the other's model."""
    p = sunny_days(days=1, dt_h=1.0, seed=seed, outage=(0, 24))
    bat = replace(p.battery, self_discharge_frac_per_h=0.002)
    p = replace(p, load_kw=p.load_kw + 15.0, critical_kw=p.critical_kw + 9.0, battery=bat)
    flows, info = solve_problem(p, "milp", mip_rel_gap=0.0, time_limit_s=60.0)
    assert info.status == "Optimal" and flows["genset_on"].sum() > 0
    wm = WindowModel(p, p.n, terminal=False, selfdis_margin=False, mip_rel_gap=1e-9, time_limit_s=60.0)
    plan = wm.solve(Horizon.of(p), InitialState(p.battery.soc_init_kwh), warm_start=False)
    assert plan.method in ("lp", "mip") and plan.mip_gap <= 1e-9
    assert plan.objective == pytest.approx(info.objective, rel=1e-6)
    mi = build_model(p, "milp")
    assert_optimal_for(mi, columns_of(mi, wm, plan.x), info.objective)


def test_self_discharge_is_one_model_in_the_optimiser_and_the_window() -> None:
    """Idle battery, no load: both decay the stored energy above SoC min, never below it
    (soc_t - soc_min = (1 - s dt)^t (soc_0 - soc_min)); a window starting below SoC min (a measured
    state) loses nothing in its first interval, as under the rules."""
    s = 0.01
    bat = battery(100, 50, soc_min=0.1, soc_init=0.6, selfdis_per_h=s)
    p = problem([0] * 6, [0] * 6, [True] * 6, bat=bat, gen=genset(0.0))
    p = replace(p, import_price_per_kwh=np.full(6, 10.0))  # no reason to charge
    expect = 10 + 50 * (1 - s) ** np.arange(1, 7)
    flows, _ = solve_problem(p, "lp", method="direct")
    np.testing.assert_allclose(flows["soc_kwh"], expect, rtol=1e-9)
    plan = WindowModel(p, 6, terminal=False, selfdis_margin=False).solve(Horizon.of(p), InitialState(60.0))
    np.testing.assert_allclose(plan.flows["soc"], expect, rtol=1e-9)
    f = WindowModel(p, 6, terminal=False, selfdis_margin=False).solve(Horizon.of(p), InitialState(8.0)).flows
    b = p.battery
    assert f["soc"][0] == pytest.approx(8.0 + b.eta_charge * f["bat_in"][0] - f["bat_out"][0] / b.eta_discharge)


def test_window_plan_keeps_the_rules_self_discharge_margin() -> None:
    """Islanded, no PV, no genset, a battery that can just carry the load: the window plans to empty
    it, but never below where the rules' larger self-discharge (on the whole stored energy) would
    take the plant under SoC min when it follows the plan."""
    s = 0.01
    bat = battery(100, 50, soc_min=0.2, soc_init=0.6, selfdis_per_h=s, eta=1.0)
    p = problem([0] * 8, [5.0] * 8, [False] * 8, bat=bat, gen=genset(0.0), critical_frac=0.0)
    b = p.battery
    f = WindowModel(p, 8).solve(Horizon.of(p), InitialState(b.soc_init_kwh)).flows
    soc = b.soc_init_kwh
    for t in range(8):  # the rule engine's battery update (strategy/rules.py, steps 1 and the SoC line)
        soc -= min(soc * s, max(soc - b.soc_min_kwh, 0.0))
        soc += b.eta_charge * f["bat_in"][t] - f["bat_out"][t] / b.eta_discharge
        assert soc >= b.soc_min_kwh - 1e-9, t
    assert f["bat_out"].sum() > 0.9 * (b.soc_init_kwh - b.soc_min_kwh)  # and it does use the battery


def no_battery() -> dict[str, object]:
    return {"bat": battery(100, 50, soc_min=0.1, soc_max=0.1, soc_init=0.1)}


@pytest.mark.parametrize(("min_off_h", "on"), [(0.0, [0, 1]), (2.0, [1, 1])])
def test_window_keeps_the_minimum_off_time_from_the_measured_state(min_off_h: float, on: list[float]) -> None:
    """Islanded, no usable battery, a genset measured on (its minimum run time long over), no load in
    hour 0 and 10 kW in hour 1. Free to stop, the window stops it in hour 0 and restarts it (a start
    costs 0.25 h of no-load fuel, less than an hour at its 15 kW minimum load). With a 2 h minimum off
    time a stop in hour 0 (the genset was on before the window) forbids the restart in hour 1: it
    stays on, as the year's MILP row on_{b-m} + the last m starts <= 1 with on_{-1} the state."""
    gen = genset(rated_kw=50, min_frac=0.3, min_off_h=min_off_h)
    p = problem([0, 0], [0, 10], [False] * 2, gen=gen, import_kw=0, **no_battery())  # type: ignore[arg-type]
    plan = WindowModel(p, 2).solve(Horizon.of(p), InitialState(p.battery.soc_init_kwh, genset_on=True, run_h=5.0))
    np.testing.assert_allclose(plan.on, on)
    assert plan.flows["shed"].sum() + plan.flows["shed_crit"].sum() == pytest.approx(0.0, abs=1e-6)


def test_window_applies_the_grid_return_policy_after_repricing() -> None:
    """Hour 0 islanded with a 20 kW load, the grid back (and cheaper than diesel) from hour 1; genset
    3 h minimum run. The window, re-priced from an all-islanded window (plant_data), lets the genset
    stop once the grid is back; and a genset measured on inside its minimum run time with the grid up
    at the window's start is not held on."""
    gen = genset(rated_kw=50, min_frac=0.3, min_run_h=3.0)
    p = problem([0] * 3, [20] * 3, [False, True, True], gen=gen, **no_battery())  # type: ignore[arg-type]
    down = problem([0] * 3, [20] * 3, [False] * 3, gen=gen, **no_battery())  # type: ignore[arg-type]
    wm = WindowModel(p, 3, terminal=False)
    first = wm.solve(Horizon.of(down), InitialState(p.battery.soc_init_kwh))
    np.testing.assert_allclose(first.on, [1, 1, 1])
    plan = wm.solve(Horizon.of(p), InitialState(p.battery.soc_init_kwh))
    np.testing.assert_allclose(plan.on, [1, 0, 0])
    np.testing.assert_allclose(plan.flows["grid_in"], [0, 20, 20], atol=1e-6)
    up = problem([0] * 3, [20] * 3, [True] * 3, gen=gen, **no_battery())  # type: ignore[arg-type]
    held = wm.solve(Horizon.of(up), InitialState(p.battery.soc_init_kwh, genset_on=True, run_h=0.5))
    np.testing.assert_allclose(held.on, [0, 0, 0])


def test_commit_schedule_keeps_run_and_off_times_and_the_grid_return() -> None:
    """Runs extended to the minimum run time (3 blocks) unless the grid is back first, a gap shorter
    than the minimum off time (2 blocks) bridged, and one after the initial state (on) too."""
    free = np.ones(8, dtype=bool)
    none = np.zeros(8, dtype=bool)
    on = np.array([1, 0, 0, 0, 0, 1, 0, 0], dtype=bool)
    np.testing.assert_array_equal(commit_schedule(on, free, 3, 1, none), [1, 1, 1, 0, 0, 1, 1, 1])
    back = np.array([0, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    np.testing.assert_array_equal(commit_schedule(on, free, 3, 1, back), [1, 0, 0, 0, 0, 1, 1, 0])
    gap = np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    np.testing.assert_array_equal(commit_schedule(gap, free, 1, 2, none), [1, 1, 1, 0, 0, 0, 0, 0])
    late = np.array([0, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    np.testing.assert_array_equal(commit_schedule(late, free, 1, 2, none, on_before=True), [1, 1, 0, 0, 0, 0, 0, 0])
    blocked = free.copy()
    blocked[0] = False
    np.testing.assert_array_equal(commit_schedule(late, blocked, 1, 2, none, on_before=True), none)
