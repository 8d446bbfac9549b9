"""The one seam to Slurm: ``squeue`` to read the queue, ``scontrol`` to act, through subprocess.

Read: ``squeue --noheader --all --array --states=all --Format=...`` with
``SLURM_TIME_FORMAT=%s`` (times as UNIX seconds, whatever the locale or time zone) and ``|``
between fields; the comment is the last field, so a ``|`` inside a comment does not shift
the others. Jobs are named by ``JobArrayID`` (``123``, or ``123_4`` for an array task: plain
``JobID`` names every task of an unsplit array by the array's id). Act: ``scontrol hold``,
``scontrol release``, ``scontrol requeuehold`` (one call for every job of a kind) and
``scontrol update JobId=... StartTime=...`` (one call per begin time). Checked against Debian's
slurm-wlm 22.05 (tests/test_slurm_real.py).
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from islandgrid.errors import DeviceError
from islandgrid.scheduler.decide import Action
from islandgrid.scheduler.jobs import Job, parse_duration_s, parse_marks

log = logging.getLogger(__name__)

#: The squeue fields read, in order; the comment must stay last.
FIELDS: tuple[str, ...] = (
    "JobArrayID",
    "State",
    "Reason",
    "PriorityLong",
    "TimeLimit",
    "TimeUsed",
    "SubmitTime",
    "EligibleTime",
    "Deadline",
    "Requeue",
    "StartTime",
    "EndTime",
    "Comment",
)
SQUEUE_FORMAT = ",".join(f"{f}:|" for f in FIELDS)


class SlurmError(DeviceError):
    """A Slurm command failed or could not be run."""


def _epoch(text: str) -> float | None:
    t = text.strip()
    if not t or not t.lstrip("-").isdigit():
        return None  # N/A, Unknown, None
    v = float(t)
    return v if v > 0 else None


def parse_squeue(text: str) -> list[Job]:
    """Jobs from ``squeue --Format`` output as :data:`SQUEUE_FORMAT` asks for it; malformed lines are skipped."""
    jobs: list[Job] = []
    n = len(FIELDS)
    for line in text.splitlines():
        if not line.strip():
            continue
        body = line[:-1] if line.endswith("|") else line
        parts = body.split("|", n - 1)
        if len(parts) != n:
            log.warning("squeue line not understood, skipped: %r", line[:200])
            continue
        jid, state, reason, prio, limit, used, submit, eligible, deadline, requeue, start, end, comment = parts
        try:
            priority = int(prio) if prio.strip().lstrip("-").isdigit() else 0
            jobs.append(
                Job(
                    job_id=jid.strip(),
                    state=state.strip(),
                    reason=reason.strip(),
                    priority=priority,
                    time_limit_s=parse_duration_s(limit),
                    time_used_s=parse_duration_s(used) if used.strip() else 0.0,
                    submit_epoch_s=_epoch(submit),
                    eligible_epoch_s=_epoch(eligible),
                    deadline_epoch_s=_epoch(deadline),
                    requeue=requeue.strip() == "1",
                    marks=parse_marks(None if comment.strip() == "(null)" else comment),
                    start_epoch_s=_epoch(start),
                    end_epoch_s=_epoch(end),
                )
            )
        except ValueError:
            log.warning("squeue line not understood, skipped: %r", line[:200])
    return jobs


def slurm_time(epoch_s: float) -> str:
    """A begin time as scontrol takes it: local time, ``YYYY-MM-DDTHH:MM:SS``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(math.ceil(epoch_s)))


def _update_cmd(setting: str) -> Callable[[str], list[str]]:
    def make(ids: str) -> list[str]:
        return ["scontrol", "update", f"JobId={ids}", setting]

    return make


def _verb_cmd(verb: str) -> Callable[[str], list[str]]:
    def make(ids: str) -> list[str]:
        return ["scontrol", verb, ids]

    return make


@dataclass
class Outcome:
    """What happened to one action: ``ok``, and the command's message when not."""

    action: Action
    ok: bool
    error: str = ""


class Slurm:
    """Runs squeue and scontrol.

    Parameters
    ----------
    env : mapping, optional
        Extra environment for the commands, e.g. ``{"SLURM_CONF": "/etc/slurm/slurm.conf"}``.
    timeout_s : float
        Longest wait for one command [s].
    """

    def __init__(self, env: Mapping[str, str] | None = None, timeout_s: float = 30.0) -> None:
        self.env = {**os.environ, **(env or {}), "SLURM_TIME_FORMAT": "%s"}
        self.timeout_s = timeout_s

    def _run(self, args: Sequence[str]) -> str:
        try:
            p = subprocess.run(
                list(args), env=self.env, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SlurmError(f"{args[0]} could not run: {exc}") from None
        if p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().splitlines()
            raise SlurmError(f"{' '.join(args[:3])} failed (exit {p.returncode}): {msg[-1] if msg else ''}")
        return p.stdout

    def queue(self) -> list[Job]:
        """Every job Slurm still lists (pending, running, requeueing, recently finished), one line per array task."""
        out = self._run(["squeue", "--noheader", "--all", "--array", "--states=all", "-O", SQUEUE_FORMAT])
        return parse_squeue(out)

    def apply(self, actions: Iterable[Action]) -> list[Outcome]:
        """Carry out ``actions``: requeues, then begin times, then releases, then holds.

        Jobs of one kind (or one begin time) go in one scontrol call; when it fails, each job
        is tried alone so one finished job does not block the rest.
        """
        acts = list(actions)
        outcomes: list[Outcome] = []
        for kind, verb in (("requeue", "requeuehold"), ("begin", None), ("release", "release"), ("hold", "hold")):
            group = [a for a in acts if a.kind == kind]
            if not group:
                continue
            if verb is None:
                by_time: dict[float, list[Action]] = {}
                for a in group:
                    by_time.setdefault(float(a.begin_epoch_s or 0.0), []).append(a)
                for t, batch in by_time.items():
                    outcomes += self._batch(batch, _update_cmd(f"StartTime={slurm_time(t)}"))
            else:
                outcomes += self._batch(group, _verb_cmd(verb))
        return outcomes

    def _batch(self, batch: list[Action], make: Callable[[str], list[str]]) -> list[Outcome]:
        try:
            self._run(make(",".join(a.job_id for a in batch)))
            return [Outcome(a, True) for a in batch]
        except SlurmError as exc:
            if len(batch) == 1:
                return [Outcome(batch[0], False, str(exc))]
        out = []
        for a in batch:
            try:
                self._run(make(a.job_id))
                out.append(Outcome(a, True))
            except SlurmError as exc:
                out.append(Outcome(a, False, str(exc)))
        return out
