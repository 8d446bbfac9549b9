"""HiGHS, the one solver of the optimiser and the MPC: silent instances, a model passed as arrays, the
status and the failure message (Huangfu and Hall, "Parallelizing the dual revised simplex method",
Math. Prog. Comp. 10 (2018) 119-142; https://highs.dev).

highspy is imported only when a model is solved.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from islandgrid.errors import SolverError
from islandgrid.optimize.model import Model


def new_highs(*, silence: bool = True) -> Any:
    """A silent Highs instance.

    highspy prints its banner to file descriptor 1 when the first instance of a process is
    created, before any option can be set; that would corrupt ``--json`` output, so stdout is
    pointed at /dev/null for the constructor.
    """
    import highspy

    if not silence:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        return h
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def highs_lp(model: Model, *, integer: bool = True) -> Any:
    """``model`` as a ``highspy.HighsLp`` (column-wise matrix; binaries only if ``integer``)."""
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = model.n_cols
    lp.num_row_ = model.n_rows
    lp.col_cost_ = model.cost
    lp.col_lower_ = model.col_lower
    lp.col_upper_ = model.col_upper
    lp.row_lower_ = model.row_lower
    lp.row_upper_ = model.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = model.start
    lp.a_matrix_.index_ = model.index
    lp.a_matrix_.value_ = model.value
    lp.offset_ = model.offset
    if integer and model.integrality is not None:
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in model.integrality]
    return lp


def highs_for(model: Model, *, time_limit_s: float, mip_rel_gap: float = 1e-3, threads: int = 1) -> Any:
    """A Highs instance holding ``model`` with the options chosen by measurement (see the benchmark)."""
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("threads", int(threads))
    if model.integrality is None:
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 1)  # dual simplex: measured fastest on this LP
    else:
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        # binaries within 1e-9 of 0/1, so that rounding them leaves at most dust in the genset rows
        h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.passModel(highs_lp(model))
    return h


def status_text(h: Any) -> str:
    """HiGHS's model status of ``h`` in words."""
    return str(h.modelStatusToString(h.getModelStatus()))


def solver_failure(model: Model, status: str, time_limit_s: float) -> SolverError:
    """The :class:`SolverError` for a HiGHS run of ``model`` that ended with ``status``: what
    happened and what to change."""
    if "time limit" in status.lower():
        return SolverError(
            f"HiGHS hit the time limit ({time_limit_s:g} s) on the {model.mode.upper()} of {model.n_t} "
            f"intervals ({model.n_cols} columns) before finding a solution. Fix: raise --time-limit, use a "
            "coarser --resolution (1h), or --mode lp"
        )
    if "infeasible" in status.lower():
        return SolverError(
            f"HiGHS reports the {model.mode.upper()} infeasible ({status}). Every bus row has an unserved-energy "
            "slack, so only the end-of-period SoC rule can cause this (the battery cannot get back to its "
            "start). Fix: use end_soc='free' (--end-soc free), or report the case"
        )
    return SolverError(
        f"HiGHS failed on the {model.mode.upper()} ({status}). Fix: raise --time-limit or try --mode lp; "
        "if it persists, report the case with the site file"
    )


def solve_lp(model: Model, time_limit_s: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Solve an LP model; return (x, row duals, objective, seconds). Raises SolverError unless optimal."""
    import highspy

    t0 = time.perf_counter()
    h = highs_for(model, time_limit_s=time_limit_s)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise solver_failure(model, status_text(h), time_limit_s)
    sol = h.getSolution()
    obj = float(h.getInfo().objective_function_value)
    return np.asarray(sol.col_value), np.asarray(sol.row_dual), obj, time.perf_counter() - t0


def run_lp(model: Model, time_limit_s: float) -> tuple[np.ndarray, float, float]:
    """Solve an LP model; return (x, objective, seconds). Raises SolverError unless optimal."""
    x, _y, obj, s = solve_lp(model, time_limit_s)
    return x, obj, s


def lp_solution(model: Model, time_limit_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve an LP model; return (x, row duals). Raises SolverError unless optimal."""
    x, y, _obj, _s = solve_lp(model, time_limit_s)
    return x, y
