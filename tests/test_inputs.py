"""Input series: load profile, PUE, outages, tariff, carbon factor, time grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from islandgrid.errors import DataFileError
from islandgrid.inputs import grid as grid_inputs
from islandgrid.inputs.load import ai_training_it_kw, h100_minute_shape, pue
from islandgrid.inputs.series import build_inputs
from islandgrid.inputs.timegrid import RESOLUTIONS, make_index, tmy_hours
from islandgrid.site.spec import GridSpec, PueSpec, StochasticOutages, TouPeriod


def test_time_grid_lengths_and_leap_years() -> None:
    assert len(make_index(2025, "1h", "Asia/Shanghai")) == 8760
    assert len(make_index(2025, "15min", "Asia/Shanghai")) == 35040
    assert len(make_index(2025, "1min", "Asia/Shanghai")) == 525600
    leap = make_index(2024, "1h", "Asia/Shanghai")
    h = tmy_hours(leap, 8.0)
    # 29 February reuses 28 February; 31 December maps onto the typical year's last day
    assert h[59 * 24] == h[58 * 24] == 58 * 24
    assert h[-1] == 8759


def test_ai_training_profile_mean_and_checkpoint_dips() -> None:
    idx = make_index(2025, "1min", "Asia/Shanghai")
    it = ai_training_it_kw(idx, 1 / 60, 100.0, 0.75, seed=3)
    assert it.mean() == pytest.approx(75.0, rel=0.01)  # scaled to the utilisation target (capping costs < 1 %)
    assert it.max() <= 100.0 + 1e-9
    # the measured H100 trace has checkpoint dips: minute-level power falls well below its median while busy
    shape = h100_minute_shape()
    assert shape.min() < 0.5 * np.median(shape)
    # same seed -> same profile at hourly resolution as the 1-minute one averaged
    hourly = ai_training_it_kw(make_index(2025, "1h", "Asia/Shanghai"), 1.0, 100.0, 0.75, seed=3)
    assert hourly.mean() == pytest.approx(it.mean(), rel=1e-3)


def test_pue_constant_and_temperature() -> None:
    assert pue(PueSpec(kind="constant", value=1.3), None) == 1.3
    p = pue(PueSpec(), np.array([-20.0, 0.0, 12.5, 25.0, 35.0]))
    np.testing.assert_allclose(p, [1.15, 1.15, 1.25, 1.35, 1.35])


def test_stochastic_outages_statistics_and_resolution_independence() -> None:
    start = pd.Timestamp("2025-01-01", tz="Asia/Shanghai")
    end = pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    counts, hours = [], []
    for seed in range(200):
        w = grid_inputs.stochastic_outages(
            StochasticOutages(events_per_year=20, hours_per_year=60, seed=seed), start, end
        )
        counts.append(len(w))
        hours.append(((w["end"] - w["start"]).dt.total_seconds() / 3600).sum())
    # Poisson(20) events and exponential durations of mean 3 h: means within ~3 standard errors
    assert np.mean(counts) == pytest.approx(20, abs=1.0)
    assert np.mean(hours) == pytest.approx(60, rel=0.1)
    w = grid_inputs.stochastic_outages(StochasticOutages(events_per_year=20, hours_per_year=60, seed=1), start, end)
    exact_h = ((w["end"] - w["start"]).dt.total_seconds() / 3600).sum()
    for res in ("1min", "5min", "15min", "30min", "1h"):
        dt_h = RESOLUTIONS[res][1]
        share, up_at_start = grid_inputs.grid_fraction(make_index(2025, res, "Asia/Shanghai"), dt_h, w)
        # windows kept to the minute: the islanded hours are the windows' at every step length
        assert ((1.0 - share) * dt_h).sum() == pytest.approx(exact_h, rel=1e-12), res
        assert ((share > 0) & (share < 1)).any() == (res != "1min"), res  # only minute steps have no part
        assert not up_at_start[share == 0.0].any() and up_at_start[share == 1.0].all()


def test_outage_csv(tmp_path: Path) -> None:
    p = tmp_path / "out.csv"
    p.write_text("start,end\n2025-03-01 10:30,2025-03-01 12:00\n")
    w = grid_inputs.outages_from_csv(p, "Asia/Shanghai")
    share, up_at_start = grid_inputs.grid_fraction(make_index(2025, "1h", "Asia/Shanghai"), 1.0, w)
    down = np.flatnonzero(share < 1.0)
    assert len(down) == 2  # 10:00-11:00 and 11:00-12:00
    np.testing.assert_allclose(share[down], [0.5, 0.0])  # up 10:00-10:30, islanded 10:30-12:00
    assert up_at_start[down].tolist() == [True, False]
    p.write_text("start,end\n2025-03-01 10:10,2025-03-01 10:25\n2025-03-01 10:40:30,2025-03-01 10:50\n")
    share, up_at_start = grid_inputs.grid_fraction(
        make_index(2025, "1h", "Asia/Shanghai"), 1.0, grid_inputs.outages_from_csv(p, "Asia/Shanghai")
    )
    # two outages in one hour, one of them to the second: 15 + 9.5 minutes down, up at the start
    assert (share < 1.0).sum() == 1 and share.min() == pytest.approx(1.0 - 24.5 / 60.0, abs=1e-12)
    assert up_at_start.all()
    p.write_text("start,end\n2025-03-01 12:00,2025-03-01 10:00\n")
    with pytest.raises(DataFileError, match="ends before it starts"):
        grid_inputs.outages_from_csv(p, "Asia/Shanghai")


def test_tou_tariff_wraps_midnight() -> None:
    spec = GridSpec(
        import_price_per_kwh=0.5,
        tou=[
            TouPeriod(start_hour=23, end_hour=7, price_per_kwh=0.3),
            TouPeriod(start_hour=17, end_hour=21, price_per_kwh=0.8),
        ],
    )
    idx = pd.date_range("2025-01-01", periods=24, freq="1h", tz="Asia/Shanghai")
    price = grid_inputs.tariff(spec, idx)
    assert price[0] == price[6] == price[23] == 0.3
    assert price[7] == price[16] == price[21] == 0.5
    assert price[17] == price[20] == 0.8


def test_measured_pv_and_carbon_csv(horinger, tmp_path: Path) -> None:
    idx = pd.date_range("2025-01-01", "2026-01-01", freq="15min", inclusive="left")
    pv = pd.DataFrame(
        {
            "timestamp": idx.strftime("%Y-%m-%d %H:%M"),
            "pv_kw": np.clip(np.sin((idx.hour + idx.minute / 60 - 6) / 12 * np.pi), 0, None) * 150,
        }
    )
    pv.to_csv(tmp_path / "pv.csv", index=False)
    hidx = pd.date_range("2025-01-01", "2026-01-01", freq="1h", inclusive="left")
    pd.DataFrame({"timestamp": hidx.strftime("%Y-%m-%d %H:%M"), "kg_per_kwh": 0.5 + 0.2 * (hidx.hour > 18)}).to_csv(
        tmp_path / "co2.csv", index=False
    )
    site = horinger.model_copy(
        update={
            "weather": horinger.weather.model_copy(update={"epw": None, "pv_csv": tmp_path / "pv.csv"}),
            "grid": horinger.grid.model_copy(update={"carbon_factor": 0.6, "carbon_csv": tmp_path / "co2.csv"}),
            "load": horinger.load.model_copy(update={"pue": PueSpec(kind="constant", value=1.2)}),
        }
    )
    f = build_inputs(site, "1h").frame
    # hourly means of the 15-minute file: energy is conserved
    assert f["pv_kw"].sum() == pytest.approx(pv["pv_kw"].sum() / 4, rel=1e-9)
    assert f["grid_co2_kg_per_kwh"].iloc[20] == pytest.approx(0.7)
    q = build_inputs(site, "1min").frame  # step-hold of the 15-minute file
    assert q["pv_kw"].sum() / 60 == pytest.approx(pv["pv_kw"].sum() / 4, rel=1e-9)
