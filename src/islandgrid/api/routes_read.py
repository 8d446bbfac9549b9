"""Read routes: health, status, history, the event log and KPIs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from islandgrid import __version__
from islandgrid.api.auth import ApiSettings, require_read
from islandgrid.api.health import view_health
from islandgrid.api.models import STATES, ErrorBody, Event, Health, HistoryRecord, Kpis, Status
from islandgrid.controller.view import ControllerView
from islandgrid.devices.clock import iso_utc

router = APIRouter(
    prefix="/api",
    tags=["read"],
    responses={
        401: {"model": ErrorBody, "description": "Reads are protected and the token is missing or wrong"},
        422: {"model": ErrorBody, "description": "Bad query; the message names the field and the value"},
    },
)

Since = Annotated[
    str | None,
    Query(description="Only records after this time, ISO 8601 (e.g. 2026-06-01T12:00:00Z)", max_length=64),
]


def get_view(request: Request) -> ControllerView:
    """The view the app was built with (``app.state.view``)."""
    view: ControllerView = request.app.state.view
    return view


def check_since(since: str | None) -> str | None:
    """``since`` in the controller's own spelling (``iso_utc``: UTC, milliseconds), or ``None``.

    A time without a zone is UTC; a time before 1970 selects everything, as 1970 does. Views
    compare it with their own ``ts`` strings, so every spelling of one instant selects the same
    records. Anything that is not an ISO 8601 time is a 422 naming the field and the value.
    """
    if since is None or since == "":
        return None
    try:
        t = datetime.fromisoformat(since.replace("Z", "+00:00"))
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    except (ValueError, OverflowError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"query.since = {since[:64]!r}: not an ISO 8601 time. Use e.g. 2026-06-01T12:00:00Z.",
        ) from None
    return iso_utc(max(t, _EPOCH).timestamp())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@router.get("/health", response_model=Health, summary="Liveness and access settings")
def health(request: Request) -> Health:
    """Always public: ``ok`` is false while a controller loop is down; says whether reads are public,
    writes enabled and a ledger configured."""
    settings: ApiSettings = request.app.state.settings
    h = view_health(request.app.state.view)
    return Health(
        ok=h["ok"],
        live=h["live"],
        loops=h["loops"],
        version=__version__,
        public_reads=settings.public_reads,
        writes_enabled=settings.token is not None,
        ledger=settings.ledger_path is not None,
        states=list(STATES),
    )


@router.get("/status", response_model=Status, dependencies=[Depends(require_read)], summary="The controller now")
def get_status(view: Annotated[ControllerView, Depends(get_view)]) -> Status:
    """Mode, SoC, power per device [kW], breaker and genset state, carbon intensity, today's PV share and
    diesel minutes."""
    return Status.model_validate(view.status())


@router.get(
    "/history",
    response_model=list[HistoryRecord],
    dependencies=[Depends(require_read)],
    summary="Metered intervals, oldest first",
)
def get_history(
    view: Annotated[ControllerView, Depends(get_view)],
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many records")] = 1000,
) -> list[HistoryRecord]:
    """Per-interval metered records (powers [kW], SoC, mode), oldest first."""
    rows = view.history(since=check_since(since), limit=limit)
    return [HistoryRecord.model_validate(r) for r in rows]


@router.get(
    "/events",
    response_model=list[Event],
    dependencies=[Depends(require_read)],
    summary="The event log, oldest first",
)
def get_events(
    view: Annotated[ControllerView, Depends(get_view)],
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many events")] = 500,
) -> list[Event]:
    """Mode changes, outages, genset starts, faults and operator commands."""
    rows = view.events(since=check_since(since), limit=limit)
    return [Event.model_validate(r) for r in rows]


@router.get("/kpis", response_model=Kpis, dependencies=[Depends(require_read)], summary="KPIs so far")
def get_kpis(view: Annotated[ControllerView, Depends(get_view)]) -> Kpis:
    """PV share, diesel minutes and starts, CO2, unserved energy: today and since start."""
    return Kpis.model_validate(view.kpis())
