"""The alarm routes (issue 9 §2): the board, acknowledging, the genset reset, and health while a loop is down."""

from __future__ import annotations

import warnings

from islandgrid.api import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_helpers import AUTH, TOKEN, FakeView, local_client


def test_alarms_are_listed_acknowledged_and_leave_once_cleared(client: TestClient, view: FakeView) -> None:
    assert client.get("/api/alarms").json() == []
    client.post("/api/faults", json={"kind": "grid_loss"}, headers=AUTH)
    alarms = client.get("/api/alarms").json()
    assert [a["id"] for a in alarms] == ["grid_lost:site"] and alarms[0]["active"] is True
    assert client.get("/api/status").json()["alarms"] == alarms
    r = client.post("/api/alarms/grid_lost:site/ack", headers=AUTH)
    assert r.status_code == 200 and r.json()["acknowledged"] is True
    client.post("/api/faults", json={"kind": "grid_restore"}, headers=AUTH)
    assert client.get("/api/alarms").json() == []  # cleared and acknowledged: off the board


def test_ack_needs_the_token_and_a_known_id(client: TestClient, view: FakeView) -> None:
    assert client.post("/api/alarms/grid_lost:site/ack").status_code == 401
    r = client.post("/api/alarms/grid_lost:site/ack", headers=AUTH)
    assert r.status_code == 404 and "no alarm 'grid_lost:site'" in r.json()["detail"]
    assert client.post("/api/alarms/..%2F..%2Fetc/ack", headers=AUTH).status_code in (404, 422)
    assert client.post("/api/alarms/NOPE/ack", headers=AUTH).status_code == 422
    assert ("ack", "grid_lost:site") in view.calls


def test_genset_reset_is_a_write(client: TestClient, view: FakeView) -> None:
    view.genset_failed = True
    assert client.post("/api/genset/reset").status_code == 401
    assert view.genset_failed
    r = client.post("/api/genset/reset", headers=AUTH)
    assert r.status_code == 200 and r.json()["accepted"] == "genset_reset"
    assert not view.genset_failed and client.get("/api/status").json()["genset_manager"] == "idle"


def test_health_is_not_ok_while_a_loop_is_down(client: TestClient, view: FakeView) -> None:
    view.loops["fast"] = "down"
    body = client.get("/api/health").json()
    assert body["ok"] is False and body["loops"] == {"fast": "down", "planning": "running"}
    assert client.get("/api/status").json()["live"] is False


def test_health_answers_not_ok_when_the_view_cannot(view: FakeView) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    view.health = broken  # type: ignore[method-assign]
    with local_client(create_app(view, token=TOKEN)) as c:
        r = c.get("/api/health")
    assert r.status_code == 200 and r.json()["ok"] is False


def test_the_schema_names_the_alarm_kinds(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/api/alarms", "/api/alarms/{alarm_id}/ack", "/api/genset/reset"} <= set(paths)
    kinds = schema["components"]["schemas"]["AlarmKind"]["enum"]
    assert "foreign_command" in kinds and "loop_down" in kinds
