"""Diesel genset: HOMER's linear fuel curve, a least-squares fit to data-sheet points,
and the altitude derate.

HOMER: F [L/h] = F0 * Y_rated + F1 * P_out while running, 0 when off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from islandgrid.components.physics import genset_fuel_l
from islandgrid.errors import SiteFileError
from islandgrid.site.spec import GensetSpec

#: HOMER Pro's documented example curve (HOMER Pro user manual, 'Generator Fuel Curve'): F0 [L/h/kW rated], F1 [L/kWh].
HOMER_F0_L_PER_H_PER_KW = 0.033
HOMER_F1_L_PER_KWH = 0.273


@dataclass(frozen=True)
class FuelCurve:
    """A fitted fuel curve.

    Attributes
    ----------
    f0_l_per_h_per_kw : float
        No-load intercept per kW of rating [L/h/kW].
    f1_l_per_kwh : float
        Marginal fuel use [L/kWh].
    rms_residual_l_per_h : float
        RMS residual of the fit against the data-sheet points [L/h]; 0 when not fitted.
    max_residual_l_per_h : float
        Largest absolute residual [L/h].
    source : str
        'datasheet fit', 'site file' or 'HOMER default'.
    """

    f0_l_per_h_per_kw: float
    f1_l_per_kwh: float
    rms_residual_l_per_h: float = 0.0
    max_residual_l_per_h: float = 0.0
    source: str = "HOMER default"


def fit_fuel_curve(rated_kw: float, load_frac: list[float], fuel_l_per_h: list[float]) -> FuelCurve:
    """Least-squares fit of HOMER's linear curve to data-sheet points.

    Parameters
    ----------
    rated_kw : float
        Rating the points refer to [kW].
    load_frac : list of float
        Load as a fraction of rating [-].
    fuel_l_per_h : list of float
        Fuel use at those loads [L/h].

    Returns
    -------
    FuelCurve
        F0 and F1 with the residuals of the fit.
    """
    p_kw = np.asarray(load_frac, dtype=float) * rated_kw
    f = np.asarray(fuel_l_per_h, dtype=float)
    a = np.column_stack([np.full_like(p_kw, rated_kw), p_kw])
    (f0, f1), *_ = np.linalg.lstsq(a, f, rcond=None)
    if f1 <= 0 or f0 < 0:
        raise SiteFileError(
            "data-sheet points do not give a rising fuel curve with a non-negative intercept",
            field="genset.datasheet_fuel_l_per_h",
            value=list(fuel_l_per_h),
            fix="check the points are L/h at rising load fractions",
        )
    resid = f - a @ np.array([f0, f1])
    return FuelCurve(
        f0_l_per_h_per_kw=float(f0),
        f1_l_per_kwh=float(f1),
        rms_residual_l_per_h=float(np.sqrt(np.mean(resid**2))),
        max_residual_l_per_h=float(np.max(np.abs(resid))),
        source="datasheet fit",
    )


def altitude_derate_frac(elevation_m: float, limit_m: float, derate_frac_per_300m: float) -> float:
    """Fraction of the rating available at ``elevation_m`` [-]."""
    excess = max(elevation_m - limit_m, 0.0)
    return max(1.0 - derate_frac_per_300m * excess / 300.0, 0.0)


@dataclass(frozen=True)
class GensetParams:
    """Genset parameters the dispatch engine reads.

    Attributes
    ----------
    rated_kw : float
        Available rating after altitude derate [kW].
    nameplate_kw : float
        Nameplate prime rating [kW]; the fuel intercept scales with this.
    f0_l_per_h_per_kw, f1_l_per_kwh : float
        Fuel curve [L/h/kW], [L/kWh].
    min_load_kw : float
        Minimum loading while running [kW].
    min_run_h : float
        Minimum run time [h].
    min_off_h : float
        Minimum time stopped before a restart [h].
    start_delay_h : float
        Time from start command to power [h]; the battery covers it.
    co2_kg_per_l : float
        Emission factor [kg CO2/L].
    fuel_price_per_l : float
        [currency/L].
    """

    rated_kw: float
    nameplate_kw: float
    f0_l_per_h_per_kw: float
    f1_l_per_kwh: float
    min_load_kw: float
    min_run_h: float
    min_off_h: float
    start_delay_h: float
    co2_kg_per_l: float
    fuel_price_per_l: float
    curve: FuelCurve

    def fuel_l_per_h(self, p_kw: float) -> float:
        """Fuel rate while running at ``p_kw`` [L/h]: the one fuel curve (``physics.genset_fuel_l``) over 1 h."""
        return float(genset_fuel_l(self.f0_l_per_h_per_kw * self.nameplate_kw, self.f1_l_per_kwh, 1.0, float(p_kw)))


def genset_params(spec: GensetSpec, elevation_m: float = 0.0) -> GensetParams:
    """Resolve a :class:`GensetSpec` into :class:`GensetParams`.

    The fuel curve comes from data-sheet points when given (fitted, residual kept),
    else from F0/F1 in the site file, else HOMER's example values.
    """
    if spec.datasheet_load_frac is not None and spec.datasheet_fuel_l_per_h is not None and spec.rated_kw > 0:
        curve = fit_fuel_curve(spec.rated_kw, spec.datasheet_load_frac, spec.datasheet_fuel_l_per_h)
    else:
        curve = FuelCurve(
            f0_l_per_h_per_kw=spec.f0_l_per_h_per_kw if spec.f0_l_per_h_per_kw is not None else HOMER_F0_L_PER_H_PER_KW,
            f1_l_per_kwh=spec.f1_l_per_kwh if spec.f1_l_per_kwh is not None else HOMER_F1_L_PER_KWH,
            source="site file" if spec.f1_l_per_kwh is not None else "HOMER default",
        )
    rated = spec.rated_kw * altitude_derate_frac(elevation_m, spec.altitude_limit_m, spec.derate_frac_per_300m)
    return GensetParams(
        rated_kw=rated,
        nameplate_kw=spec.rated_kw,
        f0_l_per_h_per_kw=curve.f0_l_per_h_per_kw,
        f1_l_per_kwh=curve.f1_l_per_kwh,
        min_load_kw=spec.min_load_frac * spec.rated_kw,
        min_run_h=spec.min_run_min / 60.0,
        min_off_h=spec.min_off_min / 60.0,
        start_delay_h=spec.start_delay_s / 3600.0,
        co2_kg_per_l=spec.co2_kg_per_l,
        fuel_price_per_l=spec.fuel_price_per_l,
        curve=curve,
    )
