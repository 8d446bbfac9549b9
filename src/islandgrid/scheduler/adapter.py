"""The supervised Slurm adapter loop: budget in, decisions, scontrol out, every action logged.

Each iteration (``--interval-s``, 60 s by default) reads the budget from the controller's API,
the queue from Slurm, runs :func:`~islandgrid.scheduler.decide.decide` and applies its actions;
each action and its reason goes to the controller's event log (``POST /api/compute/events``,
kept and re-sent while the API is away) and to this process's log.

What the adapter did (jobs it holds, begin times it set) is kept in a small JSON state file,
written atomically, so that a restarted adapter undoes only its own holds and never releases a
job someone else held.

**Safe state: fail open.** Without a budget for ``--fail-open-s`` (900 s by default: the
controller or the network is down), the adapter releases every hold it placed and moves every
begin time it set to now, so Slurm runs the jobs as if the adapter were absent: no job is
stuck, none is lost. The same happens when the loop itself crashes; it is then restarted with
backoff by the controller's supervisor (:mod:`islandgrid.controller.supervisor`). Both raise an
alarm: a ``compute_alarm`` event (sent when the API is back) and an error in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from islandgrid.controller.supervisor import Supervisor
from islandgrid.errors import DeviceError, InputError
from islandgrid.scheduler.client import BudgetSource
from islandgrid.scheduler.decide import Action, Budget, Options, Owned, adopt, decide, fail_open, job_kw
from islandgrid.scheduler.jobs import PENDING, Job
from islandgrid.scheduler.runs import RunsFile
from islandgrid.scheduler.slurm import Outcome

log = logging.getLogger(__name__)

#: Without a budget this long, fail open [s].
FAIL_OPEN_S = 900.0
#: Events kept for re-sending while the API is away.
BACKLOG_MAX = 5000
#: Events per batch request.
EVENT_BATCH = 500
_EVENT_KIND = {
    "hold": "compute_hold",
    "release": "compute_release",
    "begin": "compute_begin",
    "requeue": "compute_requeue",
}


class Cluster(Protocol):
    """The Slurm seam as the loop uses it (:class:`~islandgrid.scheduler.slurm.Slurm`)."""

    def queue(self) -> list[Job]:
        """Pending and running jobs."""
        ...

    def apply(self, actions: list[Action]) -> list[Outcome]:
        """Carry out the actions."""
        ...


@dataclass
class StepReport:
    """What one iteration did."""

    mode: str  # "budget", "stale_budget", "fail_open", "idle"
    jobs: int = 0
    flexible: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    decide_s: float = 0.0
    apply_s: float = 0.0


def slot_floor(epoch_s: float, slot_s: float) -> float:
    """Start of the slot containing ``epoch_s`` [s]."""
    return epoch_s // slot_s * slot_s


def load_owned(path: Path | None) -> Owned:
    """The state file's holds and begin times; a missing file is an empty state."""
    if path is None or not path.exists():
        return Owned()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Owned(
            held={str(j) for j in doc["held"]},
            begun={str(k): float(v) for k, v in doc["begun"].items()},
            seen={str(j) for j in doc.get("seen", [])},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(
            f"the adapter's state file cannot be read ({type(exc).__name__})",
            field="--state-file",
            value=str(path),
            fix="point --state-file at the file this adapter wrote, or at a new path (held jobs are then not "
            "released by it: release them with `scontrol release`)",
        ) from None


def save_owned(path: Path | None, owned: Owned) -> None:
    """Write the state file atomically (a temporary file in the same folder, flushed, renamed)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"held": sorted(owned.held), "begun": dict(sorted(owned.begun.items())), "seen": sorted(owned.seen)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Adapter:
    """The adapter: one :meth:`step` per interval, :meth:`run` for the supervised loop.

    Parameters
    ----------
    source : BudgetSource
        The controller's API (or a fake).
    cluster : Cluster
        The Slurm seam.
    opts : Options
        Job power, maximum delay, green share.
    state_path : Path, optional
        The state file (None: in memory only).
    fail_open_s : float
        Fail open after this long without a budget [s].
    clock : callable
        UNIX time [s] (tests pass their own).
    dry_run : bool
        Decide and report, but act on nothing.
    runs : RunsFile, optional
        Where finished runs go, with their actual run times (:mod:`islandgrid.scheduler.runs`).
    """

    def __init__(
        self,
        source: BudgetSource,
        cluster: Cluster,
        opts: Options,
        *,
        state_path: Path | None = None,
        fail_open_s: float = FAIL_OPEN_S,
        clock: Callable[[], float] = time.time,
        dry_run: bool = False,
        runs: RunsFile | None = None,
    ) -> None:
        self.source = source
        self.cluster = cluster
        self.opts = opts
        self.state_path = state_path
        self.fail_open_s = fail_open_s
        self.clock = clock
        self.dry_run = dry_run
        self.runs = runs
        self.owned = load_owned(state_path)
        self.budget: Budget | None = None
        self.budget_at_s: float | None = None
        self.started_s = clock()
        self.failed_open = False
        self.backlog: deque[tuple[str, str, dict[str, Any]]] = deque(maxlen=BACKLOG_MAX)

    # ------------------------------------------------------------------ events
    def event(self, kind: str, message: str, *, send: bool = True, **data: Any) -> None:
        """Log an event and send it to the controller (kept for later when the API is away).

        ``send=False`` only queues it: :meth:`record` sends an iteration's events in batches.
        """
        (log.error if kind == "compute_alarm" else log.info)("%s: %s", kind, message)
        self.backlog.append((kind, message, data))
        if send:
            self.flush_events()

    def flush_events(self) -> None:
        """Send the kept events, oldest first, until one fails; in batches where the source takes them."""
        batch = getattr(self.source, "post_events", None)
        while len(self.backlog) > 1 and callable(batch):
            chunk = [self.backlog[i] for i in range(min(len(self.backlog), EVENT_BATCH))]
            try:
                batch(chunk)
            except DeviceError:
                return
            for _ in chunk:
                self.backlog.popleft()
        while self.backlog:
            kind, message, data = self.backlog[0]
            try:
                self.source.post_event(kind, message, data)
            except DeviceError:
                return
            self.backlog.popleft()

    # ------------------------------------------------------------------ one iteration
    def fetch_budget(self, now_s: float) -> Budget | None:
        """The budget now: fresh from the API, else the last one (aged) while younger than ``fail_open_s``."""
        try:
            fresh = Budget.from_api(self.source.budget())
            skew_s = fresh.slot0_epoch_s - slot_floor(now_s, fresh.slot_s)
            if abs(skew_s) > fresh.slot_s:
                raise ValueError(
                    f"the budget starts {skew_s:+.0f} s from this machine's current slot: the controller's clock and "
                    "this machine's differ (synchronise both with NTP)"
                )
            self.budget = fresh
            self.budget_at_s = now_s
            if self.failed_open:
                self.failed_open = False
                self.event("compute_start", "budget available again: the adapter acts on it")
            return self.budget
        except (DeviceError, KeyError, ValueError, TypeError, IndexError) as exc:
            log.warning("no budget from the controller: %s", exc)
        last = self.budget_at_s if self.budget_at_s is not None else self.started_s
        if self.budget is not None and now_s - last <= self.fail_open_s:
            return self.budget.shifted(now_s)
        return None

    def step(self) -> StepReport:
        """Budget, queue, decisions, actions, events, state file: one iteration."""
        now = self.clock()
        budget = self.fetch_budget(now)
        if budget is None and now - (self.budget_at_s or self.started_s) <= self.fail_open_s:
            return StepReport("idle")  # no budget yet, not long enough to give up: change nothing
        listed = self.cluster.queue()
        self.record_runs(listed, [], now)
        jobs = [j for j in listed if not j.finished]
        present = {j.job_id for j in jobs}
        released = {j.job_id for j in jobs if j.state == PENDING and not j.held}
        # finished, gone, or released by someone else: no longer ours (a job between states, e.g. being
        # requeued, stays ours)
        self.owned.held = {k for k in self.owned.held if k in present and k not in released}
        self.owned.begun = {k: v for k, v in self.owned.begun.items() if k in present}
        for job_id in adopt(jobs, self.owned):
            self.event(
                "compute_hold",
                f"job {job_id}: submitted held and marked flex: the adapter takes over its hold",
                send=False,
                job_id=job_id,
                code="adopted",
            )
        t0 = time.perf_counter()
        if budget is None:
            if not self.failed_open:
                self.failed_open = True
                self.event(
                    "compute_alarm",
                    f"no budget from the controller for over {self.fail_open_s:g} s: failing open "
                    "(every hold and begin time this adapter set is undone)",
                )
            why = f"fail open: no budget for over {self.fail_open_s:g} s"
            actions, mode = fail_open(jobs, now, self.owned, why), "fail_open"
        else:
            actions = decide(budget, jobs, now, self.owned, self.opts)
            mode = "budget" if self.budget_at_s == now else "stale_budget"
        t1 = time.perf_counter()
        outcomes = [Outcome(a, True) for a in actions] if self.dry_run else self.cluster.apply(actions)
        t2 = time.perf_counter()
        self.record(outcomes, now)
        self.record_runs(jobs, [o.action.job_id for o in outcomes if o.ok and o.action.kind == "requeue"], now)
        return StepReport(mode, len(jobs), sum(j.marks.flexible for j in jobs), outcomes, t1 - t0, t2 - t1)

    def record(self, outcomes: list[Outcome], now_s: float) -> None:
        """Update the owned state from what succeeded, write the state file, send one event per action."""
        for o in outcomes:
            a = o.action
            if not o.ok:
                self.event("compute_alarm", f"job {a.job_id}: {a.kind} failed: {o.error}", send=False, job_id=a.job_id)
                continue
            if not self.dry_run:
                if a.kind in ("hold", "requeue"):
                    self.owned.held.add(a.job_id)
                elif a.kind == "release":
                    self.owned.held.discard(a.job_id)
                elif a.kind == "begin" and a.begin_epoch_s is not None:
                    if a.begin_epoch_s > now_s + 1.0:
                        self.owned.begun[a.job_id] = a.begin_epoch_s
                    else:
                        self.owned.begun.pop(a.job_id, None)
            data: dict[str, Any] = {"job_id": a.job_id, "code": a.code, "kw": a.kw, "dry_run": self.dry_run}
            if a.begin_epoch_s is not None:
                data["begin_epoch_s"] = round(a.begin_epoch_s, 1)
            self.event(_EVENT_KIND[a.kind], f"job {a.job_id}: {a.kind}: {a.reason}", send=False, **data)
        if not self.dry_run:
            save_owned(self.state_path, self.owned)
        self.flush_events()

    def record_runs(self, jobs: list[Job], requeued: list[str], now_s: float) -> None:
        """Write finished runs (and runs ended by a requeue) to the runs file, with their actual times."""
        if self.runs is None or self.dry_run:
            return
        by_id = {j.job_id: j for j in jobs}
        new = False
        for j in jobs:
            if j.finished and j.start_epoch_s is not None and j.end_epoch_s is not None:
                new |= self.runs.add(j.job_id, j.start_epoch_s, j.end_epoch_s, job_kw(j, self.opts), j.state)
        for job_id in requeued:
            r = by_id.get(job_id)
            if r is not None and r.start_epoch_s is not None:
                new |= self.runs.add(job_id, r.start_epoch_s, now_s, job_kw(r, self.opts), "REQUEUED")
        if new:
            self.runs.save()

    def safe_state(self, why: str) -> None:
        """Fail open now (best effort): undo every hold and begin time this adapter set."""
        jobs = [j for j in self.cluster.queue() if not j.finished]
        actions = fail_open(jobs, self.clock(), self.owned, why)
        self.record(
            self.cluster.apply(actions) if not self.dry_run else [Outcome(a, True) for a in actions], self.clock()
        )

    # ------------------------------------------------------------------ the supervised loop
    async def run(self, stop: asyncio.Event, interval_s: float = 60.0) -> None:
        """Iterate every ``interval_s`` until ``stop``, supervised: a crash fails open, alarms, restarts."""
        loop = asyncio.get_running_loop()
        sup = Supervisor(self._on_crash, lambda name: None, self._on_healthy, loops=("slurm",))
        self.supervisor = sup

        async def body(stop: asyncio.Event) -> None:
            while not stop.is_set():
                report = await asyncio.to_thread(self.step)
                sup.ran("slurm", loop.time())
                if report.outcomes:
                    log.info(
                        "%s: %d jobs, %d flexible, %d actions",
                        report.mode,
                        report.jobs,
                        report.flexible,
                        len(report.outcomes),
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)

        await sup.keep_alive("slurm", body, stop, loop.time)

    async def _on_crash(self, name: str, exc: BaseException) -> None:
        self.event(
            "compute_alarm",
            f"the adapter loop crashed ({type(exc).__name__}: {exc}); failing open, restarting with backoff",
        )
        await asyncio.to_thread(self.safe_state, f"fail open: the adapter loop crashed ({type(exc).__name__})")

    def _on_healthy(self, name: str) -> None:
        self.event("compute_start", "the adapter loop runs again")
