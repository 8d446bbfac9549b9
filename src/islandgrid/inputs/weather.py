"""Weather from an EPW file (via pvlib), mapped and interpolated onto the simulation grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.errors import DataFileError
from islandgrid.inputs.timegrid import tmy_hours

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
            fix="give an EnergyPlus weather file: 8 header lines and 8760 hourly rows",
        ) from None
    if len(data) != 8760:
        raise DataFileError(
            f"has {len(data)} data rows",
            source=str(path),
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
                value=float(frame[col].iloc[i]),
                allowed="0 to 1500 W/m²",
                fix="fill the gap in the EPW file (e.g. with the EnergyPlus weather converter)",
            )
    if frame["ghi"].max() > 1500:
        raise DataFileError(
            "GHI exceeds 1500 W/m²",
            source=str(path),
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
