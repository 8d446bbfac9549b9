"""The strategy registry: every dispatch strategy by name (rules, MPC variants, the optimum).

It sits in the engine's layer, above the packages it names (:mod:`islandgrid.strategy`,
:mod:`islandgrid.mpc`, :mod:`islandgrid.optimize`), so none of them imports upwards. highspy is
still imported only when an MPC window or the optimum is solved.
"""

from __future__ import annotations

from collections.abc import Callable

from islandgrid.errors import SiteFileError
from islandgrid.mpc.strategy import MPCStrategy
from islandgrid.optimize.strategy import OptimalStrategy
from islandgrid.strategy import rule_factories
from islandgrid.strategy.base import Strategy


def _mpc(forecaster: str, label: str | None = None) -> Callable[[], Strategy]:
    return lambda: MPCStrategy(forecaster=forecaster, label=label)


def _optimal(mode: str, reserve: bool = True) -> Callable[[], Strategy]:
    return lambda: OptimalStrategy(mode=mode, reserve=reserve)


def strategy_factories() -> dict[str, Callable[[], Strategy]]:
    """Every strategy name and how to build it (the rules first)."""
    factories: dict[str, Callable[[], Strategy]] = {
        **rule_factories(),
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
