"""The simulation time grid and the mapping from it onto a typical (8760 h) year."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pandas as pd

from islandgrid.site.spec import Resolution


def _minutes(name: str) -> int:
    return 60 if name == "1h" else int(name.removesuffix("min"))


#: pandas frequency string and step length in hours of each supported resolution: whole minutes
#: dividing 60 (1, 5, 10, 15, 30, 60 min; '1h' = '60min'), so every hour starts a step.
RESOLUTIONS: dict[str, tuple[str, float]] = {
    name: (f"{_minutes(name)}min", _minutes(name) / 60.0) for name in get_args(Resolution)
}


def make_index(year: int, resolution: str, tz: str) -> pd.DatetimeIndex:
    """Interval-start timestamps of one calendar year in local time.

    Parameters
    ----------
    year : int
        Calendar year.
    resolution : str
        Step length, a key of :data:`RESOLUTIONS`.
    tz : str
        IANA time zone of the site.

    Returns
    -------
    pandas.DatetimeIndex
        tz-aware interval starts.
    """
    freq, _ = RESOLUTIONS[resolution]
    return pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq=freq, tz=tz, inclusive="left")


def tmy_hours(index: pd.DatetimeIndex, utc_offset_h: float) -> np.ndarray:
    """Fractional hour-of-typical-year (0 <= h < 8760) of each timestamp.

    The typical year has no 29 February: that day reuses 28 February. Timestamps are
    first shifted into the weather file's fixed standard-time offset.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        tz-aware timestamps.
    utc_offset_h : float
        The weather file's UTC offset [h].

    Returns
    -------
    ndarray
        Hours since 1 January 00:00 of a non-leap year [h].
    """
    local = index.tz_convert("UTC") + pd.Timedelta(hours=utc_offset_h)
    doy = local.day_of_year.to_numpy() - 1
    leap = local.is_leap_year
    after_feb28 = leap & (doy >= 59)
    doy = np.where(after_feb28, doy - 1, doy)
    hours = doy * 24.0 + local.hour.to_numpy() + local.minute.to_numpy() / 60.0 + local.second.to_numpy() / 3600.0
    return np.mod(hours, 8760.0)
