"""The simulation report with flexible jobs: a section with the job KPIs and the jobs' power over the day
under the policy and under fifo, checked in numbers and rendered in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import islandgrid
from islandgrid.compute.place import site_with_job_policy
from islandgrid.reports import plots
from islandgrid.reports.simulation import render_report, write_outputs
from islandgrid.simulate.result import Result
from islandgrid.site.spec import Site


@pytest.fixture(scope="module")
def green(horinger: Site) -> Result:
    return islandgrid.simulate(site_with_job_policy(horinger, "green"), baseline=False)


def test_the_day_profile_keeps_the_jobs_energy(green: Result) -> None:
    """A year of whole days at hourly steps has each hour of day equally often, so the mean of the 24 hourly
    means is the year's mean power: the profile moves the jobs' energy in the day, it neither adds nor
    loses any (a profile grouped by the wrong clock or averaged over the wrong count fails here)."""
    fig = plots.jobs_day_profile(green)
    names = [t.name for t in fig.data]
    assert names == ["PV available", "inflexible IT", "jobs' IT, green", "jobs' IT, fifo"]
    traces = {t.name: np.asarray(t.y, dtype=float) for t in fig.data}
    assert all(len(v) == 24 for v in traces.values())
    s, fifo = green.jobs.schedule, green.jobs.fifo  # type: ignore[union-attr]
    assert traces["jobs' IT, green"].mean() == pytest.approx(s.flex_it_kw.mean(), rel=1e-12)
    assert traces["jobs' IT, fifo"].mean() == pytest.approx(fifo.flex_it_kw.mean(), rel=1e-12)
    pv_kw = green.flows["pv_available_kwh"].to_numpy() / green.dt_h
    assert traces["PV available"].mean() == pytest.approx(pv_kw.mean(), rel=1e-12)
    # green runs more of the jobs in the sunny hours than fifo does (10:00-15:00 local)
    assert traces["jobs' IT, green"][10:16].mean() > traces["jobs' IT, fifo"][10:16].mean()


def test_the_section_appears_only_with_jobs(green: Result, horinger: Site) -> None:
    html = render_report(green)
    assert 'id="jobs"' in html and "Flexible training jobs: green" in html and "job policy <b>green</b>" in html
    assert 'id="jobs"' not in render_report(islandgrid.simulate(horinger, baseline=False))
    with pytest.raises(ValueError, match="flexible compute"):
        plots.jobs_day_profile(islandgrid.simulate(horinger, baseline=False))


def _chromium() -> str | None:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    return path or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no chromium binary on PATH: run `make browser`")
def test_the_jobs_section_renders_in_chromium(green: Result, tmp_path: Path) -> None:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    write_outputs(green, tmp_path)
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto((tmp_path / "report.html").as_uri())
            section = page.locator("#jobs")
            section.scroll_into_view_if_needed(timeout=45_000)
            assert section.is_visible() and "Jobs late (feasible ones)" in section.inner_text()
            page.wait_for_function(
                "() => document.querySelectorAll('#jobs .scatterlayer .trace').length === 4", timeout=45_000
            )
            box = section.locator(".main-svg").first.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 200  # drawn, not collapsed
            section.screenshot(path=str(tmp_path / "jobs.png"))
        finally:
            browser.close()
    assert (tmp_path / "jobs.png").stat().st_size > 10_000
