"""Telemetry quality in the ledger (issue 9 §2): intervals metered while a device's heartbeat was frozen are
'estimated' with the ledger flag ``stale``, and the carbon report shows the share of non-measured energy."""

from __future__ import annotations

from pathlib import Path

import pytest

from islandgrid.controller.metering import LedgerSink
from islandgrid.ledger.record import FLAG_NAMES, FLAG_STALE
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.reports.carbon import build_report
from islandgrid.twin.rig import SteppedRig
from test_hil_helpers import fast_site, run_for

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


@pytest.mark.parametrize("device", ["load", "pcs"])
def test_rows_metered_on_frozen_telemetry_are_flagged_stale_and_estimated(horinger, inputs, tmp_path: Path, device):
    """The device answers with a frozen image for 150 s (the PCS for 8 s, below the blind time): the
    intervals it touches are 'estimated' + stale, every other one 'measured'; the chain verifies."""
    duration_s = 150.0 if device == "load" else 8.0
    sink = LedgerSink(str(tmp_path / "ledger.sqlite"))
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 10:00", sink=sink)
    try:
        run_for(rig, 600, {200.0: ("telemetry_stale", {"device": device, "duration_s": duration_s})})
        assert rig.service.ledger_errors == 0
        assert verify_chain(sink.store).n_records == rig.service.ledger_rows
        rec = read_records(sink.store)
        stale = (rec["flags"] & FLAG_STALE) != 0
        assert FLAG_NAMES[FLAG_STALE] == "stale"
        assert (rec.loc[stale, "quality"] == "estimated").all() and (rec.loc[~stale, "quality"] == "measured").all()
        t0 = rig.twin.start_epoch_s
        start_s = rec.index.map(lambda ts: ts.timestamp() - t0)
        # flagged: exactly the intervals that overlap the frozen window (plus the stale_after_s it takes to tell)
        overlaps = (start_s + 60 > 200) & (start_s < 200 + duration_s + 1)
        assert stale.sum() >= 1 and not (stale & ~overlaps).any()
        assert (stale == overlaps).sum() >= len(rec) - 1
        # estimated from the bus balance of the fresh devices: nothing booked to dump, the physics' energy kept
        assert rec.loc[stale, "dump_kwh"].sum() < 0.01
        tr = rig.twin.plant.trace_frame()
        span = tr[(tr.t_s > start_s.min()) & (tr.t_s <= start_s.max() + 60 + 1e-9)]
        for col in ("load_served_kwh", "bat_in_kwh", "grid_in_kwh", "pv_used_kwh"):
            assert rec[col].sum() == pytest.approx(span[col].sum(), abs=0.05 + 0.002 * span[col].sum()), col
        report = build_report(sink.store)
        item = "share of the load served not measured (estimated, gap-filled, simulated)"
        share = report.summary.set_index("item")["value"][item]
        served = rec["load_served_kwh"]
        assert share == pytest.approx(served[stale].sum() / served.sum(), rel=1e-9) and 0 < share < 1
    finally:
        sink.close()
