"""Schema-based fuzzing of the API with schemathesis, in process: no 5xx and no schema violation.

Every operation of ``/openapi.json`` (enumerated from the schema, so a new router is fuzzed
without a change here) gets positive and negative cases, with and without the token, against
the fake view and against the real controller service over a stepped twin with a ledger.
Bounded (``max_examples`` per operation, derandomized, no example database, no shrinking),
so the run is the same every time. A self-test shows that a 500 and an off-schema answer
make the fuzz run fail.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import islandgrid
from islandgrid.api import create_app
from islandgrid.api.models import Status

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

from api_helpers import LOCAL_URL, FakeView, local_client

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


#: The back-off's clock for fuzzed apps: 1000 s pass between two reads, so the wrong tokens the
#: negative cases send never add up to a 429 that would hide the rest of the run.
def _fast_clock() -> Callable[[], float]:
    return itertools.count(0.0, 1000.0).__next__


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


def fuzz(app: FastAPI, *, headers: dict[str, str], max_examples: int) -> list[str]:
    """Fuzz every operation in ``app``'s schema; the failures, one line each (empty: all held)."""
    with local_client(app) as client:
        raw = client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    failures: list[str] = []
    sent: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                sent.append(case.call_and_validate(base_url=LOCAL_URL, headers=headers, checks=CHECKS).status_code)

            try:
                one()
            except Unsatisfiable:  # no negative case exists (an operation without parameters)
                continue
            except (Exception, FailureGroup) as exc:  # a check failed: keep the first lines of the report
                failures.append(f"{op.label} ({mode.value}): {' | '.join(str(exc).splitlines()[:6])}")
    assert len(sent) >= len(operations) * max_examples, f"only {len(sent)} requests sent"
    print(f"fuzz: {len(operations)} operations, {len(sent)} requests, statuses {sorted(set(sent))}")
    return failures


# --- the fake view -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_reads", "headers", "max_examples"),
    [(True, {}, 6), (True, AUTH, 10), (False, {}, 4), (False, AUTH, 10)],
    ids=["public-no-token", "public-token", "protected-no-token", "protected-token"],
)
def test_fuzz_the_fake_view_finds_no_5xx_and_no_schema_violation(
    public_reads: bool, headers: dict[str, str], max_examples: int
) -> None:
    app = create_app(FakeView(), token=TOKEN, public_reads=public_reads, clock=_fast_clock())
    failures = fuzz(app, headers=headers, max_examples=max_examples)
    assert failures == [], "\n".join(failures)


def test_fuzz_without_a_configured_token_finds_nothing() -> None:
    assert fuzz(create_app(FakeView(), token=None, clock=_fast_clock()), headers=AUTH, max_examples=4) == []


# --- the real controller over a stepped twin, with a ledger ------------------------------------


@pytest.fixture(scope="module")
def real_app(horinger: islandgrid.Site, inputs: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    from islandgrid.controller.metering import LedgerSink
    from islandgrid.twin.rig import SteppedRig

    path = tmp_path_factory.mktemp("fuzz") / "ledger.sqlite"
    sink = LedgerSink(str(path))
    rig = SteppedRig(horinger, inputs, "2025-06-21 10:00", sink=sink, trace=False)
    asyncio.run(rig.run_for(180.0))  # three metered minutes in the ledger
    try:
        yield create_app(rig.service, token=TOKEN, ledger_path=path, clock=_fast_clock())
    finally:
        sink.close()


@pytest.mark.parametrize(("headers", "max_examples"), [({}, 4), (AUTH, 8)], ids=["no-token", "token"])
def test_fuzz_the_real_service_finds_no_5xx_and_no_schema_violation(
    real_app: FastAPI, headers: dict[str, str], max_examples: int
) -> None:
    failures = fuzz(real_app, headers=headers, max_examples=max_examples)
    assert failures == [], "\n".join(failures)


# --- self-test: the fuzz run does fail on a 500 and on an off-schema answer ---------------------


class RaisingView(FakeView):
    """A view with a bug: reading the status divides by zero."""

    def status(self) -> dict[str, Any]:
        return {"mode": 1 / 0}


def _raising() -> FastAPI:
    return create_app(RaisingView(), token=TOKEN)


def _off_schema() -> FastAPI:
    app = create_app(FakeView(), token=TOKEN)

    @app.get("/api/broken", response_model=Status)
    def broken() -> JSONResponse:  # answers a body its declared model does not allow
        return JSONResponse({"soc_frac": "full"})

    return app


@pytest.mark.parametrize(("build", "needle"), [(_raising, "/api/status"), (_off_schema, "/api/broken")])
def test_the_fuzz_run_fails_on_a_500_and_on_an_off_schema_answer(build: Callable[[], FastAPI], needle: str) -> None:
    failures = fuzz(build(), headers=AUTH, max_examples=3)
    assert failures and any(needle in f for f in failures), failures


def test_a_500_is_json_logged_and_has_the_security_headers(caplog: pytest.LogCaptureFixture) -> None:
    with local_client(_raising()) as c:
        r = c.get("/api/status")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert "internal error" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert any("ZeroDivisionError" in (rec.exc_text or "") for rec in caplog.records)


def test_the_schema_file_is_stable(tmp_path: Path) -> None:
    """Two apps give the same schema (no state leaks into it)."""
    a = local_client(create_app(FakeView(), token=TOKEN)).get("/openapi.json").json()
    b = local_client(create_app(FakeView(), token=None)).get("/openapi.json").json()
    assert a == b
