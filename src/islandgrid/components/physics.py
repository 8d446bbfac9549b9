"""The interval physics of the plant: one definition, compiled, used by every model of it.

The rule kernels (:mod:`islandgrid.strategy.rules`), the MPC realisation
(:mod:`islandgrid.mpc.realise`) and the device twin's plant (:mod:`islandgrid.twin.plant`) all
step the battery, the genset and the grid through these helpers, so the three cannot drift.
Each helper is a small pure function of scalars, compiled by numba (``inline="always"``: inside
a kernel it costs nothing; from Python it is an ordinary call). Energies are per interval [kWh],
powers [kW], durations [h].

Battery (HOMER Pro user manual, "Idealized Storage Model": linear, with one-way efficiencies):
over an interval of ``dt_h`` hours

1. self-discharge first: ``s = min(E · σ · dt, max(E − E_min, 0))`` with σ [1/h] the hourly
   fraction (the BMS holds the cells at SoC min, an idealisation);
2. charge at most ``min(P_ch · dt, (E_max − E) / ηc)``, discharge at most
   ``min(P_dis · dt, (E − E_floor) · ηd)`` (AC side);
3. ``E' = E − s + ηc · in − out / ηd``.

The LP (:mod:`islandgrid.optimize`) uses the linear relaxation of step 1,
``s = σ · dt · (E − E_min)`` on the energy above SoC min, without the ``min``: the two agree
whenever ``σ · dt ≤ 1``, i.e. always for real cells (σ ≈ 1e-4 /h).

Genset (HOMER Pro's linear fuel curve): fuel ``F = F0 · Y_rated · t_run + F1 · E_out`` [L],
0 when it does not run; its output is held between its minimum load and its (derated) rating.

Grid: import and export up to their limits while the grid is up, nothing while islanded.
Surplus that neither the battery nor the export can take is curtailed (PV) and, when a genset's
minimum load leaves more, dumped.
"""

from __future__ import annotations

import numba
import numpy as np

# the kernels' fast-math flags (inputs are validated finite; no reassociation, so sums keep their order)
_FLAGS = {"nnan", "ninf", "nsz", "arcp", "contract"}


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def self_discharge_kwh(soc_kwh: float, soc_min_kwh: float, sd_frac_per_h: float, dt_h: float) -> float:
    """Energy lost to self-discharge over one interval, never below SoC min [kWh].

    Parameters
    ----------
    soc_kwh : float
        Stored energy at the interval start [kWh].
    soc_min_kwh : float
        SoC min [kWh]; self-discharge stops there.
    sd_frac_per_h : float
        Fraction of the stored energy lost per hour [1/h].
    dt_h : float
        Interval length [h].

    Returns
    -------
    float
        ``min(soc · σ · dt, max(soc − soc_min, 0))`` [kWh].
    """
    return min(soc_kwh * sd_frac_per_h * dt_h, max(soc_kwh - soc_min_kwh, 0.0))


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def charge_cap_kwh(soc_kwh: float, soc_max_kwh: float, charge_kw: float, eta_charge: float, dt_h: float) -> float:
    """Most AC energy the battery can take in over one interval [kWh].

    Parameters
    ----------
    soc_kwh, soc_max_kwh : float
        Stored energy now and SoC max [kWh].
    charge_kw : float
        Charge power limit (AC) [kW].
    eta_charge : float
        Charge efficiency [-].
    dt_h : float
        Interval length [h].

    Returns
    -------
    float
        ``min(P_ch · dt, max(E_max − E, 0) / ηc)`` [kWh].
    """
    return min(charge_kw * dt_h, max(soc_max_kwh - soc_kwh, 0.0) / eta_charge)


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def discharge_cap_kwh(
    soc_kwh: float, floor_kwh: float, discharge_kw: float, eta_discharge: float, dt_h: float
) -> float:
    """Most AC energy the battery can give over one interval, down to ``floor_kwh`` [kWh].

    Parameters
    ----------
    soc_kwh : float
        Stored energy now [kWh].
    floor_kwh : float
        Lowest stored energy allowed (SoC min, or an islanding reserve) [kWh].
    discharge_kw : float
        Discharge power limit (AC) [kW].
    eta_discharge : float
        Discharge efficiency [-].
    dt_h : float
        Interval length [h].

    Returns
    -------
    float
        ``min(P_dis · dt, max(E − E_floor, 0) · ηd)`` [kWh].
    """
    return min(discharge_kw * dt_h, max(soc_kwh - floor_kwh, 0.0) * eta_discharge)


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def soc_after(soc_kwh: float, bat_in_kwh: float, bat_out_kwh: float, eta_charge: float, eta_discharge: float) -> float:
    """Stored energy after an interval's charge and discharge (self-discharge already taken) [kWh].

    Parameters
    ----------
    soc_kwh : float
        Stored energy after self-discharge [kWh].
    bat_in_kwh, bat_out_kwh : float
        AC energy into and out of the battery [kWh].
    eta_charge, eta_discharge : float
        One-way efficiencies [-].

    Returns
    -------
    float
        ``E + ηc · in − out / ηd`` [kWh].
    """
    return soc_kwh + eta_charge * bat_in_kwh - bat_out_kwh / eta_discharge


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def genset_fuel_l(f0_l_per_h: float, f1_l_per_kwh: float, run_h: float, diesel_kwh: float) -> float:
    """Fuel burnt over an interval on HOMER's linear curve [L].

    Parameters
    ----------
    f0_l_per_h : float
        No-load intercept times the nameplate rating, F0 · Y_rated [L/h].
    f1_l_per_kwh : float
        Marginal fuel use F1 [L/kWh].
    run_h : float
        Hours it ran in the interval [h]; 0 burns nothing.
    diesel_kwh : float
        Energy it produced [kWh].

    Returns
    -------
    float
        ``F0 · Y_rated · t_run + F1 · E`` while it runs, else 0 [L].
    """
    return (f0_l_per_h * run_h + f1_l_per_kwh * diesel_kwh) if run_h > 0.0 else 0.0


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def genset_output_kw(setpoint_kw: float, min_load_kw: float, rated_kw: float) -> float:
    """A running genset's output: the setpoint held between its minimum load and its rating [kW].

    Parameters
    ----------
    setpoint_kw : float
        Requested output [kW].
    min_load_kw : float
        Minimum load [kW] (its lowest stable output; capped at the rating).
    rated_kw : float
        Rating after the altitude derate [kW].

    Returns
    -------
    float
        ``min(max(P, min(P_min, Y)), Y)`` [kW].
    """
    return min(max(setpoint_kw, min(min_load_kw, rated_kw)), rated_kw)


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def grid_cap_kwh(limit_kw: float, grid_up: bool, dt_h: float) -> float:
    """Most energy the grid can import (or take as export) over an interval [kWh].

    Parameters
    ----------
    limit_kw : float
        Import or export limit at the point of connection [kW].
    grid_up : bool
        Whether the grid is available (0 while islanded).
    dt_h : float
        Interval length [h].

    Returns
    -------
    float
        ``limit · dt`` while up, else 0 [kWh].
    """
    return limit_kw * dt_h if grid_up else 0.0


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def grid_parts(share: float, up_at_start: bool, dt_h: float) -> tuple[float, bool, float]:
    """An interval the grid is connected for part of, as two parts run one after the other.

    A partly islanded interval (an outage starting or ending inside it) is run as two parts of
    constant grid state: first the state at its start, then the other, each as long as the
    outage windows say (:func:`islandgrid.inputs.grid.grid_fraction`). A whole interval is one
    part. So the energy the grid can give, and the time the plant is islanded, are those of the
    outage windows at every step length (an outage that starts and ends inside one interval is
    run as the connected time first, then the islanded time).

    Parameters
    ----------
    share : float
        Grid-connected share of the interval, 0 to 1 [-].
    up_at_start : bool
        Whether the grid is up at the interval start (decides which part comes first).
    dt_h : float
        Interval length [h].

    Returns
    -------
    first_h : float
        Length of the first part [h] (``dt_h`` for a whole interval).
    first_up : bool
        Whether the grid is up in the first part; the second part has the other state.
    second_h : float
        Length of the second part [h] (0 for a whole interval).
    """
    if share >= 1.0 - 1e-12:
        return dt_h, True, 0.0
    if share <= 1e-12:
        return dt_h, False, 0.0
    first_h = share * dt_h if up_at_start else (1.0 - share) * dt_h
    return first_h, up_at_start, dt_h - first_h


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FLAGS)
def hour_deficit(
    load_kw: np.ndarray,
    pv_kw: np.ndarray,
    t: int,
    k_hour: int,
    dt_h: float,
    import_kw: float,
    eta_c: float,
    eta_d: float,
) -> tuple[float, float]:
    """What the battery must give over the hour from the start of interval ``t`` (``k_hour`` intervals)
    for the net load (load - PV - grid import) to be carried without the genset.

    A running genset stops once the battery could carry this (the rules, :mod:`islandgrid.strategy.rules`):
    the same decision at every step length, since a 1-min step sees the minutes of the hour a 1-h step
    sees as their mean, and does not stop on one minute's dip in the load or burst of sun.

    Parameters
    ----------
    load_kw, pv_kw : ndarray
        Demand and available PV per interval [kW].
    t : int
        The interval it is decided in.
    k_hour : int
        Intervals in an hour.
    dt_h : float
        Interval length [h].
    import_kw : float
        Grid import available now [kW] (0 while islanded).
    eta_c, eta_d : float
        Battery charge and discharge efficiencies [-].

    Returns
    -------
    peak_kwh : float
        The peak of the running draw on the stored energy [kWh]: a deficit ``d`` draws ``d / eta_d``,
        a surplus ``s`` gives back ``eta_c * s`` (not that of interval ``t`` itself, which the
        interval's dispatch charges already). At 1-h steps, the interval's own deficit / eta_d.
    peak_kw : float
        The largest net load in the hour [kW] (the battery's power must cover it).
    """
    run_kwh = 0.0
    peak_kwh = 0.0
    peak_kw = 0.0
    for j in range(t, min(t + k_hour, load_kw.shape[0])):
        d_kw = load_kw[j] - pv_kw[j] - import_kw
        run_kwh += d_kw * dt_h / eta_d if d_kw > 0.0 else d_kw * dt_h * eta_c
        if j == t:
            run_kwh = max(run_kwh, 0.0)  # the interval's own surplus is charging the battery already
        peak_kwh = max(peak_kwh, run_kwh)
        peak_kw = max(peak_kw, d_kw)
    return peak_kwh, peak_kw
