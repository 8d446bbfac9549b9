"""Per-job carbon: a jobs file's IT energy, scaled up by PUE, times the bus intensity of each interval.

This is what CodeCarbon gives an ML team, with the site's real (ledgered) intensity instead of a
national average. A job is ``job_id,start,end`` and either ``kw`` (mean IT draw) or
``gpu_hours``; GPU-hours become kW with ``kw_per_gpu`` (default 0.7 kW: NVIDIA H100 SXM5 board
power, "Max thermal design power (TDP) up to 700 W", NVIDIA H100 Tensor Core GPU datasheet).

For interval t overlapping the job by h_t hours::

    energy_t = kw x h_t x PUE_t,    PUE_t = load_kwh_t / it_kwh_t (from the ledger, else --pue)
    co2      = sum_t energy_t x e_bus_t
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.errors import DataFileError, InputError

#: NVIDIA H100 SXM5 maximum board power (datasheet: TDP up to 700 W) [kW].
H100_SXM_KW = 0.7
MAX_REPORTED = 10
#: Class 1 active-energy meters are accurate to 1 % (IEC 62053-21); a job may draw that much more
#: than the room's metered peak before it is refused [-].
METER_ACCURACY_FRAC = 0.01
#: Descriptive columns a jobs file may carry; they are passed through to the per-job export.
OPTIONAL_COLUMNS: tuple[str, ...] = ("project_name", "experiment_id", "gpu_count", "gpu_model")
#: Measured energy split of a job where its tools know it (e.g. DCGM for the GPUs, RAPL for CPU and RAM) [kWh];
#: passed through to CodeCarbon's gpu_energy, cpu_energy and ram_energy.
ENERGY_SPLIT_COLUMNS: tuple[str, ...] = ("gpu_kwh", "cpu_kwh", "ram_kwh")


def read_jobs(path: str | Path, tz: str) -> pd.DataFrame:
    """Read and validate a jobs CSV (:func:`validate_jobs`); naive timestamps are in the site's time ``tz``."""
    path = Path(path)
    return validate_jobs(read_text_csv(path), tz, source=str(path))


def _cell(value: object) -> str:
    """A cell as stripped text; None and NaN (a frame's missing value) are empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    return str(value).strip()


def _number(r: pd.Series, c: str, line: int, problems: list[str]) -> float:
    """Column ``c`` of row ``r`` as a finite number >= 0, NaN when empty; a bad value is added to ``problems``."""
    text = _cell(r.get(c, ""))
    if text == "":
        return np.nan
    try:
        v = float(text)
    except ValueError:
        problems.append(f"line {line}: {c} = {text!r} is not a number")
        return np.nan
    if not np.isfinite(v) or v < 0:
        problems.append(f"line {line}: {c} = {text} must be a finite number >= 0")
        return np.nan
    return v


def validate_jobs(raw: pd.DataFrame, tz: str, source: str | None = None) -> pd.DataFrame:
    """Validate a jobs table: ``job_id,start,end`` and per row ``kw`` or ``gpu_hours`` (or only ``gpu_count``).

    The one check for a jobs CSV (:func:`read_jobs`) and for a frame of finished jobs from a
    scheduler. A row with neither kw nor gpu_hours but a ``gpu_count`` runs that many GPUs for its
    whole duration (gpu_hours = gpu_count x duration). Naive timestamps are in the site's local time
    ``tz``; "line N" counts a CSV's header as line 1.

    Parameters
    ----------
    raw : pandas.DataFrame
        The jobs, cells as text or as values (Timestamps, numbers; NaN or None = empty).
    tz : str
        The site's time zone.
    source : str, optional
        The file named in error messages.

    Returns
    -------
    pandas.DataFrame
        job_id, start, end (UTC), kw and gpu_hours (NaN where not given), and any of
        :data:`OPTIONAL_COLUMNS` (text; gpu_count a number) and :data:`ENERGY_SPLIT_COLUMNS` [kWh] given.

    Raises
    ------
    DataFileError
        Missing columns, malformed or negative values, end not after start, both or neither of kw and
        gpu_hours; the message names every bad line (up to ten).
    """
    need = ["job_id", "start", "end"]
    missing = [c for c in need if c not in raw.columns]
    if missing or not ({"kw", "gpu_hours", "gpu_count"} & set(raw.columns)):
        raise DataFileError(
            "missing columns",
            source=source,
            field="header",
            value=list(raw.columns),
            allowed="job_id, start, end and kw and/or gpu_hours (or gpu_count)",
            fix="see examples/horinger-jobs.csv",
        )
    if raw.empty:
        raise DataFileError("no jobs", source=source, fix="add at least one row")
    problems: list[str] = []
    rows = []
    numeric = [c for c in ("gpu_count", *ENERGY_SPLIT_COLUMNS) if c in raw.columns]
    extra: dict[str, list[float]] = {c: [] for c in numeric}
    for i, (_, r) in enumerate(raw.iterrows()):
        line = i + 2
        try:
            start = pd.Timestamp(r["start"])
            end = pd.Timestamp(r["end"])
        except (ValueError, TypeError):
            problems.append(f"line {line}: start/end {r['start']!r}/{r['end']!r} are not ISO 8601")
            continue
        if pd.isna(start) or pd.isna(end):
            problems.append(f"line {line}: start or end is empty")
            continue
        start = start.tz_localize(tz) if start.tzinfo is None else start
        end = end.tz_localize(tz) if end.tzinfo is None else end
        if end <= start:
            problems.append(f"line {line}: end {r['end']} is not after start {r['start']}")
        vals = {c: _number(r, c, line, problems) for c in ("kw", "gpu_hours", *numeric)}
        only_gpus = not np.isfinite(vals["kw"]) and not np.isfinite(vals["gpu_hours"])
        if only_gpus and np.isfinite(vals.get("gpu_count", np.nan)):
            vals["gpu_hours"] = vals["gpu_count"] * (end - start).total_seconds() / 3600.0
        if np.isfinite(vals["kw"]) == np.isfinite(vals["gpu_hours"]):
            problems.append(f"line {line}: give exactly one of kw and gpu_hours (or only gpu_count)")
        for c in numeric:
            extra[c].append(vals[c])
        rows.append((_cell(r["job_id"]), start.tz_convert("UTC"), end.tz_convert("UTC"), vals["kw"], vals["gpu_hours"]))
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise DataFileError(
            f"{len(problems)} bad row(s): " + "; ".join(problems[:MAX_REPORTED]) + more + ".",
            source=source,
            fix="correct those lines",
        )
    frame = pd.DataFrame(rows, columns=["job_id", "start", "end", "kw", "gpu_hours"])
    for c in OPTIONAL_COLUMNS:
        if c in raw.columns and c not in extra:
            frame[c] = [_cell(v) for v in raw[c]]
    for c, v in extra.items():
        frame[c] = np.asarray(v, dtype=float)
    frame.attrs["source"] = source
    return frame


def room_peak_it_kw(records: pd.DataFrame) -> float:
    """The room's largest IT draw in the ledger [kW]: no job can draw more than the whole room.

    An interval without metered IT energy counts its facility energy (IT x PUE), an upper bound.
    """
    it = records["it_kwh"].to_numpy(dtype=float)
    energy = np.where(np.isfinite(it), it, records["load_kwh"].to_numpy(dtype=float))
    return float(np.nanmax(energy / (records["dt_s"].to_numpy(dtype=float) / 3600.0), initial=0.0))


def _check_job_power(jobs: pd.DataFrame, kws: np.ndarray, peak_kw: float, kw_per_gpu: float) -> None:
    """Refuse jobs drawing more than the room's peak IT power, naming each (up to ten)."""
    limit_kw = peak_kw * (1.0 + METER_ACCURACY_FRAC)
    bad = [(str(j), float(k)) for j, k in zip(jobs["job_id"], kws, strict=True) if k > limit_kw]
    if not bad:
        return
    more = f" (and {len(bad) - MAX_REPORTED} more)" if len(bad) > MAX_REPORTED else ""
    listed = "; ".join(f"job {j} draws {k:,.1f} kW" for j, k in bad[:MAX_REPORTED])
    raise DataFileError(
        f"{len(bad)} job(s) draw more IT power than the whole room ever drew: {listed}{more}.",
        source=jobs.attrs.get("source"),
        field="kw",
        value=bad[0][1],
        allowed=f"0 to {limit_kw:,.1f} kW (the room's peak IT draw in the ledger, {peak_kw:,.1f} kW, "
        f"+ {METER_ACCURACY_FRAC:.0%} meter accuracy)",
        fix=f"give each job's mean IT draw in kW (not W); gpu_hours use --kw-per-gpu = {kw_per_gpu:g} kW per GPU",
    )


def allocate_jobs(
    jobs: pd.DataFrame,
    records: pd.DataFrame,
    kw_per_gpu: float = H100_SXM_KW,
    pue: float | None = None,
    *,
    shares: dict[str, np.ndarray] | None = None,
    rates: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Energy and CO2 of each job from the ledger's intervals.

    Parameters
    ----------
    jobs : pandas.DataFrame
        From :func:`read_jobs`.
    records : pandas.DataFrame
        Ledger records (UTC index, dt_s, load_kwh, it_kwh, e_bus_kg_per_kwh, load_pv_frac).
    kw_per_gpu : float
        Board power per GPU for ``gpu_hours`` jobs [kW].
    pue : float, optional
        PUE where the ledger has no IT energy [-]; default the median of the ledger's known PUE
        (e.g. in filled gaps), and an error when it knows none.
    shares : dict of str to ndarray, optional
        Output column -> a per-record share [-]; the job gets its facility-energy-weighted mean
        (e.g. the certificate-backed PV share, the measured share).
    rates : dict of str to ndarray, optional
        Output column -> a per-record rate [kg per kWh of load]; the job gets sum(facility_kWh x rate)
        (e.g. market-based CO2, CO2e).

    Returns
    -------
    pandas.DataFrame
        Per job: it_kw, gpu_hours (as given, NaN for kw jobs), it_kwh, facility_kwh (IT x PUE), pue, co2_kg,
        intensity_kg_per_kwh, onsite_pv_share
        (the ledger's attribution), covered_h, job_h, and the ``shares`` and ``rates`` columns. Its
        ``attrs["claimed_it_kwh"]`` holds the IT energy all jobs claim per record [kWh].

    Raises
    ------
    InputError
        A job outside the ledger's period, a job drawing more than the room's peak IT power
        (:func:`room_peak_it_kw`), or no PUE where the ledger has no IT energy.
    """
    if not 0 < kw_per_gpu <= 5:
        raise InputError("kW per GPU out of range", field="--kw-per-gpu", value=kw_per_gpu, allowed="0 to 5 kW")
    if pue is not None and not 1 <= pue <= 3:
        raise InputError("PUE out of range", field="--pue", value=pue, allowed="1 to 3", fix="e.g. 1.25")
    t0 = pd.DatetimeIndex(records.index).as_unit("s").asi8
    dt = records["dt_s"].to_numpy()
    t1 = t0 + dt
    it = records["it_kwh"].to_numpy()
    load = records["load_kwh"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pue_t = np.where(np.isfinite(it) & (it > 0), load / it, np.nan)
    known = pue_t[np.isfinite(pue_t)]
    fallback = pue if pue is not None else (float(np.median(known)) if len(known) else None)
    e_bus = records["e_bus_kg_per_kwh"].to_numpy()
    pv_frac = records["load_pv_frac"].to_numpy()
    shares = shares or {}
    rates = rates or {}
    claimed = np.zeros(len(records))
    out = []
    starts = pd.DatetimeIndex(jobs["start"]).tz_convert("UTC")
    ends = pd.DatetimeIndex(jobs["end"]).tz_convert("UTC")
    dur_h = (ends - starts).total_seconds().to_numpy() / 3600.0
    gpu_hours = jobs["gpu_hours"].to_numpy(dtype=float)
    gpu_kw = gpu_hours * kw_per_gpu / dur_h
    kws = np.where(np.isfinite(jobs["kw"].to_numpy(dtype=float)), jobs["kw"].to_numpy(dtype=float), gpu_kw)
    _check_job_power(jobs, kws, room_peak_it_kw(records), kw_per_gpu)
    for j, job_id in enumerate(jobs["job_id"].astype(str).tolist()):
        start, end = starts[j], ends[j]
        s = int(start.timestamp())
        e = int(end.timestamp())
        kw = float(kws[j])
        lo = int(np.searchsorted(t1, s, side="right"))
        hi = int(np.searchsorted(t0, e, side="left"))
        if hi <= lo:
            raise InputError(
                "job lies outside the ledger's period",
                source=jobs.attrs.get("source"),
                field="job_id",
                value=job_id,
                allowed=f"{records.index[0]} to {records.index[-1]} UTC",
                fix="import the meters of that period first, or drop the job",
            )
        sl = slice(lo, hi)
        overlap_h = (np.minimum(t1[sl], e) - np.maximum(t0[sl], s)).clip(min=0) / 3600.0
        p = pue_t[sl]
        if not np.isfinite(p).all():
            if fallback is None:
                raise InputError(
                    "the ledger has no IT energy for this job's intervals, so PUE is unknown",
                    field="--pue",
                    value=None,
                    allowed="1 to 3",
                    fix="pass --pue (e.g. 1.25) or import meters with an it_kwh column",
                )
            p = np.where(np.isfinite(p), p, fallback)
        it_kwh = kw * overlap_h
        claimed[sl] += it_kwh
        fac = it_kwh * p
        co2 = float((fac * e_bus[sl]).sum())
        fac_sum = float(fac.sum())
        extra = {c: float((fac * np.asarray(v)[sl]).sum()) / fac_sum if fac_sum > 0 else 0.0 for c, v in shares.items()}
        extra.update({c: float((fac * np.asarray(v)[sl]).sum()) for c, v in rates.items()})
        out.append(
            {
                "job_id": job_id,
                "start": start,
                "end": end,
                "it_kw": kw,
                "gpu_hours": float(gpu_hours[j]),
                "it_kwh": float(it_kwh.sum()),
                "facility_kwh": fac_sum,
                "co2_kg": co2,
                "intensity_kg_per_kwh": co2 / fac_sum if fac_sum > 0 else 0.0,
                "pue": fac_sum / float(it_kwh.sum()) if it_kwh.sum() > 0 else np.nan,
                "onsite_pv_share": float((fac * pv_frac[sl]).sum()) / fac_sum if fac_sum > 0 else 0.0,
                "covered_h": float(overlap_h.sum()),
                "job_h": float(dur_h[j]),
                **extra,
            }
        )
    frame = pd.DataFrame(out)
    for c in (*OPTIONAL_COLUMNS, *ENERGY_SPLIT_COLUMNS):
        if c in jobs.columns:
            frame[c] = jobs[c].to_numpy()
    frame.attrs["claimed_it_kwh"] = claimed
    return frame
