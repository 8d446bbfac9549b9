"""The optional ``[compute]`` section: flexible training jobs and the policy that places them.

Example::

    [compute]
    job_policy = "green"          # fifo | green | optimal | mpc (`--job-policy` overrides it)
    flexible_frac = 0.6           # share of the room's IT energy that is flexible training
    deadline_slack_h = 24         # synthetic jobs: deadline = finish under fifo + slack
    deadline_basis = "queue"      # queue: fifo's finish + slack | release: release + duration + slack
    # jobs_csv = "jobs.csv"       # a jobs file instead of the synthetic stream

Without ``jobs_csv`` the jobs are a seeded synthetic stream drawn from the site's AI-training
profile (:mod:`islandgrid.compute.synthetic` documents every default). The rest of the room's
load (inference, storage, the cooling base) stays inflexible: ``1 - flexible_frac`` of the
``[load]`` profile. Everything here has a default; the section itself is what turns jobs on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The job policies a site file or ``--job-policy`` may name (:mod:`islandgrid.compute.policies`).
JOB_POLICIES: tuple[str, ...] = ("fifo", "green", "optimal", "mpc")


def _fix(text: str) -> dict[str, Any]:
    return {"fix": text}


class ComputeSpec(BaseModel):
    """Flexible compute: where the jobs come from, how they may be moved, and by which policy.

    Attributes
    ----------
    job_policy : {'fifo', 'green', 'optimal', 'mpc'}
        Who places the jobs (README, *Carbon-aware compute*).
    jobs_csv : Path or None
        A jobs file (``job_id, gpus or kw, duration_h, release, deadline, checkpoint_min,
        resume_cost_min, priority``); None: the synthetic stream.
    flexible_frac : float
        Share of the room's IT energy that is flexible training [-]; the jobs replace it.
    deadline_slack_h : float
        Synthetic stream: hours a job may finish after its baseline finish [h].
    deadline_basis : {'queue', 'release'}
        Synthetic stream: the baseline finish the slack is added to. ``queue`` (default): the job's
        finish under ``fifo`` on the room's spare capacity (the queue it joins), as in temporal
        workload shifting (Wiesner et al., Middleware 2021: a job may be shifted within a window
        after its baseline time), so every deadline is one the room can meet; ``release``: release +
        duration, which a congested room cannot meet for every job.
    gpus_per_job, gpus_per_job_weights : list
        Synthetic stream: job sizes [GPUs] and their probabilities.
    duration_median_h, duration_sigma, duration_max_h : float
        Synthetic stream: lognormal run time [h] (median, log-standard deviation), capped.
    checkpoint_min, resume_cost_min : float
        Synthetic stream: checkpoint interval and the time a resume costs [min].
    seed : int
        Synthetic stream seed.
    green_battery_min_frac : float
        ``green``: the battery may carry flexible jobs only above this state of charge [-].
    mpc_replan_h, mpc_horizon_h : float
        ``mpc``: re-plan interval and planning horizon [h].
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_policy: Literal["fifo", "green", "optimal", "mpc"] = Field(
        default="fifo", json_schema_extra=_fix("one of fifo, green, optimal, mpc")
    )
    jobs_csv: Path | None = Field(
        default=None,
        json_schema_extra=_fix("a CSV with job_id, gpus or kw, duration_h, release, deadline (see docs/compute.md)"),
    )
    flexible_frac: float = Field(
        default=0.6, gt=0, le=1, json_schema_extra=_fix("the flexible share of the room's IT energy, e.g. 0.6")
    )
    deadline_slack_h: float = Field(default=24.0, ge=0, le=720, json_schema_extra=_fix("hours, e.g. 24"))
    deadline_basis: Literal["queue", "release"] = Field(
        default="queue",
        json_schema_extra=_fix('"queue" (fifo\'s finish + slack) or "release" (release + duration + slack)'),
    )
    gpus_per_job: list[Annotated[int, Field(gt=0, le=4096)]] = Field(default_factory=lambda: [8, 16])
    gpus_per_job_weights: list[Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: [0.7, 0.3])
    duration_median_h: float = Field(default=30.0, gt=0, le=720, json_schema_extra=_fix("hours, e.g. 30"))
    duration_sigma: float = Field(default=0.8, ge=0, le=3)
    duration_max_h: float = Field(default=168.0, gt=0, le=2000, json_schema_extra=_fix("hours, e.g. 168"))
    checkpoint_min: float = Field(default=30.0, ge=0, le=1440, json_schema_extra=_fix("minutes, 0 = never paused"))
    resume_cost_min: float = Field(default=10.0, ge=0, le=1440, json_schema_extra=_fix("minutes, e.g. 10"))
    seed: int = 11
    green_battery_min_frac: float = Field(
        default=0.6, ge=0, le=1, json_schema_extra=_fix("state of charge above which the battery carries jobs")
    )
    mpc_replan_h: float = Field(default=4.0, gt=0, le=48, json_schema_extra=_fix("hours, e.g. 4"))
    mpc_horizon_h: float = Field(default=48.0, gt=0, le=168, json_schema_extra=_fix("hours, e.g. 48"))

    @model_validator(mode="after")
    def _sizes(self) -> ComputeSpec:
        if len(self.gpus_per_job) != len(self.gpus_per_job_weights) or not self.gpus_per_job:
            raise ValueError("gpus_per_job and gpus_per_job_weights need the same, non-zero length")
        if self.mpc_horizon_h < self.mpc_replan_h:
            raise ValueError("mpc_horizon_h must be at least mpc_replan_h")
        return self
