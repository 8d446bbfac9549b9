"""The API's guard and strictness (issue 9 §3): Host check, token before body, back-off, strict
fault parameters, unknown parameters refused, client errors vs internal errors, the schema."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

from api_helpers import FakeView, local_client
from islandgrid.api import create_app
from islandgrid.api.auth import FailedTokens, token_file_warning
from islandgrid.api.models import FAULT_MODELS
from islandgrid.api.server import exposure_warning
from islandgrid.devices.faults import FAULT_KINDS
from islandgrid.errors import InputError

TOKEN = "hardening-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer wrong-token-0123456789"}


class FakeClock:
    """A monotonic clock the test moves by hand [s]."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


# --- DNS rebinding: the Host header ------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "[::1]"])
def test_loopback_host_names_are_answered(host: str) -> None:
    with local_client(create_app(FakeView(), token=None)) as c:
        assert c.get("/api/status", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.", "[::2]"])
def test_other_host_names_are_refused_with_json_and_headers(host: str) -> None:
    with local_client(create_app(FakeView(), token=None)) as c:
        for path in ("/api/status", "/", "/openapi.json", "/docs"):
            r = c.get(path, headers={"Host": host})
            assert r.status_code == 400, (host, path)
            assert "--allow-host" in r.json()["detail"]
            assert r.headers["x-frame-options"] == "DENY"


def test_the_bind_host_and_allowed_names_are_answered_but_a_wildcard_adds_nothing() -> None:
    app = create_app(FakeView(), token=None, host="192.168.1.5", allow_hosts=["box.lan"])
    with local_client(app) as c:
        for host in ("192.168.1.5:8080", "box.lan", "127.0.0.1"):
            assert c.get("/api/health", headers={"Host": host}).status_code == 200, host
        assert c.get("/api/health", headers={"Host": "other.lan"}).status_code == 400
    with local_client(create_app(FakeView(), token=None, host="0.0.0.0")) as c:
        assert c.get("/api/health", headers={"Host": "0.0.0.0"}).status_code == 400


def test_exposure_warning_only_off_loopback() -> None:
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    warning = exposure_warning("0.0.0.0")
    assert warning is not None and "--protect-reads" in warning and "--allow-host" in warning


# --- the token: before the body, back-off -----------------------------------------------------


@pytest.mark.parametrize("body", [b"{mode: island", b"\xff\xfe", b'{"mode": "island", "extra": 1}'])
def test_a_write_without_token_is_401_whatever_the_body(body: bytes) -> None:
    view = FakeView()
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.post("/api/mode", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
    with local_client(create_app(view, token=None)) as c:
        assert c.post("/api/mode", content=body, headers={"content-type": "application/json"}).status_code == 403
    assert view.calls == []


def test_repeated_wrong_tokens_back_off_with_retry_after() -> None:
    clock = FakeClock()
    view = FakeView()
    with local_client(create_app(view, token=TOKEN, clock=clock)) as c:
        for _ in range(5):
            assert c.post("/api/mode", json={"mode": "island"}, headers=WRONG).status_code == 401
            clock.now_s += 5.0
        r = c.post("/api/mode", json={"mode": "island"}, headers=AUTH)  # even the right token waits
        assert r.status_code == 429
        assert r.headers["retry-after"] == "35"  # failures at +0..+20 s, now +25 s: the first leaves at +60 s
        assert "Try again in 35 s" in r.json()["detail"] and r.headers["cache-control"] == "no-store"
        assert view.calls == []
        clock.now_s += 35.0
        assert c.post("/api/mode", json={"mode": "island"}, headers=AUTH).status_code == 200
        assert c.get("/api/status").status_code == 200  # public reads never back off


def test_missing_tokens_do_not_count_and_clients_are_counted_apart() -> None:
    clock = FakeClock()
    with local_client(create_app(FakeView(), token=TOKEN, clock=clock)) as c:
        for _ in range(10):
            assert c.post("/api/mode", json={"mode": "island"}).status_code == 401
        assert c.post("/api/mode", json={"mode": "island"}, headers=AUTH).status_code == 200
    failures = FailedTokens(clock=clock)
    for _ in range(5):
        failures.record("10.0.0.1")
    assert failures.retry_after_s("10.0.0.1") == 60 and failures.retry_after_s("10.0.0.2") is None
    clock.now_s += 60.0
    assert failures.retry_after_s("10.0.0.1") is None


def test_protected_reads_back_off_too() -> None:
    clock = FakeClock()
    with local_client(create_app(FakeView(), token=TOKEN, public_reads=False, clock=clock)) as c:
        for _ in range(5):
            assert c.get("/api/status", headers=WRONG).status_code == 401
        assert c.get("/api/status", headers=AUTH).status_code == 429
        assert c.get("/api/health").status_code == 200


# --- the schema: the token only where it is needed --------------------------------------------


def _secured(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if op.get("security")
    }


def test_public_reads_declare_no_bearer_and_writes_do() -> None:
    with local_client(create_app(FakeView(), token=TOKEN)) as c:
        schema = c.get("/openapi.json").json()
    writes = {("POST", p) for p in ("/api/mode", "/api/setpoints", "/api/strategy", "/api/faults")}
    assert writes <= _secured(schema)
    assert all(method == "POST" for method, _ in _secured(schema))
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    status = schema["paths"]["/api/status"]["get"]["responses"]
    assert "401" not in status and {"400", "422", "500"} <= set(status)
    mode = schema["paths"]["/api/mode"]["post"]["responses"]
    assert {"401", "403", "429"} <= set(mode) and "Retry-After" in mode["429"]["headers"]


def test_protected_reads_declare_the_bearer_on_every_read_but_health() -> None:
    with local_client(create_app(FakeView(), token=TOKEN, public_reads=False)) as c:
        schema = c.get("/openapi.json").json()
    secured = _secured(schema)
    assert ("GET", "/api/status") in secured and ("GET", "/api/ledger") in secured
    assert ("GET", "/api/health") not in secured


def test_fault_kind_is_an_enum_in_the_schema() -> None:
    with local_client(create_app(FakeView(), token=TOKEN)) as c:
        body = c.get("/openapi.json").json()["paths"]["/api/faults"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    kinds = set(schema["discriminator"]["mapping"])
    assert (
        kinds
        == {*FAULT_KINDS, "controller_restart"}
        == {m.model_fields["kind"].annotation.__args__[0] for m in FAULT_MODELS}
    )


# --- strict bodies and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"kind": "genset_fail_to_start", "params": {"on": "false"}}, "params.on"),
        ({"kind": "genset_fail_to_start", "params": {"on": 0}}, "params.on"),
        ({"kind": "grid_off_nominal", "params": {"hz": [1]}}, "params.hz"),
        ({"kind": "grid_off_nominal", "params": {"hz": None}}, "params.hz"),
        ({"kind": "grid_off_nominal", "params": {"hz": 7}}, "params.hz"),
        ({"kind": "grid_off_nominal", "params": {"hz": "0.4"}}, "params.hz"),
        ({"kind": "grid_off_nominal", "params": {"freq": 0.4}}, "params.freq"),
        ({"kind": "telemetry_stale", "params": {"device": "toaster"}}, "params.device"),
        ({"kind": "bms_trip", "params": {"duration_s": -1}}, "params.duration_s"),
        ({"kind": "grid_loss", "params": {"x": 1}}, "params.x"),
        ({"kind": "grid_loss", "force": True}, "force"),
    ],
)
def test_bad_fault_parameters_are_422_naming_the_field(body: dict[str, Any], needle: str) -> None:
    view = FakeView()
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.post("/api/faults", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]
    assert view.calls == []


def test_good_fault_parameters_reach_the_view_without_defaults_filled_in() -> None:
    view = FakeView()
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.post("/api/faults", json={"kind": "genset_fail_to_start", "params": {"on": False}}, headers=AUTH)
        assert r.status_code == 200 and r.json()["params"] == {"on": False}
        r = c.post("/api/faults", json={"kind": "grid_off_nominal", "params": {"hz": 1}}, headers=AUTH)
        assert r.status_code == 200 and r.json()["params"] == {"hz": 1}
        r = c.post("/api/faults", json={"kind": "modbus_timeout", "params": {"device": "pv"}}, headers=AUTH)
        assert r.json()["params"] == {"device": "pv"}


def test_setpoint_values_must_be_numbers() -> None:
    with local_client(create_app(FakeView(), token=TOKEN)) as c:
        r = c.post("/api/setpoints", json={"values": {"reserve_frac": "0.5"}}, headers=AUTH)
        assert r.status_code == 422 and "reserve_frac" in r.json()["detail"]
        assert c.post("/api/setpoints", json={"values": {"reserve_frac": True}}, headers=AUTH).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/api/history", {"limt": "5"}),
        ("GET", "/api/status", {"verbose": "1"}),
        ("GET", "/api/health", {"x": "1"}),
        ("POST", "/api/mode", {"force": "1"}),
    ],
)
def test_unknown_query_parameters_are_422(method: str, path: str, params: dict[str, str]) -> None:
    view = FakeView()
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.request(method, path, params=params, json={"mode": "island"}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert repr(next(iter(params))) in r.json()["detail"]
    assert view.calls == []


def test_a_body_that_is_not_utf8_json_is_a_documented_json_error() -> None:
    with local_client(create_app(FakeView(), token=TOKEN)) as c:
        json_type = {**AUTH, "content-type": "application/json"}
        r = c.post("/api/mode", content=b"\xff\xfe", headers=json_type)  # a UTF-16 mark, then nothing
        assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
        r = c.post("/api/mode", content=b"\xdfP\x14", headers=json_type)  # undecodable
        assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
        r = c.post("/api/mode", content=b"\xff\xfe", headers=AUTH)  # no content type at all
        assert r.status_code == 422 and "body" in r.json()["detail"]
        assert r.headers["x-content-type-options"] == "nosniff"


# --- client errors and internal errors ---------------------------------------------------------


class MixedView(FakeView):
    """A view whose strategy check is an InputError and whose setpoint code has a bug."""

    def set_setpoints(self, values: dict[str, float]) -> dict[str, Any]:
        raise ValueError("math domain error")  # a bug deep inside, not a client error


def test_an_input_error_is_422_and_any_other_exception_a_logged_json_500(caplog: pytest.LogCaptureFixture) -> None:
    with local_client(create_app(MixedView(), token=TOKEN)) as c:
        r = c.post("/api/strategy", json={"name": "greedy"}, headers=AUTH)
        assert r.status_code == 422 and "greedy" in r.json()["detail"]
        with caplog.at_level(logging.ERROR):
            r = c.post("/api/setpoints", json={"values": {"reserve_frac": 0.5}}, headers=AUTH)
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert "math domain error" not in r.json()["detail"]  # internals stay in the log
    assert r.headers["x-frame-options"] == "DENY"
    assert any("math domain error" in (rec.exc_text or "") for rec in caplog.records)


# --- the twin's own checks (the view behind the API) --------------------------------------------


def test_twin_fault_parameters_are_input_errors_and_clear_faults_says_all(horinger: Any) -> None:
    from islandgrid.twin.twin import Twin

    twin = Twin(horinger, start="2025-06-21T10:00")
    for kind, params in [
        ("grid_off_nominal", {"hz": [1]}),
        ("grid_off_nominal", {"hz": None}),
        ("genset_fail_to_start", {"on": "false"}),
        ("modbus_timeout", {"device": "toaster"}),
        ("meteor", {}),
    ]:
        with pytest.raises(InputError):
            twin.inject_fault(kind, params)
    assert twin.inject_fault("clear_faults", {})["params"]["device"] == "all"
    assert twin.inject_fault("clear_faults", {"device": "pv"})["params"]["device"] == "pv"
    assert twin.inject_fault("genset_fail_to_start", {"on": False})["params"] == {"on": False}


# --- pages and the token file -------------------------------------------------------------------


def test_no_page_references_an_external_url() -> None:
    with local_client(create_app(FakeView(), token=None)) as c:
        for path in ("/", "/docs", "/redoc"):
            page = c.get(path)
            assert page.status_code == 200, path
            refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text) + re.findall(
                r"""(?:url|spec-url)\(?\s*[:=]?\s*["']([^"']+)""", page.text
            )
            external = [u for u in refs if re.match(r"^(?:[a-z]+:)?//", u, re.I)]
            assert external == [], (path, external)
            for ref in refs:
                if ref.startswith(("/static/", "/vendor/", "/docs-assets/")):
                    assert c.get(ref).status_code == 200, (path, ref)
            csp = page.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "http" not in csp, path


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_world_readable_token_file_is_warned_about(tmp_path: Path) -> None:
    f = tmp_path / "token.txt"
    f.write_text(TOKEN + "\n")
    f.chmod(0o600)
    assert token_file_warning(f) is None
    f.chmod(0o644)
    warning = token_file_warning(f)
    assert warning is not None and f"chmod 600 {f}" in warning


def test_pages_ignore_query_strings() -> None:
    with local_client(create_app(FakeView(), token=None)) as c:
        assert c.get("/", params={"utm_source": "x"}).status_code == 200
        assert c.get("/docs", params={"x": "1"}).status_code == 200


def test_history_since_in_any_spelling_selects_the_same_rows() -> None:
    view = FakeView()
    view.step(9)
    with local_client(create_app(view, token=None)) as c:
        rows = c.get("/api/history").json()
        ts = rows[5]["ts"]  # e.g. 2026-06-21T01:05:00.000Z
        expected = [r["ts"] for r in rows[6:]]
        for since in (ts, ts.replace(".000Z", "Z"), ts.replace(".000Z", ""), "2026-06-21T09:05:00+08:00"):
            got = [r["ts"] for r in c.get("/api/history", params={"since": since}).json()]
            assert got == expected, since
        assert len(c.get("/api/history", params={"since": "0001-01-01"}).json()) == len(rows)
