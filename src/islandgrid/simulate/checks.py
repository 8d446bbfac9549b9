"""The physics oracle: every promise of the plant model, checked on every interval of every run.

:func:`violations` lists every broken promise of a run's flows, one :class:`Violation`
per check that fails (at its first failing interval); :func:`check_flows` raises
:class:`~islandgrid.errors.BalanceError` naming them. The checks (:data:`CHECKS`):

- ``non-negative``: every energy flow, the fuel and the run fraction are >= 0;
- ``inputs``: the flows carry the problem's load, available PV and grid-connected share;
- ``energy balance``: pv_used + grid_in + diesel + bat_out = load_served + bat_in + grid_out + dump;
- ``load split``: load_served + unserved = load, unserved_critical <= min(unserved, critical);
- ``PV split``: pv_used + pv_curtailed = pv_available;
- ``battery state``: soc_t = soc_{t-1} - selfdis_t + eta_c bat_in_t - bat_out_t / eta_d;
- ``self-discharge``: selfdis_t between s dt (soc_{t-1} - soc_min), the optimiser's model (decay
  of the energy above SoC min), and min(s dt soc_{t-1}, soc_{t-1} - soc_min), the rules' model
  (decay of the stored energy, held at SoC min by the BMS); 0 when s = 0;
- ``SoC limits``: soc_min <= soc <= soc_max (a battery that starts below its minimum may stay there);
- ``battery power``: bat_in <= P_charge dt, bat_out <= P_discharge dt;
- ``grid while islanded``: grid_in = grid_out = 0 in an interval the grid is down all of;
- ``grid limits``: grid_in <= P_import x connected share x dt, grid_out <= P_export x connected
  share x dt (a partly islanded interval gets the grid only for its connected part);
- ``genset output``: diesel <= P_rated (after altitude derate) x run fraction x dt, and 0 while off;
- ``genset minimum load``: diesel >= min(P_min, P_rated) x run fraction x dt while on;
- ``fuel curve``: fuel = F0 Y_nameplate r dt + F1 diesel while on (HOMER's linear curve), 0 while off;
- ``minimum run time``: every run lasts at least the minimum run time, unless it is still
  running at the end of the period or the grid (import > 0) is back when it stops (the
  grid-return policy, :mod:`islandgrid.strategy.rules`);
- ``minimum off time``: a genset stays stopped at least its minimum off time;
- ``carbon conservation``: grid and diesel carbon follow from the flows (grid_in x factor,
  fuel x kg/L) and carbon in = carbon out + battery stock change in every interval.

Runs are read from the run fractions ``genset_on`` as the rules write them: an interval a
genset enters running is run from its start (1 = the whole interval, r < 1 = it stopped after
r dt); an interval it starts in is run at its end (the last r dt), unless the next interval has
it off, when it started and stopped within the interval. Where the fractions leave the timing
open, the reading is the one most favourable to the flows (a check never fails a dispatch a
finer reading would pass).

The minimum run and off times apply to strategies that commit the genset on and off (rules,
MPC, MILP); the LP relaxation (``commitment=False``) runs a fraction of rated power and is
exempt from them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import CarbonState, check_conservation
from islandgrid.errors import BalanceError, CarbonConservationError
from islandgrid.strategy.base import ENERGY_COLUMNS, DispatchProblem

#: Relative tolerance on energies [-] (times the largest load or PV in the period, at least 1 kWh).
_TOL_KWH = 1e-6
#: Tolerance on run and off times [h].
_TOL_H = 1e-6

#: The names of every check, in the order they are reported.
CHECKS: tuple[str, ...] = (
    "non-negative",
    "inputs",
    "energy balance",
    "load split",
    "PV split",
    "battery state",
    "self-discharge",
    "SoC limits",
    "battery power",
    "grid while islanded",
    "grid limits",
    "genset output",
    "genset minimum load",
    "fuel curve",
    "minimum run time",
    "minimum off time",
    "carbon conservation",
)


@dataclass(frozen=True)
class Violation:
    """One broken promise.

    Attributes
    ----------
    check : str
        Its name, one of :data:`CHECKS`.
    interval : int
        The first interval where it fails (-1 when not tied to one).
    detail : str
        What was found against what was promised.
    """

    check: str
    interval: int
    detail: str

    def __str__(self) -> str:
        at = f" at interval {self.interval}" if self.interval >= 0 else ""
        return f"{self.check}{at}: {self.detail}"


def check_flows(
    flows: dict[str, np.ndarray],
    problem: DispatchProblem,
    carbon: pd.DataFrame | None = None,
    *,
    commitment: bool = True,
) -> None:
    """Raise :class:`BalanceError` naming every check the flows fail.

    Parameters
    ----------
    flows : dict of str to ndarray
        A strategy's flows (every key of :data:`~islandgrid.strategy.base.FLOW_COLUMNS`).
    problem : DispatchProblem
        The problem they answer.
    carbon : pandas.DataFrame, optional
        Their carbon flow, to check its conservation too.
    commitment : bool
        The genset is committed on and off (check its minimum run and off times).
    """
    found = violations(flows, problem, carbon, commitment=commitment)
    if found:
        raise BalanceError("; ".join(str(v) for v in found))


def violations(
    flows: dict[str, np.ndarray],
    problem: DispatchProblem,
    carbon: pd.DataFrame | None = None,
    *,
    commitment: bool = True,
) -> list[Violation]:
    """Every check the flows fail, each once at its first failing interval (:data:`CHECKS` order).

    Parameters are as in :func:`check_flows`.
    """
    f = {k: np.ascontiguousarray(v, dtype=float) for k, v in flows.items()}  # strided views are slow
    p, g, dt = problem, problem.genset, problem.dt_h
    load = f["load_kwh"]
    scale = _TOL_KWH * max(1.0, float(np.max(load, initial=0.0)), float(np.max(f["pv_available_kwh"], initial=0.0)))
    found: list[Violation] = []

    def flag(check: str, bad: np.ndarray, what: str) -> None:
        if bad.any():
            i = int(np.argmax(bad))
            found.append(Violation(check, i, what))

    def close(check: str, a: np.ndarray, e: np.ndarray, what: str) -> None:
        bad = ~(np.abs(a - e) <= scale)  # NaN fails
        if bad.any():
            i = int(np.argmax(bad))
            found.append(Violation(check, i, f"{what} {a[i]:.9g} != {e[i]:.9g}"))

    neg = [c for c in (*ENERGY_COLUMNS, "fuel_l", "genset_on") if (f[c] < -scale).any()]
    if neg:
        flag("non-negative", np.any([f[c] < -scale for c in neg], axis=0), f"{', '.join(neg)} negative")
    close("inputs", load, p.load_kw * dt, "load_kwh")
    close("inputs", f["pv_available_kwh"], p.pv_kw * dt, "pv_available_kwh")
    share = np.asarray(p.grid_available, dtype=float)
    up = share > 0.0
    flag("inputs", ~(np.abs(f["grid_available"] - share) <= 1e-9), "grid_available differs from the problem's share")
    lhs = f["pv_used_kwh"] + f["grid_in_kwh"] + f["diesel_kwh"] + f["bat_out_kwh"]
    rhs = f["load_served_kwh"] + f["bat_in_kwh"] + f["grid_out_kwh"] + f["dump_kwh"]
    close("energy balance", lhs, rhs, "sources vs sinks [kWh]")
    close("load split", f["load_served_kwh"] + f["unserved_kwh"], load, "served + unserved vs load [kWh]")
    uc = f["unserved_critical_kwh"]
    flag(
        "load split",
        uc > np.minimum(f["unserved_kwh"], f["critical_load_kwh"]) + scale,
        "unserved critical above the unserved or the critical load",
    )
    close("PV split", f["pv_used_kwh"] + f["pv_curtailed_kwh"], f["pv_available_kwh"], "used + curtailed vs available")
    _battery(f, p, scale, close, flag)
    flag(
        "grid while islanded",
        ~up & ((f["grid_in_kwh"] > scale) | (f["grid_out_kwh"] > scale)),
        "grid exchange while the grid is down",
    )
    flag(
        "grid limits",
        up
        & (
            (f["grid_in_kwh"] > p.grid.import_kw * share * dt + scale)
            | (f["grid_out_kwh"] > p.grid.export_kw * share * dt + scale)
        ),
        "grid exchange above its limit x the connected share",
    )
    r = f["genset_on"]
    on = r > 0.0
    diesel = f["diesel_kwh"]
    flag(
        "genset output",
        (diesel > g.rated_kw * r * dt + scale) | (~on & (diesel > scale)),
        f"diesel above rated {g.rated_kw:g} kW x run fraction",
    )
    gmin = min(g.min_load_kw, g.rated_kw)
    flag("genset minimum load", on & (diesel < gmin * r * dt - scale), f"diesel below the minimum load {gmin:g} kW")
    fuel = np.where(on, g.f0_l_per_h_per_kw * g.nameplate_kw * r * dt + g.f1_l_per_kwh * diesel, 0.0)
    fuel_tol = _TOL_KWH * max(1.0, float(np.max(fuel, initial=0.0)))
    bad = ~(np.abs(f["fuel_l"] - fuel) <= fuel_tol)
    if bad.any():
        i = int(np.argmax(bad))
        found.append(Violation("fuel curve", i, f"fuel {f['fuel_l'][i]:.9g} L != {fuel[i]:.9g} L"))
    if commitment and g.rated_kw > 0:
        found.extend(_run_times(r, up & (p.grid.import_kw > 0), dt, g.min_run_h, g.min_off_h))
    if carbon is not None:
        found.extend(_carbon(f, carbon, p))
    order = {c: k for k, c in enumerate(CHECKS)}
    return sorted(found, key=lambda v: order[v.check])


def _battery(f: dict[str, np.ndarray], p: DispatchProblem, scale: float, close, flag) -> None:  # type: ignore[no-untyped-def]
    """The battery's recursion, self-discharge model, SoC and power limits."""
    b, dt = p.battery, p.dt_h
    soc = f["soc_kwh"]
    prev = np.concatenate(([b.soc_init_kwh], soc[:-1]))
    sd = f["bat_selfdis_kwh"]
    expect = prev - sd + b.eta_charge * f["bat_in_kwh"] - f["bat_out_kwh"] / b.eta_discharge
    close("battery state", soc, expect, "soc [kWh]")
    above = np.maximum(prev - b.soc_min_kwh, 0.0)
    s = b.self_discharge_frac_per_h * dt
    lo_sd = s * above
    hi_sd = np.minimum(s * np.maximum(prev, 0.0), above)
    flag(
        "self-discharge",
        (sd < lo_sd - scale) | (sd > hi_sd + scale),
        f"self-discharge outside the model ({b.self_discharge_frac_per_h:g} /h)",
    )
    lo = min(b.soc_min_kwh, b.soc_init_kwh)
    flag(
        "SoC limits",
        (soc < lo - scale) | (soc > b.soc_max_kwh + scale),
        f"SoC outside [{b.soc_min_kwh:g}, {b.soc_max_kwh:g}] kWh",
    )
    too_much = (f["bat_in_kwh"] > b.charge_kw * dt + scale) | (f["bat_out_kwh"] > b.discharge_kw * dt + scale)
    flag("battery power", too_much, f"battery power above {b.charge_kw:g} kW charge / {b.discharge_kw:g} kW discharge")


def genset_runs(r: np.ndarray, dt_h: float) -> list[tuple[float, float, float, int, bool]]:
    """The runs of a genset from its run fractions ``r``, read as the module docstring says.

    Returns
    -------
    list of (start_h, end_h, length_h, stop_interval, running_at_end)
        Start and stop times from the period start and the run's length [h], the interval
        the stop falls in (``n`` if it runs to the end) and whether it is still running then.
    """
    n = len(r)
    runs: list[tuple[float, float, float, int, bool]] = []
    pos = r > 0.0
    edges = np.flatnonzero(np.diff(np.concatenate(([False], pos, [False])).astype(np.int8)))
    partial = pos & (r < 1.0 - 1e-9)
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        # intervals a..b-1 run; the partial ones among them (after the first) are stops
        t = a
        while t < b:
            if partial[t] and t + 1 == b and b < n:
                # started and stopped within the interval: its place in the interval is open, so it is
                # taken to start as late and stop as early as its fraction allows
                runs.append(((t + 1 - r[t]) * dt_h, (t + r[t]) * dt_h, r[t] * dt_h, t, False))
                break
            start = (t + 1 - r[t]) * dt_h
            stops = np.flatnonzero(partial[t + 1 : b])
            if stops.size:
                stop = t + 1 + int(stops[0])
                end = (stop + r[stop]) * dt_h  # stopped within interval ``stop``
                runs.append((start, end, end - start, stop, False))
                t = stop + 1
            else:
                runs.append((start, b * dt_h, (b - t - 1 + r[t]) * dt_h, b, b == n))  # stopped at the start of b
                break
    return runs


def _run_times(
    r: np.ndarray, grid_back: np.ndarray, dt_h: float, min_run_h: float, min_off_h: float
) -> list[Violation]:
    """Minimum run time (unless cut by the period end or the grid's return) and minimum off time."""
    out: list[Violation] = []
    runs = genset_runs(r, dt_h)
    for _start, _end, length, stop, running in runs:
        # a run read as stopping within an interval may have run to its end: the grid back in either counts
        cut = running or bool(grid_back[stop]) or (stop + 1 < len(r) and bool(grid_back[stop + 1]))
        if not cut and length < min_run_h - _TOL_H:
            out.append(Violation("minimum run time", stop, f"ran {length:.6g} h < {min_run_h:g} h"))
            break
    for before, after in itertools.pairwise(runs):
        off_h = after[0] - before[1]
        if off_h < min_off_h - _TOL_H:
            out.append(Violation("minimum off time", before[3], f"off {off_h:.6g} h < {min_off_h:g} h"))
            break
    return out


def _carbon(f: dict[str, np.ndarray], carbon: pd.DataFrame, p: DispatchProblem) -> list[Violation]:
    out: list[Violation] = []
    gco2 = carbon["grid_co2_kg"].to_numpy(dtype=float)
    dco2 = carbon["diesel_co2_kg"].to_numpy(dtype=float)
    want_g = f["grid_in_kwh"] * np.asarray(p.grid_co2_kg_per_kwh, dtype=float)
    want_d = f["fuel_l"] * p.genset.co2_kg_per_l
    tol = 1e-9 * max(1.0, float(want_g.sum() + want_d.sum()))
    bad = ~((np.abs(gco2 - want_g) <= tol) & (np.abs(dco2 - want_d) <= tol))
    if bad.any():
        i = int(np.argmax(bad))
        out.append(Violation("carbon conservation", i, "emissions do not follow the grid import and the fuel"))
    try:
        check_conservation(carbon, initial_stock_kg=CarbonState.opening(p.battery.soc_init_kwh).co2_kg)
    except CarbonConservationError as exc:
        out.append(Violation("carbon conservation", -1, str(exc)))
    return out[:1]
