"""The app factory: ``create_app(view, token=...)`` builds a FastAPI app around one ControllerView.

No module-level state: the view and the settings live in ``app.state``, so two apps in one
process (as in the tests) never share anything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pydantic_core
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from islandgrid import __version__
from islandgrid.api import (
    routes_alarms,
    routes_compute,
    routes_dashboard,
    routes_ledger,
    routes_read,
    routes_write,
    schema,
)
from islandgrid.api.auth import ApiSettings, FailedTokens, check_token
from islandgrid.api.docs import mount_docs
from islandgrid.api.guard import Guard, allowed_hosts
from islandgrid.controller.view import ControllerView
from islandgrid.errors import ChainBrokenError, DeviceError, InputError, IslandgridError, LedgerError

log = logging.getLogger(__name__)

#: Bind address of ``islandgrid serve`` unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"

TITLE = "islandgrid"

DESCRIPTION = """\
The live microgrid controller: status, history, KPIs, the event log, the carbon ledger and
reports (reads), and mode, setpoints, strategy and twin fault injection (writes).

**Auth.** Writes need `Authorization: Bearer <token>`; the token is set when the server starts
(`islandgrid serve ... --token-file FILE`). With no token configured, writes are refused (403).
Reads are public unless the server was started with protected reads. The token is checked before
the body is read; 5 wrong tokens from one client within 60 s are answered 429 with `Retry-After`.

**Host.** Only requests naming 127.0.0.1, localhost, [::1] or the server's `--host` /
`--allow-host` names in their `Host` header are answered (400 otherwise: DNS rebinding).

**Errors.** Every error is JSON `{"detail": "..."}`; bad input is 4xx naming the field and the
value, and a 500 is a bug (logged on the server).

**Units.** Powers in kW (battery + discharge, grid + import), energies in kWh, fractions in
[0, 1] (`_frac`), carbon intensity in kg CO2/kWh, times ISO 8601 UTC.
"""


def create_app(
    view: ControllerView,
    *,
    token: str | None,
    public_reads: bool = True,
    ledger_path: Path | None = None,
    host: str | None = None,
    allow_hosts: Iterable[str] = (),
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """Build the API and dashboard around ``view``.

    Parameters
    ----------
    view
        The running controller (or a fake) behind the :class:`ControllerView` seam.
    token
        The bearer token for writes (at least 16 characters), or ``None``: then every write is
        refused with 403 and a message saying how to set one. There is no default token.
    public_reads
        ``True`` (default): reads need no token. ``False``: reads need the same token.
    ledger_path
        The carbon ledger (SQLite) to serve under ``/api/ledger`` and ``/api/reports/carbon``;
        ``None``: those routes answer 404 saying how to configure one.
    host
        The address the server is bound to (``serve --host``); requests naming it in their
        ``Host`` header are answered, as are 127.0.0.1, localhost and [::1]. A wildcard
        (0.0.0.0, ::) adds nothing: name the hosts with ``allow_hosts``.
    allow_hosts
        More host names the ``Host`` header may carry (``serve --allow-host``).
    clock
        The monotonic clock of the wrong-token back-off [s]; default :func:`time.monotonic`.
    """
    settings = ApiSettings(
        token=check_token(token),
        public_reads=public_reads,
        ledger_path=Path(ledger_path) if ledger_path is not None else None,
        failures=FailedTokens(clock=clock) if clock is not None else FailedTokens(),
    )
    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        openapi_tags=[
            {"name": "read", "description": "Public unless the server protects reads"},
            {"name": "write", "description": "Need the bearer token"},
            {"name": "ledger", "description": "The hash-chained carbon ledger and its reports"},
        ],
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.state.view = view
    app.state.settings = settings
    _add_error_handlers(app)
    app.add_middleware(Guard, settings=settings, hosts=allowed_hosts(host, allow_hosts))
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(routes_alarms.router)
    app.include_router(routes_compute.router)
    app.include_router(routes_ledger.router)
    app.include_router(routes_dashboard.router)
    routes_dashboard.mount_static(app)
    mount_docs(app, TITLE)
    schema.install(app, settings)
    return app


def refuse_unknown_query(request: Request) -> None:
    """422 for a query parameter an ``/api/`` route does not take (``?limt=5`` is a typo, not a default).

    Pages (``/``, ``/docs``) ignore query strings, as browsers expect.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params or not request.url.path.startswith("/api/"):
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        shown = ", ".join(repr(u[:50]) for u in unknown[:5])
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown query parameter {shown}; allowed: {', '.join(sorted(known)) or 'none'}.",
        )


#: FastAPI's words for a body it could not decode (not UTF-8, or not JSON text at all).
_UNPARSABLE_BODY = "There was an error parsing the body"


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route and its dependencies take (by their alias)."""
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _error(
    code: int, detail: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=code, headers=headers)


def _describe(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":
        why = str(err.get("ctx", {}).get("error", "")) if isinstance(err.get("ctx"), dict) else ""
        return (
            f"body: not valid JSON{f' ({why})' if why else ''}: send a JSON object encoded in UTF-8 "
            "with `Content-Type: application/json`"
        )
    loc = ".".join(str(p) for p in err.get("loc", ()))
    text = f"{loc}: {err.get('msg', 'invalid')}"
    if "input" in err and err.get("type") != "missing":
        shown = repr(err["input"])
        text = f"{loc} = {shown if len(shown) <= 80 else shown[:77] + '...'}: {err.get('msg', 'invalid')}"
    return text


def _add_error_handlers(app: FastAPI) -> None:
    """Every error becomes ``{"detail": "<one clear sentence>"}`` with the right status code.

    Client errors are :class:`InputError` (422) or HTTP errors raised on purpose; anything else
    a route raises is a bug, answered 500 with a JSON body and logged (the guard middleware).
    """

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == status.HTTP_400_BAD_REQUEST and detail == _UNPARSABLE_BODY:
            detail = (
                "the request body cannot be read: it must be JSON text in UTF-8 "
                "(send `Content-Type: application/json`)."
            )
        return _error(exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = [e for e in exc.errors() if isinstance(e, dict)]
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type", "input")} for e in raw]
        detail = "; ".join(_describe(e) for e in raw) or "invalid request"
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, jsonable(errors))

    @app.exception_handler(pydantic_core.ValidationError)
    async def _bad_view_data(request: Request, exc: pydantic_core.ValidationError) -> JSONResponse:
        log.error("controller returned data the API cannot serve: %s", exc)
        return _error(500, f"the controller returned malformed data: {exc.errors()[0].get('msg', exc)}")

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))

    @app.exception_handler(DeviceError)
    async def _device(request: Request, exc: DeviceError) -> JSONResponse:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, f"device error: {exc}")

    @app.exception_handler(ChainBrokenError)
    async def _chain(request: Request, exc: ChainBrokenError) -> JSONResponse:
        return _error(status.HTTP_409_CONFLICT, f"the ledger's hash chain is broken: {exc}")

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        log.error("ledger error answering %s %s: %s", request.method, request.url.path, exc)
        return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, f"ledger error: {exc}")

    @app.exception_handler(IslandgridError)
    async def _other(request: Request, exc: IslandgridError) -> JSONResponse:
        log.error("error answering %s %s", request.method, request.url.path, exc_info=exc)
        return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")


def jsonable(value: Any) -> Any:
    """Make validation details JSON-safe (inputs may be bytes, sets or exceptions)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
