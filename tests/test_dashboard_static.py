"""The dashboard's files: everything local, every element the script needs is on the page, served by the app."""

from __future__ import annotations

import re
import warnings

from islandgrid.api import create_app
from islandgrid.api.routes_dashboard import STATIC_DIR, plotly_js_path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_helpers import FakeView

HTML = (STATIC_DIR / "index.html").read_text()
JS = (STATIC_DIR / "dashboard.js").read_text()
CSS = (STATIC_DIR / "dashboard.css").read_text()


def test_every_element_the_script_reads_is_on_the_page() -> None:
    ids = set(re.findall(r'\$\("([\w-]+)"\)', JS)) | set(re.findall(r'getElementById\("([\w-]+)"\)', JS))
    assert len(ids) > 20
    on_page = set(re.findall(r'id="([\w-]+)"', HTML))
    assert ids <= on_page, sorted(ids - on_page)


def test_no_remote_urls_in_page_script_or_style() -> None:
    # the SVG namespace URI is an identifier, not a fetch
    js = JS.replace('"http://www.w3.org/2000/svg"', "")
    for text in (HTML, js, CSS):
        assert not re.search(r"https?://", text)
        assert "cdn" not in text.lower()
    for src in re.findall(r'(?:src|href)="([^"]+)"', HTML):
        assert src.startswith("/"), src


def test_page_names_every_state_and_the_five_flows() -> None:
    from islandgrid.api.models import STATES

    for state in STATES:
        assert f'id: "{state}"' in JS, state
        assert re.search(rf"\b{state}: \[\d+, \d+\]", JS), state  # it has a place in the diagram
    for node in ("pv", "grid", "genset", "battery", "load"):
        assert re.search(rf"\b{node}: \{{ title:", JS), node
    for path in ("/api/status", "/api/events", "/api/history", "/api/kpis"):
        assert path in JS


def test_app_serves_every_asset_the_page_loads() -> None:
    assert plotly_js_path() is not None
    with TestClient(create_app(FakeView(), token=None), base_url="http://127.0.0.1") as c:
        for src in re.findall(r'(?:src|href)="(/[^"]+)"', HTML):
            if src.startswith("/api/"):
                continue  # links to API answers (the ledger ones need a ledger): tested in test_api*
            r = c.get(src)
            assert r.status_code == 200, src
            assert len(r.content) > 100, src
        assert (
            c.get("/static/dashboard.js")
            .headers["content-type"]
            .startswith(("text/javascript", "application/javascript"))
        )
        assert c.get("/static/nothing.js").status_code == 404
        assert c.get("/dashboard", follow_redirects=False).status_code in (302, 307)
