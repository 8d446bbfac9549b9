"""Property tests of the engine's physics on random problems (hypothesis).

For every strategy and random inputs, parameters and outages:
- every interval balances and the SoC stays within its limits (``check_flows``);
- unserved energy appears only where no source could serve it;
- the carbon flow conserves carbon.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core_helpers import battery, genset, problem
from islandgrid.carbon.flow import carbon_flow
from islandgrid.simulate.checks import check_flows
from islandgrid.strategy.rules import RuleStrategy

TOL = 1e-6


@st.composite
def random_problem(draw: st.DrawFn):
    n = draw(st.integers(1, 36))
    dt_h = draw(st.sampled_from([1.0, 0.25, 1 / 60]))
    floats = st.floats(0, 120, allow_nan=False)
    pv = draw(st.lists(floats, min_size=n, max_size=n))
    load = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=n, max_size=n))
    up = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    soc_min = draw(st.floats(0, 0.3))
    soc_max = draw(st.floats(0.6, 1.0))
    bat = battery(
        energy_kwh=draw(st.sampled_from([0.0, 20.0, 200.0])),
        p_kw=draw(st.floats(1, 100)),
        eta=draw(st.floats(0.8, 1.0)),
        eta_d=draw(st.floats(0.8, 1.0)),
        soc_min=soc_min,
        soc_max=soc_max,
        soc_init=draw(st.floats(soc_min, soc_max)),
        reserve=draw(st.floats(soc_min, soc_max)),
        selfdis_per_h=draw(st.sampled_from([0.0, 0.001])),
    )
    gen = genset(
        rated_kw=draw(st.sampled_from([0.0, 30.0, 80.0])),
        min_frac=draw(st.floats(0, 0.5)),
        min_run_h=draw(st.sampled_from([0.0, 0.5, 2.0])),
        delay_h=draw(st.sampled_from([0.0, 10 / 3600])),
    )
    return problem(
        pv,
        load,
        up,
        bat=bat,
        gen=gen,
        dt_h=dt_h,
        import_kw=draw(st.sampled_from([0.0, 30.0, 500.0])),
        export_kw=draw(st.sampled_from([0.0, 20.0])),
        critical_frac=draw(st.floats(0, 1)),
        setpoint_frac=draw(st.floats(0.3, 1.0)),
    )


@settings(max_examples=300, deadline=None)
@given(p=random_problem(), name=st.sampled_from(["pv_first", "load_following", "cycle_charging", "battery_first"]))
def test_balance_soc_and_unserved_only_when_unavoidable(p, name: str) -> None:
    strategy = RuleStrategy(name)
    f = strategy.dispatch(p)
    check_flows(f, p, commitment=strategy.commits_genset)  # raises on any broken promise
    b, g, dt = p.battery, p.genset, p.dt_h
    soc_prev = np.concatenate(([b.soc_init_kwh], f["soc_kwh"][:-1]))
    # ran through the whole previous interval (so no start delay now); a genset that stopped within
    # it, or started in it, gets the weaker bound with its start delay
    gen_prev_on = np.concatenate(([0.0], f["genset_on"][:-1])) >= 1.0 - 1e-9
    for t in np.flatnonzero(f["unserved_kwh"] > TOL):
        # all PV used, the battery at its minimum or its power limit, the grid down or at its limit,
        # the genset at what it can give (less its start delay in a starting interval)
        # PV is curtailed only to absorb the genset's minimum-load surplus in the same interval
        if f["pv_curtailed_kwh"][t] > TOL:
            assert f["diesel_kwh"][t] <= g.min_load_kw * f["genset_on"][t] * dt + 1e-6
        start = soc_prev[t] - f["bat_selfdis_kwh"][t]
        can_bat = min(b.discharge_kw * dt, max(start - b.soc_min_kwh, 0.0) * b.eta_discharge)
        assert f["bat_out_kwh"][t] >= can_bat - 1e-6
        if p.grid_available[t]:
            assert f["grid_in_kwh"][t] >= p.grid.import_kw * dt - 1e-6
        if g.rated_kw > 0:
            net_kw = p.load_kw[t] - p.pv_kw[t] - (p.grid.import_kw if p.grid_available[t] else 0.0)
            run_h = dt if gen_prev_on[t] else max(dt - g.start_delay_h, 0.0)
            assert f["diesel_kwh"][t] >= min(g.rated_kw, net_kw) * run_h - 1e-6


@settings(max_examples=150, deadline=None)
@given(p=random_problem(), name=st.sampled_from(["pv_first", "load_following", "cycle_charging", "battery_first"]))
def test_carbon_conserved_for_engine_flows(p, name: str) -> None:
    import pandas as pd

    f = RuleStrategy(name).dispatch(p)
    flows = pd.DataFrame(f, index=p.index)
    carbon = carbon_flow(
        flows, p.grid_co2_kg_per_kwh, 2.68, p.battery.soc_init_kwh, p.battery.eta_charge, p.battery.eta_discharge
    )  # raises CarbonConservationError if not conserved
    shares = carbon[["load_pv_frac", "load_grid_frac", "load_diesel_frac"]].sum(axis=1).to_numpy()
    supplied = (flows["pv_used_kwh"] + flows["grid_in_kwh"] + flows["diesel_kwh"] + flows["bat_out_kwh"]).to_numpy()
    np.testing.assert_allclose(shares[supplied > 1e-9], 1.0, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    p=random_problem(),
    name=st.sampled_from(["pv_first", "load_following", "cycle_charging"]),
    min_off_h=st.sampled_from([0.25, 1.0, 3.0]),
)
def test_minimum_off_time_is_kept(p, name: str, min_off_h: float) -> None:
    """With a minimum off time every run still passes every check, the off time included."""
    from dataclasses import replace

    q = replace(p, genset=replace(p.genset, min_off_h=min_off_h))
    check_flows(RuleStrategy(name).dispatch(q), q)
