"""Genset fuel curve: fit to data-sheet points (Cummins) with the residual of the fit."""

from __future__ import annotations

import numpy as np
import pytest

from islandgrid.components.genset import altitude_derate_frac, fit_fuel_curve
from islandgrid.errors import SiteFileError

#: Cummins data sheets, 1500 rpm prime, L/h at 25/50/75/100 % load (examples/data/SOURCES.md).
SHEETS = {
    "6BT5.9-G2": (92.0, [7.3, 11.7, 18.0, 23.5]),
    "6BTAA5.9-G6": (135.0, [9.0, 18.0, 27.0, 35.0]),
    "QSB7-G5": (182.0, [13.0, 26.0, 36.0, 45.0]),
}
LOADS = [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("model", SHEETS)
def test_fit_reproduces_datasheet_within_its_residual(model: str) -> None:
    rated, fuel = SHEETS[model]
    curve = fit_fuel_curve(rated, LOADS, fuel)
    pred = curve.f0_l_per_h_per_kw * rated + curve.f1_l_per_kwh * np.array(LOADS) * rated
    resid = np.asarray(fuel) - pred
    assert curve.rms_residual_l_per_h == pytest.approx(np.sqrt(np.mean(resid**2)))
    # A straight line (HOMER's model) fits these sheets to within 3 % of full-load fuel at every point
    # (measured: 6BT5.9-G2 0.68 L/h of 23.5, 6BTAA5.9-G6 0.40 of 35, QSB7-G5 1.30 of 45).
    assert curve.max_residual_l_per_h < 0.03 * fuel[-1]
    # Physical: a positive no-load intercept and a slope near HOMER's 0.273 L/kWh example (0.2-0.3).
    assert curve.f0_l_per_h_per_kw >= 0
    assert 0.2 < curve.f1_l_per_kwh < 0.3


def test_exact_line_is_recovered() -> None:
    # HOMER's example: F0 = 0.033 L/h/kW, F1 = 0.273 L/kWh; points on that line fit with zero residual.
    rated = 100.0
    fuel = [0.033 * rated + 0.273 * f * rated for f in LOADS]
    curve = fit_fuel_curve(rated, LOADS, fuel)
    assert curve.f0_l_per_h_per_kw == pytest.approx(0.033)
    assert curve.f1_l_per_kwh == pytest.approx(0.273)
    assert curve.rms_residual_l_per_h == pytest.approx(0, abs=1e-9)


def test_falling_curve_is_rejected() -> None:
    with pytest.raises(SiteFileError, match="datasheet_fuel_l_per_h"):
        fit_fuel_curve(100, LOADS, [30, 20, 10, 5])


def test_altitude_derate() -> None:
    # Cummins: 3.4 % per 300 m above the 1000 m limit. Hohhot 1063 m -> 0.714 % derate.
    assert altitude_derate_frac(1063, 1000, 0.034) == pytest.approx(1 - 0.034 * 63 / 300)
    assert altitude_derate_frac(500, 1000, 0.034) == 1.0
