"""The ledger's append API the controller uses: append, tip, continuation, gaps, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import islandgrid
from islandgrid.errors import DataFileError
from islandgrid.ledger import open_ledger
from islandgrid.ledger.record import FLAG_AFTER_GAP, genesis_hash
from islandgrid.site.spec import Site


@pytest.fixture(scope="module")
def week(horinger: Site) -> pd.DataFrame:
    """A week of simulated hourly flows of the seed case (with battery cycling and an outage or not)."""
    return islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 150 : 24 * 157]


def test_append_returns_count_and_tip(horinger: Site, week: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    assert store.tip() is None
    n = store.append_flows(horinger, week, quality="measured")
    assert n == len(week)
    tip = store.tip("horinger-ai-room")
    assert tip is not None
    assert tip.seq == len(week) - 1
    assert tip.ts == week.index[-1].tz_convert("UTC")
    assert tip.dt_s == 3600
    assert tip.quality == "measured"
    assert len(tip.hash) == 64
    same = store.tip()  # the only site
    assert same is not None and (same.seq, same.hash) == (tip.seq, tip.hash)
    store.close()


def test_pieces_chain_to_the_same_hashes_as_one_append(horinger: Site, week: pd.DataFrame) -> None:
    """The carbon flow continues from the tip's battery stock: three appends == one append, to the bit."""
    one = open_ledger(":memory:")
    one.append_flows(horinger, week)
    parts = open_ledger(":memory:")
    for piece in (week.iloc[:5], week.iloc[5:6], week.iloc[6:]):
        parts.append_flows(horinger, piece)
    a, b = one.tip(), parts.tip()
    assert a is not None and b is not None
    assert a.hash == b.hash
    np.testing.assert_array_equal(list(a.values.values()), list(b.values.values()))


def test_fifo_pieces_continue_the_queue(horinger: Site, week: pd.DataFrame) -> None:
    fifo = horinger.model_copy(update={"carbon": horinger.carbon.model_copy(update={"battery_rule": "fifo"})})
    one = open_ledger(":memory:")
    one.append_flows(fifo, week)
    parts = open_ledger(":memory:")
    parts.append_flows(fifo, week.iloc[:50])
    parts.append_flows(fifo, week.iloc[50:])
    a, b = one.tip(), parts.tip()
    assert a is not None and b is not None
    assert a.hash == b.hash


def test_gap_is_flagged_not_joined(horinger: Site, week: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    store.append_flows(horinger, week.iloc[:10])
    store.append_flows(horinger, week.iloc[13:20])  # 3 hours missing
    from islandgrid.ledger.verify import read_records

    recs = read_records(store)
    flags = recs["flags"].to_numpy()
    assert flags[10] & FLAG_AFTER_GAP
    assert not (flags[:10] & FLAG_AFTER_GAP).any() and not (flags[11:] & FLAG_AFTER_GAP).any()
    # the stock carries over the gap: the battery's carbon is continuous
    assert recs["seq"].tolist() == list(range(17))


def test_single_row_appends_with_dt(horinger: Site, week: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    row = week.iloc[[0]]
    row.index.freq = None
    with pytest.raises(DataFileError, match="dt_s"):
        store.append_flows(horinger, row)
    assert store.append_flows(horinger, row, dt_s=3600) == 1
    assert store.append_flows(horinger, week.iloc[[1]]) == 1  # the tip gives the step now
    tip = store.tip()
    assert tip is not None and tip.seq == 1


def test_overlap_and_bad_rows_leave_the_ledger_untouched(horinger: Site, week: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    store.append_flows(horinger, week.iloc[:24])
    before = store.tip()
    with pytest.raises(DataFileError, match="does not follow"):
        store.append_flows(horinger, week.iloc[20:30])
    bad = week.iloc[24:30].copy()
    bad.iloc[3, bad.columns.get_loc("grid_in_kwh")] = -1.0
    with pytest.raises(DataFileError, match="non-negative"):
        store.append_flows(horinger, bad)
    with pytest.raises(DataFileError, match="quality"):
        store.append_flows(horinger, week.iloc[24:30], quality="guessed")
    naive = week.iloc[24:30].tz_localize(None)
    with pytest.raises(DataFileError, match="tz-aware"):
        store.append_flows(horinger, naive)
    after = store.tip()
    assert before is not None and after is not None and after.hash == before.hash


def test_first_record_chains_to_the_genesis(horinger: Site, week: pd.DataFrame) -> None:
    import hashlib

    store = open_ledger(":memory:")
    store.append_flows(horinger, week.iloc[:1])
    row = store.backend.last_row("horinger-ai-room")
    assert row is not None
    _, _, payload, digest = row
    info = store.backend.site_info("horinger-ai-room")  # format 2: the genesis carries the site's stored info
    assert info == '{"name":"Horinger AI room","site_id":"horinger-ai-room","tz":"Asia/Shanghai"}'
    assert digest == hashlib.sha256(genesis_hash("horinger-ai-room", info) + payload).digest()


def test_per_row_quality(horinger: Site, week: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    q = ["measured", "estimated", "default"] * 2
    store.append_flows(horinger, week.iloc[:6], quality=q)
    from islandgrid.ledger.verify import read_records

    assert read_records(store)["quality"].tolist() == q
    assert np.isfinite(read_records(store)["load_co2_kg"]).all()


def test_append_streams_in_slices_to_the_same_chain(horinger: Site, week: pd.DataFrame, monkeypatch) -> None:
    """Records are packed and hashed a slice at a time as SQLite takes them: the slice size changes nothing."""
    from islandgrid.ledger import batch

    one = open_ledger(":memory:")
    one.append_flows(horinger, week)
    monkeypatch.setattr(batch, "SLICE", 7)
    sliced = open_ledger(":memory:")
    sliced.append_flows(horinger, week)
    a, b = one.tip(), sliced.tip()
    assert a is not None and b is not None and a.hash == b.hash and b.seq == len(week) - 1
    from islandgrid.ledger.verify import verify_chain

    assert verify_chain(sliced).tip_hash == a.hash
