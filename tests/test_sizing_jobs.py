"""Sizing with flexible jobs: the jobs are placed on the chosen design and the search repeated until the
choice stops changing (``run_sizing``'s job rounds), and the rounds are reported honestly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import islandgrid
from islandgrid.scenarios.confident import size_confident
from islandgrid.scenarios.draws import base_year
from islandgrid.scenarios.runner import run_scenarios
from islandgrid.scenarios.summary import at_confidence, derive
from islandgrid.site.compute import ComputeSpec
from islandgrid.site.spec import Site
from islandgrid.sizing import search
from islandgrid.sizing.designs import design_site, param_rows
from islandgrid.sizing.search import run_sizing, site_inputs
from sizing_helpers import reference_site, small_spec


def _with_jobs(policy: str) -> Site:
    return reference_site().model_copy(update={"compute": ComputeSpec(job_policy=policy)})


SPEC = small_spec(pv_share_min=0.8, diesel_hours_max=50.0)


@pytest.fixture(scope="module")
def green():  # type: ignore[no-untyped-def]
    return run_sizing(_with_jobs("green"), SPEC)


def test_green_jobs_reach_a_fixed_point_that_simulate_confirms(green) -> None:  # type: ignore[no-untyped-def]
    """Round 1 places the jobs on the site's own equipment; each later round on the previous choice; at the
    fixed point the chosen design is the one the jobs were placed on, so ``simulate`` of it (which places
    the jobs on that design's equipment) gives the kernel's figures to 1e-9 (before the rounds it did
    not: the placement was the site's own)."""
    rounds = green.job_rounds
    assert 1 <= len(rounds) <= search.JOB_ROUNDS_MAX and rounds[0].placed_on is None
    for prev, nxt in itertools.pairwise(rounds):
        assert nxt.placed_on == prev.best
    best = green.best_design()
    assert best is not None and rounds[-1].best == best
    last = rounds[-1].placed_on
    assert last is not None and (last.pv_kwp, last.battery_kwh, last.battery_kw) == (
        best.pv_kwp,
        best.battery_kwh,
        best.battery_kw,
    )
    assert any("fixed point after" in n for n in green.notes)
    row = green.table.iloc[green.best]
    r = islandgrid.simulate(design_site(_with_jobs("green"), best), baseline=False)
    for k in ("pv_share", "diesel_hours", "fuel_l", "grid_import_kwh", "served_kwh"):
        assert r.kpis[k] == pytest.approx(row[k], rel=1e-9, abs=1e-9), k


def test_fifo_jobs_are_placed_once() -> None:
    res = run_sizing(_with_jobs("fifo"), SPEC)
    assert len(res.job_rounds) == 1 and res.job_rounds[0].placed_on is None
    assert any("placed once" in n for n in res.notes)


def test_a_choice_still_moving_is_reported_not_hidden(monkeypatch: pytest.MonkeyPatch, green) -> None:  # type: ignore[no-untyped-def]
    """Seeded: one round only. The first choice differs from the site's own equipment (the fixed point took
    more rounds), so the note must say there is no fixed point."""
    assert len(green.job_rounds) > 1
    monkeypatch.setattr(search, "JOB_ROUNDS_MAX", 1)
    res = run_sizing(_with_jobs("green"), SPEC)
    assert len(res.job_rounds) == 1
    assert any("no fixed point in 1 rounds" in n for n in res.notes)


def test_the_rounds_are_in_the_json_summary(green) -> None:  # type: ignore[no-untyped-def]
    import json

    from islandgrid.sizing.report import best_summary

    out = json.loads(json.dumps(best_summary(green), default=float))
    rounds = out["job_rounds"]
    assert len(rounds) == len(green.job_rounds) and rounds[0]["placed_on"] is None
    assert rounds[-1]["best"]["pv_kwp"] == out["best"]["pv_kwp"]


def test_the_fixed_point_is_the_per_design_answer_on_a_coarse_grid(green) -> None:  # type: ignore[no-untyped-def]
    """Placing the jobs on every design's own PV and battery (77 placements on the coarse grid) chooses the
    same design at the same NPC as the fixed point: on this grid it misses no cheaper design."""
    from islandgrid.sizing.per_design import run_sizing_per_design

    exact = run_sizing_per_design(_with_jobs("green"), SPEC)
    assert exact.best_design() == green.best_design()
    assert exact.table.iloc[exact.best]["npc"] == pytest.approx(green.table.iloc[green.best]["npc"], rel=1e-9)
    assert any("placements" in n for n in exact.notes) and exact.job_rounds == []


def test_size_jobs_per_design_on_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``size --jobs-per-design --json`` on a coarse grid: the per-design answer and its note; with
    ``--scenarios`` it is refused (exit 2), as the scenario search has no per-design placement."""
    import json
    import tomllib

    from badinput_helpers import HOHHOT_EPW, run, write_site
    from sizing_helpers import EXAMPLES

    d = tomllib.loads((EXAMPLES / "reference-100kw-sizing.toml").read_text())
    d["weather"]["epw"] = str(HOHHOT_EPW)
    d["sizing"] = {
        "pv_kwp": {"min": 400, "max": 800, "step": 200},
        "battery_kwh": {"min": 1000, "max": 2000, "step": 500},
        "battery_kw": {"values": [250, 500]},
        "genset_kw": {"values": [100]},
        "pv_share_min": 0.8,
        "diesel_hours_max": 50.0,
    }
    d["compute"] = {"job_policy": "green"}
    path = write_site(tmp_path, d)
    r = run("size", path, "--json", "--jobs-per-design")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["best"] is not None and any("placements" in n for n in out["notes"]) and out["job_rounds"] == []
    bad = run("size", path, "--json", "--jobs-per-design", "--scenarios", "4")
    assert bad.exit_code == 2 and "--jobs-per-design" in bad.stderr


def test_size_at_confidence_with_jobs_runs_the_scenarios_on_the_last_placement(green) -> None:  # type: ignore[no-untyped-def]
    """``size --scenarios`` with flexible jobs draws its scenario years on the jobs as placed on the design
    the deterministic rounds ended on: the chosen design's scenario KPIs equal a separate pass over that
    placement (scenario by scenario, to 1e-9), and differ from a pass over the site's own placement (so
    the placement it uses is observable, and a regression to round 1's placement fails here)."""
    site = _with_jobs("green")
    n = 6
    res = size_confident(site, SPEC, n, 0.5, seed=5)
    assert res.best is not None
    placed_on = res.one_draw.job_rounds[-1].placed_on
    assert placed_on is not None and len(res.one_draw.job_rounds) >= 2  # placed beyond round 1
    row = res.table.iloc[[res.best]][["pv_kwp", "battery_kwh", "battery_kw", "genset_kw", "strategy"]]

    def pass_on(design):  # type: ignore[no-untyped-def]
        site_x, inputs = site_inputs(site, design)
        return run_scenarios(base_year(site_x, inputs), param_rows(site_x, row.reset_index(drop=True)), n, seed=5)

    want = derive(pass_on(placed_on), site.genset.fuel_price_per_l)
    got = res.table.iloc[res.best]
    assert got.pv_share == pytest.approx(float(at_confidence(want["pv_share"], +1, 0.5)[0]), rel=1e-9, abs=1e-12)
    own = derive(pass_on(None), site.genset.fuel_price_per_l)
    assert not np.allclose(own["pv_share"], want["pv_share"], rtol=0, atol=1e-9)
