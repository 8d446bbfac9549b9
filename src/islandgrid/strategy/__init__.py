"""Dispatch strategies behind one interface; the rule strategies by name.

Every strategy, rules, MPC and optimum alike, is named in :mod:`islandgrid.dispatch.registry`, a
layer above this package (the MPC and the optimiser build on the plant rules here, never the
other way round).
"""

from __future__ import annotations

from collections.abc import Callable

from islandgrid.strategy.base import FLOW_COLUMNS, DispatchProblem, GridParams, Strategy
from islandgrid.strategy.rules import RuleStrategy


def _rule(name: str) -> Callable[[], Strategy]:
    return lambda: RuleStrategy(name)


def rule_factories() -> dict[str, Callable[[], Strategy]]:
    """Every rule strategy's name and how to build it."""
    factories: dict[str, Callable[[], Strategy]] = {
        "load_following": _rule("load_following"),
        "cycle_charging": _rule("cycle_charging"),
        "pv_first": _rule("pv_first"),
        "battery_first": _rule("battery_first"),
    }
    return factories


__all__ = ["FLOW_COLUMNS", "DispatchProblem", "GridParams", "Strategy", "rule_factories"]
