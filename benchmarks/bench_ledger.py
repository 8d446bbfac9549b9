"""Ledger and carbon-report speed.

Prints, measured in this run:
- append: records per second into a fresh SQLite ledger (WAL, synchronous=FULL), a 1-minute year appended
  in daily batches of 1440 and in one call (target >= 200,000 records/s);
- verify: a year of 1-minute records, 525,600 (target <= 2 s), and plain hashlib over the same payloads as the
  peer floor (the chain can go no faster than SHA-256 itself);
- report: the full-year carbon report from an hourly ledger, HTML + CSV + XLSX (target <= 5 s).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.verify import verify_chain
from islandgrid.reports.carbon import build_report, write_report

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"


def main() -> None:
    site = islandgrid.load_site(SITE)
    flows = islandgrid.simulate(site, resolution="1min", baseline=False).flows
    n = len(flows)
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "day.db"
        store = open_ledger(db)
        store.append_flows(site, flows.iloc[:1440])  # warm-up (numba cache load)
        t0 = time.perf_counter()
        for a in range(1440, n, 1440):
            store.append_flows(site, flows.iloc[a : a + 1440])
        dt = time.perf_counter() - t0
        print(f"append, daily batches of 1440: {(n - 1440) / dt:,.0f} records/s (target >= 200,000)")
        store.close()
        one = open_ledger(Path(d) / "one.db")
        t0 = time.perf_counter()
        one.append_flows(site, flows)
        dt = time.perf_counter() - t0
        print(f"append, one call of {n:,}: {n / dt:,.0f} records/s")
        t0 = time.perf_counter()
        rep = verify_chain(one)
        dt_verify = time.perf_counter() - t0
        print(f"verify {rep.n_records:,} records: {dt_verify:.2f} s (target <= 2 s)")
        payloads = [r[2] for r in one.backend.rows(rep.site_id)]
        t0 = time.perf_counter()
        h = b"\0" * 32
        for p in payloads:
            h = hashlib.sha256(h + p).digest()
        dt_hash = time.perf_counter() - t0
        print(f"  peer floor, bare hashlib chain over the same payloads: {dt_hash:.2f} s")
        print(f"  verify / floor: {dt_verify / dt_hash:.1f}x")
        one.close()
        hourly = islandgrid.simulate(site, baseline=False).flows
        store = open_ledger(Path(d) / "h.db")
        store.append_flows(site, hourly)
        t0 = time.perf_counter()
        rep_c = build_report(store)
        write_report(rep_c, Path(d) / "out")
        dt_rep = time.perf_counter() - t0
        print(f"full-year carbon report (8,760 records, HTML + CSV + XLSX): {dt_rep:.2f} s (target <= 5 s)")


if __name__ == "__main__":
    main()
