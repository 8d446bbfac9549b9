"""Scenario years: reproducible draws, the one-draw year reproduced, quantiles, pruning rule, generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import islandgrid
from islandgrid.inputs import grid as grid_inputs
from islandgrid.scenarios.draws import base_year, draw, identity_draws, scenario_rng
from islandgrid.scenarios.kernel import scenario_kpis
from islandgrid.scenarios.runner import run_batch, run_scenarios
from islandgrid.scenarios.study import own_design, run_site, study_inputs
from islandgrid.scenarios.summary import at_confidence, derive, max_violations, p_targets_met, quantiles
from islandgrid.site.spec import Site
from islandgrid.sizing.designs import param_rows
from islandgrid.sizing.kernel import KPI_COLUMNS
from islandgrid.sizing.search import evaluate

K = {k: i for i, k in enumerate(KPI_COLUMNS)}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def study(horinger: Site):  # type: ignore[no-untyped-def]
    site_x, inputs, base, base_row = study_inputs(horinger)
    params = np.vstack([param_rows(site_x, own_design(horinger)), base_row])
    return site_x, inputs, base, params


def _run_draws(base, params, d):  # type: ignore[no-untyped-def]
    k = np.full((params.shape[0], d.weather_id.size, len(KPI_COLUMNS)), np.nan)
    scenario_kpis(
        params, base.dt_h, base.step_min, base.pv1_kw, base.pue, base.it_kw, base.it_cap_kw, base.critical_frac,
        base.grid_ok, base.day_of, base.step_in_day, base.day_start, base.day_len, base.price_imp, base.price_exp,
        base.grid_co2, base.co2_per_l, d.weather_id, d.day_src, d.yield_f, d.util_f, d.pue_off, d.win_off,
        d.win_start, d.win_end, d.win_failed, np.ones(params.shape[0], dtype=np.bool_), k,
    )  # fmt: skip
    return k


def test_identity_scenario_is_the_one_draw_year(horinger: Site, study) -> None:  # type: ignore[no-untyped-def]
    """No resampling, factors 1 and the site's own outage seed: exactly the sizing kernel's (= simulate's) year."""
    site_x, inputs, base, params = study
    k = _run_draws(base, params, identity_draws(base))
    one = evaluate(site_x, inputs, own_design(horinger))
    assert np.array_equal(k[0, 0], one[0])
    res = islandgrid.simulate(horinger)  # and the full engine, through the same kernel
    assert k[0, 0, K["diesel_hours"]] == pytest.approx(res.kpis["diesel_hours"], rel=1e-9)
    assert k[1, 0, K["co2_scope2_location_kg"]] == pytest.approx(res.baseline.kpis["co2_scope2_location_kg"], rel=1e-9)


def test_outage_minutes_is_the_site_outage_model(horinger: Site, study) -> None:  # type: ignore[no-untyped-def]
    """The scenario outages are inputs/grid.py's model: same windows and the same islanded intervals."""
    _, inputs, base, _ = study
    model = horinger.grid.outages
    assert model is not None
    s, _ = grid_inputs.outage_minutes(np.random.default_rng(model.seed), model, base.minutes)
    start = inputs.frame.index[0]
    merged = grid_inputs.stochastic_outages(model, start, start + pd.Timedelta(minutes=base.minutes))
    assert pd.Timestamp(merged["start"].iloc[0]) == start + pd.Timedelta(minutes=int(s[0]))
    share, up_at_start = grid_inputs.grid_fraction(inputs.frame.index, inputs.dt_h, merged)
    assert np.array_equal(share, inputs.frame["grid_available"].to_numpy())
    assert np.array_equal(up_at_start, inputs.up_at_start)


def test_scenario_streams_are_spawned_children() -> None:
    """Scenario k's generator is child k of SeedSequence(seed), whatever else is drawn."""
    children = np.random.SeedSequence(42).spawn(6)
    for k in (0, 3, 5):
        a = scenario_rng(42, k).random(5)
        b = np.random.Generator(np.random.PCG64(children[k])).random(5)
        assert np.array_equal(a, b)


def test_results_independent_of_workers_batches_and_order(study) -> None:  # type: ignore[no-untyped-def]
    _, _, base, params = study
    a = run_scenarios(base, params, 30, seed=5, workers=1, batch=30)
    b = run_scenarios(base, params, 30, seed=5, workers=2, batch=7)
    assert np.array_equal(a, b)
    late = run_batch(base, params, 5, 20, 30)  # a batch drawn alone, out of order
    assert np.array_equal(late, a[:, 20:30])
    other = run_scenarios(base, params, 30, seed=6, workers=2, batch=7)
    assert not np.array_equal(a, other)  # the seed matters


def test_outage_and_load_draws_follow_their_models(horinger: Site, study) -> None:  # type: ignore[no-untyped-def]
    """Events per year ~ Poisson(SAIFI), mean duration SAIDI/SAIFI, load and yield spreads as set (seeded)."""
    _, _, base, _ = study
    n = 2000
    d = draw(base, 11, 0, n)
    model = horinger.grid.outages
    assert model is not None
    events = np.diff(d.win_off)
    # Poisson mean 20: the mean of 2000 draws has a standard error of 0.1; 5 sigma
    assert events.mean() == pytest.approx(model.events_per_year, abs=0.5)
    assert events.var() == pytest.approx(model.events_per_year, rel=0.15)  # Poisson: variance = mean
    hours = (d.win_end - d.win_start).sum() / 60.0 / n
    assert hours == pytest.approx(model.hours_per_year, rel=0.05)  # ~40,000 exponential durations
    sc = horinger.scenarios
    assert np.std(d.util_f) == pytest.approx(sc.utilisation_sd_frac, rel=0.08)
    assert np.std(d.yield_f) == pytest.approx(sc.yield_sd_frac, rel=0.08)
    assert np.std(d.pue_off) == pytest.approx(sc.pue_sd, rel=0.08)
    # fail to start: Bernoulli(genset.fail_to_start_prob) per outage
    assert d.win_failed.mean() == pytest.approx(horinger.genset.fail_to_start_prob, abs=0.003)


def test_fail_to_start_is_drawn_and_used(horinger: Site) -> None:
    """A genset that (almost) always fails to start never runs in pv_first's outages: seeded violation."""
    sure = horinger.model_copy(update={"genset": horinger.genset.model_copy(update={"fail_to_start_prob": 0.999})})
    never = horinger.model_copy(update={"scenarios": horinger.scenarios.model_copy(update={"fail_to_start": False})})
    a = run_site(sure, 20, seed=3)
    b = run_site(never, 20, seed=3)
    assert np.mean(a.values["diesel_hours"]) < 0.2 * np.mean(b.values["diesel_hours"])
    assert np.mean(a.values["unserved_critical_kwh"]) > np.mean(b.values["unserved_critical_kwh"])
    for r in (a, b):  # energy balance per scenario
        v = r.values
        assert np.allclose(v["served_kwh"] + v["unserved_kwh"], v["load_kwh"], rtol=1e-9)


def test_synthetic_weather_keeps_months_and_cloudy_spells(study) -> None:  # type: ignore[no-untyped-def]
    """Days stay in their month; day-to-day persistence survives (shuffled days within months lose it)."""
    _, _, base, _ = study
    d = draw(base, 2, 0, 200)
    month = base.month_of_day
    assert np.array_equal(month[d.day_src], np.broadcast_to(month, d.day_src.shape))
    energy = np.add.reduceat(base.pv1_kw[0], base.day_start)

    def lag1(e: np.ndarray) -> float:
        x = e - np.mean(e)
        return float(np.sum(x[1:] * x[:-1]) / np.sum(x * x))

    typical = lag1(energy)
    synth = np.mean([lag1(energy[row]) for row in d.day_src])
    rng = np.random.default_rng(0)
    shuffled = []
    for _ in range(200):
        src = np.arange(energy.size)
        for m in range(12):
            days = np.nonzero(month == m)[0]
            src[days] = rng.choice(days, size=days.size)
        shuffled.append(lag1(energy[src]))
    assert synth > np.mean(shuffled) + 0.05  # the chain keeps persistence iid resampling destroys
    assert synth == pytest.approx(typical, abs=0.15)
    # annual PV of the resampled years stays near the typical year's (before the yield factor)
    annual = energy[d.day_src].sum(axis=1) / energy.sum()
    assert abs(np.mean(annual) - 1.0) < 0.02


def test_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(1)
    v = {"a": rng.normal(size=101), "b": rng.exponential(size=37)}
    q = quantiles(v)
    for k, x in v.items():
        assert q[k]["p10"] == np.percentile(x, 10)
        assert q[k]["p50"] == np.median(x)
        assert q[k]["p90"] == np.percentile(x, 90)
        assert q[k]["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert at_confidence(v["a"], +1, 0.9) == np.percentile(v["a"], 10)
    assert at_confidence(v["a"], -1, 0.9) == np.percentile(v["a"], 90)
    met = p_targets_met({"pv_share": np.array([0.9, 0.7, 0.85, 0.81])})
    assert met["pv_share > 80 %"] == 0.75


@pytest.mark.parametrize("n", [10, 20, 37, 100])
@pytest.mark.parametrize("sense", [+1, -1])
def test_pruning_count_is_exact(n: int, sense: int) -> None:
    """max_violations is tight: that many misses can still pass; one more never passes (random arrays)."""
    rng = np.random.default_rng(n)
    c = 0.9
    limit = 0.0
    k = max_violations(n, sense, c)
    passed_at_k = False
    for _ in range(300):
        bad = rng.uniform(0.0, 1.0, size=n)  # magnitudes of the misses and margins
        for misses in (k, k + 1):
            v = np.where(np.arange(n) < misses, -sense * bad * 1e-3, sense * bad)
            ok = at_confidence(rng.permutation(v), sense, c) * sense >= limit
            if misses == k + 1:
                assert not ok  # past the count: never passes
            elif ok:
                passed_at_k = True
    assert passed_at_k  # and exactly that many misses can still pass


def test_derive_co2_reduction_against_baseline() -> None:
    k = np.zeros((3, len(KPI_COLUMNS)))
    k[:, K["co2_scope2_location_kg"]] = [50.0, 100.0, 0.0]
    out = derive(k, 7.5, baseline_co2_kg=np.array([100.0, 100.0, 0.0]))
    assert np.allclose(out["co2_reduction"], [0.5, 0.0, 0.0])


def test_cli_simulate_scenarios_json_p50_within_one_draw_spread(horinger: Site) -> None:
    """`simulate --scenarios 500 --json`: quantiles ordered; the P50 diesel hours lies within the spread of
    one-draw years with outage seeds 1 to 8 (one draw is one sample of the outages); PV share and CO2, which
    outages hardly move, have the typical year's one-draw figure inside their P10-P90 band."""
    import json

    from typer.testing import CliRunner

    from islandgrid.cli.main import app

    r = CliRunner().invoke(app, ["simulate", str(EXAMPLES / "horinger-ai-room.toml"), "--scenarios", "500", "--json"])
    assert r.exit_code == 0, r.output
    payload = json.loads(r.stdout)
    assert payload["scenarios"] == 500
    for q in payload["quantiles"].values():
        assert q["p10"] <= q["p50"] <= q["p90"]
    assert set(payload["p_targets_met"]) >= {"pv_share > 80 %", "diesel < 50 h", "all"}
    model = horinger.grid.outages
    assert model is not None
    draws = []
    for seed in range(1, 9):
        grid = horinger.grid.model_copy(update={"outages": model.model_copy(update={"seed": seed})})
        draws.append(islandgrid.simulate(horinger.model_copy(update={"grid": grid}), baseline=False).kpis)
    q = payload["quantiles"]
    lo, hi = min(d["diesel_hours"] for d in draws), max(d["diesel_hours"] for d in draws)
    assert lo <= q["diesel_hours"]["p50"] <= hi, (lo, hi, q["diesel_hours"])
    one = payload["one_draw"]
    for kpi in ("pv_share", "co2_kg"):
        assert q[kpi]["p10"] < one[kpi] < q[kpi]["p90"], (kpi, one[kpi], q[kpi])


def test_size_at_confidence_equals_the_unpruned_pass(horinger: Site) -> None:
    """The pruned search gives the cheapest holding design of a full pass over every design and scenario."""
    from islandgrid.scenarios.confident import npc_lower_bound, size_confident
    from islandgrid.scenarios.summary import at_confidence
    from islandgrid.site.sizing import SearchRange, SizingSpec
    from islandgrid.sizing.search import price_designs, site_inputs

    spec = SizingSpec(
        pv_kwp=SearchRange(values=[100, 200, 300, 400]),
        battery_kwh=SearchRange(values=[0, 250, 500, 1000]),
        battery_kw=SearchRange(values=[250]),
        genset_kw=SearchRange(values=[100]),
        strategies=["pv_first", "load_following"],
        pv_share_min=0.40,
        diesel_hours_max=30,
        unserved_critical_kwh_max=0,
    )
    n, c = 12, 0.75
    res = size_confident(horinger, spec, n, c, seed=3)
    assert res.best is not None
    # the full pass
    designs = res.one_draw.table[["pv_kwp", "battery_kwh", "battery_kw", "genset_kw", "strategy"]]
    site_x, inputs = site_inputs(horinger)
    base = base_year(site_x, inputs)
    k = run_scenarios(base, param_rows(site_x, designs), n, seed=3)
    vals = derive(k, horinger.genset.fuel_price_per_l)
    ok = (
        (at_confidence(vals["pv_share"], +1, c) >= 0.40 - 1e-9)
        & (at_confidence(vals["diesel_hours"], -1, c) <= 30 + 1e-6)
        & (at_confidence(vals["unserved_critical_kwh"], -1, c) <= 1e-6)
    )
    flat = pd.DataFrame(k.reshape(-1, len(KPI_COLUMNS)), columns=list(KPI_COLUMNS))
    flat = pd.concat([designs.loc[designs.index.repeat(n)].reset_index(drop=True), flat], axis=1)
    npc = np.asarray(price_designs(horinger, flat).npc).reshape(len(designs), n)
    mean = npc.mean(axis=1)
    full_best = int(np.flatnonzero(ok)[np.argmin(mean[ok])])
    got = res.table.iloc[res.best]
    want = designs.iloc[full_best]
    assert (got.pv_kwp, got.battery_kwh, got.strategy) == (want.pv_kwp, want.battery_kwh, want.strategy)
    assert got.npc == pytest.approx(mean[full_best], rel=1e-12)
    assert res.design_years < len(designs) * n  # and it pruned
    # the NPC lower bound is below every scenario's NPC of every design (it may prune only what cannot win)
    assert np.all(npc_lower_bound(horinger, designs)[:, None] <= npc + 1e-6)


def test_economics_over_scenarios_and_prices(horinger: Site) -> None:
    """NPC saving = baseline NPC - microgrid NPC per scenario; prices of scenario k independent of N;
    with no price span the price factors are exactly 1; the CLI prints ordered quantiles."""
    import json

    from typer.testing import CliRunner

    from islandgrid.cli.main import app
    from islandgrid.scenarios.econ import economics_scenarios

    a = economics_scenarios(horinger, 20, seed=2)["per_scenario"]
    b = economics_scenarios(horinger, 10, seed=2)["per_scenario"]
    assert np.allclose(a["saving"], a["npc_baseline"] - a["npc"], rtol=1e-12)
    assert np.array_equal(a["npc"][:10], b["npc"])
    assert np.all(np.abs(a["fuel_factor"] - 1.0) <= 0.3)
    flat = economics_scenarios(horinger, 5, seed=2, span_frac=0.0)["per_scenario"]
    assert np.all(flat["fuel_factor"] == 1.0) and np.all(flat["carbon_factor"] == 1.0)
    assert not np.array_equal(flat["npc"], a["npc"][:5])  # the price draws are used
    r = CliRunner().invoke(
        app, ["economics", str(EXAMPLES / "horinger-ai-room.toml"), "--scenarios", "20", "--seed", "2", "--json"]
    )
    assert r.exit_code == 0, r.output
    q = json.loads(r.stdout)["quantiles"]
    for k in ("npc", "npc_baseline", "saving", "simple_payback_years", "discounted_payback_years"):
        assert q[k]["p10"] <= q[k]["p50"] <= q[k]["p90"]


def test_fleet_hubs_and_bad_fleet_file(horinger: Site, tmp_path: Path) -> None:
    """The hub at Horinger's own place, weather and factor gives the site's own scenario results; a fleet
    with both forms is exit 2 naming the field; --out writes the Parquet results."""
    import json

    from typer.testing import CliRunner

    from islandgrid.cli.main import app

    fleet = tmp_path / "fleet.toml"
    text = (
        (EXAMPLES / "fleet-hubs.toml")
        .read_text()
        .replace('site = "horinger-ai-room.toml"', f'site = "{EXAMPLES}/horinger-ai-room.toml"')
    )
    text = text.replace('epw = "data/', f'epw = "{EXAMPLES}/data/')
    fleet.write_text(text)
    r = CliRunner().invoke(app, ["fleet", str(fleet), "--scenarios", "6", "--json", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["sites"]
    assert [x["site"] for x in rows][:2] == ["Horinger (Inner Mongolia)", "Yinchuan (Ningxia)"]
    own = run_site(horinger, 6)
    assert rows[0]["pv_share_p50"] == pytest.approx(float(np.quantile(own.values["pv_share"], 0.5)), rel=1e-12)
    assert rows[3]["pv_share_p50"] < rows[0]["pv_share_p50"]  # Guiyang: the low-sun contrast case
    long = pd.read_parquet(tmp_path / "o" / "fleet.parquet")
    assert len(long) == 4 * 6 and set(long["site"]) == {x["site"] for x in rows}
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[fleet]\n", '[fleet]\nsites = ["x.toml"]\n'))
    r = CliRunner().invoke(app, ["fleet", str(bad)])
    assert r.exit_code == 2 and "fleet.sites" in r.output


def test_fleet_chart_gives_each_site_one_colour_in_every_panel() -> None:
    """Plotly's colour cycle runs on per trace, so without a colour per site the same hub came out blue in
    one panel and orange in the next, beside a legend that names only the first."""
    from islandgrid.reports.scenario_plots import fleet_figure

    rng = np.random.default_rng(1)
    sites = ["A", "B", "C"]
    long = pd.DataFrame(
        {
            "site": np.repeat(sites, 20),
            "pv_share": rng.uniform(0.3, 0.6, 60),
            "diesel_hours": rng.uniform(0, 30, 60),
            "co2_kg": rng.uniform(1e5, 2e5, 60),
        }
    )
    fig = fleet_figure(long, "t")
    colours: dict[str, set[str]] = {}
    for trace in fig.data:
        colours.setdefault(trace.name, set()).add(trace.marker.color)
    assert set(colours) == set(sites) and all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(sites)  # and the sites differ
    assert sum(bool(t.showlegend) for t in fig.data) == len(sites)
