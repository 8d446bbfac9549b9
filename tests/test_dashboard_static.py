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
MODULES = sorted(STATIC_DIR.glob("*.js"))
JS = "\n".join(p.read_text() for p in MODULES)
CSS = (STATIC_DIR / "dashboard.css").read_text()


def test_every_element_the_script_reads_is_on_the_page() -> None:
    ids = set(re.findall(r'\$\("([\w-]+)"\)', JS)) | set(re.findall(r'getElementById\("([\w-]+)"\)', JS))
    assert len(ids) > 20
    on_page = set(re.findall(r'id="([\w-]+)"', HTML))
    assert ids <= on_page, sorted(ids - on_page)


def test_script_is_local_es_modules_each_at_most_600_lines() -> None:
    assert '<script type="module" src="/static/dashboard.js">' in HTML
    names = {p.name for p in MODULES}
    assert len(names) >= 5, names  # split into modules, not one file
    for path in [*MODULES, STATIC_DIR / "index.html", STATIC_DIR / "dashboard.css"]:
        assert len(path.read_text().splitlines()) <= 600, path.name
    for path in MODULES:
        for target in re.findall(r'^import .* from "([^"]+)";$', path.read_text(), flags=re.M):
            assert target.startswith("./") and target[2:] in names, (path.name, target)  # this server's files only


def test_status_contract_fields_are_read() -> None:
    """The page reads the fields that tell the truth: alarms, live, stale devices, unserved critical, the zone."""
    for field in (
        "alarms",
        "live",
        "loops",
        "stale_devices",
        "unserved_critical_kw",
        "genset_manager",
        "genset_retry_in_s",
        "telemetry_age_by_device_s",
        "device_errors",
        "bms_tripped",
        "site_tz",
    ):
        assert re.search(rf"\bs\.{field}\b", JS), field
    assert "/api/alarms/" in JS and "/ack" in JS
    assert 'data-post="/api/genset/reset"' in HTML
    # today's figures have one source (GET /api/kpis `today`): the status copies are not read
    for alias in ("pv_share_today", "diesel_min_today", "diesel_minutes_today"):
        assert alias not in JS, alias


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
        for path in MODULES:  # the modules dashboard.js imports
            r = c.get(f"/static/{path.name}")
            assert r.status_code == 200, path.name
            assert r.headers["content-type"].startswith(("text/javascript", "application/javascript")), path.name
        assert (
            c.get("/static/dashboard.js")
            .headers["content-type"]
            .startswith(("text/javascript", "application/javascript"))
        )
        assert c.get("/static/nothing.js").status_code == 404
        assert c.get("/dashboard", follow_redirects=False).status_code in (302, 307)
