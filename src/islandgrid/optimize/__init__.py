"""Perfect-foresight dispatch: the whole year solved at once, the bound any EMS can reach.

- :mod:`~islandgrid.optimize.model`: the plant's LP/MILP stated (variables, rows, self-discharge,
  :class:`Penalties`), one model for the optimiser and the MPC window;
- :mod:`~islandgrid.optimize.build`: :func:`build_plant_model`, the one builder (arrays, CSC, numpy);
- :mod:`~islandgrid.optimize.highs`: HiGHS instances, status and failure messages;
- :mod:`~islandgrid.optimize.decompose`: the certified time decomposition of the year's LP;
- :mod:`~islandgrid.optimize.solve`: HiGHS, the MILP's LP bound and gap, flows back out;
- :mod:`~islandgrid.optimize.strategy`: the registered strategies 'optimal' and 'optimal_lp';

``islandgrid.simulate.optimal.optimize`` runs the year through the engine (a layer above this one).

highspy is imported only when a model is solved.
"""

from __future__ import annotations

from islandgrid.optimize.build import build_model, build_plant_model
from islandgrid.optimize.model import Formulation, Horizon, InitialState, Penalties
from islandgrid.optimize.solve import SolveInfo, solve_problem
from islandgrid.optimize.strategy import OptimalStrategy

__all__ = [
    "Formulation",
    "Horizon",
    "InitialState",
    "OptimalStrategy",
    "Penalties",
    "SolveInfo",
    "build_model",
    "build_plant_model",
    "solve_problem",
]
