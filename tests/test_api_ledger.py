"""The ledger routes: records, verify (409 on a tampered chain), the carbon report, and 404 without a ledger."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

import islandgrid
from islandgrid.api import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_helpers import FakeView, local_client

ledger = pytest.importorskip("islandgrid.ledger", reason="the ledger is not in this checkout")
pytest.importorskip("islandgrid.ledger.verify", reason="the ledger's verify is not in this checkout")

N = 48  # two days of hourly records


@pytest.fixture(scope="module")
def ledger_file(
    tmp_path_factory: pytest.TempPathFactory, horinger: islandgrid.Site, horinger_result: islandgrid.Result
) -> Path:
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    with ledger.open_ledger(path) as store:
        assert store.append_flows(horinger, horinger_result.flows.iloc[:N], quality="measured") == N
    return path


@pytest.fixture
def client(ledger_file: Path) -> TestClient:
    return local_client(create_app(FakeView(), token=None, ledger_path=ledger_file))


def test_ledger_pages_forward_oldest_first(client: TestClient) -> None:
    r = client.get("/api/ledger", params={"limit": 10})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 10 and body["site_id"]
    recs = body["records"]
    assert [x["seq"] for x in recs] == list(range(10))
    assert {"ts", "hash", "factor_set", "quality", "grid_co2_kg", "load_co2_kg"} <= set(recs[0])
    nxt = client.get("/api/ledger", params={"limit": 10, "since": recs[-1]["ts"]}).json()["records"]
    assert [x["seq"] for x in nxt] == list(range(10, 20))
    tail = client.get("/api/ledger", params={"limit": 3, "newest": True}).json()["records"]
    assert [x["seq"] for x in tail] == [N - 3, N - 2, N - 1]


def test_verify_intact_chain(client: TestClient) -> None:
    r = client.get("/api/ledger/verify")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["n_records"] == N and len(body["tip_hash"]) == 64


def test_carbon_report_is_the_cli_report_as_json(client: TestClient) -> None:
    recs = client.get("/api/ledger", params={"limit": N}).json()["records"]
    r = client.get("/api/reports/carbon")
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["chain"]["ok"] is True and rep["chain"]["n_records"] == N
    summary = {row["item"]: row["value"] for row in rep["summary"]}
    assert summary["Scope 2 location-based"] == pytest.approx(sum(x["grid_co2_kg"] for x in recs))
    assert summary["Scope 1 (diesel)"] == pytest.approx(sum(x["diesel_co2_kg"] for x in recs))
    assert summary["load served"] == pytest.approx(sum(x["load_served_kwh"] for x in recs))
    assert 0.0 <= summary["on-site PV share (pv_share)"] <= 1.0
    assert rep["monthly"][-1]["period"] == "total"
    assert rep["cbam"]["consumed_mwh"] == pytest.approx(summary["load served"] / 1000)
    assert "hourly" not in rep
    with_hours = client.get("/api/reports/carbon", params={"hourly": True, "carbon_price": 100}).json()
    assert len(with_hours["hourly"]) == N
    cost = {row["item"]: row["value"] for row in with_hours["summary"]}["carbon price"]
    assert cost == 100
    assert client.get("/api/reports/carbon", params={"carbon_price": -1}).status_code == 422


def test_carbon_report_html_is_self_contained(client: TestClient) -> None:
    r = client.get("/api/reports/carbon.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Carbon report" in r.text
    assert "<script src=" not in r.text  # plotly is inline
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_tampered_chain_is_409_naming_the_record(tmp_path: Path, ledger_file: Path) -> None:
    bad = tmp_path / "tampered.sqlite"
    bad.write_bytes(ledger_file.read_bytes())
    con = sqlite3.connect(bad)
    con.execute("DROP TRIGGER records_no_update")
    payload = con.execute("SELECT payload FROM records ORDER BY key LIMIT 1 OFFSET 5").fetchone()[0]
    altered = bytearray(payload)
    altered[-1] ^= 0x01
    con.execute(
        "UPDATE records SET payload = ? WHERE key = (SELECT key FROM records ORDER BY key LIMIT 1 OFFSET 5)",
        (bytes(altered),),
    )
    con.commit()
    con.close()
    with local_client(create_app(FakeView(), token=None, ledger_path=bad)) as c:
        r = c.get("/api/ledger/verify")
        assert r.status_code == 409
        assert "seq 5" in r.json()["detail"]
        assert c.get("/api/reports/carbon").status_code == 409  # no report from a broken chain


def test_no_ledger_configured_is_404_saying_how(tmp_path: Path) -> None:
    with local_client(create_app(FakeView(), token=None)) as c:
        for path in ("/api/ledger", "/api/ledger/verify", "/api/reports/carbon", "/api/reports/carbon.html"):
            r = c.get(path)
            assert r.status_code == 404
            assert "--db" in r.json()["detail"]
    with local_client(create_app(FakeView(), token=None, ledger_path=tmp_path / "none.sqlite")) as c:
        r = c.get("/api/ledger")
        assert r.status_code == 404 and "does not exist yet" in r.json()["detail"]


def test_empty_ledger_is_404(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    ledger.open_ledger(path).close()
    with local_client(create_app(FakeView(), token=None, ledger_path=path)) as c:
        r = c.get("/api/ledger/verify")
    assert r.status_code == 404
    assert "no records" in r.json()["detail"]


def test_ledger_reads_follow_public_reads(ledger_file: Path) -> None:
    token = "ledger-token-0123456789"
    with local_client(create_app(FakeView(), token=token, public_reads=False, ledger_path=ledger_file)) as c:
        assert c.get("/api/ledger/verify").status_code == 401
        assert c.get("/api/ledger/verify", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/ledger", "/api/ledger/verify", "/api/reports/carbon", "/api/reports/carbon.html"]
)
def test_an_unknown_site_is_404_naming_the_sites_and_an_empty_one_422(client: TestClient, path: str) -> None:
    r = client.get(path, params={"site_id": "nosuch"})
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"
    detail = r.json()["detail"]
    assert "'nosuch'" in detail and client.get("/api/ledger/verify").json()["site_id"] in detail
    r = client.get(path, params={"site_id": ""})
    assert r.status_code == 422 and "site_id" in r.json()["detail"]
    assert client.get(path, params={"hourly_": "1"}).status_code == 422


def test_the_report_builder_refuses_an_unknown_site(ledger_file: Path) -> None:
    from islandgrid.errors import InputError
    from islandgrid.reports.carbon import build_report

    with ledger.open_ledger(ledger_file) as store:
        with pytest.raises(InputError, match="nosuch"):
            build_report(store, "nosuch")
        with pytest.raises(InputError, match="site_id"):
            build_report(store, "")


@pytest.mark.parametrize("since", ["2024-12-31T20:00:00", "2025-01-01T04:00:00+08:00", "2024-12-31T20:00:00.000Z"])
def test_since_in_any_iso_spelling_selects_the_same_records(client: TestClient, since: str) -> None:
    """A time without a zone is UTC (it was a 500: a tz-naive timestamp), any offset is converted."""
    r = client.get("/api/ledger", params={"since": since, "limit": 3})
    assert r.status_code == 200, r.text
    assert [x["ts"] for x in r.json()["records"]] == [
        "2024-12-31T21:00:00Z",
        "2024-12-31T22:00:00Z",
        "2024-12-31T23:00:00Z",
    ]


def test_carbon_report_json_says_what_it_is_like_the_html(
    client: TestClient, tmp_path: Path, horinger: islandgrid.Site, horinger_result: islandgrid.Result
) -> None:
    """Issue 14 §1 in the API: status wording, data quality, basis of preparation, uncertainty and warnings."""
    rep = client.get("/api/reports/carbon").json()
    assert rep["status"]["kind"] == "inventory" and "measured 100.0 %" in rep["status"]["statement"]
    assert rep["data_quality"][-1]["period"] == "total" and rep["data_quality"][-1]["measured"] == 1.0
    headings = [b["heading"] for b in rep["basis_of_preparation"]]
    assert "Status" in headings and "Versions" in headings and rep["uncertainty"] and rep["warnings"] == []
    assert rep["chain"]["signature"] is None  # an unsigned chain says so
    from islandgrid.ledger.record import FLAG_SIMULATED

    sim = tmp_path / "sim.sqlite"
    with ledger.open_ledger(sim) as store:  # as `ledger build` writes
        store.append_flows(horinger, horinger_result.flows.iloc[:N], quality="estimated", flags=FLAG_SIMULATED)
    c = local_client(create_app(FakeView(), token=None, ledger_path=sim))
    body = c.get("/api/reports/carbon").json()
    page = c.get("/api/reports/carbon.html").text
    assert body["status"]["kind"] == "projection" and "not a GHG Protocol inventory" in body["status"]["statement"]
    assert body["status"]["statement"] in page  # the same words as the HTML banner
    assert body["basis_of_preparation"][0]["text"].startswith("Projection from simulated data")
