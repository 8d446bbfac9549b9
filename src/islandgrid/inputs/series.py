"""Build every input series of a site on one time grid (the 'inputs' stage)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.carbon.factors import EmissionFactor, get_factor
from islandgrid.errors import SiteFileError
from islandgrid.inputs import grid as grid_inputs
from islandgrid.inputs import load as load_inputs
from islandgrid.inputs.pv import pv_ac_kw, read_timeseries_csv, solar_position
from islandgrid.inputs.timegrid import RESOLUTIONS, make_index
from islandgrid.inputs.weather import check_station_distance, weather_on_grid
from islandgrid.site.spec import Site

#: Columns of :attr:`InputSeries.frame` and their units.
INPUT_COLUMNS = {
    "pv_kw": "available PV AC power [kW]",
    "it_kw": "IT load [kW]",
    "pue": "power usage effectiveness [-]",
    "load_kw": "total demand, IT x PUE [kW]",
    "critical_kw": "critical part of the demand [kW]",
    "grid_available": "grid-connected share of the interval, 1 = up all of it [-]",
    "import_price_per_kwh": "import tariff [currency/kWh]",
    "export_price_per_kwh": "export price [currency/kWh]",
    "grid_co2_kg_per_kwh": "grid carbon factor [kg/kWh]",
    "temp_air_c": "outdoor dry-bulb [°C] (NaN without weather)",
}


@dataclass(frozen=True)
class InputSeries:
    """All inputs of one run on one grid.

    Attributes
    ----------
    frame : pandas.DataFrame
        One column per entry of :data:`INPUT_COLUMNS`, tz-aware interval-start index.
    dt_h : float
        Step length [h].
    resolution : str
        '1h', '15min' or '1min'.
    outages : pandas.DataFrame
        The outage windows (start, end), tz-aware.
    grid_factor : EmissionFactor or None
        The registry factor used, when the site names one.
    grid_up_at_start : ndarray of bool or None
        Whether the grid is up at each interval's start (which part of a partly islanded
        interval comes first); None: the islanded part first.
    """

    frame: pd.DataFrame
    dt_h: float
    resolution: str
    outages: pd.DataFrame
    grid_factor: EmissionFactor | None
    grid_up_at_start: np.ndarray | None = None

    @property
    def up_at_start(self) -> np.ndarray:
        """Whether the grid is up at each interval's start (bool); without the record, up where the
        interval is connected all of it (the islanded part of a partly islanded interval first)."""
        share = self.frame["grid_available"].to_numpy(dtype=float)
        start = self.grid_up_at_start
        if start is None or len(start) != len(share):
            return np.ascontiguousarray(share >= 1.0)
        return np.ascontiguousarray(start, dtype=bool)


def build_inputs(site: Site, resolution: str | None = None) -> InputSeries:
    """Weather -> PV, load, grid availability, tariff and carbon factor on one grid.

    Parameters
    ----------
    site : Site
        The validated site.
    resolution : str, optional
        Overrides ``site.simulation.resolution``: whole minutes dividing 60 ('1min', '5min', '10min',
        '15min', '30min', '60min' or '1h').
    """
    res = resolution or site.simulation.resolution
    source = str(site.source) if site.source else None
    if res not in RESOLUTIONS:
        raise SiteFileError(
            "unknown resolution: a step must be a whole number of minutes that divides 60",
            source=None if resolution else source,
            field="--resolution" if resolution else "simulation.resolution",
            value=res,
            allowed=", ".join(RESOLUTIONS),
            fix="pick one of those, e.g. '15min'",
        )
    _, dt_h = RESOLUTIONS[res]
    tz = site.location.tz
    index = make_index(site.simulation.year, res, tz)
    n = len(index)

    temp = np.full(n, np.nan)
    if site.weather.epw is not None:
        weather = weather_on_grid(site.weather.epw, index, dt_h)
        check_station_distance(site, weather)
        temp = weather.frame["temp_air"].to_numpy()
        solpos = solar_position(
            index,
            dt_h,
            site.location.lat_deg,
            site.location.lon_deg,
            site.location.elevation_m,
            weather.frame["atmospheric_pressure"].to_numpy(),
            temp,
        )
        pv_kw = pv_ac_kw(site.pv, weather.frame, solpos)
    else:
        assert site.weather.pv_csv is not None
        pv_kw = read_timeseries_csv(
            site.weather.pv_csv, "pv_kw", index, lo=0.0, hi=max(site.pv.kwp * 1.2, 1.0), unit="kW"
        )

    spec = site.load
    if spec.profile == "constant":
        it_kw = np.full(n, spec.it_kw * spec.utilisation_frac)
    elif spec.profile == "csv":
        assert spec.csv is not None
        it_kw = read_timeseries_csv(spec.csv, "it_kw", index, lo=0.0, hi=spec.it_kw * 1.5, unit="kW")
    else:
        it_kw = load_inputs.ai_training_it_kw(index, dt_h, spec.it_kw, spec.utilisation_frac, spec.seed)
    if spec.pue.kind == "temperature" and site.weather.epw is None:
        raise SiteFileError(
            "a temperature-dependent PUE needs an EPW weather file",
            source=source,
            field="load.pue.kind",
            value="temperature",
            allowed="'constant' when weather comes from pv_csv",
            fix="set [load.pue] kind = 'constant' and value = ...",
        )
    pue = np.broadcast_to(np.asarray(load_inputs.pue(spec.pue, temp), dtype=float), (n,))
    load_kw = it_kw * pue

    g = site.grid
    start, end = index[0], index[-1] + pd.Timedelta(hours=dt_h)
    if g.outages_csv is not None:
        outages = grid_inputs.outages_from_csv(g.outages_csv, tz)
        grid_inputs.require_outage_in(outages, start, end, g.outages_csv)
    elif g.outages is not None:
        outages = grid_inputs.stochastic_outages(g.outages, start, end)
    else:
        outages = grid_inputs.no_outages(tz)
    if g.import_kw <= 0:
        outages = grid_inputs.no_outages(tz)  # an off-grid site has no grid to lose: no outage events
    share, up_at_start = grid_inputs.grid_fraction(index, dt_h, outages)
    if g.import_kw <= 0:  # off-grid: islanded all year
        share, up_at_start = np.zeros(n), np.zeros(n, dtype=bool)

    factor: EmissionFactor | None = None
    if g.carbon_csv is not None:
        co2 = read_timeseries_csv(g.carbon_csv, "kg_per_kwh", index, lo=0.0, hi=2.0, unit="kg/kWh")
    elif isinstance(g.carbon_factor, str):
        factor = get_factor(g.carbon_factor, source=source)
        co2 = np.full(n, factor.value)
    else:
        co2 = np.full(n, float(g.carbon_factor))

    frame = pd.DataFrame(
        {
            "pv_kw": pv_kw,
            "it_kw": it_kw,
            "pue": pue,
            "load_kw": load_kw,
            "critical_kw": load_kw * spec.critical_frac,
            "grid_available": share,
            "import_price_per_kwh": grid_inputs.tariff(g, index),
            "export_price_per_kwh": np.full(n, g.export_price_per_kwh),
            "grid_co2_kg_per_kwh": co2,
            "temp_air_c": temp,
        },
        index=index,
    )
    return InputSeries(
        frame=frame, dt_h=dt_h, resolution=res, outages=outages, grid_factor=factor, grid_up_at_start=up_at_start
    )
