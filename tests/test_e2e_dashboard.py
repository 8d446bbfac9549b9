"""End to end in headless Chromium (Debian's ``chromium``) with Playwright.

Two servers, each in a subprocess on a free loopback port:

* the real one, ``islandgrid serve examples/horinger-ai-room.toml --twin --speed 60``: the
  controller over a Modbus twin;
* a test-only launcher that serves ``create_app(FakeView(live=True))``, which checks the page
  itself without the controller.

For each: load the page, see the values change while the twin runs, inject a grid loss through
the API with the token and see the outage on the page (mode "Islanded", the state machine's
islanded node lit, a grid-loss line in the event log). Skipped, with the reason, when no
chromium binary or no Playwright is installed (``make browser`` installs chromium).
Set ``ISLANDGRID_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from islandgrid.api.models import STATES

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "e2e-token-0123456789abcdef"
BOOT_TIMEOUT_S = 90.0  # the real server imports numba/pvlib and builds the twin: generous on a loaded machine
UI_TIMEOUT_MS = 45_000


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary on PATH: run `make browser` (apt-get install chromium)"
    ),
]

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_available() -> bool:
    try:
        import islandgrid.cli.serve  # noqa: F401
    except ImportError:
        return False
    return True


class Server:
    """A server subprocess; stopped with terminate, then kill."""

    def __init__(self, args: list[str], port: int, log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=self._fh, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout_s: float = BOOT_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        pytest.fail(f"server not ready after {timeout_s} s:\n{self.tail()}")

    def tail(self) -> str:
        self._fh.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._fh.close()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    f.chmod(0o600)
    return f


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


LAUNCHER = """
import sys
sys.path.insert(0, sys.argv[3])
from api_helpers import FakeView
from islandgrid.api import create_app, load_token_file, serve_app
app = create_app(FakeView(live=True), token=load_token_file(sys.argv[2]), public_reads=sys.argv[4] == "public")
# the alarm-acknowledge and genset-reset writes, where this checkout's API does not route them yet
from fastapi import Depends
from islandgrid.api.auth import require_write
view, paths = app.state.view, {getattr(r, "path", "") for r in app.routes}
if "/api/alarms/{alarm_id}/ack" not in paths:
    app.post("/api/alarms/{alarm_id}/ack", dependencies=[Depends(require_write)])(view.acknowledge_alarm)
if "/api/genset/reset" not in paths:
    app.post("/api/genset/reset", dependencies=[Depends(require_write)])(view.reset_genset)
serve_app(app, port=int(sys.argv[1]))
"""


def _start_fake(tmp_path: Path, token_file: Path, reads: str) -> Server:
    port = _free_port()
    args = [sys.executable, "-c", LAUNCHER, str(port), str(token_file), str(ROOT / "tests"), reads]
    return Server(args, port, tmp_path / f"fake-server-{reads}.log", ROOT)


@pytest.fixture
def fake_server(tmp_path: Path, token_file: Path) -> Iterator[Server]:
    server = _start_fake(tmp_path, token_file, "public")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def twin_server(tmp_path: Path, token_file: Path) -> Iterator[Server]:
    if not _serve_available():
        pytest.skip("`islandgrid serve` is not in this checkout yet (islandgrid.cli.serve missing)")
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "islandgrid.cli.main",
        "serve",
        str(ROOT / "examples" / "horinger-ai-room.toml"),
        "--twin",
        "--speed",
        "60",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        "--db",
        str(tmp_path / "ledger.sqlite"),
    ]
    server = Server(args, port, tmp_path / "twin-server.log", tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _screenshot(page: object, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    keep = os.environ.get("ISLANDGRID_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)


def _live_then_outage(browser: object, server: Server, tmp_path: Path, tag: str) -> None:
    """The shared scenario: page loads, values move, an outage shows up."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    console_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server.url + "/", wait_until="domcontentloaded")

    # Predicates are passed as functions ("() => ..."): the page's CSP forbids eval, and a bare
    # expression would be eval'ed in the page.
    # 1. the page fills in from the API
    page.wait_for_function(
        "() => document.getElementById('mode-value').dataset.state !== undefined", timeout=UI_TIMEOUT_MS
    )
    page.wait_for_function(
        "() => document.getElementById('soc-value').textContent.includes('%')", timeout=UI_TIMEOUT_MS
    )
    mode0 = page.get_attribute("#mode-value", "data-state")
    assert mode0 in STATES

    # 2. values change while the twin runs: the twin clock, and the PV / battery / SoC readings
    watched = "['clock', 'flow-pv', 'flow-battery', 'soc-value'].map(id => document.getElementById(id).textContent)"
    before = page.evaluate(watched)
    page.wait_for_function(f"before => {watched}.some((v, i) => v !== before[i])", arg=before, timeout=UI_TIMEOUT_MS)
    after = page.evaluate(watched)
    assert after != before
    page.wait_for_function(
        "() => document.querySelectorAll('#chart .scatterlayer .trace').length >= 5", timeout=UI_TIMEOUT_MS
    )
    # new metered intervals reach the chart while the twin runs
    count = "parseInt(document.getElementById('history-hint').textContent) || 0"
    n0 = page.evaluate(count)
    page.wait_for_function(f"n0 => ({count}) > n0", arg=n0, timeout=UI_TIMEOUT_MS)
    _screenshot(page, tmp_path, f"dashboard-{tag}-live.png")

    # 3. inject an outage through the API, with the token
    r = httpx.post(f"{server.url}/api/faults", json={"kind": "grid_loss", "params": {}}, timeout=10)
    assert r.status_code == 401  # no token, no write
    r = httpx.post(
        f"{server.url}/api/faults",
        json={"kind": "grid_loss", "params": {}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text

    # 4. the outage appears on the page
    page.wait_for_function(
        "() => document.getElementById('mode-value').dataset.state === 'islanded'", timeout=UI_TIMEOUT_MS
    )
    assert page.text_content("#mode-value") == "Islanded"
    assert "active" in (page.get_attribute("#sm-nodes [data-state='islanded']", "class") or "")
    assert "active" not in (page.get_attribute("#sm-nodes [data-state='grid_tied']", "class") or "")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#event-log li')]"
        ".some(li => /grid.?loss|outage|island/i.test(li.textContent))",
        timeout=UI_TIMEOUT_MS,
    )
    assert page.text_content("#flow-grid") in ("0 kW", "0.0 kW")
    _screenshot(page, tmp_path, f"dashboard-{tag}-islanded.png")
    assert errors == [], errors
    assert [m for m in console_errors if "Content Security Policy" in m] == []
    remote = [u for u in requested if not u.startswith(server.url)]
    assert remote == [], remote  # everything the page needs comes from this server: no CDN
    assert any(u.endswith("/vendor/plotly.min.js") for u in requested)
    page.close()


def test_dashboard_live_and_outage_on_fake_view(browser: object, fake_server: Server, tmp_path: Path) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(fake_server.url + "/")
    page.wait_for_function(
        "() => document.getElementById('site-name').textContent.includes('Horinger')", timeout=UI_TIMEOUT_MS
    )
    assert "Horinger" in page.title()  # the site name, when the status carries one
    page.close()
    _live_then_outage(browser, fake_server, tmp_path, "fake")

    # the operator panel writes through the API with the token: restore the grid from the page
    page = browser.new_page(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    page.goto(fake_server.url + "/")
    page.wait_for_function(
        "() => document.getElementById('mode-value').dataset.state === 'islanded'", timeout=UI_TIMEOUT_MS
    )
    page.click("#ops summary")
    page.click("button[data-body*='grid_restore']")
    page.wait_for_function(
        "() => /refused \\(401\\)/.test(document.getElementById('ops-result').textContent)", timeout=UI_TIMEOUT_MS
    )
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    page.click("button[data-body*='grid_restore']")
    page.wait_for_function(
        "() => document.getElementById('ops-result').textContent === 'accepted'", timeout=UI_TIMEOUT_MS
    )
    page.wait_for_function(
        "() => document.getElementById('mode-value').dataset.state === 'grid_tied'", timeout=UI_TIMEOUT_MS
    )
    page.close()


def _fault(server: Server, kind: str, **params: object) -> None:
    r = httpx.post(
        f"{server.url}/api/faults",
        json={"kind": kind, "params": params},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def _wait(page: object, predicate: str, arg: object = None) -> None:
    page.wait_for_function(predicate, arg=arg, timeout=UI_TIMEOUT_MS)  # type: ignore[attr-defined]


ALARM = "li[data-alarm-id='{}']"


def test_dashboard_tells_the_truth_on_fake_view(browser: object, fake_server: Server, tmp_path: Path) -> None:
    """Site-local time, one PV share, unserved critical load, the alarm board with acknowledge, stale devices."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(fake_server.url + "/", wait_until="domcontentloaded")

    # site-local time with its zone: the fake site is in Asia/Shanghai (UTC+8)
    _wait(page, "() => document.getElementById('clock').textContent.includes('Asia/Shanghai')")
    clock, ts = page.evaluate("() => [document.getElementById('clock').textContent, window.__islandgrid.status.ts]")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+8 · Asia/Shanghai", clock), clock
    assert int(clock[11:13]) == (int(ts[11:13]) + 8) % 24, (clock, ts)
    _wait(page, "() => /^Today 2026-06-2\\d .*GMT\\+8/.test(document.getElementById('kpi-title').textContent)")

    # one PV share on screen: the tile and today's table show the same figure, every time
    _wait(page, "() => document.querySelector('#kpi-facts [data-kpi=pv_share] dd') !== null")
    pv_share = (
        "() => [document.getElementById('pv-share-value').textContent, "
        "document.querySelector('#kpi-facts [data-kpi=pv_share] dd').textContent]"
    )
    for _ in range(3):
        tile, table = page.evaluate(pv_share)
        assert tile == table and tile.endswith("%"), (tile, table)
        page.wait_for_timeout(700)  # a few samples across polls, no timing asserted

    # no alarm yet; the grid goes, then the BMS trips and the genset fails: nothing can serve the load
    _wait(page, "() => document.getElementById('alarm-list').textContent.includes('No alarms')")
    for kind in ("grid_loss", "bms_trip", "genset_fail_to_start"):
        _fault(fake_server, kind)
    _wait(page, "() => !document.getElementById('load-critical').hidden")
    assert page.text_content("#load-critical") == "critical load unserved: 18.0 kW"
    _wait(page, "() => document.getElementById('flow-load-sub').textContent === 'critical unserved 18.0 kW'")
    banner = page.text_content("#banner") or ""
    assert "Critical load not served: 18.0 kW" in banner and "nothing can form the bus" in banner, banner
    assert "Black start:" not in banner
    for alarm_id in ("grid_lost:site", "bms_trip:site", "genset_failed:site", "unserved_critical:site"):
        page.wait_for_selector(ALARM.format(alarm_id) + ".active.unacked", timeout=UI_TIMEOUT_MS)
    assert page.text_content("#bms-value") == "tripped"
    assert (page.text_content("#genset-state") or "").startswith("failed")
    assert page.is_visible("#genset-retry")
    _screenshot(page, tmp_path, "dashboard-fake-blackout.png")

    # acknowledge: refused in the page without a token, then POST /api/alarms/{id}/ack with it
    page.click(ALARM.format("bms_trip:site") + " button.ack")
    _wait(page, "() => document.getElementById('alarm-result').textContent.includes('enter the API token')")
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    with page.expect_request(lambda req: req.method == "POST" and "/ack" in req.url) as sent:
        page.click(ALARM.format("bms_trip:site") + " button.ack")
    assert sent.value.url.endswith("/api/alarms/bms_trip%3Asite/ack")
    assert sent.value.headers.get("authorization") == f"Bearer {TOKEN}"
    page.wait_for_selector(ALARM.format("bms_trip:site") + ".active.acked", timeout=UI_TIMEOUT_MS)
    assert "accepted" in (page.text_content("#alarm-result") or "")
    assert page.query_selector(ALARM.format("bms_trip:site") + " button.ack") is None

    # retry the failed genset from the page: the genset forms the bus, the critical load is served
    page.click("#genset-retry")
    _wait(page, "() => document.getElementById('genset-result').textContent === 'accepted'")
    _wait(page, "() => document.getElementById('load-critical').hidden")
    page.wait_for_selector(ALARM.format("genset_failed:site") + ".cleared.unacked", timeout=UI_TIMEOUT_MS)
    assert not page.is_visible("#genset-retry")

    # stale PCS telemetry and a PCC link error: greyed and marked, never shown as live figures
    _fault(fake_server, "telemetry_stale", device="pcs")
    _fault(fake_server, "modbus_timeout", device="pcc")
    _wait(page, "() => document.getElementById('flow-battery').textContent === 'stale'")
    assert page.get_attribute("g[data-node='battery']", "data-stale") == "true"
    assert page.get_attribute("g[data-node='pv']", "data-stale") == "false"
    assert re.fullmatch(r"last -?[\d.]+ kW · [\d.]+ (s|min) old", page.text_content("#flow-battery-sub") or "")
    assert "stale" in (page.get_attribute("#tile-soc", "class") or "")
    _wait(page, "() => document.querySelector('#devices-body tr[data-device=pcs] td.state').textContent === 'stale'")
    assert page.text_content("#devices-body tr[data-device=pcc] td.state") == "error: timeout"
    assert page.text_content("#devices-body tr[data-device=pv] td.state") == "live"
    page.wait_for_selector(ALARM.format("telemetry_stale:pcs") + ".active", timeout=UI_TIMEOUT_MS)
    assert page.text_content("#conn-text") == "stale: pcs"
    pcs_age = "document.querySelectorAll('#devices-body tr[data-device=pcs] td')[1].textContent"
    _wait(page, f"() => parseFloat({pcs_age}) > 1")  # the frozen device's age keeps growing
    _screenshot(page, tmp_path, "dashboard-fake-stale.png")

    # a status that is not live (a loop down) greys every figure and says so
    def not_live(route: object) -> None:
        body = route.fetch().json()  # type: ignore[attr-defined]
        body.update(live=False, loops={"fast": "down", "planning": "running"})
        route.fulfill(json=body)  # type: ignore[attr-defined]

    page.route("**/api/status", not_live)
    _wait(page, "() => document.getElementById('conn-text').textContent === 'not live'")
    assert "Not live: fast loop down" in (page.text_content("#banner") or "")
    stale_nodes = page.evaluate("() => [...document.querySelectorAll('#nodes g')].map(g => g.dataset.stale)")
    assert stale_nodes == ["true"] * 5
    _screenshot(page, tmp_path, "dashboard-fake-not-live.png")

    # a status older than the controller's stale limit (the fast loop stuck) is not live either
    def too_old(route: object) -> None:
        body = route.fetch().json()  # type: ignore[attr-defined]
        body.update(live=False, stale=True, status_age_s=42.0, loops={"fast": "running", "planning": "running"})
        route.fulfill(json=body)  # type: ignore[attr-defined]

    page.unroute("**/api/status")
    page.route("**/api/status", too_old)
    _wait(page, "() => document.getElementById('banner').textContent.includes('the status is 42.0 s old')")
    assert page.text_content("#conn-text") == "not live"
    assert page.text_content("#flow-pv") == "stale"
    assert errors == [], errors
    page.close()


def test_dashboard_live_and_outage_on_twin(browser: object, twin_server: Server, tmp_path: Path) -> None:
    _live_then_outage(browser, twin_server, tmp_path, "twin")


def test_dashboard_with_protected_reads_asks_for_the_token(browser: object, tmp_path: Path, token_file: Path) -> None:
    server = _start_fake(tmp_path, token_file, "protected")
    try:
        server.wait_ready()
        assert httpx.get(f"{server.url}/api/status", timeout=10).status_code == 401
        page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page.goto(server.url + "/", wait_until="domcontentloaded")
        page.wait_for_selector("#banner:not([hidden])", timeout=UI_TIMEOUT_MS)
        assert "protected" in (page.text_content("#banner") or "")
        assert page.get_attribute("#mode-value", "data-state") is None  # nothing read without the token
        page.fill("#token", TOKEN)
        page.dispatch_event("#token", "change")
        page.wait_for_function(
            "() => document.getElementById('mode-value').dataset.state === 'grid_tied'", timeout=UI_TIMEOUT_MS
        )
        page.wait_for_selector("#event-log li[data-kind]", timeout=UI_TIMEOUT_MS)
        page.close()
    finally:
        server.stop()


def test_twin_meters_into_the_ledger_served_by_the_api(twin_server: Server) -> None:
    """`serve --db` meters every interval into the ledger; the API serves, verifies and reports it."""
    assert httpx.get(f"{twin_server.url}/api/health", timeout=10).json()["ledger"] is True
    deadline = time.monotonic() + 60
    body: dict = {}
    while time.monotonic() < deadline:
        r = httpx.get(f"{twin_server.url}/api/ledger/verify", timeout=30)
        body = r.json()
        if r.status_code == 200 and body["n_records"] >= 2:
            break
        events = httpx.get(f"{twin_server.url}/api/events", timeout=30).json()
        errors = [e["message"] for e in events if e["kind"] == "ledger_error"]
        if errors:
            pytest.fail(f"the controller could not write the ledger: {errors[0]}")
        time.sleep(1.0)
    else:
        pytest.fail(f"no metered records reached the ledger in 60 s: {body}\n{twin_server.tail()}")
    assert body["ok"] is True
    page = httpx.get(f"{twin_server.url}/api/ledger", params={"newest": True, "limit": 1}, timeout=30).json()
    assert page["records"][0]["quality"] == "measured"
    rep = httpx.get(f"{twin_server.url}/api/reports/carbon", timeout=60)
    assert rep.status_code == 200 and rep.json()["chain"]["n_records"] >= 2
