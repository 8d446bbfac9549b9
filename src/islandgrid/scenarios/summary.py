"""Scenario results to decisions: derived KPIs, P10/P50/P90 and mean, the probability of each target.

Quantiles are :func:`numpy.quantile`'s default (linear interpolation between order statistics).
A target "holds at confidence c" when the KPI's unfavourable quantile meets it: PV share at its
(1 - c) quantile (P10 for c = 0.9), diesel hours and unserved critical energy at their c quantile (P90).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from islandgrid.sizing.kernel import KPI_COLUMNS

#: Derived per-scenario KPIs added to :data:`KPI_COLUMNS`.
DERIVED: tuple[str, ...] = ("pv_share", "co2_kg", "availability", "energy_cost", "co2_reduction")

#: The seed's targets (as in :func:`islandgrid.reports.kpi_format.targets_verdict`): name, KPI, sense, limit.
#: Sense +1: at least the limit; -1: at most.
SEED_TARGETS: tuple[tuple[str, str, int, float], ...] = (
    ("pv_share > 80 %", "pv_share", +1, 0.80),
    ("diesel < 50 h", "diesel_hours", -1, 50.0),
    ("unserved critical = 0", "unserved_critical_kwh", -1, 1e-6),
    ("CO2 reduction >= 85 %", "co2_reduction", +1, 0.85),
)


def derive(
    kpis: np.ndarray, fuel_price_per_l: float, baseline_co2_kg: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-scenario KPIs by name from the kernel's sums (last axis :data:`KPI_COLUMNS`)."""
    col = {k: kpis[..., i] for i, k in enumerate(KPI_COLUMNS)}
    served = col["served_kwh"]
    load = col["load_kwh"]
    out = dict(col)
    out["pv_share"] = np.where(served > 0, col["pv_to_load_kwh"] / np.where(served > 0, served, 1.0), 0.0)
    out["co2_kg"] = col["co2_scope1_kg"] + col["co2_scope2_location_kg"]
    out["availability"] = np.where(load > 0, 1.0 - col["unserved_kwh"] / np.where(load > 0, load, 1.0), 1.0)
    out["energy_cost"] = col["grid_cost"] + col["fuel_l"] * fuel_price_per_l - col["export_revenue"]
    if baseline_co2_kg is not None:
        b = np.asarray(baseline_co2_kg, dtype=float)
        out["co2_reduction"] = np.where(b > 0, 1.0 - out["co2_kg"] / np.where(b > 0, b, 1.0), 0.0)
    return out


def quantiles(values: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{kpi: {"p10", "p50", "p90", "mean"}} over the scenarios (last axis)."""
    out = {}
    for k, v in values.items():
        q = np.quantile(v, [0.1, 0.5, 0.9], axis=-1)
        out[k] = {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2]), "mean": float(np.mean(v, axis=-1))}
    return out


def target_met(v: np.ndarray, sense: int, limit: float) -> np.ndarray:
    """Where a KPI meets a target (a small tolerance for float sums)."""
    tol = 1e-9 * max(abs(limit), 1.0)
    return v >= limit - tol if sense > 0 else v <= limit + tol


def p_targets_met(
    values: dict[str, np.ndarray], targets: tuple[tuple[str, str, int, float], ...] = SEED_TARGETS
) -> dict[str, float]:
    """{target: share of scenarios meeting it}, and ``all`` for all of them together."""
    out: dict[str, float] = {}
    together = None
    for name, kpi, sense, limit in targets:
        if kpi not in values:
            continue
        met = target_met(values[kpi], sense, limit)
        together = met if together is None else together & met
        out[name] = float(np.mean(met))
    if together is not None:
        out["all"] = float(np.mean(together))
    return out


def at_confidence(v: np.ndarray, sense: int, confidence: float) -> np.ndarray:
    """The KPI at its unfavourable quantile: the (1 - c) quantile when more is better, else the c quantile."""
    q = 1.0 - confidence if sense > 0 else confidence
    return np.quantile(v, q, axis=-1)


def max_violations(n: int, sense: int, confidence: float) -> int:
    """Most scenarios out of ``n`` that may miss a target while its quantile at ``confidence`` still meets it.

    With linear interpolation the q quantile lies between order statistics floor(q(n-1)) and
    ceil(q(n-1)) (0-based). More is better: the (1-c) quantile meets the limit only if the upper of
    the two does, so at most ceil((1-c)(n-1)) scenarios may fall short. Less is better: the c quantile
    meets it only if the lower one does, so at most n - 1 - floor(c(n-1)) may exceed it. A design past
    this count fails at that confidence whatever its other scenarios give (an exact pruning rule).
    """
    if sense > 0:
        return math.ceil((1.0 - confidence) * (n - 1) - 1e-12)
    return n - 1 - math.floor(confidence * (n - 1) + 1e-12)


def summary_json(
    values: dict[str, np.ndarray], n: int, seed: int, one_draw: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``--json`` payload of ``simulate --scenarios``."""
    out: dict[str, Any] = {
        "scenarios": n,
        "seed": seed,
        "quantiles": quantiles(values),
        "p_targets_met": p_targets_met(values),
    }
    if one_draw is not None:
        out["one_draw"] = one_draw
    return out
