"""Grid inputs: outage windows, the grid-connected share of each interval, tariff and carbon factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.errors import DataFileError
from islandgrid.site.spec import GridSpec, StochasticOutages


def stochastic_outages(model: StochasticOutages, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Seeded outage windows from SAIFI and SAIDI.

    The number of events is Poisson with mean ``events_per_year`` (scaled to the
    period), starts are uniform, durations exponential with mean SAIDI/SAIFI,
    at least one minute. Windows are generated at 1-minute granularity, so the same
    seed gives the same outages at every resolution.

    Returns
    -------
    pandas.DataFrame
        Columns start, end (tz-aware), sorted and non-overlapping.
    """
    minutes = int((end - start) / pd.Timedelta(minutes=1))
    starts, ends = outage_minutes(np.random.default_rng(model.seed), model, minutes)
    if starts.size == 0:
        return no_outages(str(start.tz))
    return _merge(start, starts, ends)


def outage_minutes(
    rng: np.random.Generator, model: StochasticOutages, minutes: int, start_hour_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One draw of the outage model: window starts and ends [minutes from the period start], by start.

    The model of :func:`stochastic_outages` (Poisson count, exponential durations of mean
    SAIDI/SAIFI, at least one minute), drawn from ``rng``. Starts are uniform over the period, or,
    with ``start_hour_weights`` (24 weights, local hour of day from the period start), on a uniform
    day at an hour drawn by those weights and a uniform minute in it. Windows may overlap (an
    interval touched by either is islanded); each window stays one event.
    """
    years = minutes / 525600.0
    n = int(rng.poisson(model.events_per_year * years)) if model.events_per_year > 0 else 0
    if n == 0 or model.hours_per_year <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    mean_min = 60.0 * model.hours_per_year / model.events_per_year
    if start_hour_weights is None:
        starts = np.sort(rng.integers(0, minutes, size=n))
    else:
        w = np.asarray(start_hour_weights, dtype=float)
        days = rng.integers(0, max(minutes // 1440, 1), size=n)
        hours = rng.choice(24, size=n, p=w / w.sum())
        starts = np.sort(np.minimum(days * 1440 + hours * 60 + rng.integers(0, 60, size=n), minutes - 1))
    durs = np.maximum(np.round(rng.exponential(mean_min, size=n)), 1).astype(np.int64)
    ends = np.minimum(starts + durs, minutes)
    return starts.astype(np.int64), ends.astype(np.int64)


def no_outages(tz: str) -> pd.DataFrame:
    """An empty outage table."""
    return pd.DataFrame({"start": pd.DatetimeIndex([], tz=tz), "end": pd.DatetimeIndex([], tz=tz)})


def _merge(origin: pd.Timestamp, starts: np.ndarray, ends: np.ndarray) -> pd.DataFrame:
    """Merge overlapping [start, end) minute windows into a frame of timestamps."""
    merged: list[list[int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    arr = np.array(merged, dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame(
        {
            "start": origin + pd.to_timedelta(arr[:, 0], unit="min"),
            "end": origin + pd.to_timedelta(arr[:, 1], unit="min"),
        }
    )


def outages_from_csv(path: Path, tz: str) -> pd.DataFrame:
    """Read outage windows (columns start, end, local time) and check them."""
    try:
        df = pd.read_csv(path)
    except Exception as exc:
        raise DataFileError(f"not a readable CSV ({exc})", source=str(path), fix="columns: start,end") from None
    if not {"start", "end"} <= set(df.columns):
        raise DataFileError(
            "missing columns",
            source=str(path),
            field="header",
            value=list(df.columns),
            fix="the header must be 'start,end'",
        )
    try:
        s = pd.DatetimeIndex(pd.to_datetime(df["start"], format="mixed"))
        e = pd.DatetimeIndex(pd.to_datetime(df["end"], format="mixed"))
    except (ValueError, TypeError) as exc:
        raise DataFileError(
            f"malformed timestamp ({exc})", source=str(path), field="start, end", fix="use ISO 8601 local times"
        ) from None
    s = s.tz_localize(tz) if s.tz is None else s.tz_convert(tz)
    e = e.tz_localize(tz) if e.tz is None else e.tz_convert(tz)
    bad = np.asarray(e <= s)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(
            f"outage on line {i + 2} ends before it starts",
            source=str(path),
            field="start, end",
            value=f"{s[i]} -> {e[i]}",
            fix="swap start and end",
        )
    return pd.DataFrame({"start": s, "end": e}).sort_values("start").reset_index(drop=True)


def require_outage_in(windows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, path: Path) -> None:
    """Refuse an outage file none of whose windows touches the simulated period [start, end).

    A file that names outages only in other years would silently simulate a grid that never fails.
    """
    inside = (pd.DatetimeIndex(windows["start"]) < end) & (pd.DatetimeIndex(windows["end"]) > start)
    if not np.asarray(inside).any():
        span = f"{windows['start'].min()} to {windows['end'].max()}" if len(windows) else "no rows"
        raise DataFileError(
            f"no outage falls inside the simulated period {start} to {end}",
            source=str(path),
            field="start, end",
            value=f"{len(windows)} outage(s), {span}",
            allowed=f"at least one outage overlapping {start.year} ([simulation] year)",
            fix="give the outages of the simulated year, set [simulation] year to the file's year, "
            "or remove grid.outages_csv for a grid that never fails",
        )


def grid_fraction(index: pd.DatetimeIndex, dt_h: float, windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The grid-connected share of every interval and whether the grid is up at its start.

    Outage windows are kept as they are (to the minute, or finer for a CSV): an interval an outage
    covers in part is connected for the rest of it, and the dispatch runs it as two parts inside
    the interval (:func:`islandgrid.components.physics.grid_parts`). So hours islanded, and the
    energy the grid can give, do not depend on the step length.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Interval starts, tz-aware.
    dt_h : float
        Interval length [h].
    windows : pandas.DataFrame
        Outage windows [start, end), tz-aware, non-overlapping.

    Returns
    -------
    share : ndarray of float
        Connected share of each interval, 0 (islanded all of it) to 1 (up all of it) [-].
    up_at_start : ndarray of bool
        Whether the grid is up at the interval's start.
    """
    n = len(index)
    share = np.ones(n, dtype=float)
    up_at_start = np.ones(n, dtype=bool)
    if windows.empty or n == 0:
        return share, up_at_start
    t0 = index.as_unit("ns").asi8
    step = round(dt_h * 3600e9)
    t1 = t0 + step
    s = pd.DatetimeIndex(windows["start"]).as_unit("ns").asi8
    e = pd.DatetimeIndex(windows["end"]).as_unit("ns").asi8
    first = np.searchsorted(t1, s, side="right")  # the first interval ending after the outage starts
    last = np.searchsorted(t0, e, side="left")  # one past the last interval starting before it ends
    down_ns = np.zeros(n, dtype=np.int64)
    for a, b, ws, we in zip(first.tolist(), last.tolist(), s.tolist(), e.tolist(), strict=True):
        if a >= b:
            continue
        lo = np.maximum(t0[a:b], ws)
        hi = np.minimum(t1[a:b], we)
        down_ns[a:b] += np.maximum(hi - lo, 0)
        up_at_start[a:b] &= ~((t0[a:b] >= ws) & (t0[a:b] < we))
    share = 1.0 - np.minimum(down_ns, step) / step
    return share, up_at_start


def tariff(spec: GridSpec, index: pd.DatetimeIndex) -> np.ndarray:
    """Import price per interval from the TOU bands in local time [currency/kWh]."""
    price = np.full(len(index), spec.import_price_per_kwh, dtype=float)
    hours = index.hour.to_numpy()
    for band in spec.tou:  # disjoint bands (checked by GridSpec), so the order does not matter
        price[np.isin(hours, sorted(band.hours()))] = band.price_per_kwh
    return price
