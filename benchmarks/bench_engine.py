"""Engine speed: one year at 1-minute steps with the PV-first rules.

Prints, measured in this run:
- the compiled engine's time for 525,600 steps (target <= 10 ms on one core);
- a plain-Python loop of the same rules (numba's ``py_func`` of the same kernel) and the ratio
  (target >= 30x);
- python-microgrid's per-step cost, 333 us a step, measured on this machine (GUIDE §6), as a ratio;
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
from islandgrid.simulate.engine import build_problem
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.strategy.rules import run_into, run_rules

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
PYMGRID_US_PER_STEP = 333.0  # GUIDE §6: python-microgrid 1.4.1, measured on this project's machine


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
    print(
        f"python-microgrid (GUIDE §6, measured here): {PYMGRID_US_PER_STEP:.0f} us/step -> "
        f"{PYMGRID_US_PER_STEP * 1e-6 * n:.0f} s for the year; "
        f"islandgrid is {PYMGRID_US_PER_STEP * 1e-6 * n / eng:,.0f}x faster"
    )
    h = _process_seconds()
    m = _process_seconds("--resolution", "1min")
    print(f"whole process `islandgrid simulate --json`: 1 h {h:.2f} s (target <= 3 s); 1 min {m:.2f} s (target <= 6 s)")


if __name__ == "__main__":
    main()
