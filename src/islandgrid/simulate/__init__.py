"""Simulation: run a strategy over a year and wrap the flows into a Result."""

from islandgrid.simulate.engine import build_problem, run_problem, simulate
from islandgrid.simulate.result import Result

__all__ = ["Result", "build_problem", "run_problem", "simulate"]
