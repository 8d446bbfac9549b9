"""Outage survival as a Markov chain over (working generators x battery SoC bin).

This follows REopt.jl's backup-reliability model (``src/outagesim/backup_reliability.jl``,
functions ``starting_probabilities``, ``markov_matrix``, ``bin_battery_charge``,
``battery_bin_shift`` and ``survival_with_battery_single_start_time``), re-derived here
for one generator type:

- at the outage start each of the G generators works with probability
  availability x (1 - failure to start) (binomial over G);
- in every step each working generator fails with probability dt / MTTF, and a failed
  one stays failed (the Markov matrix);
- the battery's usable energy (above its outage floor) is split into ``n_bins`` - 1 equal
  bins, the first bin being empty; a state survives the step if generators plus the
  battery (limited by its power and by its bin's energy x eta_d) cover the net critical
  load (critical load minus PV);
- surviving states move their battery bin by the surplus (charging, x eta_c) or the
  deficit (/ eta_d), rounded to whole bins, clipped to empty / full.

The survival probability for a duration is the probability mass left in surviving
states after that many steps (REopt's ``marginal_survival = false``).
"""

from __future__ import annotations

import math

import numba
import numpy as np


def starting_probabilities(n_gens: int, availability: float, fail_to_start: float) -> np.ndarray:
    """P(k generators working at the outage start), k = 0..G [-]."""
    p = availability * (1.0 - fail_to_start)
    return np.array([math.comb(n_gens, k) * p**k * (1.0 - p) ** (n_gens - k) for k in range(n_gens + 1)])


def markov_matrix(n_gens: int, fail_prob: float) -> np.ndarray:
    """Transition matrix T[k, j] = P(j working after a step | k working before) [-]."""
    t = np.zeros((n_gens + 1, n_gens + 1))
    for k in range(n_gens + 1):
        for j in range(k + 1):
            t[k, j] = math.comb(k, j) * (1.0 - fail_prob) ** j * fail_prob ** (k - j)
    return t


@numba.njit(cache=True)
def _survival(
    net_kw: np.ndarray,
    start_bins: np.ndarray,
    starts: np.ndarray,
    n_steps: int,
    p0: np.ndarray,
    trans: np.ndarray,
    gen_kw: float,
    bin_kwh: float,
    n_bins: int,
    bat_kw: float,
    eta_c: float,
    eta_d: float,
    dt_h: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_gen_states = p0.shape[0]
    t_max = net_kw.shape[0]
    prob = np.zeros((n_bins, n_gen_states))
    nxt = np.zeros((n_bins, n_gen_states))
    for si in range(starts.shape[0]):
        t0 = starts[si]
        prob[:, :] = 0.0
        for g in range(n_gen_states):
            prob[start_bins[t0], g] = p0[g]
        for d in range(n_steps):
            h = (t0 + d) % t_max
            load = net_kw[h]
            # generator failures in this step: prob <- prob @ trans
            for b in range(n_bins):
                for j in range(n_gen_states):
                    s = 0.0
                    for k in range(j, n_gen_states):
                        s += prob[b, k] * trans[k, j]
                    nxt[b, j] = s
            # survive: generators + battery cover the net load
            total = 0.0
            for b in range(n_bins):
                bat_avail = min(bat_kw, b * bin_kwh * eta_d / dt_h)
                for j in range(n_gen_states):
                    if j * gen_kw + bat_avail - load < 0.0:
                        nxt[b, j] = 0.0
                    total += nxt[b, j]
            out[si, d] = total
            # move the battery by the surplus or deficit of each generator count
            prob[:, :] = 0.0
            for j in range(n_gen_states):
                excess = min(max(j * gen_kw - load, -bat_kw), bat_kw) * dt_h
                excess = excess * eta_c if excess > 0.0 else excess / eta_d
                shift = int(np.round(excess / bin_kwh)) if bin_kwh > 0.0 else 0
                for b in range(n_bins):
                    nb = min(max(b + shift, 0), n_bins - 1)
                    prob[nb, j] += nxt[b, j]


def survival_matrix(
    net_critical_kw: np.ndarray,
    start_usable_kwh: np.ndarray,
    max_steps: int,
    *,
    n_gens: int,
    gen_kw: float,
    availability: float,
    fail_to_start: float,
    mttf_steps: float,
    usable_kwh: float,
    battery_kw: float,
    eta_charge: float = 1.0,
    eta_discharge: float = 1.0,
    n_bins: int = 101,
    dt_h: float = 1.0,
    starts: np.ndarray | None = None,
) -> np.ndarray:
    """Probability of surviving an outage, by start step and duration.

    Parameters
    ----------
    net_critical_kw : ndarray
        Critical load minus PV available, per step [kW]; the series wraps around.
    start_usable_kwh : ndarray
        Usable battery energy (above the outage floor) at the start of each step [kWh].
    max_steps : int
        Longest outage modelled [steps].
    n_gens, gen_kw : int, float
        Number of identical generators and the rating of each [kW].
    availability, fail_to_start : float
        Probability a generator is not down for maintenance, and that it fails to start [-].
    mttf_steps : float
        Mean time to failure while running [steps]; failure probability per step 1/MTTF.
    usable_kwh, battery_kw : float
        Usable battery energy [kWh] and power [kW].
    eta_charge, eta_discharge : float
        One-way efficiencies [-].
    n_bins : int
        Battery SoC bins including the empty one.
    dt_h : float
        Step length [h].
    starts : ndarray of int, optional
        Start steps to evaluate (default: every step).

    Returns
    -------
    ndarray, shape (len(starts), max_steps)
        Entry [s, d] is the probability of surviving d+1 steps from start s [-].
    """
    net = np.ascontiguousarray(net_critical_kw, dtype=float)
    if starts is None:
        starts = np.arange(net.size)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    if usable_kwh > 0 and n_bins >= 2:
        bin_kwh = usable_kwh / (n_bins - 1)
        bins = np.minimum(np.round(np.asarray(start_usable_kwh, dtype=float) / bin_kwh), n_bins - 1)
    else:
        n_bins, bin_kwh = 1, 0.0
        bins = np.zeros(net.size)
    bins = np.ascontiguousarray(np.maximum(bins, 0).astype(np.int64))
    p0 = starting_probabilities(n_gens, availability, fail_to_start) if gen_kw > 0 else np.array([1.0])
    trans = markov_matrix(n_gens, 1.0 / mttf_steps) if gen_kw > 0 else np.ones((1, 1))
    out = np.zeros((starts.size, int(max_steps)))
    _survival(
        net, bins, starts, int(max_steps), p0, trans, float(gen_kw), bin_kwh, int(n_bins),
        float(battery_kw) if usable_kwh > 0 else 0.0, float(eta_charge), float(eta_discharge), float(dt_h), out,
    )  # fmt: skip
    return out
