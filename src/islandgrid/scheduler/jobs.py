"""Queued jobs as the cluster adapter sees them, and how a job is marked flexible.

A job is **flexible** only when its submitter says so in the job's comment (``sbatch
--comment``); the adapter never touches any other job. Tokens, separated by spaces or commas:

- ``flex`` -- the job may wait for the sun, by default up to ``--max-delay-h`` hours after
  submission; ``flex=12h`` (or ``flex=90m``) sets this job's own limit. A Slurm ``--deadline``
  is honoured too: the job then starts no later than its deadline less its time limit;
- ``ckpt`` -- the job checkpoints and resumes when requeued, so it may be requeued when the
  budget falls (an outage with the battery at its reserve); it also needs Slurm's ``--requeue``;
- ``kw=0.7`` -- the job's power draw [kW]; without it, ``--job-kw``.

Example: ``sbatch --comment="flex=24h ckpt kw=5.6" --requeue -t 8:00:00 train.sh``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

#: Slurm job states the adapter looks at.
PENDING = "PENDING"
RUNNING = "RUNNING"
#: States a job does not come back from (it may still be listed for a while after).
FINISHED: frozenset[str] = frozenset(
    {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([hm]?)$")


@dataclass(frozen=True)
class Marks:
    """What a job's comment says about it.

    Attributes
    ----------
    flexible : bool
        Marked ``flex``.
    checkpointable : bool
        Marked ``ckpt``.
    kw : float or None
        Power draw from ``kw=`` [kW].
    max_delay_h : float or None
        From ``flex=`` [h].
    """

    flexible: bool
    checkpointable: bool = False
    kw: float | None = None
    max_delay_h: float | None = None


NOT_FLEXIBLE = Marks(flexible=False)


def parse_marks(comment: str | None) -> Marks:
    """The marks in a job comment; anything unrecognised means not flexible (never guessed)."""
    if not comment:
        return NOT_FLEXIBLE
    flexible = ckpt = False
    kw: float | None = None
    delay_h: float | None = None
    for tok in re.split(r"[\s,;]+", comment.strip().lower()):
        if tok == "flex":
            flexible = True
        elif tok.startswith("flex="):
            m = _DURATION.match(tok[5:])
            if m is None:
                return NOT_FLEXIBLE  # a malformed mark is not consent to be moved
            value = float(m.group(1))
            delay_h = value / 60.0 if m.group(2) == "m" else value
            flexible = True
        elif tok == "ckpt":
            ckpt = True
        elif tok.startswith("kw="):
            try:
                kw = float(tok[3:])
            except ValueError:
                return NOT_FLEXIBLE
            if not (math.isfinite(kw) and 0.0 <= kw <= 10000.0):
                return NOT_FLEXIBLE
    return Marks(flexible, ckpt, kw, delay_h) if flexible else NOT_FLEXIBLE


@dataclass(frozen=True)
class Job:
    """One job in the queue.

    Attributes
    ----------
    job_id : str
        Slurm's job id (``123`` or an array task ``123_4``).
    state : str
        Slurm job state, e.g. PENDING, RUNNING.
    reason : str
        Slurm's pending reason (``JobHeldAdmin``, ``BeginTime``, ``Resources``...).
    priority : int
        Slurm priority (0 while held).
    time_limit_s : float
        Time limit [s]; ``inf`` for UNLIMITED.
    time_used_s : float
        Run time so far [s].
    submit_epoch_s, eligible_epoch_s, deadline_epoch_s : float or None
        Submission, eligible (begin) time and deadline, UNIX time [s].
    requeue : bool
        Slurm may requeue it (``--requeue``).
    marks : Marks
        The flexibility marks of its comment.
    start_epoch_s, end_epoch_s : float or None
        When its (latest) run started and ended, UNIX time [s] (the end of a running job is its expected end).
    """

    job_id: str
    state: str
    reason: str
    priority: int
    time_limit_s: float
    time_used_s: float
    submit_epoch_s: float | None
    eligible_epoch_s: float | None
    deadline_epoch_s: float | None
    requeue: bool
    marks: Marks
    start_epoch_s: float | None = None
    end_epoch_s: float | None = None

    @property
    def held(self) -> bool:
        """Held (by anyone): Slurm will not start it until released."""
        return (self.state == PENDING and "held" in self.reason.lower()) or self.state == "REQUEUE_HOLD"

    @property
    def finished(self) -> bool:
        """Completed, cancelled, failed...: gone for good."""
        return self.state in FINISHED


def parse_duration_s(text: str) -> float:
    """A Slurm duration (``MM:SS``, ``HH:MM:SS``, ``D-HH:MM:SS``, ``UNLIMITED``) [s]; ``inf`` if unlimited."""
    t = text.strip()
    if t.upper() in ("UNLIMITED", "INFINITE", "NOT_SET", "INVALID", "N/A", ""):
        return math.inf
    days = 0.0
    if "-" in t:
        d, t = t.split("-", 1)
        days = float(d)
    parts = [float(p) for p in t.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    h, m, s = parts[-3:]
    return days * 86400.0 + h * 3600.0 + m * 60.0 + s


def parse_iso_epoch(text: str) -> float:
    """An ISO 8601 time (``Z`` or an offset; none means UTC) as UNIX time [s]."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp()
