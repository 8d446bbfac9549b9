"""Ledger and carbon-report speed.

Prints, measured in this run (with the machine's load average, since other work on the machine slows every figure):
- append: records per second into a fresh SQLite ledger (WAL, synchronous=FULL: every commit fsynced), a 1-minute
  year appended in daily batches of 1440 and in one call (target >= 200,000 records/s);
- verify: a year of 1-minute records, 525,600 (target <= 2 s), and plain hashlib over the same payloads as the
  peer floor (the chain can go no faster than SHA-256 itself);
- report: the full-year carbon report from an hourly ledger, HTML + CSV + XLSX (target <= 5 s).

Verify and report run three times on the same ledger; the first run, the best and the target check (on the median)
are printed.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import VerifyReport, verify_chain
from islandgrid.reports.carbon import build_report, write_report

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
APPEND_TARGET = 200_000  # records/s
VERIFY_TARGET_S = 2.0
REPORT_TARGET_S = 5.0


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _verdict(ok: bool) -> str:
    return "target met" if ok else "TARGET MISSED"


def _times(run: Callable[[], object], n: int = 3) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        run()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    print(_load())
    site = islandgrid.load_site(SITE)
    flows = islandgrid.simulate(site, resolution="1min", baseline=False).flows
    n = len(flows)
    with tempfile.TemporaryDirectory() as d:
        store = open_ledger(Path(d) / "day.db")
        store.append_flows(site, flows.iloc[:1440])  # warm-up (numba cache load)
        t0 = time.perf_counter()
        for a in range(1440, n, 1440):
            store.append_flows(site, flows.iloc[a : a + 1440])
        rate = (n - 1440) / (time.perf_counter() - t0)
        store.close()
        print(f"append, daily batches of 1440 (one fsynced commit each): {rate:,.0f} records/s "
              f"(target >= {APPEND_TARGET:,}): {_verdict(rate >= APPEND_TARGET)}")  # fmt: skip
        one = open_ledger(Path(d) / "one.db")
        t0 = time.perf_counter()
        one.append_flows(site, flows)
        rate = n / (time.perf_counter() - t0)
        print(f"append, one call of {n:,}: {rate:,.0f} records/s: {_verdict(rate >= APPEND_TARGET)}")
        reps: list[VerifyReport] = []
        times = _times(lambda: reps.append(verify_chain(one)))
        rep = reps[-1]
        assert rep.n_records == n
        med = statistics.median(times)
        print(f"verify {n:,} records: first {times[0]:.2f} s, best {min(times):.2f} s, median {med:.2f} s "
              f"(target <= {VERIFY_TARGET_S:g} s): {_verdict(med <= VERIFY_TARGET_S)}")  # fmt: skip
        payloads = [r[2] for r in one.backend.rows(rep.site_id)]
        t0 = time.perf_counter()
        h = b"\0" * 32
        for p in payloads:
            h = hashlib.sha256(h + p).digest()
        dt_hash = time.perf_counter() - t0
        print(f"  peer floor, bare hashlib chain over the same payloads (already in memory): {dt_hash:.2f} s; "
              f"verify / floor: {min(times) / dt_hash:.1f}x")  # fmt: skip
        one.close()
        hourly = islandgrid.simulate(site, baseline=False).flows
        store = open_ledger(Path(d) / "h.db")
        store.append_flows(site, hourly)
        outs = iter(range(3))
        times = _times(lambda: write_report(build_report(store), Path(d) / f"out{next(outs)}"))
        med = statistics.median(times)
        print(f"full-year carbon report (8,760 records, HTML + CSV + XLSX): first {times[0]:.2f} s, "
              f"best {min(times):.2f} s, median {med:.2f} s (target <= {REPORT_TARGET_S:g} s): "
              f"{_verdict(med <= REPORT_TARGET_S)}")  # fmt: skip
        store.close()
    print(_load())


if __name__ == "__main__":
    main()
