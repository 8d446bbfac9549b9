"""Every dispatch strategy by name: the rules, the MPC variants and the perfect-foresight optimum.

This package sits above the packages it names (:mod:`islandgrid.strategy`, :mod:`islandgrid.mpc`,
:mod:`islandgrid.optimize`, :mod:`islandgrid.forecast`) and below the simulator and the controller,
which both pick a strategy by name here (so the hardware side never imports the simulator).
"""

from islandgrid.dispatch.registry import get_strategy, strategy_factories, strategy_summaries

__all__ = ["get_strategy", "strategy_factories", "strategy_summaries"]
