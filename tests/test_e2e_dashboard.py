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
