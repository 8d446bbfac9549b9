"""Alarm routes: the controller's alarm board, acknowledging an alarm, and resetting a failed genset.

``GET /api/alarms`` is a read (public unless reads are protected); acknowledging and the genset
reset are writes and need the token, like every other write route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field

from islandgrid.api.auth import require_read, require_write
from islandgrid.api.models import CommandResult, ErrorBody
from islandgrid.api.routes_read import get_view
from islandgrid.controller.alarms import AlarmKind
from islandgrid.controller.view import ControllerView
from islandgrid.errors import InputError

router = APIRouter(prefix="/api")

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "No API token configured: writes are disabled"},
}

AlarmId = Annotated[
    str,
    Path(
        description="The alarm's id, `<kind>:<device>`, e.g. `telemetry_stale:pcs` (from GET /api/alarms)",
        max_length=64,
        pattern=r"^[a-z_]+:[a-z_]+$",
    ),
]


class Alarm(BaseModel):
    """One alarm on the controller's board (latched until cleared and acknowledged)."""

    id: str = Field(..., description="`<kind>:<device>`")
    kind: AlarmKind = Field(..., description="What kind of alarm")
    device: str = Field(..., description="The device or loop it concerns, or `site`")
    message: str = Field(..., description="What is wrong now (the latest text while active)")
    raised_epoch_s: float = Field(..., description="UNIX time it was raised [s]")
    active: bool = Field(..., description="The condition still holds")
    acknowledged: bool = Field(..., description="An operator acknowledged it")
    cleared_epoch_s: float | None = Field(None, description="UNIX time the condition cleared [s], or null")
    count: int = Field(..., description="How many times it was raised or refreshed while active")


@router.get(
    "/alarms",
    response_model=list[Alarm],
    tags=["read"],
    dependencies=[Depends(require_read)],
    responses={401: {"model": ErrorBody, "description": "Reads are protected and the token is missing or wrong"}},
    summary="The alarm board, active alarms first",
)
def get_alarms(view: Annotated[ControllerView, Depends(get_view)]) -> list[Alarm]:
    """Every alarm on the board: active ones, then cleared ones not yet acknowledged (oldest first)."""
    return [Alarm.model_validate(a) for a in view.alarms()]


@router.post(
    "/alarms/{alarm_id}/ack",
    response_model=Alarm,
    tags=["write"],
    dependencies=[Depends(require_write)],
    responses={**_WRITE_ERRORS, 404: {"model": ErrorBody, "description": "No such alarm on the board"}},
    summary="Acknowledge an alarm",
)
def post_ack(alarm_id: AlarmId, view: Annotated[ControllerView, Depends(get_view)]) -> Alarm:
    """An acknowledged alarm leaves the board once its condition has cleared too."""
    try:
        return Alarm.model_validate(view.acknowledge_alarm(alarm_id))
    except InputError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


@router.post(
    "/genset/reset",
    response_model=CommandResult,
    tags=["write"],
    dependencies=[Depends(require_write)],
    responses=_WRITE_ERRORS,
    summary="Reset a failed genset manager: retry the start now",
)
def post_genset_reset(view: Annotated[ControllerView, Depends(get_view)]) -> CommandResult:
    """A genset manager that gave up (``genset_manager: failed``) starts a new sequence when the genset is needed."""
    return CommandResult.model_validate(view.reset_genset())
