"""Metered rows as the controller appends them: one row at a time, dt_s given, meter noise and counter rounding.

Metered sources and sinks never balance exactly; proportional sharing then carries more (or less) carbon
out of the bus than came in, by the relative imbalance. The ledger reconciles each row (surplus to
``dump_kwh``, shortfall to the largest source, flagged ``reconciled``) before the carbon flow, so the
chain verifies at the 1e-9 of its carbon checks, and it still finds any altered byte.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

import islandgrid
from islandgrid.errors import ChainBrokenError, DataFileError
from islandgrid.ledger import open_ledger
from islandgrid.ledger.backend import SITE_STRIDE
from islandgrid.ledger.batch import bus_residual, flow_columns
from islandgrid.ledger.record import FLAG_RECONCILED, RECORD_SIZE
from islandgrid.ledger.verify import read_records, verify_chain
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

N = 200
#: What a meter measures (with its own error); the rest of the row follows from these.
METERED = (
    "pv_used_kwh",
    "pv_available_kwh",
    "grid_in_kwh",
    "grid_out_kwh",
    "diesel_kwh",
    "fuel_l",
    "bat_in_kwh",
    "bat_out_kwh",
    "bat_selfdis_kwh",
    "load_served_kwh",
    "dump_kwh",
)


@pytest.fixture(scope="module")
def metered(horinger: Site) -> pd.DataFrame:
    """200 one-minute intervals of a simulated year with charge, discharge, import and self-discharge, as metered:
    every counter off by up to +-0.5 %, then rounded to float32 and to the counters' 1 mWh."""
    flows = islandgrid.simulate(horinger, resolution="1min", baseline=False).flows
    bo, bi, gi = (flows[c].to_numpy() > 0 for c in ("bat_out_kwh", "bat_in_kwh", "grid_in_kwh"))
    start = next(a for a in range(0, len(flows) - N, 60) if min(bo[a : a + N].sum(), bi[a : a + N].sum()) > 20)
    window = flows.iloc[start : start + N].copy()
    assert gi[start : start + N].any() and (window["bat_selfdis_kwh"] > 0).all()
    rng = np.random.default_rng(11)
    for c in METERED:
        noisy = window[c].to_numpy() * (1.0 + rng.uniform(-0.005, 0.005, N))
        window[c] = np.round(noisy.astype(np.float32).astype(np.float64), 6)
    window["pv_curtailed_kwh"] = np.maximum(window["pv_available_kwh"] - window["pv_used_kwh"], 0.0)
    window["load_kwh"] = window["load_served_kwh"] + window["unserved_kwh"]
    window.index = pd.DatetimeIndex(window.index.to_numpy(), tz=window.index.tz)  # no freq, as the controller's rows
    return window[list(FLOW_COLUMNS)]


def _rows(frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [pd.DataFrame(frame.iloc[[i]].to_dict("list"), index=pd.DatetimeIndex([frame.index[i]])) for i in range(N)]


def test_one_row_appends_of_noisy_meters_verify(horinger: Site, metered: pd.DataFrame, tmp_path) -> None:
    resid, through = bus_residual(flow_columns(metered))
    assert (np.abs(resid) > 1e-6 * through).mean() > 0.9  # the rows really are off balance
    db = tmp_path / "m.db"
    with open_ledger(db) as store:
        for row in _rows(metered):
            assert store.append_flows(horinger, row, quality="measured", dt_s=60) == 1
        rep = verify_chain(store)
        rec = read_records(store)
    assert rep.n_records == N and rep.gaps == 0
    assert rec["dt_s"].eq(60).all() and rec["quality"].eq("measured").all()
    off = np.abs(resid) > 1e-12 * through
    np.testing.assert_array_equal((rec["flags"].to_numpy() & FLAG_RECONCILED) > 0, off)
    # what the meters said is kept bit for bit, except the one figure each reconciliation moved
    for c in ("load_served_kwh", "bat_in_kwh", "grid_out_kwh", "bat_selfdis_kwh", "fuel_l", "soc_kwh"):
        np.testing.assert_array_equal(rec[c].to_numpy(), metered[c].to_numpy())
    surplus = resid > 0
    np.testing.assert_allclose(rec["dump_kwh"].to_numpy()[surplus], (metered["dump_kwh"] + resid).to_numpy()[surplus])
    stored_resid, _ = bus_residual({c: rec[c].to_numpy() for c in rec.columns if c.endswith("_kwh")})
    assert np.abs(stored_resid).max() <= 1e-12 * through.max()  # every stored row balances
    # carbon: emissions = what the load, export and losses carry + the battery stock's change, over the 200 rows
    emitted = (rec["grid_co2_kg"] + rec["diesel_co2_kg"]).sum()
    carried = (rec["load_co2_kg"] + rec["export_co2_kg"] + rec["dump_co2_kg"]).sum()
    stock = rec["bat_co2_stock_kg"].to_numpy()
    first_in = rec[["grid_co2_kg", "diesel_co2_kg"]].iloc[0].sum()
    first_out = rec[["load_co2_kg", "export_co2_kg", "dump_co2_kg"]].iloc[0].sum()
    start_stock = stock[0] - (first_in - first_out)
    assert emitted == pytest.approx(carried + stock[-1] - start_stock, rel=1e-9, abs=1e-9)

    # the battery's carbon carried over 200 one-row appends is the same, to the bit, as in one append
    with open_ledger(tmp_path / "one.db") as one:
        one.append_flows(horinger, metered, quality="measured", dt_s=60)
        tip_one = one.tip()
    assert tip_one is not None and tip_one.hash == rep.tip_hash

    # any altered byte is still found
    key = SITE_STRIDE + 123

    def put(payload: bytes) -> None:  # behind the ledger's back (open_ledger restores the triggers)
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("DROP TRIGGER IF EXISTS records_no_update")
        con.execute("UPDATE records SET payload = ? WHERE key = ?", (payload, key))
        con.close()

    with sqlite3.connect(db) as con:
        (payload,) = con.execute("SELECT payload FROM records WHERE key = ?", (key,)).fetchone()
    for byte in (0, 8, 60, 200, RECORD_SIZE - 1):
        b = bytearray(payload)
        b[byte] ^= 0x10
        put(bytes(b))
        with open_ledger(db) as store, pytest.raises(ChainBrokenError, match="seq 123"):
            verify_chain(store)
    put(payload)
    with open_ledger(db) as store:
        assert verify_chain(store).tip_hash == rep.tip_hash


def test_a_row_off_balance_beyond_the_meter_tolerance_is_refused(horinger: Site, metered: pd.DataFrame) -> None:
    store = open_ledger(":memory:")
    rows = _rows(metered)
    store.append_flows(horinger, rows[0], dt_s=60)
    before = store.tip()
    bad = rows[1].copy()
    bad["load_served_kwh"] *= 1.5  # 50 % more consumed than supplied: a meter fault, not rounding
    with pytest.raises(DataFileError, match="sources and sinks differ"):
        store.append_flows(horinger, bad, dt_s=60)
    after = store.tip()
    assert before is not None and after is not None and after.hash == before.hash
    assert store.append_flows(horinger, rows[1], dt_s=60) == 1
    store.close()


def test_every_chain_counts_the_opening_charge_as_fossil_grid_energy() -> None:
    """One rule for the battery's opening charge (issue 10 §4): nobody knows where it came from.

    Three night hours served from the battery alone: on a simulated chain ('estimated') and on a
    metered chain ('measured') alike it is counted at the fossil-only factor and reaches the load as
    grid energy, never as PV (a simulated chain used to count it as PV).
    """
    from islandgrid.carbon.factors import get_factor

    site = islandgrid.load_site("examples/horinger-ai-room.toml")
    idx = pd.date_range("2025-01-10 00:00", periods=3, freq="1h", tz=site.location.tz)
    rows = pd.DataFrame(0.0, index=idx, columns=list(FLOW_COLUMNS))
    for c in ("load_kwh", "load_served_kwh", "bat_out_kwh"):
        rows[c] = 30.0
    rows["critical_load_kwh"] = 18.0
    rows["soc_kwh"] = np.nan
    rows["grid_available"] = 1.0
    factor = get_factor("mee-national-fossil-2023").value  # kg/kWh, from the bundled registry
    # 30 kWh delivered took 30 / eta_d kWh of stored energy at `factor` per kWh stored
    expected_kg = 30.0 / site.battery.eta_discharge * factor
    for quality in ("estimated", "measured"):
        store = open_ledger(":memory:")
        store.append_flows(site, rows, quality=quality)
        rec = read_records(store)
        store.close()
        assert np.all(rec["load_pv_frac"] == 0.0) and np.allclose(rec["load_grid_frac"], 1.0), quality
        np.testing.assert_allclose(rec["load_co2_kg"], expected_kg, rtol=1e-9, err_msg=quality)


@pytest.mark.parametrize("quality", ["estimated", "measured"])
def test_a_design_without_pv_has_a_pv_share_of_exactly_zero(quality: str) -> None:
    """0 kWp: the simulated year's PV share is exactly 0 (it was 0.00015 with the opening charge counted
    as PV), and so is the PV share of the same flows booked as a simulated or a metered chain."""
    site = islandgrid.load_site("examples/horinger-ai-room.toml")
    site = site.model_copy(update={"pv": site.pv.model_copy(update={"kwp": 0.0})})
    res = islandgrid.simulate(site, baseline=False)
    assert res.kpis["pv_share"] == 0.0 and res.kpis["pv_to_load_kwh"] == 0.0
    assert res.flows["bat_out_kwh"].sum() > 0.0  # the opening charge does reach the load
    week = res.flows.iloc[: 24 * 7].copy()
    store = open_ledger(":memory:")
    store.append_flows(site, week, quality=quality)
    rec = read_records(store)
    store.close()
    assert float((rec["load_pv_frac"] * rec["load_served_kwh"]).sum()) == 0.0
