"""Engine speed: one year at 1-minute steps with the PV-first rules.

Prints, measured in this run:
- the compiled engine's time for 525,600 steps (target <= 10 ms on one core);
- "plain Python": the very same kernel source run by the CPython interpreter instead of numba
  (numba's ``py_func``: one Python loop over numpy arrays, scalar indexing, no compilation), timed
  over 100,000 steps and scaled to the year, and the ratio (target >= 30x);
- python-microgrid 1.4.1 (pymgrid, a ``[bench]`` dependency), measured in this run: its
  ``RuleBasedControl`` over the same hourly year (the Horinger example's PV and load, its battery,
  genset and grid), against islandgrid's engine on the same hourly year; both best of
  ``PEER_REPEATS`` runs. pymgrid 1.4.1 calls ``numpy.product``, removed in NumPy 2.0; the benchmark
  aliases it to ``numpy.prod`` (same function) before importing pymgrid;
- the whole in-process call ``islandgrid.simulate(site, resolution=...)`` after warm-up (inputs, PV
  chain, engine, checks, carbon flow, KPIs): 1 min <= 1.5 s, hourly <= 0.1 s (issue 10 §8);
- the whole process, ``islandgrid simulate examples/horinger-ai-room.toml --json``, at 1 h (<= 3 s)
  and 1 min (<= 6 s), start-up included (median of 3).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import islandgrid
from islandgrid.inputs.series import build_inputs
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.strategy.problem import build_problem
from islandgrid.strategy.rules import run_into, run_rules

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
PEER_REPEATS = 3


def _pymgrid_seconds(p) -> float:
    """Best of ``PEER_REPEATS`` of pymgrid's rule-based control over the hourly year of ``p`` [s]."""
    import warnings

    warnings.simplefilter("ignore")
    if not hasattr(np, "product"):
        np.product = np.prod  # type: ignore[attr-defined]  # pymgrid 1.4.1 predates NumPy 2.0
    from pymgrid import Microgrid
    from pymgrid.algos import RuleBasedControl
    from pymgrid.modules import BatteryModule, GensetModule, GridModule, LoadModule, RenewableModule

    b, g, n = p.battery, p.genset, p.n
    # pymgrid's grid status is binary: up only in an hour the grid is up all of (islandgrid runs a
    # partly islanded hour as two parts; the peer sees it islanded)
    up = (np.asarray(p.grid_available, dtype=float) >= 1.0).astype(float)
    times = []
    for _ in range(PEER_REPEATS):
        grid_ts = np.column_stack([np.full(n, 0.5), np.zeros(n), np.full(n, 0.6), up])
        mg = Microgrid(
            [
                BatteryModule(
                    min_capacity=b.soc_min_kwh,
                    max_capacity=b.soc_max_kwh,
                    max_charge=b.charge_kw,
                    max_discharge=b.discharge_kw,
                    efficiency=(b.eta_charge * b.eta_discharge) ** 0.5,
                    init_soc=b.soc_init_kwh / b.soc_max_kwh,
                ),
                GensetModule(
                    running_min_production=min(g.min_load_kw, g.rated_kw),
                    running_max_production=g.rated_kw,
                    genset_cost=1.0,
                    co2_per_unit=0.7,
                    provided_energy_name="genset_production",
                ),
                GridModule(max_import=p.grid.import_kw, max_export=p.grid.export_kw, time_series=grid_ts),
                LoadModule(time_series=np.asarray(p.load_kw, dtype=float)),
                RenewableModule(time_series=np.asarray(p.pv_kw, dtype=float)),
            ]
        )
        t0 = time.perf_counter()
        RuleBasedControl(mg).run()
        times.append(time.perf_counter() - t0)
    return min(times)


def _py_loop_seconds(p, steps: int) -> float:
    """Time the uncompiled kernel (plain Python, same rules) over the first ``steps`` steps."""
    sub = {k: getattr(p, k)[:steps] for k in ("pv_kw", "load_kw", "critical_kw", "grid_available")}
    out = np.empty((steps, len(FLOW_COLUMNS)))
    b, g = p.battery, p.genset
    t0 = time.perf_counter()
    run_rules.py_func(
        2,
        p.dt_h,
        sub["pv_kw"],
        sub["load_kw"],
        sub["critical_kw"],
        sub["grid_available"],
        p.up_at_start[:steps],
        b.soc_min_kwh,
        b.soc_max_kwh,
        b.soc_init_kwh,
        b.reserve_kwh,
        b.charge_kw,
        b.discharge_kw,
        b.eta_charge,
        b.eta_discharge,
        b.self_discharge_frac_per_h,
        g.rated_kw,
        min(g.min_load_kw, g.rated_kw),
        g.f0_l_per_h_per_kw * g.nameplate_kw,
        g.f1_l_per_kwh,
        g.min_run_h,
        g.start_delay_h,
        p.grid.import_kw,
        p.grid.export_kw,
        0.8 * b.energy_kwh,
        g.min_off_h,
        0.02 * b.energy_kwh,
        out,
    )
    return time.perf_counter() - t0


def _in_process_seconds(site, resolution: str, repeats: int) -> tuple[float, float]:
    """Best and median of ``repeats`` calls of ``islandgrid.simulate`` after one warm-up call [s]."""
    islandgrid.simulate(site, resolution=resolution)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        islandgrid.simulate(site, resolution=resolution)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def _process_seconds(*args: str) -> float:
    cmd = [sys.executable, "-m", "islandgrid.cli.main", "simulate", str(SITE), "--json", *args]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the numba cache
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    site = islandgrid.load_site(SITE)
    p = build_problem(site, build_inputs(site, "1min"))
    n = p.n
    out = np.empty((n, len(FLOW_COLUMNS)))
    run_into("pv_first", p, out)  # compile / load cache
    runs = []
    for _ in range(20):
        t0 = time.perf_counter()
        run_into("pv_first", p, out)
        runs.append(time.perf_counter() - t0)
    eng = min(runs)
    eng_med = statistics.median(runs)
    py_steps = 100_000
    py = _py_loop_seconds(p, py_steps) * n / py_steps
    print(
        f"engine, 1-min year, pv_first: {n:,} steps in {1e3 * eng:.2f} ms best, {1e3 * eng_med:.2f} ms median "
        f"({1e9 * eng / n:.1f} ns/step; target <= 10 ms)"
    )
    print(
        f"plain-Python loop of the same rules: {py:.2f} s for the year ({1e9 * py / n:.0f} ns/step, "
        f"{py_steps:,} steps timed); compiled is {py / eng:,.0f}x faster (target >= 30x)"
    )
    ph = build_problem(site, build_inputs(site, "1h"))
    outh = np.empty((ph.n, len(FLOW_COLUMNS)))
    run_into("pv_first", ph, outh)
    ours_h = []
    for _ in range(PEER_REPEATS):
        t0 = time.perf_counter()
        run_into("pv_first", ph, outh)
        ours_h.append(time.perf_counter() - t0)
    peer = _pymgrid_seconds(ph)
    print(
        f"python-microgrid 1.4.1 RuleBasedControl, same hourly year ({ph.n:,} steps), measured in this run: "
        f"{peer:.2f} s best of {PEER_REPEATS} ({1e6 * peer / ph.n:.0f} us/step); islandgrid {1e3 * min(ours_h):.3f} ms "
        f"best of {PEER_REPEATS} -> {peer / min(ours_h):,.0f}x faster"
    )
    for res, repeats, target_s in (("1h", 10, 0.1), ("1min", 5, 1.5)):
        best, med = _in_process_seconds(site, res, repeats)
        print(
            f"islandgrid.simulate(site, resolution={res!r}) in process: {best:.3f} s best, {med:.3f} s median "
            f"of {repeats} (target <= {target_s:g} s: {'MET' if med <= target_s else 'MISSED'})"
        )
    h = _process_seconds()
    m = _process_seconds("--resolution", "1min")
    print(f"whole process `islandgrid simulate --json`: 1 h {h:.2f} s (target <= 3 s); 1 min {m:.2f} s (target <= 6 s)")


if __name__ == "__main__":
    main()
