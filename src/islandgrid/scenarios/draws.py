"""Scenario draws: outages, weather years, load level and genset fail-to-start, one seed stream each.

Scenario k of a run with seed s draws from ``SeedSequence(s, spawn_key=(k,))`` (the k-th child
:meth:`numpy.random.SeedSequence.spawn` gives), so it is the same year whichever worker draws it, in
whatever order, in whatever batch. The draws are compact (a day map, a few factors, outage windows
in minutes); :mod:`islandgrid.scenarios.kernel` expands them into input years inside the compiled loop.

Weather. With ``[scenarios] epws`` (or ``pv_csvs``), each scenario takes one of those measured years
at random. Without them, a synthetic year is resampled from the site's one typical year: each day
gets a clear-sky-index state (its PV energy over the clearest day of its month, in ``weather_states``
equal-count bins per month); a first-order Markov chain fitted on the typical year's day-to-day state
changes draws a state sequence, so cloudy spells keep their persistence; each day then copies a random
day of the same month in the drawn state (its PV and its outdoor temperature, hence PUE). The year's
PV is scaled by an inter-annual yield factor ~ N(1, ``yield_sd_frac``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from islandgrid.errors import SiteFileError
from islandgrid.inputs import grid as grid_inputs
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.inputs.timegrid import RESOLUTIONS
from islandgrid.site.scenarios import ScenarioSpec
from islandgrid.site.spec import Site, StochasticOutages


@dataclass(frozen=True)
class BaseYear:
    """Everything scenario years are built from: built once per site, shipped once to each worker.

    Attributes
    ----------
    dt_h : float
        Step length [h].
    step_min : int
        Step length [min].
    pv1_kw : ndarray, shape (W, n)
        PV AC power of 1 kWp for each weather year [kW/kWp].
    pue : ndarray, shape (W, n)
        PUE of each weather year [-].
    it_kw : ndarray, shape (n,)
        IT load of the site [kW]; ``it_cap_kw`` caps a scaled load.
    critical_frac : float
        Critical share of the load [-].
    grid_ok : bool
        False for an off-grid site (no import).
    price_imp, price_exp, grid_co2 : ndarray, shape (n,)
        Tariffs [currency/kWh], grid factor [kg/kWh].
    co2_per_l : float
        Diesel emission factor [kg/L].
    day_of, step_in_day : ndarray of int64, shape (n,)
        Local day of each step and the step's place in it.
    day_start, day_len : ndarray of int64, shape (days,)
        First step and steps of each local day.
    month_of_day : ndarray of int64
        Month (0-11) of each day.
    init_cum, trans_cum : ndarray
        Cumulative initial and transition probabilities of the daily states.
    pool_off, pool_days : ndarray of int64
        Days of each (month, state), CSR-style: days of month m in state s are
        ``pool_days[pool_off[m*S + s]:pool_off[m*S + s + 1]]``.
    minutes : int
        Length of the period [min].
    outages : StochasticOutages or None
        The site's outage model; None with listed or no outages.
    fixed_starts, fixed_ends : ndarray of int64
        Listed outage windows [min from the period start] (empty with a model).
    fail_prob : float
        Genset fail-to-start probability per outage [-] (0 when not drawn).
    spec : ScenarioSpec
        The draw settings.
    """

    dt_h: float
    step_min: int
    pv1_kw: np.ndarray
    pue: np.ndarray
    it_kw: np.ndarray
    it_cap_kw: float
    critical_frac: float
    grid_ok: bool
    price_imp: np.ndarray
    price_exp: np.ndarray
    grid_co2: np.ndarray
    co2_per_l: float
    day_of: np.ndarray
    step_in_day: np.ndarray
    day_start: np.ndarray
    day_len: np.ndarray
    month_of_day: np.ndarray
    init_cum: np.ndarray
    trans_cum: np.ndarray
    pool_off: np.ndarray
    pool_days: np.ndarray
    minutes: int
    outages: StochasticOutages | None
    fixed_starts: np.ndarray
    fixed_ends: np.ndarray
    fail_prob: float
    spec: ScenarioSpec

    @property
    def synthetic(self) -> bool:
        """True when weather years are resampled from one typical year."""
        return self.pv1_kw.shape[0] == 1


@dataclass(frozen=True)
class Draws:
    """The draws of scenarios k0..k1-1 (S of them), compact.

    Attributes
    ----------
    weather_id : ndarray of int64, shape (S,)
        Row of ``BaseYear.pv1_kw`` each scenario uses.
    day_src : ndarray of int64, shape (S, days)
        Source day of each day.
    yield_f, util_f, pue_off : ndarray, shape (S,)
        PV yield factor [-], IT load factor [-], PUE offset [-].
    win_off : ndarray of int64, shape (S + 1,)
        Outage windows of scenario i are ``win_off[i]:win_off[i+1]`` of the arrays below.
    win_start, win_end : ndarray of int64
        Outage windows [min from the period start].
    win_failed : ndarray of bool
        The genset failed to start in that outage (it is unavailable for the whole window).
    """

    weather_id: np.ndarray
    day_src: np.ndarray
    yield_f: np.ndarray
    util_f: np.ndarray
    pue_off: np.ndarray
    win_off: np.ndarray
    win_start: np.ndarray
    win_end: np.ndarray
    win_failed: np.ndarray


def scenario_rng(seed: int, k: int) -> np.random.Generator:
    """The generator of scenario ``k``: child ``k`` of ``SeedSequence(seed)``, independent of any other."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(k,))))


def _weather_rows(site: Site, inputs: InputSeries) -> tuple[np.ndarray, np.ndarray]:
    """PV per kWp and PUE of each weather year: the site's own, or each listed EPW / PV CSV."""
    sc = site.scenarios
    kwp = site.pv.kwp
    if not sc.epws and not sc.pv_csvs:
        return inputs.frame["pv_kw"].to_numpy()[None, :] / kwp, inputs.frame["pue"].to_numpy()[None, :]
    pv, pue = [], []
    for epw in sc.epws:
        alt = site.model_copy(update={"weather": site.weather.model_copy(update={"epw": epw, "pv_csv": None})})
        f = build_inputs(alt, inputs.resolution).frame
        pv.append(f["pv_kw"].to_numpy() / kwp)
        pue.append(f["pue"].to_numpy())
    for csv in sc.pv_csvs:
        if site.load.pue.kind == "temperature":
            raise SiteFileError(
                "measured PV years carry no temperature for a temperature-dependent PUE",
                source=str(site.source) if site.source else None,
                field="scenarios.pv_csvs",
                value=str(csv),
                allowed="[load.pue] kind = 'constant' with pv_csvs, or EPW years in scenarios.epws",
                fix="give EPW files in scenarios.epws, or set a constant PUE",
            )
        alt = site.model_copy(update={"weather": site.weather.model_copy(update={"epw": None, "pv_csv": csv})})
        f = build_inputs(alt, inputs.resolution).frame
        pv.append(f["pv_kw"].to_numpy() / kwp)
        pue.append(f["pue"].to_numpy())
    return np.ascontiguousarray(np.vstack(pv)), np.ascontiguousarray(np.vstack(pue))


def _day_states(
    pv1: np.ndarray, day_start: np.ndarray, day_len: np.ndarray, month: np.ndarray, n_states: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Daily clear-sky-index states of the typical year; Markov fit and the day pools per (month, state)."""
    energy = np.add.reduceat(pv1, day_start)
    state = np.zeros(len(energy), dtype=np.int64)
    for m in range(12):
        days = np.nonzero(month == m)[0]
        if days.size == 0:
            continue
        kt = energy[days] / max(float(energy[days].max()), 1e-12)  # clear-sky index: over the month's clearest day
        ranks = np.argsort(np.argsort(kt, kind="stable"), kind="stable")
        state[days] = ranks * n_states // days.size  # equal-count bins within the month
    counts = np.ones((n_states, n_states))  # Laplace: every transition possible
    np.add.at(counts, (state[:-1], state[1:]), 1.0)
    trans = counts / counts.sum(axis=1, keepdims=True)
    init = np.bincount(state[month == month[0]], minlength=n_states) + 1.0
    pool_off = np.zeros(12 * n_states + 1, dtype=np.int64)
    pools = []
    for m in range(12):
        for s in range(n_states):
            days = np.nonzero((month == m) & (state == s))[0]
            if days.size == 0:
                days = np.nonzero(month == m)[0]  # a month too short for every state: any day of it
            pools.append(days)
            pool_off[m * n_states + s + 1] = pool_off[m * n_states + s] + days.size
    pool_days = np.concatenate(pools).astype(np.int64) if pools else np.zeros(0, dtype=np.int64)
    return np.cumsum(init / init.sum()), np.cumsum(trans, axis=1), pool_off, pool_days


def base_year(site: Site, inputs: InputSeries | None = None) -> BaseYear:
    """Build the inputs every scenario starts from (once per run).

    Parameters
    ----------
    site : Site
        A site with ``pv.kwp > 0`` (see :func:`islandgrid.sizing.search.site_inputs`).
    inputs : InputSeries, optional
        The site's inputs, if already built.
    """
    inputs = inputs or build_inputs(site)
    f = inputs.frame
    index = pd.DatetimeIndex(f.index)
    n = len(index)
    day_of = pd.factorize(index.normalize())[0].astype(np.int64)
    day_start = np.flatnonzero(np.r_[True, day_of[1:] != day_of[:-1]]).astype(np.int64)
    day_len = np.diff(np.r_[day_start, n]).astype(np.int64)
    step_in_day = np.arange(n, dtype=np.int64) - day_start[day_of]
    month_of_day = (index.month.to_numpy()[day_start] - 1).astype(np.int64)
    pv1, pue = _weather_rows(site, inputs)
    sc = site.scenarios
    init_cum, trans_cum, pool_off, pool_days = _day_states(pv1[0], day_start, day_len, month_of_day, sc.weather_states)
    _, dt_h = RESOLUTIONS[inputs.resolution]
    start = index[0]
    minutes = round(n * dt_h * 60)
    g = site.grid
    model = g.outages if (g.outages is not None and g.outages_csv is None and g.import_kw > 0) else None
    fixed_s = np.zeros(0, dtype=np.int64)
    fixed_e = np.zeros(0, dtype=np.int64)
    if model is None and not inputs.outages.empty and g.import_kw > 0:  # listed outages stay as they are
        s = (pd.DatetimeIndex(inputs.outages["start"]) - start) / pd.Timedelta(minutes=1)
        e = (pd.DatetimeIndex(inputs.outages["end"]) - start) / pd.Timedelta(minutes=1)
        fixed_s = np.clip(np.floor(np.asarray(s)), 0, minutes).astype(np.int64)
        fixed_e = np.clip(np.ceil(np.asarray(e)), 0, minutes).astype(np.int64)
        keep = fixed_e > fixed_s
        fixed_s, fixed_e = fixed_s[keep], fixed_e[keep]
    return BaseYear(
        dt_h=dt_h,
        step_min=max(round(dt_h * 60), 1),
        pv1_kw=np.ascontiguousarray(pv1, dtype=float),
        pue=np.ascontiguousarray(pue, dtype=float),
        it_kw=np.ascontiguousarray(f["it_kw"].to_numpy(dtype=float)),
        it_cap_kw=float(site.load.it_kw),
        critical_frac=float(site.load.critical_frac),
        grid_ok=bool(g.import_kw > 0),
        price_imp=np.ascontiguousarray(f["import_price_per_kwh"].to_numpy(dtype=float)),
        price_exp=np.ascontiguousarray(f["export_price_per_kwh"].to_numpy(dtype=float)),
        grid_co2=np.ascontiguousarray(f["grid_co2_kg_per_kwh"].to_numpy(dtype=float)),
        co2_per_l=float(site.genset.co2_kg_per_l),
        day_of=day_of,
        step_in_day=step_in_day,
        day_start=day_start,
        day_len=day_len,
        month_of_day=month_of_day,
        init_cum=init_cum,
        trans_cum=np.ascontiguousarray(trans_cum),
        pool_off=pool_off,
        pool_days=pool_days,
        minutes=minutes,
        outages=model,
        fixed_starts=fixed_s,
        fixed_ends=fixed_e,
        fail_prob=float(site.genset.fail_to_start_prob) if sc.fail_to_start else 0.0,
        spec=sc,
    )


@numba.njit(cache=True)
def markov_days(
    u_state: np.ndarray,
    u_pick: np.ndarray,
    init_cum: np.ndarray,
    trans_cum: np.ndarray,
    month_of_day: np.ndarray,
    pool_off: np.ndarray,
    pool_days: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Source day of every day: a state chain from uniforms ``u_state``, a day of that month and state by ``u_pick``."""
    n_states = trans_cum.shape[0]
    s = min(np.searchsorted(init_cum, u_state[0], side="right"), n_states - 1)
    for d in range(out.shape[0]):
        if d > 0:
            s = min(np.searchsorted(trans_cum[s], u_state[d], side="right"), n_states - 1)
        j = month_of_day[d] * n_states + s
        a, b = pool_off[j], pool_off[j + 1]
        out[d] = pool_days[a + min(int(u_pick[d] * (b - a)), b - a - 1)]


def draw(base: BaseYear, seed: int, k0: int, k1: int) -> Draws:
    """The draws of scenarios ``k0`` to ``k1 - 1``; scenario k is the same in any batch."""
    sc = base.spec
    n_days = base.day_start.size
    S = k1 - k0
    weather_id = np.zeros(S, dtype=np.int64)
    day_src = np.empty((S, n_days), dtype=np.int64)
    yield_f = np.ones(S)
    util_f = np.ones(S)
    pue_off = np.zeros(S)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    failed: list[np.ndarray] = []
    win_off = np.zeros(S + 1, dtype=np.int64)
    weights = None if sc.outage_start_hour_weights is None else np.asarray(sc.outage_start_hour_weights, dtype=float)
    for i in range(S):
        rng = scenario_rng(seed, k0 + i)
        if base.synthetic:
            u = rng.random((2, n_days))
            markov_days(u[0], u[1], base.init_cum, base.trans_cum, base.month_of_day, base.pool_off,
                        base.pool_days, day_src[i])  # fmt: skip
            yield_f[i] = max(1.0 + sc.yield_sd_frac * rng.standard_normal(), 0.0)
        else:
            weather_id[i] = rng.integers(base.pv1_kw.shape[0])
            day_src[i] = np.arange(n_days)
        z = rng.standard_normal(2)
        util_f[i] = min(max(1.0 + sc.utilisation_sd_frac * z[0], 0.1), 2.0)
        pue_off[i] = sc.pue_sd * z[1]
        if base.outages is not None:
            s, e = grid_inputs.outage_minutes(rng, base.outages, base.minutes, weights)
        else:
            s, e = base.fixed_starts, base.fixed_ends
        f = rng.random(s.size) < base.fail_prob if base.fail_prob > 0 else np.zeros(s.size, dtype=bool)
        starts.append(s)
        ends.append(e)
        failed.append(f)
        win_off[i + 1] = win_off[i] + s.size
    empty = np.zeros(0, dtype=np.int64)
    return Draws(
        weather_id=weather_id,
        day_src=day_src,
        yield_f=yield_f,
        util_f=util_f,
        pue_off=pue_off,
        win_off=win_off,
        win_start=np.concatenate(starts).astype(np.int64) if starts else empty,
        win_end=np.concatenate(ends).astype(np.int64) if ends else empty,
        win_failed=np.concatenate(failed).astype(np.bool_) if failed else np.zeros(0, dtype=np.bool_),
    )


def identity_draws(base: BaseYear, outage_model_seed: int | None = None) -> Draws:
    """One scenario that is the one-draw year itself: no resampling, factors 1, the site's own outages.

    ``outage_model_seed`` draws the outages as ``build_inputs`` does for that seed (the site's
    ``[grid.outages] seed``); used to check the scenario path against the sizing kernel.
    """
    if base.outages is not None:
        model = (
            base.outages if outage_model_seed is None else base.outages.model_copy(update={"seed": outage_model_seed})
        )
        s, e = grid_inputs.outage_minutes(np.random.default_rng(model.seed), model, base.minutes)
    else:
        s, e = base.fixed_starts, base.fixed_ends
    return Draws(
        weather_id=np.zeros(1, dtype=np.int64),
        day_src=np.arange(base.day_start.size, dtype=np.int64)[None, :],
        yield_f=np.ones(1),
        util_f=np.ones(1),
        pue_off=np.zeros(1),
        win_off=np.array([0, s.size], dtype=np.int64),
        win_start=s.astype(np.int64),
        win_end=e.astype(np.int64),
        win_failed=np.zeros(s.size, dtype=np.bool_),
    )
