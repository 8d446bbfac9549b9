"""The window model's solve path: the LP relaxation is exact when integral, the direct-use valid
inequality cuts off no integer schedule, rounded and time-limited plans report an honest gap."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from islandgrid.mpc.window import COLS, InitialState, WindowInputs, WindowModel
from islandgrid.strategy.base import DispatchProblem
from mpc_helpers import sunny_days


def inputs(p: DispatchProblem, h: int, reserve: float | None = None) -> WindowInputs:
    return WindowInputs(
        p.pv_kw[:h],
        p.load_kw[:h],
        p.critical_kw[:h],
        p.grid_available[:h],
        p.import_price_per_kwh[:h],
        p.export_price_per_kwh[:h],
        p.grid_co2_kg_per_kwh[:h],
        p.battery.reserve_kwh if reserve is None else reserve,
    )


def islanded(days: int = 2, dt_h: float = 1.0, seed: int = 3) -> DispatchProblem:
    """No grid at all, and a load the battery alone cannot carry through the night: binaries bind."""
    p = sunny_days(days=days, dt_h=dt_h, seed=seed, outage=(0, round(days * 24 / dt_h)))
    return replace(p, load_kw=p.load_kw + 15.0, critical_kw=p.critical_kw + 9.0)


def balance_residual(p: DispatchProblem, f: dict[str, np.ndarray], load_kw: np.ndarray) -> np.ndarray:
    supply = f["pv_used"] + f["grid_in"] + f["diesel"] + f["bat_out"] + f["shed"] + f["shed_crit"]
    return supply - f["bat_in"] - f["grid_out"] - f["dump"] - load_kw * p.dt_h


def test_grid_up_window_is_the_exact_lp() -> None:
    """Grid up all window: the genset binaries are fixed off (commitment policy) and the plan is the LP
    optimum, gap 0, no genset; it balances every interval and keeps SoC within bounds."""
    p = sunny_days(days=2, dt_h=0.25)
    h = 192
    model = WindowModel(p, h)
    plan = model.solve(inputs(p, h), InitialState(p.battery.soc_init_kwh))
    assert plan.method == "lp" and plan.mip_gap == 0.0
    assert (plan.on == 0).all() and plan.flows["diesel"].max() == pytest.approx(0.0, abs=1e-9)
    assert np.abs(balance_residual(p, plan.flows, p.load_kw[:h])).max() < 1e-6
    soc = plan.flows["soc"]
    assert soc.min() >= p.battery.soc_min_kwh - 1e-6 and soc.max() <= p.battery.soc_max_kwh + 1e-6


def test_short_outage_needs_no_milp() -> None:
    """A 3-hour outage the battery covers: the relaxation already has every binary at 0, so the MILP
    is skipped and the plan is exact."""
    p = sunny_days(days=2, dt_h=0.25, outage=(40, 52))
    model = WindowModel(p, 192)
    plan = model.solve(inputs(p, 192, reserve=120.0), InitialState(p.battery.soc_init_kwh))
    assert plan.method == "lp" and plan.mip_gap == 0.0
    assert plan.flows["shed"].sum() + plan.flows["shed_crit"].sum() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("time_limit_s", [0.0, 1e-3, 5.0])
def test_islanded_window_gap_is_honest(time_limit_s: float) -> None:
    """Islanded, binaries bind: whatever the time limit, the plan is integral, balances, serves the
    critical load, and its reported gap bounds its distance to a tight reference optimum."""
    p = islanded(days=1, dt_h=0.25)
    h = 96
    w, s0 = inputs(p, h), InitialState(p.battery.soc_init_kwh)
    plan = WindowModel(p, h, time_limit_s=time_limit_s).solve(w, s0, warm_start=False)
    assert plan.method in {"lp_round", "mip", "mip_time_limit"}
    assert np.isfinite(plan.mip_gap) and plan.mip_gap >= 0.0
    assert set(np.unique(plan.on)) <= {0.0, 1.0} and plan.on.sum() > 0
    assert np.abs(balance_residual(p, plan.flows, p.load_kw[:h])).max() < 1e-6
    assert plan.flows["shed_crit"].sum() == pytest.approx(0.0, abs=1e-6)
    # genset output within [min load, rated] whenever on, zero when off
    g = p.genset
    d = plan.flows["diesel"]
    assert (d <= plan.on * g.rated_kw * p.dt_h + 1e-6).all()
    assert (d >= plan.on * min(g.min_load_kw, g.rated_kw) * p.dt_h - 1e-6).all()
    ref = WindowModel(p, h, mip_rel_gap=1e-4, time_limit_s=60.0).solve(w, s0, warm_start=False)
    assert ref.objective <= plan.objective + 1e-6
    # plan - best bound <= gap * |plan|, and the reference (feasible) is above the bound
    assert plan.objective - ref.objective <= plan.mip_gap * abs(plan.objective) + 1e-6
    if time_limit_s >= 1.0:
        assert plan.mip_gap <= 1e-2 + 1e-9  # the default tolerance is reached given time


@settings(max_examples=12, deadline=None)
@given(
    schedule=st.lists(st.booleans(), min_size=24, max_size=24),
    soc_frac=st.floats(0.0, 0.95),
    seed=st.integers(0, 5),
)
def test_direct_use_inequality_cuts_off_no_integer_schedule(schedule: list[bool], soc_frac: float, seed: int) -> None:
    """For ANY fixed genset schedule the LP optimum is the same with and without the direct-use rows:
    the inequality is valid for every integer schedule (it only cuts fractional ones)."""
    p = islanded(days=1, dt_h=1.0, seed=seed)
    model = WindowModel(p, 24)
    w = inputs(p, 24)
    model.solve(w, InitialState(soc_frac * p.battery.energy_kwh), warm_start=False)  # loads the window's data
    h = model._lp
    on_cols = np.asarray(model.on_col(np.arange(model.blocks)), dtype=np.int32)
    fixed = np.asarray(schedule, dtype=float)
    h.changeColsBounds(len(on_cols), on_cols, fixed, fixed)
    h.run()
    with_cut = h.getInfo().objective_function_value
    rows = np.arange(model.r_direct, model.r_direct + model.horizon, dtype=np.int32)
    h.changeRowsBounds(len(rows), rows, np.full(len(rows), -np.inf), np.full(len(rows), np.inf))
    h.run()
    without = h.getInfo().objective_function_value
    assert with_cut == pytest.approx(without, rel=1e-7, abs=1e-6)


def test_direct_use_inequality_tightens_the_relaxation() -> None:
    """...and it does cut fractional ones: on an islanded night the relaxation's bound rises."""
    p = islanded(days=2, dt_h=1.0)
    model = WindowModel(p, 48)
    model.solve(inputs(p, 48), InitialState(p.battery.soc_min_kwh), warm_start=False)
    h = model._lp
    on_cols = np.asarray(model.on_col(np.arange(model.blocks)), dtype=np.int32)
    h.changeColsBounds(len(on_cols), on_cols, np.zeros(len(on_cols)), np.ones(len(on_cols)))
    h.run()
    with_cut = h.getInfo().objective_function_value
    rows = np.arange(model.r_direct, model.r_direct + model.horizon, dtype=np.int32)
    h.changeRowsBounds(len(rows), rows, np.full(len(rows), -np.inf), np.full(len(rows), np.inf))
    h.run()
    assert with_cut > h.getInfo().objective_function_value + 1.0


def test_plan_columns_and_warm_start_shift() -> None:
    """Consecutive hourly windows on one model (the closed loop's use): each plan is integral and
    balances; the flows carry every model column."""
    p = islanded(days=3, dt_h=0.25)
    h = 96
    model = WindowModel(p, h)
    soc = p.battery.soc_init_kwh
    for t in range(0, 24, 4):
        sl = slice(t, t + h)
        w = WindowInputs(
            p.pv_kw[sl],
            p.load_kw[sl],
            p.critical_kw[sl],
            p.grid_available[sl],
            p.import_price_per_kwh[sl],
            p.export_price_per_kwh[sl],
            p.grid_co2_kg_per_kwh[sl],
            p.battery.reserve_kwh,
        )
        plan = model.solve(w, InitialState(soc))
        assert set(plan.flows) == set(COLS)
        assert np.abs(balance_residual(p, plan.flows, p.load_kw[sl])).max() < 1e-6
        soc = float(plan.flows["soc"][3])
