"""The physics checker is itself tested: every check, seeded with exactly its violation.

One real two-day dispatch (PV-first rules; PV, export, a 17-hour outage the battery and then
the genset cover, self-discharge) passes every check. Each test below perturbs the fewest values
that break exactly one promise, keeping every other promise (balance, SoC recursion, fuel curve...)
intact, and asserts that the checker names that check and no other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core_helpers import battery, genset, problem
from islandgrid.carbon.flow import carbon_flow
from islandgrid.errors import BalanceError
from islandgrid.inputs.series import build_inputs
from islandgrid.simulate.checks import CHECKS, check_flows, genset_runs, violations
from islandgrid.simulate.engine import run_problem
from islandgrid.strategy.base import DispatchProblem
from islandgrid.strategy.problem import build_problem
from islandgrid.strategy.rules import RuleStrategy

F0 = 0.033 * 50  # the 50 kW genset's no-load fuel (core_helpers' HOMER curve) [L/h]
F1 = 0.273  # its fuel slope [L/kWh]
ETA = 0.95


def _problem() -> DispatchProblem:
    h = np.arange(48)
    pv = np.clip(100 * np.sin((h % 24 - 6) / 12 * np.pi), 0, None)
    up = ~((h >= 17) & (h < 34))
    bat = battery(200, 100, eta=ETA, soc_min=0.1, soc_max=0.95, soc_init=0.5, reserve=0.2, selfdis_per_h=0.01)
    gen = genset(50, min_frac=0.3, min_run_h=2.0)
    return problem(pv, np.full(48, 40.0), up, bat=bat, gen=gen, import_kw=500, export_kw=20)


@pytest.fixture(scope="module")
def case() -> tuple[DispatchProblem, dict[str, np.ndarray], pd.DataFrame]:
    p = _problem()
    f = RuleStrategy("pv_first").dispatch(p)
    c = carbon_flow(pd.DataFrame(f, index=p.index), p.grid_co2_kg_per_kwh, 2.68, p.battery.soc_init_kwh, ETA, ETA)
    return p, f, c


def test_the_real_dispatch_passes_every_check(case) -> None:  # type: ignore[no-untyped-def]
    p, f, c = case
    assert violations(f, p, c) == []
    check_flows(f, p, c)
    # the case exercises what the seeds below rely on
    on = f["genset_on"]
    assert on[25] == 1.0 and on[18] == 0.0 and on[17] == 0.0 and on[19] == 0.0 and on[40] == 0.0
    assert not p.grid_available[18] and not p.grid_available[25] and p.grid_available[3] and p.grid_available[47]
    assert f["pv_curtailed_kwh"][9] == 0.0 and f["pv_available_kwh"][9] > 1 and f["pv_available_kwh"][12] > 1
    assert f["grid_in_kwh"][47] > 21 and f["soc_kwh"][47] - 21 / ETA < p.battery.soc_min_kwh < f["soc_kwh"][47] - 1


def _seed(f: dict[str, np.ndarray], **changes: tuple[int, float]) -> dict[str, np.ndarray]:
    """A copy of ``f`` with ``column=(interval, added value)`` applied."""
    g = {k: v.copy() for k, v in f.items()}
    for col, (t, add) in changes.items():
        g[col][t] += add
    return g


Seed = Callable[[DispatchProblem, dict[str, np.ndarray]], tuple[DispatchProblem, dict[str, np.ndarray]]]


def _bat_power(p: DispatchProblem, f: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    # 101 kWh more in (above the 100 kW limit), what that stores back out: the SoC is unchanged
    x = 101.0
    return p, _seed(f, bat_in_kwh=(3, x), bat_out_kwh=(3, x * ETA * ETA), grid_in_kwh=(3, x * (1 - ETA * ETA)))


def _soc_limit(p: DispatchProblem, f: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    # 21 kWh more from the battery instead of the grid in the last hour: the recursion holds, the SoC
    # ends below its minimum
    return p, _seed(f, bat_out_kwh=(47, 21.0), grid_in_kwh=(47, -21.0), soc_kwh=(47, -21.0 / ETA))


def _short_run(p: DispatchProblem, f: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    # a 0.2 h run at its minimum load in an islanded hour between two hours off (its surplus dumped)
    e = 15.0 * 0.2
    return p, _seed(f, genset_on=(18, 0.2), diesel_kwh=(18, e), dump_kwh=(18, e), fuel_l=(18, F0 * 0.2 + F1 * e))


def _early_restart(p: DispatchProblem, f: dict[str, np.ndarray]):  # type: ignore[no-untyped-def]
    # 24 h minimum off time; a half-hour run 8 h after the outage's run (grid up: exempt from the minimum run)
    q = replace(p, genset=replace(p.genset, min_off_h=24.0))
    e = 15.0 * 0.5
    return q, _seed(f, genset_on=(40, 0.5), diesel_kwh=(40, e), dump_kwh=(40, e), fuel_l=(40, F0 * 0.5 + F1 * e))


SEEDS: dict[str, Seed] = {
    # curtailment -1 kWh, balanced by 1 kWh more PV used and 1 kWh dumped
    "non-negative": lambda p, f: (p, _seed(f, pv_curtailed_kwh=(9, -1.0), pv_used_kwh=(9, 1.0), dump_kwh=(9, 1.0))),
    "inputs": lambda p, f: (p, _seed(f, load_kwh=(3, 1.0), unserved_kwh=(3, 1.0))),
    "energy balance": lambda p, f: (p, _seed(f, dump_kwh=(3, 1.0))),
    "load split": lambda p, f: (p, _seed(f, unserved_kwh=(3, 1.0))),
    "PV split": lambda p, f: (p, _seed(f, pv_curtailed_kwh=(12, 1.0))),
    "battery state": lambda p, f: (p, _seed(f, soc_kwh=(47, 0.5))),
    # 0.1 kWh more self-discharge (above s x soc_prev = 0.4 kWh), taken off the SoC
    "self-discharge": lambda p, f: (p, _seed(f, bat_selfdis_kwh=(47, 0.1), soc_kwh=(47, -0.1))),
    "SoC limits": _soc_limit,
    "battery power": _bat_power,
    "grid while islanded": lambda p, f: (p, _seed(f, grid_in_kwh=(25, 10.0), dump_kwh=(25, 10.0))),
    "grid limits": lambda p, f: (p, _seed(f, grid_in_kwh=(3, 500.0), dump_kwh=(3, 500.0))),
    # 20 kWh more diesel (60 > 50 kWh rated), dumped, with its fuel
    "genset output": lambda p, f: (p, _seed(f, diesel_kwh=(25, 20.0), dump_kwh=(25, 20.0), fuel_l=(25, F1 * 20))),
    # 10 kWh of diesel (below its 15 kW minimum), the other 30 kWh shed
    "genset minimum load": lambda p, f: (
        p,
        _seed(f, diesel_kwh=(25, -30.0), load_served_kwh=(25, -30.0), unserved_kwh=(25, 30.0), fuel_l=(25, -F1 * 30)),
    ),
    "fuel curve": lambda p, f: (p, _seed(f, fuel_l=(25, 1.0))),
    "minimum run time": _short_run,
    "minimum off time": _early_restart,
}


@pytest.mark.parametrize("check", [c for c in CHECKS if c != "carbon conservation"])
def test_each_seeded_violation_is_named_alone(case, check: str) -> None:  # type: ignore[no-untyped-def]
    p, f, _c = case
    q, g = SEEDS[check](p, f)
    found = violations(g, q)
    assert [v.check for v in found] == [check], found
    with pytest.raises(BalanceError, match=check):
        check_flows(g, q)


def test_carbon_not_conserved_is_named(case) -> None:  # type: ignore[no-untyped-def]
    p, f, c = case
    lost = c.copy()
    lost.iloc[25, lost.columns.get_loc("load_co2_kg")] += 1.0  # 1 kg more carried than emitted
    assert [v.check for v in violations(f, p, lost)] == ["carbon conservation"]
    # conserved, but 1 kg of grid carbon the grid import did not emit
    made_up = c.copy()
    made_up.iloc[3, made_up.columns.get_loc("grid_co2_kg")] += 1.0
    made_up.iloc[3, made_up.columns.get_loc("load_co2_kg")] += 1.0
    assert [v.check for v in violations(f, p, made_up)] == ["carbon conservation"]


def test_runs_are_read_from_the_run_fractions() -> None:
    # a start in the last 0.4 of hour 1, two full hours, a stop after 0.5 of hour 4; a start and stop
    # within hour 6; a start in the last hour, still running
    r = np.array([0, 0.4, 1, 1, 0.5, 0, 0.3, 0, 0.8])
    runs = genset_runs(r, 1.0)
    assert [(round(a, 9), round(b, 9), round(n, 9), s, on) for a, b, n, s, on in runs] == [
        (1.6, 4.5, 2.9, 4, False),
        (6.7, 6.3, 0.3, 6, False),
        (8.2, 9.0, 0.8, 9, True),
    ]


def test_the_lp_relaxation_is_exempt_from_run_times(case) -> None:  # type: ignore[no-untyped-def]
    p, f, _c = case
    _q, g = _short_run(p, f)
    assert violations(g, p, commitment=False) == []


def test_the_engine_refuses_a_grid_that_delivers_during_an_outage(horinger) -> None:  # type: ignore[no-untyped-def]
    """The issue's blind spot: rules that let the grid deliver while it is down."""

    class LeakyGrid:
        name = "leaky"

        def dispatch(self, p: DispatchProblem) -> dict[str, np.ndarray]:
            f = RuleStrategy("pv_first").dispatch(p)
            down = ~np.asarray(p.grid_available, dtype=bool)
            f["grid_in_kwh"] = f["grid_in_kwh"] + 5.0 * down
            f["dump_kwh"] = f["dump_kwh"] + 5.0 * down
            return f

    inputs = build_inputs(horinger, "1h")
    with pytest.raises(BalanceError, match="grid while islanded"):
        run_problem(horinger, inputs, build_problem(horinger, inputs), LeakyGrid())
