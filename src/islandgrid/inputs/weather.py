"""Weather from an EPW file (via pvlib), mapped and interpolated onto the simulation grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.errors import DataFileError, SiteFileError
from islandgrid.inputs.timegrid import tmy_hours
from islandgrid.site.spec import Site

#: Mean radius of the Earth, IUGG (Moritz 2000, "Geodetic Reference System 1980") [km].
EARTH_RADIUS_KM = 6371.0088

_COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed", "atmospheric_pressure")


@dataclass(frozen=True)
class Weather:
    """Weather on the simulation grid.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ghi, dni, dhi [W/m²], temp_air [°C], wind_speed [m/s],
        atmospheric_pressure [Pa]; index = interval starts.
    lat_deg, lon_deg, elevation_m, utc_offset_h : float
        From the EPW header.
    """

    frame: pd.DataFrame
    lat_deg: float
    lon_deg: float
    elevation_m: float
    utc_offset_h: float


def read_epw_hourly(path: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """Read and check an EPW file.

    Returns the 8760 hourly rows (interval starts, the file's fixed offset) and the
    header metadata. Raises :class:`DataFileError` for anything malformed.
    """
    import pvlib

    try:
        data, meta = pvlib.iotools.read_epw(str(path))
    except Exception as exc:  # pvlib raises many types on a malformed file
        raise DataFileError(
            f"not a readable EPW file ({type(exc).__name__}: {exc})",
            source=str(path),
            field="weather.epw",
            fix="give an EnergyPlus weather file: 8 header lines and 8760 hourly rows",
        ) from None
    if len(data) != 8760:
        raise DataFileError(
            f"has {len(data)} data rows",
            source=str(path),
            field="weather.epw",
            allowed="exactly 8760 hourly rows (a typical year)",
            fix="use a complete EPW typical-year file",
        )
    frame = data[list(_COLUMNS)].astype(float)
    for col in ("ghi", "dni", "dhi"):
        bad = ~np.isfinite(frame[col].to_numpy()) | (frame[col].to_numpy() >= 9999) | (frame[col].to_numpy() < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(
                f"column {col} has a missing or invalid value at data row {i + 1}",
                source=str(path),
                field=col,
                value=float(frame[col].iloc[i]),
                allowed="0 to 1500 W/m²",
                fix="fill the gap in the EPW file (e.g. with the EnergyPlus weather converter)",
            )
    if frame["ghi"].max() > 1500:
        raise DataFileError(
            "GHI exceeds 1500 W/m²",
            source=str(path),
            field="ghi",
            value=float(frame["ghi"].max()),
            allowed="0 to 1500 W/m²",
            fix="check the irradiance units are W/m² (Wh/m² per hour)",
        )
    header = {
        "lat_deg": float(meta["latitude"]),
        "lon_deg": float(meta["longitude"]),
        "elevation_m": float(meta["altitude"]),
        "utc_offset_h": float(meta["TZ"]),
    }
    return frame, header


def weather_on_grid(path: Path, index: pd.DatetimeIndex, dt_h: float) -> Weather:
    """Weather on the simulation grid.

    Hourly steps take the EPW rows as they are. Shorter steps interpolate linearly
    between hourly means placed at mid-hour, evaluated at the mid-point of each
    step; irradiance is clipped at zero.

    Parameters
    ----------
    path : Path
        EPW file.
    index : pandas.DatetimeIndex
        Interval starts of the simulation.
    dt_h : float
        Step length [h].
    """
    hourly, header = read_epw_hourly(path)
    values = hourly.to_numpy()
    if dt_h >= 1.0:
        rows = np.floor(tmy_hours(index, header["utc_offset_h"])).astype(np.int64) % 8760
        out = values[rows]
    else:
        mid = tmy_hours(index, header["utc_offset_h"]) + dt_h / 2.0
        x = mid - 0.5  # hourly means sit at mid-hour
        i0 = np.floor(x).astype(np.int64)
        w = (x - i0)[:, None]
        out = (1.0 - w) * values[i0 % 8760] + w * values[(i0 + 1) % 8760]
        out[:, :3] = np.maximum(out[:, :3], 0.0)
    frame = pd.DataFrame(out, index=index, columns=list(_COLUMNS))
    return Weather(frame=frame, **header)


def great_circle_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance on the mean sphere, haversine formula (Sinnott 1984, Sky & Telescope 68:159) [km]."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dphi, dlam = p2 - p1, np.radians(lon2_deg - lon1_deg)
    h = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2.0) ** 2
    return float(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(min(h, 1.0))))


def check_station_distance(site: Site, weather: Weather) -> None:
    """Refuse a site farther than ``[weather] max_distance_km`` from its EPW file's own station.

    Raises
    ------
    SiteFileError
        Naming the site's lat/lon, the station's and the distance.
    """
    loc = site.location
    km = great_circle_km(loc.lat_deg, loc.lon_deg, weather.lat_deg, weather.lon_deg)
    limit_km = site.weather.max_distance_km
    if km > limit_km:
        raise SiteFileError(
            f"the site is {km:,.0f} km from the weather file's station ({weather.lat_deg:g} N, "
            f"{weather.lon_deg:g} E, from the LOCATION line of {site.weather.epw}), so its sun and its climate "
            "do not match.",
            source=str(site.source) if site.source else None,
            field="location.lat_deg, location.lon_deg",
            value=(loc.lat_deg, loc.lon_deg),
            allowed=f"within {limit_km:g} km of the station ([weather] max_distance_km)",
            fix="check the signs (north and east are positive) and the weather file; raise [weather] "
            "max_distance_km only if that station is really the best weather for this site",
        )
