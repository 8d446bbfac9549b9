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


#: One line per registered strategy for ``islandgrid strategies`` (the names come from
#: :func:`strategy_factories`; a test checks each has its line).
_SUMMARIES: dict[str, str] = {
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
    return {name: _SUMMARIES.get(name, "") for name in strategy_factories()}


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


__all__ = [
    "FLOW_COLUMNS",
    "DispatchProblem",
    "GridParams",
    "Strategy",
    "get_strategy",
    "strategy_factories",
    "strategy_summaries",
]
