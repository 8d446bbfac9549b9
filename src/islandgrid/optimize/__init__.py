"""Perfect-foresight dispatch: the whole year solved at once, the bound any EMS can reach.

- :mod:`~islandgrid.optimize.model`: the LP/MILP, assembled as arrays (CSC) with numpy;
- :mod:`~islandgrid.optimize.solve`: HiGHS, the MILP's LP bound and gap, flows back out;
- :mod:`~islandgrid.optimize.strategy`: the registered strategies 'optimal' and 'optimal_lp';
- :mod:`~islandgrid.optimize.run`: :func:`optimize`, a Result with the solve figures in its KPIs.

highspy is imported only when a model is solved.
"""

from __future__ import annotations

from islandgrid.optimize.model import Penalties, build_model
from islandgrid.optimize.run import optimize
from islandgrid.optimize.solve import SolveInfo, solve_problem
from islandgrid.optimize.strategy import OptimalStrategy

__all__ = ["OptimalStrategy", "Penalties", "SolveInfo", "build_model", "optimize", "solve_problem"]
