"""Dispatch strategies behind one interface, and the registry that names them."""

from __future__ import annotations

from collections.abc import Callable

from islandgrid.errors import SiteFileError
from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem, GridParams, Strategy
from islandgrid.strategy.rules import RuleStrategy


def _rule(name: str) -> Callable[[], Strategy]:
    return lambda: RuleStrategy(name)


def _mpc(forecaster: str, label: str | None = None) -> Callable[[], Strategy]:
    def make() -> Strategy:
        from islandgrid.mpc.strategy import MPCStrategy  # lazy: highspy only when used

        return MPCStrategy(forecaster=forecaster, label=label)

    return make


def _optimal(mode: str, reserve: bool = True) -> Callable[[], Strategy]:
    def make() -> Strategy:
        from islandgrid.optimize.strategy import OptimalStrategy  # lazy: highspy only when used

        return OptimalStrategy(mode=mode, reserve=reserve)

    return make


def strategy_factories() -> dict[str, Callable[[], Strategy]]:
    """Every strategy name and how to build it.

    Optimising strategies register here too; they are imported lazily so that the
    rule path does not pay for the solver import.
    """
    factories: dict[str, Callable[[], Strategy]] = {
        "load_following": _rule("load_following"),
        "cycle_charging": _rule("cycle_charging"),
        "pv_first": _rule("pv_first"),
        "battery_first": _rule("battery_first"),
        "mpc": _mpc("clearsky", "mpc"),
        "mpc_perfect": _mpc("perfect"),
        "mpc_persistence": _mpc("persistence"),
        "mpc_clearsky": _mpc("clearsky"),
        "mpc_noisy": _mpc("noisy"),
        "optimal": _optimal("milp"),
        "optimal_lp": _optimal("lp"),
        "optimal_no_reserve": _optimal("milp", reserve=False),
    }
    return factories


def get_strategy(name: str) -> Strategy:
    """Build the strategy called ``name``.

    Raises
    ------
    SiteFileError
        If no strategy has that name; the message lists the names.
    """
    factories = strategy_factories()
    if name not in factories:
        raise SiteFileError(
            "unknown strategy",
            field="simulation.strategy",
            value=name,
            allowed=", ".join(factories),
            fix="pick one of those names",
        )
    return factories[name]()


__all__ = ["FLOW_COLUMNS", "DispatchProblem", "GridParams", "Strategy", "get_strategy", "strategy_factories"]
