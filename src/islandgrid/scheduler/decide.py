"""The adapter's decision: given the budget and the queue, what to do with each flexible job.

Pure (no Slurm, no HTTP), so it is unit-tested and benchmarked alone. The rules, in order:

1. Only jobs marked flexible are considered (:mod:`islandgrid.scheduler.jobs`); a job held by
   someone else (not in :attr:`Owned.held`) is left alone.
2. **Requeue** -- when the signal is red and the running flexible jobs draw more than the budget
   now, checkpointable (``ckpt`` and ``--requeue``) running flexible jobs are requeued held,
   lowest priority first, until the rest fit; never one that could then miss its deadline.
3. Pending flexible jobs are placed one by one, the one that must start soonest first (then
   higher priority, then earlier submission), on what is left of the PV surplus: the available
   profile is ``min(green_kw, budget_kw)`` per 15-minute slot less what running and already
   placed jobs draw. A job starts in the first slot, not before its release, where its power
   fits and the surplus covers at least ``green_share`` of its energy over its run (its time
   limit, within the horizon):

   - that slot is now: **release** it (or clear a begin time the adapter set);
   - a later slot: **set its begin time** to that slot (``scontrol update StartTime``) and
     release it, so Slurm starts it then even if the adapter stops;
   - no such slot before its latest start (its deadline less its time limit, or its
     submission plus its maximum delay): run it now on grid power if that latest start falls
     within the forecast (waiting gains nothing: no sun comes before it must start), or
     **hold** it if the latest start lies beyond the forecast;
   - while the signal is red, every flexible job that is not due is **held** (a begin time
     would start it in the red), and placed as above once the signal clears;
   - a job whose latest start is now or past is **due**: it runs now whatever the signal (a
     deadline that can be met is never missed; the event says so).

Each action carries its reason in words; the loop writes it to the event log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from islandgrid.scheduler.jobs import PENDING, RUNNING, Job, parse_iso_epoch

#: The adapter's action kinds.
ACTIONS: tuple[str, ...] = ("hold", "release", "begin", "requeue")


@dataclass(frozen=True)
class Budget:
    """The controller's budget as arrays over 15-minute slots.

    Attributes
    ----------
    slot0_epoch_s : float
        UNIX time of the first slot's start [s].
    slot_s : float
        Slot length [s].
    budget_kw, green_kw : ndarray
        Power flexible jobs may draw, and its PV-surplus part, per slot [kW].
    level : list of str
        green, amber or red per slot.
    signal_level, signal_reason : str
        The signal now.
    """

    slot0_epoch_s: float
    slot_s: float
    budget_kw: np.ndarray
    green_kw: np.ndarray
    level: list[str]
    signal_level: str
    signal_reason: str

    @classmethod
    def from_api(cls, doc: dict) -> Budget:  # type: ignore[type-arg]
        """From the JSON of ``GET /api/compute/budget``."""
        slots = doc["slots"]
        return cls(
            slot0_epoch_s=parse_iso_epoch(slots[0]["start"]),
            slot_s=float(doc["slot_s"]),
            budget_kw=np.array([float(s["budget_kw"]) for s in slots]),
            green_kw=np.array([float(s["green_kw"]) for s in slots]),
            level=[str(s["level"]) for s in slots],
            signal_level=str(doc["signal"]["level"]),
            signal_reason=str(doc["signal"]["reason"]),
        )

    def shifted(self, now_s: float) -> Budget:
        """The same budget seen from ``now_s``: slots already past are dropped (an old budget ages)."""
        k = int(max((now_s - self.slot0_epoch_s) // self.slot_s, 0))
        if k == 0 or k >= len(self.budget_kw):
            return self
        return Budget(
            self.slot0_epoch_s + k * self.slot_s,
            self.slot_s,
            self.budget_kw[k:],
            self.green_kw[k:],
            self.level[k:],
            self.level[k],
            self.signal_reason if self.level[k] == self.signal_level else "forecast",
        )


@dataclass
class Owned:
    """What the adapter itself did and may therefore undo.

    Attributes
    ----------
    held : set of str
        Jobs it holds (or requeued held, or adopted: submitted held, see :func:`adopt`).
    begun : dict
        Job id -> the begin time it set [UNIX s].
    seen : set of str
        Flexible jobs it has seen; a hold placed on one of them later is its owner's.
    """

    held: set[str] = field(default_factory=set)
    begun: dict[str, float] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Action:
    """One thing to do to one job.

    Attributes
    ----------
    kind : str
        One of :data:`ACTIONS`.
    job_id : str
        The job.
    reason : str
        Why, in words (goes to the event log).
    code : str
        Why, as a word: green, due, deferred, no_sun, red, no_forecast, grid.
    begin_epoch_s : float or None
        For ``begin``: the new begin time [UNIX s].
    kw : float
        The job's power draw [kW].
    """

    kind: str
    job_id: str
    reason: str
    code: str
    begin_epoch_s: float | None = None
    kw: float = 0.0


@dataclass(frozen=True)
class Options:
    """The adapter's settings.

    Attributes
    ----------
    job_kw : float
        Power of a flexible job without a ``kw=`` mark [kW].
    max_delay_h : float
        How long a flexible job without ``flex=`` or ``--deadline`` may wait after submission [h].
    green_share : float
        Share of a job's energy over its run the PV surplus must cover for it to start [0..1].
    """

    job_kw: float = 1.0
    max_delay_h: float = 24.0
    green_share: float = 0.5


def job_kw(job: Job, opts: Options) -> float:
    """The job's power draw [kW]."""
    return job.marks.kw if job.marks.kw is not None else opts.job_kw


def latest_start_s(job: Job, opts: Options) -> float:
    """The latest start that still meets the job's deadline, or its maximum delay [UNIX s]."""
    if job.deadline_epoch_s is not None:
        limit = job.time_limit_s if math.isfinite(job.time_limit_s) else 0.0
        return job.deadline_epoch_s - limit
    delay_h = job.marks.max_delay_h if job.marks.max_delay_h is not None else opts.max_delay_h
    return (job.submit_epoch_s or 0.0) + delay_h * 3600.0


def _clock(epoch_s: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch_s))


def _run_slots(seconds: float, slot_s: float, n: int) -> int:
    return n if not math.isfinite(seconds) else int(min(max(math.ceil(seconds / slot_s), 1), n))


def decide(budget: Budget, queue: Iterable[Job], now_s: float, owned: Owned, opts: Options) -> list[Action]:
    """The actions for the flexible jobs in ``queue`` (see the module docstring); others are never named."""
    b = budget.shifted(now_s)
    n = len(b.budget_kw)
    slot_s = b.slot_s
    avail = np.minimum(b.green_kw, b.budget_kw).astype(float)
    flex = [j for j in queue if j.marks.flexible]
    actions: list[Action] = []
    running = [j for j in flex if j.state == RUNNING]
    pending = [j for j in flex if j.state == PENDING and (not j.held or j.job_id in owned.held)]

    # 1. requeue on red: checkpointable running jobs, lowest priority first, until the rest fit
    run_kw = sum(job_kw(j, opts) for j in running)
    over_kw = run_kw - (float(b.budget_kw[0]) if n else 0.0)
    requeued: set[str] = set()
    if b.signal_level == "red" and over_kw > 1e-9:
        for j in sorted(running, key=lambda j: (j.priority, -(j.time_used_s or 0.0))):
            if over_kw <= 1e-9:
                break
            if not (j.marks.checkpointable and j.requeue):
                continue
            ls = latest_start_s(j, opts) if j.deadline_epoch_s is not None else math.inf
            if ls <= now_s + slot_s:  # requeued now, it could miss its deadline
                continue
            kw = job_kw(j, opts)
            why = f"signal red ({b.signal_reason}): requeued held at its checkpoint, {kw:g} kW freed"
            actions.append(Action("requeue", j.job_id, why, "red", kw=kw))
            requeued.add(j.job_id)
            over_kw -= kw
    for j in running:
        if j.job_id not in requeued:
            d = _run_slots(j.time_limit_s - j.time_used_s, slot_s, n)
            avail[:d] -= job_kw(j, opts)

    # 2. place pending jobs, the soonest latest start first
    order = sorted(pending, key=lambda j: (latest_start_s(j, opts), -j.priority, j.submit_epoch_s or 0.0, j.job_id))
    for j in order:
        kw = job_kw(j, opts)
        ls = latest_start_s(j, opts)
        ours_begin = owned.begun.get(j.job_id)
        release_s = now_s
        if j.eligible_epoch_s is not None and ours_begin is None and j.eligible_epoch_s > now_s:
            release_s = j.eligible_epoch_s  # the submitter's own --begin: never earlier
        d = _run_slots(j.time_limit_s, slot_s, n)
        k_rel = int(max((release_s - b.slot0_epoch_s) // slot_s, 0))
        k_ls = math.floor((ls - b.slot0_epoch_s) / slot_s)
        if ls <= now_s + slot_s:
            target, code, why = k_rel, "due", "due: it must start now to meet its deadline or maximum delay"
            if b.signal_level != "green":
                why += f" (despite the {b.signal_level} signal, {b.signal_reason})"
        elif b.signal_level == "red":
            target, code, why = -1, "red", f"signal red ({b.signal_reason}): flexible jobs wait until it clears"
        else:
            start = _first_green(avail, kw, d, opts.green_share, k_rel, min(k_ls, n - 1))
            if start is not None:
                target, code = start, "green" if start == 0 else "deferred"
                why = (
                    f"PV surplus now ({avail[0]:.1f} kW free)"
                    if start == 0
                    else f"deferred to the PV surplus from {_clock(b.slot0_epoch_s + start * slot_s)}"
                )
            elif k_ls < n:
                target, code = k_rel, "grid"
                why = "no PV surplus before its latest start: runs on grid power (waiting gains nothing)"
            else:
                target, code, why = (
                    -1,
                    "no_sun",
                    (f"no PV surplus in the {n * slot_s / 3600:g} h forecast; it must start by {_clock(ls)}"),
                )
        if target >= 0:
            avail[target : target + d] -= kw
        actions.extend(_apply(j, target, code, why, kw, b, now_s, release_s, owned))
    return actions


def _first_green(avail: np.ndarray, kw: float, d: int, share: float, k0: int, k1: int) -> int | None:
    """First slot in [k0, k1] where ``kw`` fits and the surplus covers ``share`` of the run's energy."""
    if k1 < k0:
        return None
    n = len(avail)
    cover = np.concatenate(([0.0], np.cumsum(np.clip(avail, 0.0, kw))))
    ks = np.arange(k0, k1 + 1)
    ends = np.minimum(ks + d, n)
    ok = (avail[ks] >= kw - 1e-9) & (cover[ends] - cover[ks] >= share * kw * (ends - ks) - 1e-9)
    hit = np.flatnonzero(ok)
    return int(ks[hit[0]]) if hit.size else None


def _apply(
    j: Job, target: int, code: str, why: str, kw: float, b: Budget, now_s: float, release_s: float, owned: Owned
) -> list[Action]:
    """The Slurm actions that move job ``j`` from where it is to ``target`` (a slot, or -1: hold)."""
    held_by_us = j.job_id in owned.held
    ours_begin = owned.begun.get(j.job_id)
    if target < 0:
        return [] if held_by_us else [Action("hold", j.job_id, why, code, kw=kw)]
    if target == 0:
        out: list[Action] = []
        if ours_begin is not None and ours_begin > now_s + 1.0:
            out.append(Action("begin", j.job_id, why, code, begin_epoch_s=now_s, kw=kw))
        if held_by_us:
            out.append(Action("release", j.job_id, why, code, kw=kw))
        return out
    begin_s = max(b.slot0_epoch_s + target * b.slot_s, release_s)  # never before the submitter's own --begin
    out = []
    if ours_begin is None and begin_s <= release_s + 1.0 and release_s > now_s:
        pass  # the submitter's own begin time already holds it back
    elif ours_begin is None or abs(ours_begin - begin_s) >= b.slot_s / 2:
        out.append(Action("begin", j.job_id, why, code, begin_epoch_s=begin_s, kw=kw))
    if held_by_us:
        out.append(Action("release", j.job_id, why, code, kw=kw))
    return out


def adopt(queue: Iterable[Job], owned: Owned) -> list[str]:
    """Take over the submission hold of new flexible jobs; returns the ids adopted.

    Slurm starts a job as soon as it can, so a flexible job waits for the adapter only when it is
    submitted held (``sbatch --hold --comment=flex ...``). A flexible job held by its owner
    (``JobHeldUser``) that the adapter has not seen before is adopted: its hold becomes the
    adapter's, released when the budget allows (and on fail-open). A job the adapter has seen is
    never adopted again, so an owner who holds it later keeps that hold.
    """
    adopted = []
    present = set()
    for j in queue:
        if not j.marks.flexible:
            continue
        present.add(j.job_id)
        if j.job_id not in owned.seen and j.state == PENDING and j.reason == "JobHeldUser":
            owned.held.add(j.job_id)
            adopted.append(j.job_id)
    owned.seen = (owned.seen & present) | present
    return adopted


def fail_open(queue: Iterable[Job], now_s: float, owned: Owned, why: str) -> list[Action]:
    """The safe state: undo every hold and begin time the adapter set, so Slurm runs the jobs as if it were absent."""
    actions: list[Action] = []
    present = {j.job_id: j for j in queue}
    for job_id in sorted(owned.begun):
        if job_id in present and owned.begun[job_id] > now_s + 1.0:
            actions.append(Action("begin", job_id, why, "fail_open", begin_epoch_s=now_s))
    for job_id in sorted(owned.held):
        if job_id in present:
            actions.append(Action("release", job_id, why, "fail_open"))
    return actions


__all__ = ["ACTIONS", "PENDING", "RUNNING", "Action", "Budget", "Options", "Owned", "adopt", "decide", "fail_open"]
