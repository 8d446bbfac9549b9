"""Carbon flow: conservation (hypothesis), the pool equations (docs/ledger.md) by hand, FIFO, diesel part load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core_helpers import battery, genset, problem
from islandgrid.carbon.flow import CarbonState, carbon_flow, carbon_flow_state, pv_share
from islandgrid.simulate.kpis import compute_kpis
from islandgrid.strategy.base import FLOW_COLUMNS
from islandgrid.strategy.rules import RuleStrategy


def _flows(rows: list[dict[str, float]]) -> pd.DataFrame:
    idx = pd.date_range("2025-01-01", periods=len(rows), freq="h", tz="Asia/Shanghai")
    data = {c: [float(r.get(c, 0.0)) for r in rows] for c in FLOW_COLUMNS}  # one frame, not a setitem per cell
    return pd.DataFrame(data, index=idx, columns=list(FLOW_COLUMNS))


@st.composite
def balanced_flows(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray, float, float, float]:
    """Random balanced flow sequences: sources chosen freely, battery charge/export/dump from the surplus."""
    n = draw(st.integers(1, 40))
    e = st.floats(0, 50, allow_nan=False)
    rows = []
    for _ in range(n):
        pv, gi, di, bo = draw(e), draw(e), draw(e), draw(e)
        supply = pv + gi + di + bo
        split = draw(st.lists(st.floats(0, 1), min_size=4, max_size=4))
        w = np.array(split) + 1e-9
        load, bi, go, dump = supply * w / w.sum()
        rows.append(
            {
                "pv_used_kwh": pv,
                "grid_in_kwh": gi,
                "diesel_kwh": di,
                "bat_out_kwh": bo,
                "load_served_kwh": load,
                "bat_in_kwh": bi,
                "grid_out_kwh": go,
                "dump_kwh": dump,
                "fuel_l": draw(st.floats(0, 20)) if di > 0 or draw(st.booleans()) else 0.0,
                "bat_selfdis_kwh": draw(st.sampled_from([0.0, 0.01, 0.5])),
            }
        )
    grid = np.array(draw(st.lists(st.floats(0, 1.2), min_size=n, max_size=n)))
    return _flows(rows), grid, draw(st.floats(0.6, 1.0)), draw(st.floats(0.6, 1.0)), draw(st.floats(0, 300))


@settings(max_examples=600, deadline=None)
@given(case=balanced_flows(), rule=st.sampled_from(["pool", "fifo"]))
def test_conservation_any_flows_any_efficiencies(case, rule: str) -> None:
    """Grid + diesel emissions = load + export (+ loss) emissions + change of the battery's carbon stock."""
    flows, grid, eta_c, eta_d, s0 = case
    state = CarbonState(((s0, 0.3 * s0, 0.5, 0.3, 0.2),))
    c, end = carbon_flow_state(flows, grid, 2.68, state, eta_c, eta_d, rule=rule)  # checks every interval
    emitted = (flows["grid_in_kwh"] * grid).sum() + flows["fuel_l"].sum() * 2.68
    carried = c["load_co2_kg"].sum() + c["export_co2_kg"].sum() + c["dump_co2_kg"].sum()
    assert emitted == pytest.approx(carried + end.co2_kg - state.co2_kg, rel=1e-9, abs=1e-9)
    assert end.co2_kg == pytest.approx(c["bat_co2_stock_kg"].iloc[-1], rel=1e-9, abs=1e-9)
    supplied = (flows[["pv_used_kwh", "grid_in_kwh", "diesel_kwh", "bat_out_kwh"]].sum(axis=1) > 1e-9).to_numpy()
    mix = c[["load_pv_frac", "load_grid_frac", "load_diesel_frac"]].sum(axis=1).to_numpy()
    np.testing.assert_allclose(mix[supplied], 1.0, atol=1e-9)


def test_pool_by_hand() -> None:
    """The pool by hand: charge 10 kWh of grid at 0.6, then discharge into a PV-less night.

    eta_c = eta_d = 0.9, empty battery. Interval 0: bus = 10 kWh grid + 10 kWh PV, load 10,
    charge 10: e_bus = 6/20 = 0.3; M = 10 x 0.3 = 3 kg; S = 9 kWh.
    Interval 1: discharge 8.1 kWh (= all 9 kWh stored x 0.9): e_bat = M/(S eta_d) = 3/8.1;
    the load carries all 3 kg; M = 0.
    """
    flows = _flows(
        [
            {"grid_in_kwh": 10, "pv_used_kwh": 10, "load_served_kwh": 10, "bat_in_kwh": 10},
            {"bat_out_kwh": 8.1, "load_served_kwh": 8.1},
        ]
    )
    c = carbon_flow(flows, np.array([0.6, 0.6]), 2.68, 0.0, 0.9, 0.9)
    assert c["e_bus_kg_per_kwh"].iloc[0] == pytest.approx(0.3)
    assert c["bat_co2_stock_kg"].iloc[0] == pytest.approx(3.0)
    assert c["bat_energy_kwh"].iloc[0] == pytest.approx(9.0)
    assert c["e_bat_kg_per_kwh"].iloc[1] == pytest.approx(3.0 / 8.1)
    assert c["load_co2_kg"].iloc[1] == pytest.approx(3.0)
    assert c["bat_co2_stock_kg"].iloc[1] == pytest.approx(0.0, abs=1e-12)
    # losses: 1 kWh on charge (bus mix: half PV, half grid), 0.9 kWh on discharge (pool mix)
    assert c["loss_kwh"].iloc[0] == pytest.approx(1.0)
    assert c["loss_pv_frac"].iloc[0] == pytest.approx(0.5)
    assert c["load_pv_frac"].iloc[1] == pytest.approx(0.5)
    assert pv_share(flows["load_served_kwh"], c["load_pv_frac"]) == pytest.approx(0.5)


def test_fifo_releases_oldest_first() -> None:
    """Charge a PV parcel, then a grid parcel; FIFO discharges the PV one first (pool would mix)."""
    flows = _flows(
        [
            {"pv_used_kwh": 10, "bat_in_kwh": 10},
            {"grid_in_kwh": 10, "bat_in_kwh": 10},
            {"bat_out_kwh": 10, "load_served_kwh": 10},
        ]
    )
    fifo = carbon_flow(flows, np.full(3, 0.5), 2.68, 0.0, 1.0, 1.0, rule="fifo")
    pool = carbon_flow(flows, np.full(3, 0.5), 2.68, 0.0, 1.0, 1.0, rule="pool")
    assert fifo["load_pv_frac"].iloc[2] == pytest.approx(1.0)
    assert fifo["load_co2_kg"].iloc[2] == pytest.approx(0.0)
    assert fifo["bat_co2_stock_kg"].iloc[2] == pytest.approx(5.0)
    assert pool["load_pv_frac"].iloc[2] == pytest.approx(0.5)
    assert pool["load_co2_kg"].iloc[2] == pytest.approx(2.5)


def test_diesel_intensity_shows_part_load() -> None:
    """e_diesel = fuel_l x 2.68 / kWh: at 25 % load the 6BT5.9-G2 sheet (7.3 L/h for 23 kW) gives
    0.851 kg/kWh, at 100 % (23.5 L/h for 92 kW) 0.685 kg/kWh (Cummins 6BT5.9-G2 data sheet)."""
    flows = _flows(
        [
            {"diesel_kwh": 23.0, "fuel_l": 7.3, "load_served_kwh": 23.0},
            {"diesel_kwh": 92.0, "fuel_l": 23.5, "load_served_kwh": 92.0},
        ]
    )
    c = carbon_flow(flows, np.zeros(2), 2.68, 0.0, 0.95, 0.95)
    assert c["e_bus_kg_per_kwh"].iloc[0] == pytest.approx(7.3 * 2.68 / 23.0)  # 0.8506
    assert c["e_bus_kg_per_kwh"].iloc[1] == pytest.approx(23.5 * 2.68 / 92.0)  # 0.6846
    assert c["e_bus_kg_per_kwh"].iloc[0] > c["e_bus_kg_per_kwh"].iloc[1]


def test_simulation_pv_share_by_hand() -> None:
    """The engine's ``pv_share`` KPI on a hand case, worked out without the carbon flow.

    Empty lossless battery (SoC min 0), load following, grid up, 10 kW load for 3 hours:
    hour 1 PV 20 kW serves 10 kWh and charges 10 kWh; hour 2 the battery gives those 10 kWh
    (PV energy, stored) to the load; hour 3 the grid serves 10 kWh. PV reached 20 of the 30 kWh
    served: pv_share = 2/3, the grid's 10 kWh carry 6 kg at 0.6 kg/kWh.
    """
    p = problem([20, 0, 0], [10, 10, 10], [True] * 3, bat=battery(100, 50, soc_init=0.0), gen=genset(0.0))
    f = pd.DataFrame(RuleStrategy("load_following").dispatch(p), index=p.index)
    c = carbon_flow(f, p.grid_co2_kg_per_kwh, 2.68, 0.0, 1.0, 1.0)
    kpis = compute_kpis(f, c, p, pd.DataFrame(columns=["start", "end"]))
    assert kpis["pv_share"] == pytest.approx(2 / 3, rel=1e-12)
    assert kpis["co2_kg"] == pytest.approx(6.0, rel=1e-12)
