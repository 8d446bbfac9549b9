"""Sizing: the kernel equals ``islandgrid.simulate``, the choice meets the targets, the front
is non-dominated, and bad targets or ranges say what to relax."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import islandgrid
from islandgrid.cli.main import app
from islandgrid.errors import TargetError
from islandgrid.site.sizing import SearchRange, SizingSpec
from islandgrid.sizing.designs import Design, design_grid, design_site
from islandgrid.sizing.kernel import KPI_COLUMNS
from islandgrid.sizing.search import evaluate, pareto_front, require_feasible, run_sizing
from sizing_helpers import EXAMPLES, reference_inputs, reference_site, small_spec

# KPIs the kernel sums and simulate reports under the same name
_SAME = [c for c in KPI_COLUMNS if c not in ("bat_out_kwh",)]


@settings(max_examples=4, deadline=None)
@given(
    pv=st.sampled_from([0.0, 150.0, 640.0, 1300.0]),
    e=st.sampled_from([0.0, 300.0, 1500.0, 2750.0]),
    p=st.sampled_from([100.0, 250.0, 600.0]),
    g=st.sampled_from([0.0, 60.0, 100.0, 150.0]),
    strategy=st.sampled_from(["pv_first", "load_following", "cycle_charging"]),
)
def test_kernel_kpis_equal_simulate(pv: float, e: float, p: float, g: float, strategy: str) -> None:
    """The same design through the sizing kernel and through islandgrid.simulate (which
    also checks every interval's balance and carbon conservation): equal to 1e-9 relative.
    The only differences allowed are summation order and PV scaled from 1 kWp (round-off)."""
    site = reference_site()
    d = pd.DataFrame([{"pv_kwp": pv, "battery_kwh": e, "battery_kw": p if e > 0 else 0.0, "genset_kw": g,
                       "strategy": strategy}])  # fmt: skip
    k = dict(zip(KPI_COLUMNS, evaluate(site, reference_inputs(), d)[0], strict=True))
    r = islandgrid.simulate(design_site(site, Design(*d.iloc[0].tolist())), baseline=False)
    for c in _SAME:
        assert k[c] == pytest.approx(r.kpis[c], rel=1e-9, abs=1e-6), c
    assert k["pv_to_load_kwh"] / k["served_kwh"] == pytest.approx(r.kpis["pv_share"], rel=1e-9)
    assert k["co2_scope1_kg"] + k["co2_scope2_location_kg"] == pytest.approx(r.kpis["co2_kg"], rel=1e-9)


@pytest.fixture(scope="module")
def sized() -> object:
    return run_sizing(reference_site(), small_spec(pv_share_min=0.8, diesel_hours_max=50.0))


def test_cheapest_feasible_meets_targets_and_is_cheapest(sized) -> None:  # type: ignore[no-untyped-def]
    t = sized.table
    assert sized.best is not None
    best = t.iloc[sized.best]
    assert best["pv_share"] >= 0.8 and best["diesel_hours"] <= 50.0 and best["unserved_critical_kwh"] <= 1e-6
    feas = t[(t.pv_share >= 0.8) & (t.diesel_hours <= 50) & (t.unserved_critical_kwh <= 1e-6)]
    assert best["npc"] == pytest.approx(feas["npc"].min())
    # the 100 kW room's seed equipment (220 kWp / 500 kWh) cannot reach 80 % PV
    seed = t[(t.pv_kwp == 200) & (t.battery_kwh == 500)]
    assert (seed["pv_share"] < 0.8).all()
    # and the winner re-run through simulate agrees with the kernel
    r = islandgrid.simulate(design_site(reference_site(), sized.best_design()), baseline=False)
    assert r.kpis["pv_share"] == pytest.approx(best["pv_share"], rel=1e-9)
    assert r.kpis["diesel_hours"] == pytest.approx(best["diesel_hours"], rel=1e-9, abs=1e-9)


def test_pareto_front_is_non_dominated(sized) -> None:  # type: ignore[no-untyped-def]
    t = sized.table
    npc, co2 = t["npc"].to_numpy(), t["co2_kg"].to_numpy()
    for i in sized.pareto:
        dominated = (npc <= npc[i]) & (co2 <= co2[i]) & ((npc < npc[i]) | (co2 < co2[i]))
        assert not dominated.any()
    # every design off the front is dominated by (or ties with) one on it
    front = sized.pareto
    for j in np.setdiff1d(np.arange(len(t)), front)[::37]:
        assert ((npc[front] <= npc[j]) & (co2[front] <= co2[j])).any()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40))
def test_pareto_front_property(points: list[tuple[int, int]]) -> None:
    a = np.asarray(points, dtype=float)
    front = pareto_front(a[:, 0], a[:, 1])
    for i in front:
        dom = (a[:, 0] <= a[i, 0]) & (a[:, 1] <= a[i, 1]) & ((a[:, 0] < a[i, 0]) | (a[:, 1] < a[i, 1]))
        assert not dom.any()
    for j in range(len(a)):
        assert ((a[front, 0] <= a[j, 0]) & (a[front, 1] <= a[j, 1])).any()


def test_infeasible_target_says_what_to_relax() -> None:
    spec = SizingSpec(
        pv_kwp=SearchRange(values=[0, 200]),
        battery_kwh=SearchRange(values=[0, 500]),
        battery_kw=SearchRange(values=[250]),
        genset_kw=SearchRange(values=[100]),
        pv_share_min=0.8,
    )
    res = run_sizing(reference_site(), spec)
    assert res.best is None
    with pytest.raises(TargetError) as err:
        require_feasible(res)
    msg = str(err.value)
    best = res.table["pv_share"].max()
    assert "pv_share" in msg and "Relax pv_share_min" in msg and f"{best:.4g}" in msg
    assert "sizing.pv_kwp above 200" in msg


@pytest.mark.parametrize(
    ("field", "rng"),
    [("pv_kwp", SearchRange(min=500, max=100, step=50)), ("battery_kwh", SearchRange(values=[]))],
)
def test_empty_range_is_a_target_error(field: str, rng: SearchRange) -> None:
    with pytest.raises(TargetError, match=f"sizing.{field}.*empty"):
        design_grid(SizingSpec(**{field: rng}))


def test_unknown_strategy_and_too_many_designs() -> None:
    with pytest.raises(TargetError, match=r"sizing\.strategies"):
        design_grid(SizingSpec(strategies=["mpc"]))
    with pytest.raises(TargetError, match="max_designs"):
        design_grid(SizingSpec(max_designs=10))


def test_cli_infeasible_exits_2_and_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "reference-100kw-sizing.toml").read_text()
    head = text.split("[sizing]")[0].replace('"data/', f'"{EXAMPLES}/data/')
    site = tmp_path / "s.toml"
    site.write_text(
        head + "[sizing]\npv_kwp = { values = [0, 100] }\nbattery_kwh = { values = [0] }\n"
        "genset_kw = { values = [100] }\npv_share_min = 0.9\n"
    )
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["size", str(site), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "Relax pv_share_min" in r.output and "Traceback" not in r.output
    assert not out.exists()
