"""Run scenario batches with Dask: locally with no set-up, or on an existing cluster.

A task is a batch of scenarios (``[scenarios] batch``, 25 by default): it draws its scenarios from
their own seed streams, builds their input years and runs every design through the compiled kernel,
returning one compact float64 array (designs x scenarios x :data:`~islandgrid.sizing.kernel.KPI_COLUMNS`).
The inputs (:class:`~islandgrid.scenarios.draws.BaseYear`) and the design parameters are built once;
on a cluster they are scattered to every worker before the tasks are submitted.

Local runs use Dask's threaded scheduler on this machine's cores (the kernel releases the GIL).
``cluster="tcp://HOST:8786"`` (or the environment variable :data:`SCHEDULER_ENV`) runs the same
tasks on that Dask cluster through :mod:`distributed`; a worker lost mid-run has its tasks re-run
elsewhere by the scheduler, and since every scenario's draws depend only on (seed, k) the results
are the same bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from islandgrid.errors import InputError
from islandgrid.scenarios.draws import BaseYear, draw
from islandgrid.scenarios.kernel import scenario_kpis
from islandgrid.sizing.kernel import KPI_COLUMNS

#: Environment variable naming a Dask scheduler (``tcp://HOST:8786``) when ``--cluster`` is not given.
SCHEDULER_ENV = "ISLANDGRID_DASK_SCHEDULER"

#: Called with (scenarios done, scenarios in total).
ScenarioProgress = Callable[[int, int], None]


def run_batch(
    base: BaseYear, params: np.ndarray, seed: int, k0: int, k1: int, active: np.ndarray | None = None
) -> np.ndarray:
    """Scenarios ``k0`` to ``k1 - 1`` of every design: array (m, k1 - k0, len(KPI_COLUMNS)).

    Rows of inactive designs are NaN.
    """
    d = draw(base, seed, k0, k1)
    m = params.shape[0]
    act = np.ones(m, dtype=np.bool_) if active is None else np.ascontiguousarray(active, dtype=np.bool_)
    kpis = np.full((m, k1 - k0, len(KPI_COLUMNS)), np.nan)
    scenario_kpis(
        np.ascontiguousarray(params, dtype=float), base.dt_h, base.step_min, base.pv1_kw, base.pue, base.it_kw,
        base.it_cap_kw, base.critical_frac, base.grid_ok, base.day_of, base.step_in_day, base.day_start,
        base.day_len, base.price_imp, base.price_exp, base.grid_co2, base.co2_per_l, d.weather_id, d.day_src,
        d.yield_f, d.util_f, d.pue_off, d.win_off, d.win_start, d.win_end, d.win_failed, act, kpis,
    )  # fmt: skip
    return kpis


def scheduler_address(cluster: str | None) -> str | None:
    """The cluster to use: ``cluster``, else :data:`SCHEDULER_ENV`, else None (local)."""
    addr = cluster or os.environ.get(SCHEDULER_ENV) or None
    if addr is not None and "://" not in addr:
        raise InputError(
            "not a Dask scheduler address",
            field="--cluster" if cluster else SCHEDULER_ENV,
            value=addr,
            allowed="tcp://HOST:PORT (the scheduler's address, port 8786 by default)",
            fix="give the address `dask scheduler` printed, e.g. tcp://10.0.0.5:8786",
        )
    return addr


def _batches(n: int, batch: int) -> list[tuple[int, int]]:
    return [(a, min(a + batch, n)) for a in range(0, n, batch)]


def run_scenarios(
    base: BaseYear,
    params: np.ndarray,
    n: int,
    *,
    k0: int = 0,
    seed: int | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    batch: int | None = None,
    active: np.ndarray | None = None,
    progress: ScenarioProgress | None = None,
) -> np.ndarray:
    """Every design in scenarios 0..n-1: array (m, n, len(KPI_COLUMNS)), the same on any scheduler.

    Parameters
    ----------
    base : BaseYear
        From :func:`islandgrid.scenarios.draws.base_year`.
    params : ndarray, shape (m, 22)
        Design rows (:func:`islandgrid.sizing.designs.param_rows`).
    n : int
        Number of scenarios.
    k0 : int
        First scenario (scenarios k0..k0+n-1; the same draws as in any other run of that seed).
    seed : int, optional
        Defaults to ``[scenarios] seed``.
    cluster : str, optional
        A Dask scheduler address; else :data:`SCHEDULER_ENV`; else the local threaded scheduler.
    workers : int, optional
        Local threads (default: this machine's cores).
    batch : int, optional
        Scenarios per task (default ``[scenarios] batch``).
    active : ndarray of bool, optional
        Designs to run (the others come back NaN).
    progress : callable, optional
        Called with (scenarios done, n) as tasks finish.
    """
    if n < 1:
        raise InputError("the number of scenarios must be at least 1", field="--scenarios", value=n, fix="give N >= 1")
    seed = base.spec.seed if seed is None else seed
    parts = [(a + k0, b + k0) for a, b in _batches(n, batch or base.spec.batch)]
    params = np.ascontiguousarray(params, dtype=float)
    act = np.ones(params.shape[0], dtype=np.bool_) if active is None else np.asarray(active, dtype=np.bool_)
    addr = scheduler_address(cluster)
    if addr is None:
        results = _run_local(base, params, seed, parts, act, workers, progress, n)
    else:
        results = _run_cluster(addr, base, params, seed, parts, act, progress, n)
    return np.concatenate(results, axis=1)


def _run_local(
    base: BaseYear,
    params: np.ndarray,
    seed: int,
    parts: list[tuple[int, int]],
    act: np.ndarray,
    workers: int | None,
    progress: ScenarioProgress | None,
    n: int,
) -> list[np.ndarray]:
    import dask
    from dask.callbacks import Callback

    base_d = dask.delayed(base, pure=True)
    params_d = dask.delayed(params, pure=True)
    act_d = dask.delayed(act, pure=True)
    tasks = [dask.delayed(run_batch, pure=True)(base_d, params_d, seed, a, b, act_d) for a, b in parts]
    sizes = {t.key: b - a for t, (a, b) in zip(tasks, parts, strict=True)}
    done = [0]

    class _Progress(Callback):  # type: ignore[misc]
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
            if key in sizes and progress is not None:
                done[0] += sizes[key]
                progress(done[0], n)

    with _Progress():
        out = dask.compute(*tasks, scheduler="threads", num_workers=workers or os.cpu_count() or 1)
    return list(out)


def _run_cluster(
    addr: str,
    base: BaseYear,
    params: np.ndarray,
    seed: int,
    parts: list[tuple[int, int]],
    act: np.ndarray,
    progress: ScenarioProgress | None,
    n: int,
) -> list[np.ndarray]:
    import socket
    from urllib.parse import urlsplit

    from distributed import Client, as_completed

    try:
        u = urlsplit(addr)
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 8786), timeout=10):
            pass  # refused or unroutable: say so at once instead of retrying for the client's timeout
        client = Client(addr, timeout="30s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler ({exc})",
            field="--cluster",
            value=addr,
            fix="start it with `dask scheduler` (and workers with `dask worker ADDRESS`), or drop --cluster",
        ) from None
    try:
        base_f, params_f, act_f = client.scatter([base, params, act], broadcast=True, hash=False)
        futures = [client.submit(run_batch, base_f, params_f, seed, a, b, act_f, pure=False) for a, b in parts]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[np.ndarray | None] = [None] * len(parts)
        done = 0
        for fut in as_completed(futures):
            i = index[fut.key]
            results[i] = fut.result()
            done += parts[i][1] - parts[i][0]
            if progress is not None:
                progress(done, n)
        return [r for r in results if r is not None]
    finally:
        client.close()
