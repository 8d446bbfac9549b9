"""Compute-room demand: IT load (constant, CSV trace or synthetic AI training) times PUE."""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from islandgrid.site.spec import PueSpec

#: Measured 8xH100 node board power during GPT training with checkpoints every 1000 steps
#: (grantwilkins/training_profile, see src/islandgrid/data/SOURCES.md). Idle floor and peak [W].
_H100_TRACE = "aggregated_power_data_1000stepsync.csv"

#: Share of a training node's IT power that does not follow the GPUs (CPUs, memory,
#: NICs, storage, switches) [-]. An assumption; set load.profile = 'csv' for a measured room.
NON_GPU_FRAC = 0.30
#: GPUs of the measured node [-].
NODE_GPUS = 8
#: Training runs of the AI-training profile: lognormal run time, median [h] and log-standard deviation [-].
TRAINING_RUN_MEDIAN_H = 30.0
TRAINING_RUN_SIGMA = 0.8


@cache
def _h100_trace() -> pd.DataFrame:
    """The bundled node trace, read once per process (package data: it never changes)."""
    with resources.files("islandgrid.data").joinpath(_H100_TRACE).open("r") as fh:
        return pd.read_csv(fh)


def h100_minute_shape() -> np.ndarray:
    """The measured node trace averaged into 1-minute bins, over its peak [-].

    It contains the checkpoint dips of real training.
    """
    df = _h100_trace()
    t_s = df["time_seconds"].to_numpy()
    p_w = df["power_watts"].to_numpy()
    bins = (t_s // 60).astype(int)
    per_min = np.bincount(bins, weights=p_w) / np.bincount(bins)
    full = per_min[: int(t_s[-1] // 60)]  # drop the incomplete last minute
    return full / p_w.max()


def h100_trace_peak_w() -> float:
    """Peak board power of the measured 8-GPU node over its trace [W]."""
    return float(_h100_trace()["power_watts"].max())


def node_it_minute_factor() -> np.ndarray:
    """A training node's IT power per minute of its run over its peak [-]: the constant non-GPU share
    plus the GPUs' measured minute shape (with its checkpoint dips), as :func:`ai_training_it_kw` uses."""
    return NON_GPU_FRAC + (1.0 - NON_GPU_FRAC) * h100_minute_shape()


def ai_training_it_kw(
    index: pd.DatetimeIndex, dt_h: float, it_kw: float, utilisation_frac: float, seed: int
) -> np.ndarray:
    """Synthetic AI-training IT load [kW].

    Training jobs of random length (lognormal, median 30 h) follow each other with
    short gaps (exponential, mean 2 h) in which GPUs idle. While a job runs, GPU power
    follows the measured H100 minute shape, with its checkpoint dips, tiled. The
    result is scaled so that its mean is ``utilisation_frac * it_kw`` and capped at
    ``it_kw``. Seeded: the same seed gives the same profile at every resolution.
    """
    rng = np.random.default_rng(seed)
    shape = h100_minute_shape()
    idle_gpu = float(shape.min())
    n_min = round(len(index) * dt_h * 60)
    busy = np.zeros(n_min, dtype=bool)
    t = 0
    while t < n_min:
        job = int(rng.lognormal(np.log(TRAINING_RUN_MEDIAN_H * 60), TRAINING_RUN_SIGMA))
        busy[t : t + job] = True
        t += job + int(rng.exponential(120))
    gpu = np.where(busy, np.resize(shape, n_min), idle_gpu)
    minute = NON_GPU_FRAC + (1.0 - NON_GPU_FRAC) * gpu  # node_it_minute_factor, idle GPUs included
    per_step = max(round(dt_h * 60), 1)
    stepped = minute[: len(index) * per_step].reshape(len(index), per_step).mean(axis=1)
    scaled = stepped * (utilisation_frac / stepped.mean())
    return np.minimum(scaled, 1.0) * it_kw


def pue(spec: PueSpec, temp_air_c: np.ndarray | None) -> np.ndarray | float:
    """Power usage effectiveness [-]: constant, or linear in outdoor dry-bulb.

    PUE = winter below ``t_low_c``, summer above ``t_high_c``, linear between. The example sites'
    1.15 / 1.35 are planning values for free cooling in Inner Mongolia's climate; set them from the
    room's measured PUE.
    """
    if spec.kind == "constant":
        return spec.value
    if temp_air_c is None:
        raise ValueError("a temperature-dependent PUE needs weather")
    frac = np.clip((temp_air_c - spec.t_low_c) / (spec.t_high_c - spec.t_low_c), 0.0, 1.0)
    return spec.winter + (spec.summer - spec.winter) * frac
