"""The app factory: ``create_app(view, token=...)`` builds a FastAPI app around one ControllerView.

No module-level state: the view and the settings live in ``app.state``, so two apps in one
process (as in the tests) never share anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pydantic_core
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from islandgrid import __version__
from islandgrid.api import routes_alarms, routes_dashboard, routes_ledger, routes_read, routes_write
from islandgrid.api.auth import ApiSettings, check_token
from islandgrid.api.docs import mount_docs
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
Reads are public unless the server was started with protected reads.

**Units.** Powers in kW (battery + discharge, grid + import), energies in kWh, fractions in
[0, 1] (`_frac`), carbon intensity in kg CO2/kWh, times ISO 8601 UTC.
"""


def create_app(
    view: ControllerView,
    *,
    token: str | None,
    public_reads: bool = True,
    ledger_path: Path | None = None,
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
    """
    settings = ApiSettings(
        token=check_token(token),
        public_reads=public_reads,
        ledger_path=Path(ledger_path) if ledger_path is not None else None,
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
    )
    app.state.view = view
    app.state.settings = settings
    _add_error_handlers(app)
    _add_security_headers(app)
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(routes_alarms.router)
    app.include_router(routes_ledger.router)
    app.include_router(routes_dashboard.router)
    routes_dashboard.mount_static(app)
    mount_docs(app, TITLE)
    return app


def _add_security_headers(app: FastAPI) -> None:
    """No sniffing, no framing, no referrer; API answers are never cached."""

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _error(code: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=code)


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    text = f"{loc}: {err.get('msg', 'invalid')}"
    if "input" in err and err.get("type") != "missing":
        shown = repr(err["input"])
        text = f"{loc} = {shown if len(shown) <= 80 else shown[:77] + '...'}: {err.get('msg', 'invalid')}"
    return text


def _add_error_handlers(app: FastAPI) -> None:
    """Every error becomes ``{"detail": "<one clear sentence>"}`` with the right status code."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {k: v for k, v in e.items() if k in ("loc", "msg", "type", "input")}
            for e in exc.errors()
            if isinstance(e, dict)
        ]
        detail = "; ".join(_describe(e) for e in errors) or "invalid request"
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, detail, jsonable(errors))

    @app.exception_handler(pydantic_core.ValidationError)
    async def _bad_view_data(request: Request, exc: pydantic_core.ValidationError) -> JSONResponse:
        log.error("controller returned data the API cannot serve: %s", exc)
        return _error(500, f"the controller returned malformed data: {exc.errors()[0].get('msg', exc)}")

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))

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
        return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, f"ledger error: {exc}")

    @app.exception_handler(IslandgridError)
    async def _other(request: Request, exc: IslandgridError) -> JSONResponse:
        return _error(status.HTTP_500_INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")


def jsonable(value: Any) -> Any:
    """Make validation details JSON-safe (inputs may be bytes, sets or exceptions)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
