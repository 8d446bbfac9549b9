"""The HTTP API over a fake ControllerView: reads, token-protected writes, clear 4xx, OpenAPI, offline docs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from islandgrid.api import DEFAULT_HOST, create_app, load_token_file
from islandgrid.errors import InputError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_helpers import AUTH, TOKEN, FakeView, local_client

# --- reads -----------------------------------------------------------------------------------


def test_status_has_the_dashboard_fields(client: TestClient) -> None:
    r = client.get("/api/status")
    assert r.status_code == 200
    body = r.json()
    for key in ("mode", "soc_frac", "pv_kw", "battery_kw", "genset_kw", "grid_kw", "load_kw", "carbon_kg_per_kwh"):
        assert key in body, key
    assert body["mode"] == "grid_tied"
    assert body["twin"] is True  # extra fields from the controller pass through


def test_history_since_and_limit(client: TestClient, view: FakeView) -> None:
    view.step(9)
    rows = client.get("/api/history").json()
    assert len(rows) == 10
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    assert len(client.get("/api/history", params={"limit": 3}).json()) == 3
    later = client.get("/api/history", params={"since": rows[6]["ts"]}).json()
    assert [r["ts"] for r in later] == [r["ts"] for r in rows[7:]]


def test_events_and_kpis(client: TestClient, view: FakeView) -> None:
    events = client.get("/api/events").json()
    assert events and set(events[0]) >= {"ts", "kind", "message", "data"}
    view.step(30)
    kpis = client.get("/api/kpis").json()
    assert kpis["today"]["load_kwh"] > 0


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"since": "yesterday"}, "query.since = 'yesterday'"),
        ({"limit": 0}, "query.limit = '0'"),
        ({"limit": "many"}, "query.limit = 'many'"),
    ],
)
def test_bad_queries_are_422_naming_field_and_value(client: TestClient, params: dict[str, object], needle: str) -> None:
    r = client.get("/api/history", params=params)
    assert r.status_code == 422
    assert needle in r.json()["detail"]


def test_health_is_public_and_says_what_is_enabled(view: FakeView) -> None:
    with local_client(create_app(view, token=None, public_reads=False)) as c:
        body = c.get("/api/health").json()
    assert body == {
        "ok": True,
        "live": True,
        "loops": {"fast": "running", "planning": "running"},
        "version": body["version"],
        "public_reads": False,
        "writes_enabled": False,
        "ledger": False,
        "states": ["grid_tied", "islanding", "islanded", "resync", "blackout", "black_start", "safe"],
    }


def test_states_are_the_controllers_modes() -> None:
    core = pytest.importorskip("islandgrid.controller.core", reason="controller not in this checkout")
    from islandgrid.api.models import STATES

    assert set(STATES) == set(core.MODES)


def test_protected_reads_need_the_token(view: FakeView) -> None:
    with local_client(create_app(view, token=TOKEN, public_reads=False)) as c:
        assert c.get("/api/status").status_code == 401
        assert c.get("/api/events", headers={"Authorization": "Bearer wrong-token-xxxxxxxxxx"}).status_code == 401
        assert c.get("/api/status", headers=AUTH).status_code == 200
        assert c.get("/api/kpis", headers=AUTH).status_code == 200
        assert c.get("/").status_code == 200  # the page itself holds no data


# --- writes ----------------------------------------------------------------------------------


WRITES = [
    ("/api/mode", {"mode": "island"}),
    ("/api/setpoints", {"values": {"reserve_frac": 0.5}}),
    ("/api/strategy", {"name": "cycle_charging"}),
    ("/api/faults", {"kind": "grid_loss"}),
]


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_writes_without_configured_token_are_403_with_how_to(view: FakeView, path: str, body: dict) -> None:
    with local_client(create_app(view, token=None)) as c:
        r = c.post(path, json=body, headers=AUTH)
    assert r.status_code == 403
    assert "--token-file" in r.json()["detail"]
    assert view.calls == []


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_writes_need_the_right_token(client: TestClient, view: FakeView, path: str, body: dict) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = client.post(path, json=body, headers={"Authorization": f"Bearer {TOKEN[:-1]}X"})
    assert r.status_code == 401
    r = client.post(path, json=body, headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status_code == 401
    assert view.calls == []
    r = client.post(path, json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] is True
    assert len(view.calls) == 1


def test_fault_injection_shows_in_status_and_events(client: TestClient) -> None:
    r = client.post("/api/faults", json={"kind": "grid_loss", "params": {}}, headers=AUTH)
    assert r.status_code == 200
    assert client.get("/api/status").json()["mode"] == "islanded"
    kinds = [e["kind"] for e in client.get("/api/events").json()]
    assert "grid_loss" in kinds


def test_mode_island_then_grid(client: TestClient, view: FakeView) -> None:
    assert client.post("/api/mode", json={"mode": "island"}, headers=AUTH).status_code == 200
    assert client.get("/api/status").json()["breaker"] == "open"
    assert client.post("/api/mode", json={"mode": "grid"}, headers=AUTH).status_code == 200
    assert client.get("/api/status").json()["mode"] == "resync"
    view.step(3)
    assert client.get("/api/status").json()["mode"] == "grid_tied"


@pytest.mark.parametrize(
    ("path", "body", "needles"),
    [
        ("/api/mode", {"mode": "offgrid"}, ["body.mode", "'offgrid'", "'island' or 'grid'"]),
        ("/api/mode", {}, ["body.mode", "Field required"]),
        ("/api/mode", {"mode": "island", "force": True}, ["body.force"]),
        ("/api/strategy", {"name": "greedy"}, ["'greedy'", "load_following", "mpc"]),
        ("/api/strategy", {"name": ""}, ["body.name"]),
        ("/api/setpoints", {"values": {"reserv_frac": 0.4}}, ["'reserv_frac'", "reserve_frac"]),
        ("/api/setpoints", {"values": {"reserve_frac": 2.0}}, ["reserve_frac", "2.0", "0.9"]),
        ("/api/setpoints", {"values": {"reserve_frac": "lots"}}, ["body.values.reserve_frac", "'lots'"]),
        ("/api/setpoints", {"values": {}}, ["body.values"]),
        ("/api/faults", {"kind": "meteor"}, ["'meteor'", "grid_loss"]),
    ],
)
def test_bad_writes_are_422_naming_field_value_and_allowed(
    client: TestClient, path: str, body: dict, needles: list[str]
) -> None:
    r = client.post(path, json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    for needle in needles:
        assert needle in detail, (needle, detail)


def test_non_finite_setpoint_is_refused(client: TestClient, view: FakeView) -> None:
    r = client.post(
        "/api/setpoints",
        content=b'{"values": {"reserve_frac": NaN}}',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert view.calls == []


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post("/api/mode", content=b"{mode: island", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"]


def test_fault_without_twin_is_409(view: FakeView) -> None:
    view.twin = False
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.post("/api/faults", json={"kind": "grid_loss"}, headers=AUTH)
    assert r.status_code == 409
    assert "--twin" in r.json()["detail"]


def test_unknown_route_is_404(client: TestClient) -> None:
    assert client.get("/api/nothing").status_code == 404
    assert client.post("/api/status", headers=AUTH).status_code == 405


# --- settings --------------------------------------------------------------------------------


def test_no_default_token_and_weak_tokens_refused(view: FakeView) -> None:
    with pytest.raises(InputError, match="at least 16"):
        create_app(view, token="secret")
    with pytest.raises(InputError):
        create_app(view, token="sixteen chars xx")  # spaces


def test_token_file(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text(f"{TOKEN}\n")
    assert load_token_file(f) == TOKEN
    f.write_text("short\n")
    with pytest.raises(InputError, match="token"):
        load_token_file(f)
    with pytest.raises(InputError, match="token_file"):
        load_token_file(tmp_path / "missing")


def test_default_bind_is_loopback() -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    import inspect

    from islandgrid.api import serve_app

    assert inspect.signature(serve_app).parameters["host"].default == "127.0.0.1"


def test_apps_share_no_state() -> None:
    a, b = FakeView(), FakeView()
    with local_client(create_app(a, token=TOKEN)) as ca, local_client(create_app(b, token=None)) as cb:
        ca.post("/api/faults", json={"kind": "grid_loss"}, headers=AUTH)
        assert ca.get("/api/status").json()["mode"] == "islanded"
        assert cb.get("/api/status").json()["mode"] == "grid_tied"
        assert cb.get("/api/health").json()["writes_enabled"] is False


# --- schema and docs -------------------------------------------------------------------------


def test_openapi_schema_lists_every_route_and_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for p in ("/api/status", "/api/history", "/api/events", "/api/kpis", "/api/health", "/api/ledger"):
        assert "get" in paths[p], p
    for p in ("/api/mode", "/api/setpoints", "/api/strategy", "/api/faults"):
        assert "post" in paths[p], p
        assert paths[p]["post"]["security"], p
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "Status" in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["ModeRequest"]["properties"]["mode"]["enum"] == ["island", "grid"]


def test_docs_are_served_offline(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert "/docs-assets/redoc.standalone.js" in client.get("/redoc").text


def test_dashboard_assets_are_local(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text
    js = client.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def test_non_finite_numbers_from_the_controller_become_null() -> None:
    class NanView(FakeView):
        def status(self) -> dict:
            return {**super().status(), "soc_frac": float("nan"), "extra": {"x": float("inf")}}

    with local_client(create_app(NanView(), token=None)) as c:
        r = c.get("/api/status")
    assert r.status_code == 200
    assert r.json()["soc_frac"] is None and r.json()["extra"] == {"x": None}


def test_malformed_view_data_is_a_500_with_a_message() -> None:
    class BadView(FakeView):
        def status(self) -> dict:
            return {"soc_frac": 0.5}  # no mode

    with local_client(create_app(BadView(), token=None), raise_server_exceptions=False) as c:
        r = c.get("/api/status")
    assert r.status_code == 500
    assert "malformed" in r.json()["detail"]


def test_security_headers(client: TestClient) -> None:
    api = client.get("/api/status")
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    # no CORS: a page on another origin gets no Access-Control-Allow-Origin for the writes
    pre = client.options(
        "/api/mode", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers
