"""The runs the cluster finished, with their actual run times, for the per-job carbon export.

``sacct`` needs slurmdbd; without it Slurm lists a finished job for ``MinJobAge`` (300 s by
default) only, so the adapter, which reads the queue every minute, writes each finished run to
a jobs file as ``islandgrid report jobs --jobs FILE`` reads it (``job_id,start,end,kw``: the
start and end Slurm reports, UTC, and the job's ``kw=`` mark or ``--job-kw``). A run the adapter
ends by requeueing is written too, from its start to the requeue. The per-job emissions,
CodeCarbon's ``emissions.csv`` layout and the SCI per GPU-hour then come from the ledger
(:mod:`islandgrid.reports.job_export`); nothing is computed twice.

The file is the adapter's own: created with its header, rewritten whole and atomically on each
addition; a file with another header is refused, never overwritten.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from islandgrid.errors import InputError

#: The header of the runs file (a jobs file for ``islandgrid report jobs``).
HEADER: tuple[str, ...] = ("job_id", "start", "end", "kw", "state")


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RunsFile:
    """The adapter's finished-runs file.

    Parameters
    ----------
    path : Path
        The CSV; created when missing.

    Raises
    ------
    InputError
        The file exists with another header (it is not this adapter's).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[list[str]] = []
        if path.exists():
            try:
                with path.open(newline="", encoding="utf-8") as f:
                    lines = list(csv.reader(f))
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the runs file: {exc}", field="--runs-file", value=str(path)) from None
            if not lines or tuple(lines[0]) != HEADER:
                raise InputError(
                    "not a runs file this adapter wrote (its header differs)",
                    field="--runs-file",
                    value=str(path),
                    allowed=",".join(HEADER),
                    fix="give a new path; the file is left as it is",
                )
            self.rows = lines[1:]
        self.keys = {(r[0], r[1]) for r in self.rows if len(r) >= 2}

    def add(self, job_id: str, start_s: float, end_s: float, kw: float, state: str) -> bool:
        """Record one run (once: a run is its job id and start); returns whether it was new."""
        key = (job_id, _iso(start_s))
        if key in self.keys or _iso(end_s) <= key[1]:  # Slurm's times are whole seconds: shorter runs are skipped
            return False
        self.keys.add(key)
        self.rows.append([job_id, key[1], _iso(end_s), f"{kw:g}", state])
        return True

    def save(self) -> None:
        """Write the whole file atomically (temporary file in the same folder, flushed, renamed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(HEADER)
                w.writerows(self.rows)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
