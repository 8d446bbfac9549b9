"""Forecasters: no peeking, perfect = truth, hand-checked naive forecasts, the clear-sky chain,
the error model's growth with lead time, and skill metrics on a tiny series."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from islandgrid.errors import SiteFileError
from islandgrid.forecast.base import recent_window
from islandgrid.forecast.noise import NoisyTruth, error_std
from islandgrid.forecast.persistence import LastValue, SameTimeYesterday
from islandgrid.forecast.registry import build_forecaster
from islandgrid.forecast.seasonal import SeasonalNaive
from islandgrid.forecast.skill import ErrorMatrix, skill_table
from islandgrid.site.spec import Site
from mpc_helpers import sunny_days

PEEKLESS = ("persistence", "clearsky")


@pytest.fixture(scope="module")
def days_problem(horinger: Site):  # type: ignore[no-untyped-def]
    """Four days of the synthetic case, carrying the Horinger site for the clear-sky model."""
    p = sunny_days(days=4, dt_h=0.25)
    return replace(p, site=horinger)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(min_value=0, max_value=300), seed=st.integers(0, 2**16))
def test_forecasters_cannot_peek(days_problem, t: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Scrambling every value at or after the issue time leaves the forecast unchanged."""
    rng = np.random.default_rng(seed)
    p = days_problem
    scrambled = p.pv_kw.copy(), p.load_kw.copy()
    scrambled[0][t:] = rng.uniform(0, 500, p.n - t)
    scrambled[1][t:] = rng.uniform(0, 500, p.n - t)
    q = replace(p, pv_kw=scrambled[0], load_kw=scrambled[1], critical_kw=scrambled[1] * 0.6)
    for name in PEEKLESS:
        a = build_forecaster(name, p).issue(p, t, 96)
        b = build_forecaster(name, q).issue(q, t, 96)
        np.testing.assert_array_equal(a.pv_kw, b.pv_kw)
        np.testing.assert_array_equal(a.load_kw, b.load_kw)
        np.testing.assert_array_equal(a.grid_available, b.grid_available)


def test_recent_window_is_a_copy_without_the_future() -> None:
    x = np.arange(10.0)
    w = recent_window(x, 6, 4)
    np.testing.assert_array_equal(w, [2, 3, 4, 5])
    assert w.base is None  # no reference back to the full series
    assert len(recent_window(x, 0, 4)) == 0


def test_perfect_forecaster_has_zero_error(days_problem) -> None:  # type: ignore[no-untyped-def]
    p = days_problem
    f = build_forecaster("perfect", p)
    for t in (0, 17, p.n - 10):
        fc = f.issue(p, t, 192)
        np.testing.assert_array_equal(fc.pv_kw, p.pv_kw[t : t + 192])
        np.testing.assert_array_equal(fc.load_kw, p.load_kw[t : t + 192])
        np.testing.assert_array_equal(fc.grid_available, p.grid_available[t : t + 192])
    tab = skill_table(p, {"persistence": build_forecaster("persistence", p), "perfect": f}, horizon_h=24)
    perfect = tab[tab["forecaster"] == "perfect"]
    assert (perfect["rmse_kw"] == 0).all() and (perfect["mae_kw"] == 0).all() and (perfect["skill"] == 1).all()


def test_naive_forecasts_by_hand() -> None:
    """Day period 4 intervals; history 1..8, so yesterday is [5, 6, 7, 8]."""
    recent = np.arange(1.0, 9.0)
    np.testing.assert_array_equal(LastValue().predict(recent, 8, 3), [8, 8, 8])
    np.testing.assert_array_equal(SameTimeYesterday(4).predict(recent, 8, 6), [5, 6, 7, 8, 5, 6])
    # weekly season (8 intervals) when a week is known, else the daily one
    np.testing.assert_array_equal(SeasonalNaive(8, 4).predict(recent, 8, 3), [1, 2, 3])
    np.testing.assert_array_equal(SeasonalNaive(8, 4).predict(recent[4:], 8, 3), [5, 6, 7])
    # less than a day of history: last value; none at all: zero
    np.testing.assert_array_equal(SameTimeYesterday(4).predict(recent[:2], 2, 2), [2, 2])
    np.testing.assert_array_equal(LastValue().predict(np.empty(0), 0, 2), [0, 0])


def test_grid_forecast_holds_a_measured_outage() -> None:
    """An outage measured at the issue time is assumed to last the site's mean duration; an up grid stays up."""
    p = sunny_days(days=2, dt_h=1.0, outage=(10, 20))
    f = build_forecaster("persistence", p)  # no site: 3 h hold
    np.testing.assert_array_equal(f.issue(p, 9, 6).grid_available, [True] * 6)
    np.testing.assert_array_equal(f.issue(p, 10, 6).grid_available, [False] * 3 + [True] * 3)


def test_clearsky_uses_pvlib_ineichen(horinger: Site) -> None:
    """The clear-sky PV is pvlib's Ineichen model through the site's PVWatts chain."""
    import pvlib

    from islandgrid.forecast.clearsky import clearsky_pv_kw
    from islandgrid.inputs.pv import pv_ac_kw, solar_position

    idx = pd.date_range("2025-06-21", periods=24, freq="1h", tz=horinger.location.tz)
    ours = clearsky_pv_kw(horinger, idx, 1.0)
    loc = horinger.location
    location = pvlib.location.Location(loc.lat_deg, loc.lon_deg, tz=loc.tz, altitude=loc.elevation_m)
    cs = location.get_clearsky(idx + pd.Timedelta(minutes=30), model="ineichen")
    cs.index = idx
    pressure = np.full(24, pvlib.atmosphere.alt2pres(loc.elevation_m))
    sp = solar_position(idx, 1.0, loc.lat_deg, loc.lon_deg, loc.elevation_m, pressure, np.full(24, 20.0))
    weather = cs.assign(temp_air=20.0, wind_speed=1.0)
    ref = pv_ac_kw(horinger.pv, weather, sp)
    # pvlib's own Location.get_clearsky (its SPA call) vs ours; differences only from refraction settings
    np.testing.assert_allclose(ours, ref, rtol=0.01, atol=0.5)
    # a clear June noon at 40.8 N: near the inverter's AC rating (220 kWp / 1.2 = 183 kW)
    assert 150 < ours.max() <= 220 / 1.2 + 1e-6
    assert ours[0] == 0 and ours[23] == 0


def test_clearsky_index_scales_the_forecast(horinger: Site) -> None:
    """Yesterday at exactly half the clear-sky PV gives a forecast of half the clear-sky PV."""
    from islandgrid.forecast.clearsky import ClearSkyIndex, clearsky_pv_kw

    idx = pd.date_range("2025-06-20", periods=72, freq="1h", tz=horinger.location.tz)
    cs = clearsky_pv_kw(horinger, idx, 1.0)
    f = ClearSkyIndex(cs, 1.0, horinger.pv.kwp)
    fc = f.predict(0.5 * cs[:36], 36, 24)
    np.testing.assert_allclose(fc, 0.5 * cs[36:60], rtol=1e-12)
    with pytest.raises(SiteFileError, match="clear-sky"):
        build_forecaster("clearsky", sunny_days(days=1))


def test_clearsky_index_is_the_median_of_recent_days(horinger: Site) -> None:
    """Three days at 0.8, 0.8 and (yesterday) 0.2 of the clear-sky PV: the forecast issued at midnight
    (no daylight in the last hour, so no nowcast) is 0.8 of the clear-sky PV, the typical recent day,
    not yesterday's 0.2. With one day of history that day is all there is."""
    from islandgrid.forecast.clearsky import ClearSkyIndex, clearsky_pv_kw

    idx = pd.date_range("2025-06-20", periods=5 * 24, freq="1h", tz=horinger.location.tz)
    cs = clearsky_pv_kw(horinger, idx, 1.0)
    f = ClearSkyIndex(cs, 1.0, horinger.pv.kwp)
    recent = cs[:72] * np.repeat([0.8, 0.8, 0.2], 24)
    np.testing.assert_allclose(f.daily_indices(recent, 72), [0.2, 0.8, 0.8], rtol=1e-12)
    np.testing.assert_allclose(f.predict(recent, 72, 48), 0.8 * cs[72:120], rtol=1e-12)
    np.testing.assert_allclose(f.predict(recent[48:], 72, 48), 0.2 * cs[72:120], rtol=1e-12)


def test_error_model_grows_with_lead_and_is_seeded() -> None:
    truth = np.full(400, 100.0)
    f = NoisyTruth(truth, sigma=0.3, tau_h=6.0, dt_h=0.25, seed=5)
    np.testing.assert_array_equal(f.predict(np.empty(0), 10, 192), f.predict(np.empty(0), 10, 192))
    errs = np.array([f.relative_error(t, 192) for t in range(2000)])
    emp = errs.std(axis=0)
    model = error_std(0.3, 6.0, 0.25, 192)
    # 2000 samples: the std estimate is within ~3 % (1/sqrt(2*2000) = 1.6 %, 2 sigma)
    np.testing.assert_allclose(emp[[0, 4, 24, 96, 191]], model[[0, 4, 24, 96, 191]], rtol=0.05)
    # first 15 min: 0.3 * sqrt(1 - exp(-2 * 0.25 / 6)) = 0.085; saturates towards 0.3
    assert model[0] == pytest.approx(0.3 * np.sqrt(1 - np.exp(-0.5 / 6)))
    assert model[0] < model[24] < model[191] <= 0.3


def test_skill_metrics_by_hand() -> None:
    """Two issues, two leads: errors [[1, -2], [3, 0]] -> RMSE [sqrt(5), sqrt(2)], MAE [2, 1]."""
    m = ErrorMatrix(np.array([[1.0, 0.0], [4.0, 2.0]]), np.array([[0.0, 2.0], [1.0, 2.0]]))
    np.testing.assert_allclose(m.rmse_kw(), [np.sqrt(5.0), np.sqrt(2.0)])
    np.testing.assert_allclose(m.mae_kw(), [2.0, 1.0])


def test_skill_table_against_persistence() -> None:
    """Persistence scores 0 against itself (NaN where its RMSE is 0); 'last value' on a constant load is exact."""
    p = sunny_days(days=3, dt_h=1.0)
    p = replace(p, load_kw=np.full(p.n, 40.0), critical_kw=np.full(p.n, 24.0))
    tab = skill_table(p, {"persistence": build_forecaster("persistence", p)}, horizon_h=12, leads_h=(1.0, 6.0))
    assert (tab[tab["series"] == "pv"]["skill"] == 0).all()
    load = tab[tab["series"] == "load"]
    assert (load["rmse_kw"] == 0).all() and load["skill"].isna().all()
    # PV persistence RMSE at lead 1 h by hand: same-hour difference between consecutive days
    pv = tab[(tab["series"] == "pv") & (tab["lead_h"] == 1.0)]["rmse_kw"].iloc[0]
    t = np.arange(24, p.n - 12 + 1)
    assert pv == pytest.approx(np.sqrt(np.mean((p.pv_kw[t] - p.pv_kw[t - 24]) ** 2)))
