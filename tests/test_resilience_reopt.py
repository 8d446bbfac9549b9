"""Outage survival against REopt.jl's analytic backup-reliability cases (REopt.jl, test/runtests.jl).

Source: NREL REopt.jl, ``src/outagesim/backup_reliability.jl`` (docstring of
``survival_with_battery``) and ``test/runtests.jl`` ("Backup Generator Reliability").
Both cases have closed forms, so the tolerance is floating-point round-off (1e-9 absolute
on probabilities of order 1), not a modelling tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from islandgrid.resilience.markov import markov_matrix, starting_probabilities, survival_matrix
from islandgrid.resilience.survival import resilience


def test_reopt_case_1_two_generators_and_battery() -> None:
    """Load [1,2,2,1] kW, two 1 kW gensets with MTTF 5 steps, a 4 kWh / 1 kW battery at 75 %
    with a 50 % floor (2 kWh usable, 1 kWh at the start), 3 bins: P(survive 3 h from hour 1)
    = 0.557056. REopt's docstring gives the whole 4 x 3 matrix; we match all of it."""
    m = survival_matrix(
        np.array([1.0, 2.0, 2.0, 1.0]),
        np.array([1.0, 1.0, 1.0, 1.0]),  # (0.75 - 0.50) x 4 kWh above the floor
        3,
        n_gens=2,
        gen_kw=1.0,
        availability=1.0,
        fail_to_start=0.0,
        mttf_steps=5.0,
        usable_kwh=2.0,  # (1 - 0.50) x 4 kWh
        battery_kw=1.0,
        n_bins=3,
    )
    assert m[0, 2] == pytest.approx(0.557056, abs=1e-9)
    reopt = np.array([[1.0, 0.8704, 0.557056], [0.96, 0.6144, 0.57344], [0.96, 0.896, 0.8192], [1.0, 0.96, 0.761856]])
    np.testing.assert_allclose(m, reopt, atol=1e-9)


def test_reopt_case_2_flat_load_one_generator() -> None:
    """Flat 100 kW, one 100 kW genset (availability 0.98, failure to start 0.1, MTTF 100 h),
    400 kWh battery, 24 h outage: 0.99^20 x 0.9 x 0.98 = 0.721394 (the battery carries the
    last 4 h after a failure, so the genset must run through the first 20 steps)."""
    m = survival_matrix(
        np.full(48, 100.0),
        np.full(48, 400.0),
        24,
        n_gens=1,
        gen_kw=100.0,
        availability=0.98,
        fail_to_start=0.1,
        mttf_steps=100.0,
        usable_kwh=400.0,
        battery_kw=100.0,
        n_bins=101,
        starts=np.array([0]),
    )
    assert m[0, -1] == pytest.approx(0.99**20 * 0.9 * 0.98, abs=1e-9)
    assert m[0, -1] == pytest.approx(0.721394, abs=5e-7)  # the figure as printed, 6 decimals


def test_markov_building_blocks_match_reopt_examples() -> None:
    """REopt's docstrings: starting_probabilities and one-type transition rows."""
    p = starting_probabilities(2, 0.99, 0.05)
    q = 0.99 * 0.95
    np.testing.assert_allclose(p, [(1 - q) ** 2, 2 * q * (1 - q), q**2])
    t = markov_matrix(2, 0.1)
    np.testing.assert_allclose(t[2], [0.01, 0.18, 0.81])
    np.testing.assert_allclose(t.sum(axis=1), 1.0)


@settings(max_examples=25, deadline=None)
@given(
    load=st.lists(st.floats(0.0, 150.0), min_size=6, max_size=6),
    soc=st.floats(0.0, 400.0),
    avail=st.floats(0.5, 1.0),
    fts=st.floats(0.0, 0.5),
    mttf=st.floats(2.0, 500.0),
)
def test_survival_is_a_probability_and_never_rises_with_duration(
    load: list[float], soc: float, avail: float, fts: float, mttf: float
) -> None:
    """Invariant: 0 <= P <= 1 and surviving d+1 hours is never likelier than surviving d."""
    m = survival_matrix(
        np.asarray(load),
        np.full(6, soc),
        12,
        n_gens=1,
        gen_kw=100.0,
        availability=avail,
        fail_to_start=fts,
        mttf_steps=mttf,
        usable_kwh=400.0,
        battery_kw=100.0,
        n_bins=41,
    )
    assert np.all(m >= -1e-12) and np.all(m <= 1 + 1e-12)
    assert np.all(np.diff(m, axis=1) <= 1e-12)


def test_perfect_genset_covering_the_load_always_survives() -> None:
    """A genset that never fails and covers every hour survives with certainty."""
    m = survival_matrix(
        np.full(24, 80.0), np.zeros(24), 24, n_gens=1, gen_kw=100.0, availability=1.0,
        fail_to_start=0.0, mttf_steps=1e12, usable_kwh=0.0, battery_kw=0.0,
    )  # fmt: skip
    np.testing.assert_allclose(m, 1.0, atol=1e-9)


def test_site_resilience_from_a_simulated_year(horinger_result) -> None:  # type: ignore[no-untyped-def]
    """The seed site: survival falls with duration, headline durations exist, and a genset
    that always starts would do at least as well as the REopt defaults."""
    res = resilience(horinger_result, max_hours=72)
    s = res.summary()
    assert set(s) == {"4h", "24h", "72h"}
    assert s["4h"]["mean"] >= s["24h"]["mean"] >= s["72h"]["mean"]
    assert 0.0 < s["72h"]["worst"] <= s["72h"]["p05"] <= s["72h"]["mean"] <= 1.0
    assert res.by_start_hour(24).index.tolist() == list(range(24))
