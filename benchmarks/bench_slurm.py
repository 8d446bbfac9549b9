"""The Slurm adapter's decision loop for 1,000 queued jobs (issue 13 §5: <= 1 s).

1. In process: parse 1,000 lines of ``squeue`` output (the seam's own format), adopt, and decide
   on a 48 h budget computed by the controller's budget code (Horinger-like PV day); best and
   median of 20.
2. Against a real single-node Slurm (Debian slurm-wlm, started with tests/slurm/start.sh in a
   temporary folder; skipped without it or without root): 1,000 flexible jobs submitted held as
   one array, then one full adapter iteration (squeue, parse, decide, scontrol, state file), the
   first one (1,000 adoptions and releases or begin times) and a steady one (nothing to change).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from islandgrid.controller.budget import Forecast, Live, Room, budget
from islandgrid.scheduler.adapter import Adapter
from islandgrid.scheduler.decide import Budget, Options, Owned, adopt, decide
from islandgrid.scheduler.slurm import Slurm, parse_squeue

N_JOBS = 1000
TARGET_S = 1.0
ROOT = Path(__file__).resolve().parents[1]
ROOM = Room(flex_rating_kw=81.0, grid_import_kw=300.0)


def pv_day(start_s: float, n: int = 50) -> np.ndarray:
    """Hourly PV of a clear June day at a 220 kWp array, from ``start_s`` [kW]."""
    h = ((start_s + 3600.0 * np.arange(n)) / 3600.0 + 8.0) % 24  # Hohhot time
    return np.where((h > 5.5) & (h < 19.5), 180.0 * np.sin(np.pi * (h - 5.5) / 14.0), 0.0)


def budget_doc(now_s: float) -> dict[str, Any]:
    start = now_s // 3600 * 3600
    pv = pv_day(start)
    fc = Forecast(start, 3600.0, pv, np.full(50, 18.0), np.full(50, 0.68), np.zeros(50, bool), np.zeros(50))
    return budget(fc, Live(now_s, True, True, 0.0, 0.6, 0.4, float(pv[0]), 18.0), ROOM)


def squeue_text(now_s: float, rng: np.random.Generator) -> str:
    """1,000 lines as the seam reads them: 700 pending flexible, 150 running flexible, 150 other jobs."""
    lines = []
    for i in range(N_JOBS):
        limit = f"{int(rng.integers(1, 12))}:00:00"
        submit = int(now_s - rng.integers(0, 20 * 3600))
        if i < 700:
            held = rng.random() < 0.5
            deadline = str(int(now_s + rng.integers(6, 60) * 3600)) if rng.random() < 0.5 else "N/A"
            lines.append(
                f"{1000 + i}|PENDING|{'JobHeldUser' if held else 'Priority'}|{0 if held else 4294901000}|{limit}|0:00|"
                f"{submit}|{submit}|{deadline}|1|N/A|N/A|"
                f"flex{' ckpt' if i % 3 == 0 else ''} kw={rng.uniform(0.5, 8):.1f}|"
            )
        elif i < 850:
            lines.append(
                f"{1000 + i}|RUNNING|None|4294901000|{limit}|1:00:00|{submit}|{submit}|N/A|1|{submit}|N/A|"
                "flex ckpt kw=4|"
            )
        else:
            lines.append(
                f"{1000 + i}|PENDING|Resources|4294901000|{limit}|0:00|{submit}|{submit}|N/A|0|N/A|N/A|(null)|"
            )
    return "\n".join(lines) + "\n"


def in_process() -> float:
    now = time.time()
    doc = budget_doc(now)
    text = squeue_text(now, np.random.default_rng(13))
    times, n_actions = [], 0
    for _ in range(20):
        t0 = time.perf_counter()
        jobs = parse_squeue(text)
        owned = Owned()
        adopt(jobs, owned)
        actions = decide(Budget.from_api(doc), jobs, now, owned, Options())
        times.append(time.perf_counter() - t0)
        n_actions = len(actions)
    best, med = min(times), statistics.median(times)
    print(
        f"in process, {N_JOBS} jobs (parse + adopt + decide, {n_actions} actions): "
        f"best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms (target <= {TARGET_S:g} s: "
        f"{'met' if med <= TARGET_S else 'MISSED'})"
    )
    return med


class Source:
    def budget(self) -> dict[str, Any]:
        return budget_doc(time.time())

    def post_event(self, kind: str, message: str, data: dict[str, Any]) -> None:
        pass


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real_slurm() -> None:
    if shutil.which("slurmctld") is None or os.geteuid() != 0:
        print("real Slurm: skipped (slurm-wlm not installed or not root; `make slurm` installs it)")
        return
    d = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    scripts = ROOT / "tests" / "slurm"
    try:
        subprocess.run(["sh", str(scripts / "start.sh"), str(d), str(_port()), str(_port())], check=True, timeout=120)
        env = {"SLURM_CONF": str(d / "slurm.conf")}
        t0 = time.perf_counter()
        subprocess.run(
            [
                "sbatch",
                "--parsable",
                "--hold",
                f"--array=0-{N_JOBS - 1}",
                f"--chdir={d}",
                "--output=/dev/null",
                "-t",
                "2:00:00",
                "--comment=flex kw=0.05",
                "--wrap=sleep 30",
            ],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=300,
        )
        print(f"real Slurm: {N_JOBS} held flexible jobs submitted as one array in {time.perf_counter() - t0:.2f} s")
        adapter = Adapter(Source(), Slurm(env), Options(), state_path=d / "state.json")
        t0 = time.perf_counter()
        rep = adapter.step()
        first = time.perf_counter() - t0
        print(
            f"real Slurm, first iteration, acting on every job ({rep.jobs} jobs, {len(rep.outcomes)} actions: "
            f"releases and begin times, batched scontrol calls): {first:.2f} s, of which scontrol (slurmctld) "
            f"{rep.apply_s:.2f} s and decide {rep.decide_s * 1e3:.1f} ms"
        )
        steady = []
        for _ in range(5):
            t0 = time.perf_counter()
            rep = adapter.step()
            steady.append(time.perf_counter() - t0)
        med = statistics.median(steady)
        print(
            f"real Slurm, decision loop (budget, squeue, parse, decide, state file; {rep.jobs} queued jobs, "
            f"{len(rep.outcomes)} actions): best {min(steady) * 1e3:.0f} ms, median {med * 1e3:.0f} ms of 5 "
            f"(target <= {TARGET_S:g} s: {'met' if med <= TARGET_S else 'MISSED'})"
        )
    finally:
        subprocess.run(["sh", str(scripts / "stop.sh"), str(d)], check=False, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    med = in_process()
    real_slurm()
    return 0 if med <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
