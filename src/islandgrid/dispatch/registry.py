"""The strategy registry: every dispatch strategy by name (rules, MPC variants, the optimum), with a
one-line summary of each.

It sits above the packages it names (:mod:`islandgrid.strategy`, :mod:`islandgrid.mpc`,
:mod:`islandgrid.optimize`), so none of them imports upwards. highspy is still imported only when
an MPC window or the optimum is solved.
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


#: One line per registered strategy for ``islandgrid strategies`` (the names come from
#: :func:`strategy_factories`; a test checks each has its line).
SUMMARIES: dict[str, str] = {
    "load_following": "HOMER load following: the genset follows the net load; only its minimum-load surplus "
    "charges the battery",
    "cycle_charging": "HOMER cycle charging: a started genset runs at full output until the battery reaches "
    "the setpoint",
    "pv_first": "PV, then the battery (keeping the islanding reserve while grid-tied), then the grid; genset last",
    "battery_first": "the open simulators' off-grid reference: the battery covers net load at a power held over "
    "the interval, the genset the rest, the rest is shed",
    "mpc": "model-predictive control on clear-sky forecasts (as mpc_clearsky)",
    "mpc_perfect": "model-predictive control on perfect forecasts (its best case)",
    "mpc_persistence": "model-predictive control on persistence forecasts",
    "mpc_clearsky": "model-predictive control on clear-sky forecasts",
    "mpc_noisy": "model-predictive control on seeded noisy forecasts",
    "optimal": "the whole year with perfect foresight, MILP (HiGHS): the bound for any EMS",
    "optimal_lp": "the same year as an LP (no genset commitment): a lower bound on cost",
    "optimal_no_reserve": "as optimal, without the islanding reserve",
}


def strategy_summaries() -> dict[str, str]:
    """Every registered strategy name and a one-line summary of what it does ('' when it has none)."""
    return {name: SUMMARIES.get(name, "") for name in strategy_factories()}


def get_strategy(name: str, source: str | None = None) -> Strategy:
    """Build the strategy called ``name``.

    Parameters
    ----------
    name : str
        A registered name.
    source : str, optional
        The site file the name came from, for the error message.

    Raises
    ------
    SiteFileError
        If no strategy has that name; the message lists the names.
    """
    factories = strategy_factories()
    if name not in factories:
        raise SiteFileError(
            "unknown strategy",
            source=source,
            field="simulation.strategy",
            value=name,
            allowed=", ".join(factories),
            fix="pick one of those names (`islandgrid strategies` describes them)",
        )
    return factories[name]()
