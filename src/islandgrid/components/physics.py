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
