"""Flexible training jobs: the table every policy places, and the jobs file reader.

A job is ``job_id, gpus or kw, duration_h, release, deadline, checkpoint_min, resume_cost_min,
priority``. Its IT power follows a training node's measured minute shape (the bundled 8×H100 trace
with its checkpoint dips, :func:`islandgrid.inputs.load.node_it_minute_factor`) scaled to its peak:
``gpus × GPU_IT_KW`` or ``kw``. It may be paused only at a checkpoint (every ``checkpoint_min``
minutes of work; 0 = never), and each resume costs ``resume_cost_min`` minutes at its mean power
before work continues. Naive timestamps are the site's local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.csvfile import read_text_csv
from islandgrid.errors import DataFileError
from islandgrid.inputs.load import NODE_GPUS, NON_GPU_FRAC, h100_trace_peak_w

#: Columns of a jobs file; ``gpus`` or ``kw`` (exactly one per row) gives the size.
REQUIRED = ("job_id", "duration_h", "release", "deadline")
OPTIONAL = ("checkpoint_min", "resume_cost_min", "priority")


def gpu_it_kw() -> float:
    """Peak IT power per GPU [kW]: the trace's node peak over its 8 GPUs, grossed up by the node's
    non-GPU share (CPUs, memory, NICs; ``inputs/load.py::NON_GPU_FRAC``)."""
    return h100_trace_peak_w() / NODE_GPUS / 1000.0 / (1.0 - NON_GPU_FRAC)


@dataclass(frozen=True)
class Jobs:
    """A set of jobs, one entry per job in every array (sorted by release, then id).

    Attributes
    ----------
    job_id : ndarray of str
    gpus : ndarray
        GPUs [-] (NaN for a job given in kW).
    peak_kw : ndarray
        IT power at full draw [kW].
    duration_h : ndarray
        Work to do [h] (resume costs come on top).
    release, deadline : pandas.DatetimeIndex
        Earliest start and latest finish, tz-aware.
    checkpoint_min, resume_cost_min : ndarray
        Checkpoint interval (0 = never paused) and resume cost [min].
    priority : ndarray of int
        Higher runs first among jobs with equal deadlines.
    """

    job_id: np.ndarray
    gpus: np.ndarray
    peak_kw: np.ndarray
    duration_h: np.ndarray
    release: pd.DatetimeIndex
    deadline: pd.DatetimeIndex
    checkpoint_min: np.ndarray
    resume_cost_min: np.ndarray
    priority: np.ndarray

    @property
    def n(self) -> int:
        """Number of jobs."""
        return len(self.job_id)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Jobs:
        """Jobs from a frame with the attribute names as columns (sorted by release, then id)."""
        df = df.sort_values(["release", "job_id"], kind="stable").reset_index(drop=True)
        return cls(
            job_id=df["job_id"].astype(str).to_numpy(),
            gpus=df["gpus"].to_numpy(dtype=float),
            peak_kw=df["peak_kw"].to_numpy(dtype=float),
            duration_h=df["duration_h"].to_numpy(dtype=float),
            release=pd.DatetimeIndex(df["release"]),
            deadline=pd.DatetimeIndex(df["deadline"]),
            checkpoint_min=df["checkpoint_min"].to_numpy(dtype=float),
            resume_cost_min=df["resume_cost_min"].to_numpy(dtype=float),
            priority=df["priority"].to_numpy(dtype=np.int64),
        )

    def frame(self) -> pd.DataFrame:
        """The jobs as a frame, one row each."""
        return pd.DataFrame(
            {
                "job_id": self.job_id,
                "gpus": self.gpus,
                "peak_kw": self.peak_kw,
                "duration_h": self.duration_h,
                "release": self.release,
                "deadline": self.deadline,
                "checkpoint_min": self.checkpoint_min,
                "resume_cost_min": self.resume_cost_min,
                "priority": self.priority,
            }
        )


def _bad(path: Path, line: int, field: str, value: object, allowed: str, fix: str, msg: str) -> DataFileError:
    return DataFileError(f"line {line}: {msg}", source=str(path), field=field, value=value, allowed=allowed, fix=fix)


def _number(path: Path, line: int, field: str, text: str, lo: float, hi: float, allowed: str, fix: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise _bad(path, line, field, text, allowed, fix, "not a number") from None
    if not (np.isfinite(v) and lo <= v <= hi):
        raise _bad(path, line, field, text, allowed, fix, "out of range")
    return v


def _time(path: Path, line: int, field: str, text: str, tz: str) -> pd.Timestamp:
    fix = "an ISO 8601 time such as 2025-06-01T08:00 (site local time unless it has an offset)"
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise _bad(path, line, field, text, "ISO 8601", fix, "not a time") from None
    if pd.isna(t):
        raise _bad(path, line, field, text, "ISO 8601", fix, "empty")
    return t.tz_localize(tz) if t.tzinfo is None else t.tz_convert(tz)


def read_jobs_csv(path: str | Path, tz: str, rating_kw: float) -> Jobs:
    """Read and validate a jobs file; the first bad field stops it with one message.

    Parameters
    ----------
    path : str or Path
        The CSV.
    tz : str
        The site's time zone (naive times are local).
    rating_kw : float
        The room's rated IT power [kW]: no job may draw more.

    Raises
    ------
    DataFileError
        Naming the file, the line, the field, the value, the allowed range and the fix.
    """
    path = Path(path)
    raw = read_text_csv(path, missing_fix="check [compute] jobs_csv in the site file")
    cols = set(raw.columns)
    missing = [c for c in REQUIRED if c not in cols]
    if missing or not ({"gpus", "kw"} & cols):
        raise DataFileError(
            "missing columns",
            source=str(path),
            field="header",
            value=list(raw.columns),
            allowed="job_id, gpus or kw, duration_h, release, deadline [, checkpoint_min, resume_cost_min, priority]",
            fix=f"add the column(s) {', '.join(missing) or 'gpus or kw'} (docs/compute.md)",
        )
    if raw.empty:
        raise DataFileError("no jobs", source=str(path), fix="add at least one row")
    per_gpu = gpu_it_kw()
    rows = []
    seen: set[str] = set()
    for i, r in enumerate(raw.to_dict("records")):
        line = i + 2
        jid = str(r["job_id"]).strip()
        if not jid or jid in seen:
            raise _bad(
                path,
                line,
                "job_id",
                jid,
                "a unique, non-empty id",
                "give every job its own id",
                "empty" if not jid else "duplicate job_id",
            )
        seen.add(jid)
        g_text, k_text = str(r.get("gpus", "")).strip(), str(r.get("kw", "")).strip()
        if bool(g_text) == bool(k_text):
            raise _bad(
                path,
                line,
                "gpus/kw",
                f"{g_text!r}/{k_text!r}",
                "exactly one of gpus and kw",
                "give the GPU count or the job's peak IT kW, not both",
                "need exactly one of gpus and kw",
            )
        gpus = np.nan
        if g_text:
            gpus = _number(path, line, "gpus", g_text, 1, 1e5, "a whole number >= 1", "the GPU count, e.g. 8")
            if gpus != int(gpus):
                raise _bad(path, line, "gpus", g_text, "a whole number >= 1", "the GPU count, e.g. 8", "not whole")
            peak = gpus * per_gpu
        else:
            peak = _number(path, line, "kw", k_text, 1e-6, 1e6, "> 0 kW", "the job's peak IT power in kW (not W)")
        if peak > rating_kw * (1 + 1e-9):
            field = "gpus" if g_text else "kw"
            raise _bad(
                path,
                line,
                field,
                g_text or k_text,
                f"<= {rating_kw:g} kW of IT (the room)",
                "split the job or raise [load] it_kw",
                f"the job draws {peak:.1f} kW, more than the room",
            )
        dur = _number(
            path,
            line,
            "duration_h",
            str(r["duration_h"]).strip(),
            1e-6,
            8784,
            "0 < h <= 8784",
            "the job's run time in hours",
        )
        rel = _time(path, line, "release", str(r["release"]).strip(), tz)
        dl = _time(path, line, "deadline", str(r["deadline"]).strip(), tz)
        if dl <= rel:
            raise _bad(
                path,
                line,
                "deadline",
                str(r["deadline"]),
                f"after release {rel}",
                "give a deadline after the release",
                "deadline not after release",
            )
        vals = {}
        for c, hi, fix in (
            ("checkpoint_min", 1440, "minutes between checkpoints, 0 = never paused"),
            ("resume_cost_min", 1440, "minutes a resume costs, e.g. 10"),
            ("priority", 1e6, "a whole number, higher first"),
        ):
            text = str(r.get(c, "")).strip()
            low = -1e6 if c == "priority" else 0.0
            vals[c] = 0.0 if not text else _number(path, line, c, text, low, hi, f"{low:g} .. {hi:g}", fix)
        rows.append(
            {
                "job_id": jid,
                "gpus": gpus,
                "peak_kw": peak,
                "duration_h": dur,
                "release": rel,
                "deadline": dl,
                "checkpoint_min": vals["checkpoint_min"],
                "resume_cost_min": vals["resume_cost_min"],
                "priority": int(vals["priority"]),
            }
        )
    return Jobs.from_frame(pd.DataFrame(rows))
