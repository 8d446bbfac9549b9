"""The compiled job loop every policy runs: which flexible jobs run in each interval, and for how long.

One kernel (numba) steps the jobs through the intervals ``[t0, t1)``; the policy is a code:

- ``FIFO``: every released job wants to run (release order, first come first served, no pause);
- ``GREEN``: a job wants to run while the interval's green budget covers it: PV above the
  inflexible load, plus (grid up only) what the battery can give above the green floor; islanded,
  only PV surplus, so jobs never run on diesel or drain the battery an outage needs;
- ``PLAN``: a job wants to run in the intervals a plan names (the ``optimal`` and ``mpc``
  policies' LP solutions, :mod:`islandgrid.compute.plan`).

Whatever the policy wants, the kernel keeps every promise: a job runs only after its release,
while the room has capacity (``flex_cap_kw``: the rating less the inflexible IT's peak, so
inflexible IT + jobs never exceed the rating), and is paused only at a checkpoint: a job told to
stop runs on to its next checkpoint (within the interval) and stops there; a job that cannot
reach one in the interval runs on. A resumed job first pays its resume cost (minutes at its mean
power) before its work continues. Deadline-aware: a job is forced to run, whatever the policy wants,

1. from one interval before ``fifo`` started it, if ``fifo`` met its deadline (``guard_idx``): the
   jobs forced so at any time are among those ``fifo`` runs then, so they fit the room, and each
   finishes no later than under ``fifo`` — a policy never misses a deadline ``fifo`` meets;
2. once its latest start (deadline − remaining work − resume cost, in whole intervals, less
   ``force_margin``) has come;
3. with every job due no earlier, once the room's capacity-time to a deadline (less the average
   take of jobs still to come, ``arrival_kw``) barely covers the work due by then.

Forced jobs go first (guarded ones before the others), earliest deadline first; a forced job that
finds no room makes every unforced job pause at its next checkpoint.

The battery state the green budget reads is tracked with the plant's interval physics
(:mod:`islandgrid.components.physics`) under PV-first priorities: PV serves the load, its surplus
charges the battery, a deficit comes from the battery down to the islanding reserve (grid up) or
SoC min (islanded). Live, it is the BMS's measured state.

The kernel is resumable: its state arrays carry over from one call to the next (the MPC re-plans
between calls).
"""

from __future__ import annotations

import numba
import numpy as np

from islandgrid.components.physics import charge_cap_kwh, discharge_cap_kwh, self_discharge_kwh, soc_after

FIFO = 0
GREEN = 1
PLAN = 2

WAITING = 0
RUNNING = 1
PAUSED = 2
DONE = 3

#: Event kinds and reasons of the event log (``events`` rows: job, interval, kind, reason).
EV_START, EV_PAUSE, EV_RESUME, EV_FINISH = range(4)
WHY_WANTS, WHY_GUARD, WHY_FORCED = 10, 11, 12  # why a job starts or resumes
WHY_NO_BUDGET, WHY_ISLANDED, WHY_NOT_PLANNED, WHY_YIELDS, WHY_NO_ROOM = 1, 2, 3, 4, 5  # why it pauses

#: Row columns of the run table: job, interval, run [min], work [min], resume overhead [min], IT [kWh].
R_JOB, R_T, R_RUN, R_WORK, R_OVER, R_KWH = range(6)
N_ROWCOLS = 6
_EPS = 1e-9
#: ``guard_idx`` of a job without a guard (``fifo`` missed its deadline, or no guard is given).
NO_GUARD = np.iinfo(np.int64).max


@numba.njit(cache=True, inline="always")
def factor_integral(fac_cum: np.ndarray, x_min: float) -> float:
    """Integral of the tiled minute factor over [0, x] minutes of work [min]."""
    period = len(fac_cum) - 1
    k = np.floor(x_min / period)
    r = x_min - k * period
    i = min(int(r), period - 1)
    return k * fac_cum[period] + fac_cum[i] + (r - i) * (fac_cum[i + 1] - fac_cum[i])


@numba.njit(cache=True, inline="always")
def _event(events: np.ndarray, n_events: np.ndarray, j: int, t: int, kind: int, why: int) -> None:
    k = n_events[0]
    if k < events.shape[0]:
        events[k, 0] = j
        events[k, 1] = t
        events[k, 2] = kind
        events[k, 3] = why
        n_events[0] = k + 1


@numba.njit(cache=True)
def run_jobs(
    t0: int,
    t1: int,
    dt_h: float,
    base_it_kw: np.ndarray,
    pue: np.ndarray,
    pv_kw: np.ndarray,
    grid_up: np.ndarray,
    flex_cap_kw: float,
    arrival_kw: float,
    bat: np.ndarray,
    peak_kw: np.ndarray,
    work_min: np.ndarray,
    ckpt_min: np.ndarray,
    resume_min: np.ndarray,
    rel_idx: np.ndarray,
    dl_idx: np.ndarray,
    priority: np.ndarray,
    guard_idx: np.ndarray,
    fac_cum: np.ndarray,
    mode: int,
    force_margin: int,
    plan_ptr: np.ndarray,
    plan_t: np.ndarray,
    status: np.ndarray,
    progress: np.ndarray,
    overhead_left: np.ndarray,
    n_resumes: np.ndarray,
    start_min: np.ndarray,
    finish_min: np.ndarray,
    plan_cur: np.ndarray,
    soc: np.ndarray,
    rows: np.ndarray,
    n_rows: np.ndarray,
    flex_it_kwh: np.ndarray,
    events: np.ndarray,
    n_events: np.ndarray,
) -> None:
    """Step the jobs through intervals ``[t0, t1)`` (see the module docstring).

    ``bat`` holds soc_min, soc_max, reserve, green floor [kWh], charge and discharge limits [kW],
    eta_c, eta_d [-] and self-discharge [1/h]. State arrays are updated in place; ``rows`` gets one
    row per job and interval it runs in (``n_rows[0]`` counts them), ``flex_it_kwh`` the jobs' IT
    energy per interval, ``events`` one row per start, pause, resume and finish with its reason
    (``EV_*``, ``WHY_*``; ``n_events[0]`` counts them).
    """
    n_jobs = len(peak_kw)
    dt_min = dt_h * 60.0
    period = len(fac_cum) - 1
    mean_fac = fac_cum[period] / period
    soc_min, soc_max, reserve, green_floor = bat[0], bat[1], bat[2], bat[3]
    ch_kw, dis_kw, eta_c, eta_d, sd = bat[4], bat[5], bat[6], bat[7], bat[8]
    act = np.empty(n_jobs, dtype=np.int64)  # released, not done, in release order
    n_act = 0
    nxt = 0
    while nxt < n_jobs and rel_idx[nxt] < t0:
        if status[nxt] != DONE:
            act[n_act] = nxt
            n_act += 1
        nxt += 1
    cand_buf = np.empty(n_jobs, dtype=np.int64)  # per-interval work arrays, allocated once
    need_buf = np.empty(n_jobs)
    forced_buf = np.empty(n_jobs, dtype=np.bool_)
    stop_buf = np.empty(n_jobs, dtype=np.bool_)
    key_buf = np.empty(n_jobs)
    for t in range(t0, t1):
        while nxt < n_jobs and rel_idx[nxt] <= t:
            act[n_act] = nxt
            n_act += 1
            nxt += 1
        # the battery state at the interval's start, after its self-discharge
        s = soc[0] - self_discharge_kwh(soc[0], soc_min, sd, dt_h)
        base_kwh = base_it_kw[t] * pue[t] * dt_h
        budget = pv_kw[t] * dt_h - base_kwh
        if grid_up[t]:
            budget += discharge_cap_kwh(s, max(green_floor, reserve), dis_kw, eta_d, dt_h)
        # candidates: released, not done
        m = 0
        for q in range(n_act):
            j = act[q]
            if status[j] != DONE:
                act[m] = j
                cand_buf[m] = j
                paused = resume_min[j] if status[j] == PAUSED else 0.0
                need_buf[m] = work_min[j] - progress[j] + overhead_left[j] + paused
                m += 1
        n_act = m
        cand = cand_buf[:m]
        need = need_buf[:m]
        # forced: a job whose latest start has come, and every job due no later than a job whose
        # deadline the room's capacity can barely still meet (earliest deadline first: the
        # capacity-time to its deadline, less what jobs still to be released take on average
        # (arrival_kw), against the work due by then, within force_margin intervals)
        forced = forced_buf[:m]
        forced[:] = False
        by_dl = np.argsort(dl_idx[cand], kind="mergesort")
        due_kwh = 0.0
        force_dl = -1
        for q in range(m):
            i = by_dl[q]
            j = cand[i]
            due_kwh += peak_kw[j] * need[i] / 60.0
            room_kwh = (flex_cap_kw - arrival_kw) * (dl_idx[j] - t - force_margin) * dt_h
            if room_kwh <= due_kwh + _EPS:
                force_dl = dl_idx[j]
            if t >= dl_idx[j] - int(np.ceil(need[i] / dt_min - _EPS)) - force_margin:
                forced[i] = True
        # a running job holds its capacity this interval unless it stands at a checkpoint now
        cap = flex_cap_kw
        stoppable = stop_buf[:m]
        stoppable[:] = False
        for i in range(m):
            j = cand[i]
            if dl_idx[j] <= force_dl and guard_idx[j] == NO_GUARD:
                forced[i] = True
            if t >= guard_idx[j]:
                forced[i] = True
            if status[j] == RUNNING:
                c = ckpt_min[j]
                at_ck = (
                    c > 0.0 and overhead_left[j] <= _EPS and (progress[j] % c <= _EPS or c - (progress[j] % c) <= _EPS)
                )
                at_ck = at_ck and mode != FIFO  # first come, first served never pauses
                stoppable[i] = at_ck
                if not at_ck:
                    cap -= peak_kw[j]
        key = key_buf[:m]
        for i in range(m):
            j = cand[i]
            if mode == FIFO:
                key[i] = j  # release order
            else:
                key[i] = (
                    (0.0 if t >= guard_idx[j] else 1e12 if forced[i] else 2e12)
                    + (0.0 if status[j] == RUNNING else 1e9)
                    + dl_idx[j] * 1e3
                    - priority[j] * 1e-3
                )
        order = np.argsort(key, kind="mergesort")
        # guard pressure: the guarded jobs of this or the next interval do not all fit beside the others
        # running: every job not guarded yet (forced or not) stays off and pauses at its next
        # checkpoint. Pressure: a forced job finds no room: the unforced jobs do the same.
        pressure = False
        g_pressure = False
        guard_next = 0.0
        for i in range(m):
            j = cand[i]
            if guard_idx[j] <= t + 1:
                guard_next += peak_kw[j]
        k = nxt  # and the jobs released next interval that are guarded from it
        while k < n_jobs and rel_idx[k] <= t + 1:
            if guard_idx[k] <= t + 1:
                guard_next += peak_kw[k]
            k += 1
        if guard_next > 0.0:
            held = 0.0
            for i in range(m):
                j = cand[i]
                if status[j] == RUNNING and guard_idx[j] > t + 1:
                    held += peak_kw[j]
            g_pressure = guard_next + held > flex_cap_kw + _EPS and mode != FIFO
        for q in range(m):
            i = order[q]
            j = cand[i]
            want = False
            if mode == FIFO:
                want = True
            elif mode == PLAN:
                while plan_cur[j] < plan_ptr[j + 1] and plan_t[plan_cur[j]] < t:
                    plan_cur[j] += 1
                want = plan_cur[j] < plan_ptr[j + 1] and plan_t[plan_cur[j]] == t
            why_not = WHY_NOT_PLANNED
            e_kwh = peak_kw[j] * mean_fac * pue[t] * dt_h
            if mode == GREEN:
                want = budget >= e_kwh - _EPS
                why_not = WHY_NO_BUDGET if grid_up[t] else WHY_ISLANDED
            if pressure and not forced[i] and mode != FIFO:
                want = False
                why_not = WHY_YIELDS
            want = want or forced[i]
            if g_pressure and t < guard_idx[j]:
                want = False
                why_not = WHY_YIELDS
            why_run = WHY_GUARD if t >= guard_idx[j] else (WHY_FORCED if forced[i] else WHY_WANTS)
            if mode == FIFO:
                why_run = WHY_WANTS  # released: fifo runs every job it has room for, deadlines aside
            if status[j] == RUNNING and not stoppable[i]:
                if not want:
                    # pausing needs a checkpoint: run on to the next one, or on if none comes in time
                    c = ckpt_min[j]
                    if c <= 0.0 or overhead_left[j] > _EPS:
                        want = True
                    else:
                        to_ck = c - (progress[j] % c)
                        if to_ck >= work_min[j] - progress[j] - _EPS or to_ck > dt_min + _EPS:
                            want = True
                if not want:
                    _event(events, n_events, j, t, EV_PAUSE, why_not)
            elif want and peak_kw[j] <= cap + _EPS:
                cap -= peak_kw[j]
            else:
                if want and forced[i]:
                    pressure = True
                    if t >= guard_idx[j] and mode != FIFO:
                        g_pressure = True
                if status[j] == RUNNING:
                    status[j] = PAUSED  # stops at the checkpoint it stands at
                    _event(events, n_events, j, t, EV_PAUSE, WHY_NO_ROOM if want else why_not)
                continue
            if want:
                budget -= e_kwh
            # run job j in interval t
            avail = dt_min
            if status[j] == WAITING:
                start_min[j] = t * dt_min
                _event(events, n_events, j, t, EV_START, why_run)
            elif status[j] == PAUSED:
                overhead_left[j] += resume_min[j]
                n_resumes[j] += 1
                _event(events, n_events, j, t, EV_RESUME, why_run)
            ov = min(overhead_left[j], avail)
            overhead_left[j] -= ov
            avail -= ov
            rem = work_min[j] - progress[j]
            if want:
                w = min(rem, avail)
            else:
                c = ckpt_min[j]
                to_ck = c - (progress[j] % c)
                if to_ck > c - _EPS:
                    to_ck = 0.0
                w = min(to_ck, avail)
            p0 = progress[j]
            progress[j] = p0 + w
            kwh = peak_kw[j] * (ov * mean_fac + factor_integral(fac_cum, p0 + w) - factor_integral(fac_cum, p0)) / 60.0
            if ov + w > _EPS:
                r = n_rows[0]
                rows[r, R_JOB] = j
                rows[r, R_T] = t
                rows[r, R_RUN] = ov + w
                rows[r, R_WORK] = w
                rows[r, R_OVER] = ov
                rows[r, R_KWH] = kwh
                n_rows[0] = r + 1
                flex_it_kwh[t] += kwh
            if work_min[j] - progress[j] <= _EPS * max(1.0, work_min[j]) and overhead_left[j] <= _EPS:
                progress[j] = work_min[j]
                status[j] = DONE
                finish_min[j] = t * dt_min + ov + w
                _event(events, n_events, j, t, EV_FINISH, 0)
            elif want:
                status[j] = RUNNING
            else:
                status[j] = PAUSED
        # the plant's state, PV first (the tracker the green budget reads)
        load = base_kwh + flex_it_kwh[t] * pue[t]
        net = load - pv_kw[t] * dt_h
        if net < 0.0:
            s = soc_after(s, min(-net, charge_cap_kwh(s, soc_max, ch_kw, eta_c, dt_h)), 0.0, eta_c, eta_d)
        else:
            floor = reserve if grid_up[t] else soc_min
            s = soc_after(s, 0.0, min(net, discharge_cap_kwh(s, floor, dis_kw, eta_d, dt_h)), eta_c, eta_d)
        soc[0] = s
