"""The controller meters into the real carbon ledger; restarts resume the hash chain with the gap flagged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from islandgrid.controller.metering import LedgerSink
from islandgrid.controller.service import ControllerService
from islandgrid.ledger.record import FLAG_AFTER_GAP
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def _gaps_after(records: pd.DataFrame) -> list[pd.Timestamp]:
    return list(records.index[(records["flags"] & FLAG_AFTER_GAP) != 0])


def test_controller_restart_resumes_the_ledger_chain_with_the_gap_flagged(horinger, inputs, tmp_path: Path):
    """A controller restart (state dropped) during an outage: the interval it missed is not written,
    the next record continues the same chain flagged after_gap, and the whole chain verifies."""
    site = fast_site(horinger)
    sink = LedgerSink(str(tmp_path / "ledger.sqlite"))
    rig = SteppedRig(site, inputs, "2025-04-01 09:00", sink=sink)
    try:
        run_for(rig, 600, {100.0: ("grid_loss", {}), 250.0: ("controller_restart", {})})
        svc = rig.service
        assert svc.ledger_errors == 0, [e["message"] for e in svc.event_log.of_kind("ledger_error")]
        report = verify_chain(sink.store)
        assert report.n_records == svc.ledger_rows >= 5
        records = read_records(sink.store)
        assert set(records["quality"]) == {"measured"}
        gaps = _gaps_after(records)
        restart_s = svc.event_log.of_kind("controller_restart")[0]["ts"]
        assert report.gaps == len(gaps) == 1
        assert gaps[0] > records.index[0] and gaps[0].isoformat() > restart_s[:16]  # the first record after it
        steps = records.index.to_series().diff().dropna().dt.total_seconds()
        assert (steps == 60).sum() == len(steps) - 1 and steps.max() <= 180
    finally:
        sink.close()


def test_serve_restart_continues_the_chain_and_the_battery_pool(horinger, inputs, tmp_path: Path):
    """A new controller service on the same ledger file (``serve`` restarted) continues the chain after
    the tip, flags the downtime, and starts its status carbon flow from the tip's battery pool."""
    site = fast_site(horinger)
    path = str(tmp_path / "ledger.sqlite")
    sink = LedgerSink(path)
    rig = SteppedRig(site, inputs, "2025-01-15 20:00", sink=sink)
    rig.service.set_setpoints({"reserve_frac": 0.9})  # charge from the grid: the pool carries carbon
    run_for(rig, 900)
    first = rig.service
    e_bat = first.e_bat_kg_per_kwh
    assert e_bat > 0 and first.ledger_errors == 0
    sink.close()
    rig.twin.advance_to(rig.twin.t_s + 300)  # five minutes down
    rig.clock.advance(300)
    sink2 = LedgerSink(path)
    try:
        rig.service = ControllerService(site, rig.link, rig.clock, inputs, twin=rig.twin, sink=sink2)
        assert rig.service.e_bat_kg_per_kwh == pytest.approx(e_bat, rel=1e-6)  # resumed from the tip
        run_for(rig, 300)
        assert rig.service.ledger_errors == 0
        report = verify_chain(sink2.store)
        assert report.n_records == first.ledger_rows + rig.service.ledger_rows
        assert report.gaps == 1
        records = read_records(sink2.store)
        gap = _gaps_after(records)[0]
        before = records.index[records.index < gap][-1]
        assert (gap - before).total_seconds() >= 300
    finally:
        sink2.close()


def test_the_live_status_books_the_same_carbon_as_the_ledger(horinger, inputs, tmp_path: Path):
    """One carbon step (ledger.batch.carbon_step) for the ledger and the live status: over an hour with
    an outage and a grid-charged battery, the status's total CO2 carried by the load and its PV-attributed
    energy equal the ledger's records (float rounding only; a second, looser copy of the step would differ)."""
    site = fast_site(horinger)
    sink = LedgerSink(str(tmp_path / "ledger.sqlite"))
    rig = SteppedRig(site, inputs, "2025-04-01 09:00", sink=sink)
    try:
        rig.service.set_setpoints({"reserve_frac": 0.9})
        run_for(rig, 3600, {900.0: ("grid_loss", {}), 2400.0: ("grid_restore", {})})
        svc = rig.service
        assert svc.ledger_errors == 0
        records = read_records(sink.store)
        total = svc.kpis()["total"]
        assert len(records) == svc.ledger_rows >= 50
        assert total["load_co2_kg"] == pytest.approx(float(records["load_co2_kg"].sum()), rel=1e-9, abs=1e-9)
        pv_kwh = float((records["load_served_kwh"] * records["load_pv_frac"]).sum())
        assert total["pv_attributed_kwh"] == pytest.approx(pv_kwh, rel=1e-9, abs=1e-9)
    finally:
        sink.close()
