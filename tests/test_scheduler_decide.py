"""The Slurm adapter's pure parts: comment marks, squeue parsing, decide() and fail_open().

Budgets here are hand-built arrays of 15-minute slots; each expected action is worked out
from the rules in islandgrid.scheduler.decide's docstring.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from islandgrid.scheduler.decide import Budget, Options, Owned, decide, fail_open
from islandgrid.scheduler.jobs import Job, Marks, parse_duration_s, parse_marks
from islandgrid.scheduler.slurm import FIELDS, parse_squeue

NOW = 1_750_000_000.0 // 900 * 900  # a slot start
SLOT = 900.0
OPTS = Options(job_kw=1.0, max_delay_h=24.0, green_share=0.5)


def bud(
    green: list[float] | np.ndarray, budget: float | None = None, level0: str | None = None, reason: str = ""
) -> Budget:
    g = np.asarray(green, dtype=float)
    b = np.full(len(g), 61.0 if budget is None else budget)
    lv = ["green" if x >= 1 else "amber" for x in g]
    if level0 is not None:
        lv[0] = level0
        if level0 == "red":
            b[0], g[0] = 0.0, 0.0
    return Budget(NOW, SLOT, b, g, lv, lv[0], reason or ("pv_surplus" if lv[0] == "green" else "grid"))


def job(jid: str, state: str = "PENDING", comment: str | None = "flex kw=10", **kw: Any) -> Job:
    base: dict[str, Any] = dict(
        job_id=jid,
        state=state,
        reason="Priority" if state == "PENDING" else "None",
        priority=100,
        time_limit_s=3600.0,
        time_used_s=0.0,
        submit_epoch_s=NOW - 60,
        eligible_epoch_s=NOW - 60,
        deadline_epoch_s=None,
        requeue=False,
        marks=parse_marks(comment),
    )
    return Job(**{**base, **kw})


def kinds(actions: list[Any]) -> list[tuple[str, str]]:
    return [(a.kind, a.job_id) for a in actions]


# --- marks and parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "marks"),
    [
        (None, Marks(False)),
        ("", Marks(False)),
        ("my run", Marks(False)),
        ("flexible", Marks(False)),  # a word containing flex is not the mark
        ("ckpt kw=3", Marks(False)),  # checkpointable but not flexible: not ours
        ("flex", Marks(True)),
        ("FLEX, ckpt, kw=5.6", Marks(True, True, 5.6)),
        ("flex=12h ckpt", Marks(True, True, None, 12.0)),
        ("flex=90m", Marks(True, False, None, 1.5)),
        ("flex=soon", Marks(False)),  # malformed: never consent to be moved
        ("flex kw=lots", Marks(False)),
        ("flex kw=-1", Marks(False)),
    ],
)
def test_comment_marks(comment: str | None, marks: Marks) -> None:
    assert parse_marks(comment) == marks


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5:00", 300), ("0:01", 1), ("1:00:00", 3600), ("1-02:04:00", 93840), ("UNLIMITED", math.inf)],
)
def test_slurm_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


def test_squeue_lines_as_slurm_22_05_prints_them() -> None:
    # lines in the layout `SLURM_TIME_FORMAT=%s squeue -h -a -r -O <FIELDS, each with :|>` prints on slurm-wlm 22.05
    text = (
        "3|PENDING|JobHeldUser|0|5:00|0:00|1796581335|1796584935|N/A|1|N/A|N/A|flex kw=0.5 | weird|\n"
        "1|RUNNING|None|4294901759|30:00|0:01|1796581324|1796581324|1796592124|1|1796581324|1796583124|"
        "flex ckpt kw=0.7|\n"
        "garbage line\n"
        "6|RUNNING|None|4294901758|UNLIMITED|0:01|1796581336|1796581336|N/A|0|1796581336|Unknown|(null)|\n"
    )
    a, b, c = parse_squeue(text)
    assert len(FIELDS) == 13 and FIELDS[-1] == "Comment"
    assert (a.job_id, a.held, a.marks, a.time_limit_s, a.eligible_epoch_s) == (
        "3",
        True,
        Marks(True, False, 0.5),
        300,
        1796584935,
    )
    assert (b.state, b.requeue, b.marks.checkpointable, b.deadline_epoch_s, b.time_used_s) == (
        "RUNNING",
        True,
        True,
        1796592124,
        1,
    )
    assert (c.marks.flexible, c.time_limit_s, c.deadline_epoch_s) == (False, math.inf, None)
    assert (b.start_epoch_s, b.end_epoch_s, c.end_epoch_s) == (1796581324, 1796583124, None)


# --- decide ---------------------------------------------------------------------------------------


def test_jobs_not_marked_flexible_are_never_named() -> None:
    queue = [job("1", comment=None), job("2", comment="ckpt"), job("3", "RUNNING", comment="train")]
    for b in (bud([0.0] * 192, level0="red", reason="battery_reserve"), bud([50.0] * 192)):
        assert decide(b, queue, NOW, Owned(held={"1"}), OPTS) == []
        assert fail_open(queue, NOW, Owned(), "x") == []


def test_green_now_starts_at_once_and_releases_its_own_hold() -> None:
    b = bud([50.0] * 192)
    assert decide(b, [job("1")], NOW, Owned(), OPTS) == []  # already eligible: nothing to do
    held = job("1", reason="JobHeldAdmin", priority=0)
    acts = decide(b, [held], NOW, Owned(held={"1"}), OPTS)
    assert kinds(acts) == [("release", "1")] and acts[0].code == "green"


def test_no_sun_now_defers_to_the_first_green_slot() -> None:
    green = [0.0] * 20 + [50.0] * 30 + [0.0] * 142
    acts = decide(bud(green), [job("1")], NOW, Owned(), OPTS)
    assert kinds(acts) == [("begin", "1")] and acts[0].begin_epoch_s == NOW + 20 * SLOT and acts[0].code == "deferred"
    # the adapter set it: the next decision changes nothing (no churn), a shifted window neither
    owned = Owned(begun={"1": NOW + 20 * SLOT})
    assert decide(bud(green), [job("1", eligible_epoch_s=NOW + 20 * SLOT)], NOW + 30.0, owned, OPTS) == []


def test_the_surplus_must_cover_green_share_of_the_run() -> None:
    # a 4 h job (16 slots): 2 green slots then none is 12.5 % covered; from slot 40 the sun lasts
    green = [30.0] * 2 + [0.0] * 38 + [30.0] * 40 + [0.0] * 112
    j = job("1", time_limit_s=4 * 3600.0)
    acts = decide(bud(green), [j], NOW, Owned(), OPTS)
    assert acts[0].begin_epoch_s == NOW + 40 * SLOT
    assert decide(bud(green), [j], NOW, Owned(), replace(OPTS, green_share=0.1)) == []  # 12.5 % >= 10 %: now


def test_jobs_share_the_surplus_in_order_of_their_latest_start() -> None:
    green = [25.0] * 8 + [0.0] * 8 + [25.0] * 176
    late = job("late", deadline_epoch_s=NOW + 40 * 3600.0, time_limit_s=1800.0)
    soon = job("soon", deadline_epoch_s=NOW + 20 * 3600.0, time_limit_s=1800.0)
    third = job("third", deadline_epoch_s=NOW + 30 * 3600.0, time_limit_s=1800.0)
    acts = decide(bud(green), [late, soon, third], NOW, Owned(), OPTS)
    # 25 kW: two 10 kW jobs fit now (soon, third); late waits until slot 2, when the 30 min jobs are done
    assert kinds(acts) == [("begin", "late")] and acts[0].begin_epoch_s == NOW + 2 * SLOT


def test_running_jobs_use_the_surplus_first() -> None:
    acts = decide(bud([15.0] * 192), [job("r", "RUNNING", time_limit_s=7200.0), job("p")], NOW, Owned(), OPTS)
    assert kinds(acts) == [("begin", "p")] and acts[0].begin_epoch_s == NOW + 8 * SLOT  # after the 2 h run


def test_no_sun_before_the_latest_start_runs_now_on_the_grid() -> None:
    j = job("1", deadline_epoch_s=NOW + 6 * 3600.0)
    acts = decide(bud([0.0] * 192), [j], NOW, Owned(held={"1"}), OPTS)
    assert kinds(acts) == [("release", "1")] and acts[0].code == "grid"


def test_no_sun_in_the_forecast_and_a_latest_start_beyond_it_holds() -> None:
    j = job("1", comment="flex=72h kw=10")
    acts = decide(bud([0.0] * 192), [j], NOW, Owned(), OPTS)
    assert kinds(acts) == [("hold", "1")] and acts[0].code == "no_sun"
    assert decide(bud([0.0] * 192), [replace(j, reason="JobHeldAdmin")], NOW, Owned(held={"1"}), OPTS) == []


def test_a_due_job_starts_even_on_red() -> None:
    j = job("1", deadline_epoch_s=NOW + 3600.0 + 300.0, reason="JobHeldAdmin")  # latest start in 5 min
    acts = decide(bud([0.0] * 192, level0="red", reason="diesel"), [j], NOW, Owned(held={"1"}), OPTS)
    assert kinds(acts) == [("release", "1")] and acts[0].code == "due" and "red" in acts[0].reason


def test_on_red_flexible_jobs_wait_held_even_with_sun_forecast() -> None:
    b = bud([0.0] + [50.0] * 191, level0="red", reason="battery_reserve")
    acts = decide(b, [job("1"), job("2", reason="JobHeldAdmin")], NOW, Owned(held={"2"}, begun={"1": NOW + SLOT}), OPTS)
    assert kinds(acts) == [("hold", "1")] and acts[0].code == "red"  # 2 is already held by the adapter


def test_someone_elses_hold_is_left_alone() -> None:
    j = job("1", reason="JobHeldUser", priority=0)
    assert decide(bud([50.0] * 192), [j], NOW, Owned(), OPTS) == []
    assert fail_open([j], NOW, Owned(), "x") == []


def test_the_submitters_own_begin_time_is_never_brought_forward() -> None:
    j = job("1", eligible_epoch_s=NOW + 3 * 3600.0 + 100.0, reason="BeginTime")
    assert decide(bud([50.0] * 192), [j], NOW, Owned(), OPTS) == []  # green from its own begin: nothing to do
    green = [50.0] * 20 + [0.0] * 20 + [50.0] * 152
    acts = decide(bud(green), [j], NOW, Owned(), OPTS)
    assert acts == [] or all(a.begin_epoch_s >= j.eligible_epoch_s for a in acts)


def test_red_requeues_checkpointable_jobs_lowest_priority_first() -> None:
    running = [
        job("a", "RUNNING", comment="flex ckpt kw=10", requeue=True, priority=50),
        job("b", "RUNNING", comment="flex ckpt kw=10", requeue=True, priority=10),
        job("c", "RUNNING", comment="flex kw=10", requeue=True, priority=1),  # no checkpoint: never requeued
        job("d", "RUNNING", comment="flex ckpt kw=10", requeue=False, priority=1),  # Slurm may not requeue it
        job("e", "RUNNING", comment="flex ckpt kw=10", requeue=True, priority=1, deadline_epoch_s=NOW + 3700.0),
        job("x", "RUNNING", comment=None, priority=0),  # not flexible
    ]
    b = bud([0.0] * 192, level0="red", reason="battery_reserve")
    acts = decide(b, running, NOW, Owned(), OPTS)
    assert kinds(acts) == [("requeue", "b"), ("requeue", "a")]
    assert all(a.code == "red" and "battery_reserve" in a.reason for a in acts)
    b15 = replace(b, budget_kw=np.r_[15.0, b.budget_kw[1:]])
    assert kinds(decide(b15, running, NOW, Owned(), OPTS)) == [("requeue", "b"), ("requeue", "a")]  # 50 kW over 15
    amber = bud([0.0] * 192, budget=0.0)
    assert [a for a in decide(amber, running, NOW, Owned(), OPTS) if a.kind == "requeue"] == []  # only red requeues


def test_fail_open_undoes_only_what_the_adapter_did() -> None:
    queue = [
        job("h", reason="JobHeldAdmin"),
        job("u", reason="JobHeldUser"),
        job("b", eligible_epoch_s=NOW + 7200.0),
        job("gone_from_queue_is_skipped"),
    ]
    owned = Owned(held={"h", "vanished"}, begun={"b": NOW + 7200.0})
    acts = fail_open(queue[:3], NOW, owned, "no budget")
    assert kinds(acts) == [("begin", "b"), ("release", "h")] and acts[0].begin_epoch_s == NOW


def test_an_old_budget_ages_with_the_clock() -> None:
    green = [50.0] * 4 + [0.0] * 188
    b = bud(green)
    later = b.shifted(NOW + 4 * SLOT + 10.0)
    assert later.slot0_epoch_s == NOW + 4 * SLOT and later.green_kw[0] == 0.0 and len(later.green_kw) == 188


@settings(max_examples=80, deadline=None)
@given(
    green=st.lists(st.sampled_from([0.0, 5.0, 20.0, 60.0]), min_size=192, max_size=192),
    red=st.booleans(),
    specs=st.lists(
        st.tuples(
            st.sampled_from(["PENDING", "RUNNING"]),
            st.sampled_from([None, "flex", "flex ckpt kw=7", "flex=2h kw=3", "train"]),
            st.sampled_from(["Priority", "JobHeldAdmin", "JobHeldUser", "BeginTime"]),
            st.floats(600, 30 * 3600),
            st.one_of(st.none(), st.floats(0, 60 * 3600)),
            st.booleans(),
        ),
        max_size=25,
    ),
)
def test_decide_invariants(green: list[float], red: bool, specs: list[Any]) -> None:
    """Never a non-flexible job, never a job held by someone else, never a begin in the past or
    before the job's release, never a hold on a due job, at most one action of a kind per job."""
    b = bud(green, level0="red" if red else None, reason="diesel" if red else "")
    queue = []
    owned = Owned()
    for i, (state, comment, reason, limit_s, deadline_in_s, mine) in enumerate(specs):
        jid = str(i)
        r = reason if state == "PENDING" else "None"
        dl = NOW + deadline_in_s if deadline_in_s is not None else None
        queue.append(job(jid, state, comment, reason=r, time_limit_s=limit_s, deadline_epoch_s=dl, requeue=True))
        if mine and r == "JobHeldAdmin":
            owned.held.add(jid)
    acts = decide(b, queue, NOW, owned, OPTS)
    by_id = {j.job_id: j for j in queue}
    seen: set[tuple[str, str]] = set()
    for a in acts:
        j = by_id[a.job_id]
        assert j.marks.flexible
        assert not (j.held and a.job_id not in owned.held)
        assert (a.kind, a.job_id) not in seen
        seen.add((a.kind, a.job_id))
        if a.kind == "begin":
            assert a.begin_epoch_s is not None and a.begin_epoch_s >= NOW
        if a.kind == "hold":
            from islandgrid.scheduler.decide import latest_start_s

            assert latest_start_s(j, OPTS) > NOW + SLOT
        if a.kind == "requeue":
            assert red and j.state == "RUNNING" and j.marks.checkpointable
