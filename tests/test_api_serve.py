"""``islandgrid serve``: the twin, the controller over Modbus TCP and the API in one event loop,
with public reads by default and ``--protect-reads``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from islandgrid.cli.main import app as cli_app
from islandgrid.cli.serve import TOKEN_ENV, run_serve

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "horinger-ai-room.toml"
TOKEN = "serve-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Running:
    """``run_serve`` in a thread with its own event loop; ``url`` once the API listens."""

    def __init__(self, **options: object) -> None:
        self.url = ""
        self._bound: list[str] = []
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._thread = threading.Thread(target=self._main, args=(options,), daemon=True)

    def _main(self, options: dict[str, object]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(
                run_serve(SITE, ready=self._ready, stop=self._stop, bound=self._bound, **options)  # type: ignore[arg-type]
            )
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout_s: float = 60.0) -> Running:
        self._thread.start()
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not self._bound and self._thread.is_alive():
            time.sleep(0.05)
        if self._error is not None:
            raise self._error
        assert self._bound, "serve did not start"
        self.url = self._bound[0].rstrip("/")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "serve did not stop"


def _serve(**options: object) -> Iterator[Running]:
    base: dict[str, object] = {
        "twin_mode": True,
        "speed": 60.0,
        "host": "127.0.0.1",
        "port": 0,
        "token": TOKEN,
        "db": None,
        "start": "2025-06-21T10:00",
    }
    running = Running(**{**base, **options}).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def public() -> Iterator[Running]:
    yield from _serve()


@pytest.fixture(scope="module")
def protected() -> Iterator[Running]:
    yield from _serve(protect_reads=True)


def _status(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{url}/api/status", headers=headers or {}, timeout=10)


def test_reads_are_public_by_default_and_writes_need_the_token(public: Running) -> None:
    health = httpx.get(f"{public.url}/api/health", timeout=10).json()
    assert health["public_reads"] is True and health["writes_enabled"] is True
    r = _status(public.url)
    assert r.status_code == 200 and r.json()["site_name"] == "Horinger AI room"  # also before the first tick
    end = time.monotonic() + 30
    while r.json()["mode"] == "starting" and time.monotonic() < end:
        time.sleep(0.1)
        r = _status(public.url)
    body = r.json()
    assert body["site_name"] == "Horinger AI room" and body["twin"] is True
    assert 0 <= body["pv_share_today"] <= 1
    assert httpx.post(f"{public.url}/api/mode", json={"mode": "island"}, timeout=10).status_code == 401


def test_protect_reads_needs_the_token_for_every_read(protected: Running) -> None:
    health = httpx.get(f"{protected.url}/api/health", timeout=10)  # liveness stays public
    assert health.status_code == 200 and health.json()["public_reads"] is False
    for path in ("/api/status", "/api/history", "/api/events", "/api/kpis"):
        r = httpx.get(f"{protected.url}{path}", timeout=10)
        assert r.status_code == 401, path
        assert "protected" in r.json()["detail"]
        assert httpx.get(f"{protected.url}{path}", headers=AUTH, timeout=10).status_code == 200, path
    wrong = _status(protected.url, {"Authorization": "Bearer wrong-token-0123456789"})
    assert wrong.status_code == 401 and "wrong" in wrong.json()["detail"]
    assert _status(protected.url, AUTH).json()["site_name"] == "Horinger AI room"


def test_protect_reads_without_a_token_is_refused_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    result = CliRunner().invoke(cli_app, ["serve", str(SITE), "--twin", "--protect-reads", "--port", "0"])
    assert result.exit_code == 2
    out = result.output
    assert "--protect-reads" in out and "--token-file" in out
    assert "islandgrid serving" not in out


def test_host_header_is_checked_and_a_wildcard_bind_prints_the_warning(capfd: pytest.CaptureFixture[str]) -> None:
    for running in _serve(host="0.0.0.0", allow_hosts=("box.lan",), token=None):
        port = running.url.rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/health", timeout=10).status_code == 200
        assert httpx.get(f"{url}/api/health", headers={"Host": "box.lan"}, timeout=10).status_code == 200
        evil = httpx.get(f"{url}/api/status", headers={"Host": f"evil.example:{port}"}, timeout=10)
        assert evil.status_code == 400 and "--allow-host" in evil.json()["detail"]
    err = capfd.readouterr().err
    assert "reachable from other machines" in err and "--protect-reads" in err


def test_a_readable_token_file_is_warned_about_at_start(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from islandgrid.cli.serve import read_token

    f = tmp_path / "token.txt"
    f.write_text(TOKEN + "\n")
    f.chmod(0o644)
    assert read_token(f) == TOKEN
    assert "chmod 600" in capfd.readouterr().err
    f.chmod(0o600)
    assert read_token(f) == TOKEN
    assert "chmod 600" not in capfd.readouterr().err
