"""The carbon report rendered in headless Chromium (Debian's ``chromium``, driven by Playwright).

A metered week with half a day gap-filled: the page must *show* (not just contain) the data-quality
labels on the cards and tables and the generated basis of preparation. Skipped, with the reason,
when no chromium binary or no Playwright is installed (``make browser`` installs chromium).
Set ``ISLANDGRID_SCREENSHOTS=DIR`` to keep the screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import islandgrid
from islandgrid.ledger import open_ledger
from islandgrid.ledger.record import FLAG_GAP_FILLED
from islandgrid.reports.carbon import build_report, write_report
from islandgrid.site.spec import Site


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()
UI_TIMEOUT_MS = 45_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary on PATH: run `make browser` (apt-get install chromium)"
    ),
]

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def report_html(horinger: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    flows = islandgrid.simulate(horinger, baseline=False).flows.iloc[24 * 174 : 24 * 181]
    flags = np.zeros(len(flows), dtype=np.uint8)
    flags[:12] = FLAG_GAP_FILLED
    out = tmp_path_factory.mktemp("carbon-e2e")
    with open_ledger(":memory:") as store:
        store.append_flows(horinger, flows, quality="measured", flags=flags)
        write_report(build_report(store), out)
    return out / "report.html"


def test_quality_labels_and_basis_of_preparation_are_visible(report_html: Path, tmp_path: Path) -> None:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(report_html.as_uri())
            basis = page.locator("#basis")
            basis.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
            assert "Basis of preparation" in basis.inner_text()
            for heading in ("Organisational boundary", "Sources excluded, with materiality", "Recalculation policy"):
                assert page.get_by_text(heading, exact=True).first.is_visible(), heading
            status = page.locator("#status")
            assert status.is_visible() and "Inventory" in status.inner_text()
            badges = page.locator(".card .dq")
            assert badges.count() == 6
            for i in range(badges.count()):
                badge = badges.nth(i)
                assert badge.is_visible()
                text = badge.inner_text()
                assert "measured 9" in text and "gap-filled" in text, text
            box = badges.first.bounding_box()
            assert box is not None and box["width"] > 20 and box["height"] > 5  # rendered, not collapsed
            # the monthly table's label column and the uncertainty table are on the page
            assert page.get_by_text("data_quality").first.is_visible()
            assert page.get_by_text("grid factor vintage").first.is_visible()
            keep = os.environ.get("ISLANDGRID_SCREENSHOTS")
            path = (Path(keep) if keep else tmp_path) / "carbon-report.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=False)
            assert path.stat().st_size > 10_000
        finally:
            browser.close()
