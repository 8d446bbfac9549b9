"""The perfect-foresight optimum as a dispatch strategy ('optimal', 'optimal_lp')."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from islandgrid.optimize.model import Penalties
from islandgrid.optimize.solve import Progress, SolveInfo, solve_problem
from islandgrid.strategy.base import DispatchProblem


@dataclass
class OptimalStrategy:
    """Dispatch by solving the whole period at once with perfect foresight.

    The flows go through the engine's checks, carbon flow and KPIs like any strategy's; the
    last solve's figures (objective, LP bound, gap) are kept in :attr:`info`.

    Parameters
    ----------
    mode : {'lp', 'milp'}
        LP (linear genset, the lower bound) or MILP (hourly genset commitment).
    end_soc : {'free', 'initial'}
        End-of-period SoC rule (see :mod:`islandgrid.optimize.model`).
    time_limit_s : float
        Per HiGHS run [s].
    mip_rel_gap : float
        HiGHS's relative MIP gap [-].
    reserve : bool
        Hold the islanding reserve as a soft floor while grid-tied (as the PV-first rules and the
        MPC do; the site file asks for it), or not (the bound for strategies that ignore it).
    label : str or None
        Registry name; defaults to 'optimal' (MILP) or 'optimal_lp', with '_no_reserve' appended
        without the reserve.
    """

    mode: str = "milp"
    end_soc: str = "free"
    time_limit_s: float = 300.0
    mip_rel_gap: float = 1e-3
    penalties: Penalties = field(default_factory=Penalties)
    reserve: bool = True
    label: str | None = None
    progress: Progress | None = field(default=None, repr=False)
    info: SolveInfo | None = field(default=None, repr=False)

    @property
    def commits_genset(self) -> bool:
        """Whether the genset is committed on and off (MILP), not a fraction of rated power (LP)."""
        return self.mode != "lp"

    @property
    def name(self) -> str:
        """The registry name."""
        if self.label:
            return self.label
        base = "optimal" if self.mode == "milp" else f"optimal_{self.mode}"
        return base if self.reserve else f"{base}_no_reserve"

    def dispatch(self, problem: DispatchProblem) -> dict[str, np.ndarray]:
        """Solve the period and return its flows."""
        flows, self.info = solve_problem(
            problem,
            self.mode,
            end_soc=self.end_soc,
            penalties=self.penalties if self.reserve else replace(self.penalties, reserve_per_kwh_h=0.0),
            time_limit_s=self.time_limit_s,
            mip_rel_gap=self.mip_rel_gap,
            progress=self.progress,
        )
        return flows
