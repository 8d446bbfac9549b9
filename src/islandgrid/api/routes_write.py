"""Write routes: mode change, setpoints, strategy and (twin only) fault injection. All need the token.

The controller says what it accepts: an unknown setpoint, strategy or fault kind raises
``ValueError`` in the view, which the app turns into a 422 carrying the controller's message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from islandgrid.api.auth import require_write
from islandgrid.api.models import CommandResult, ErrorBody, FaultRequest, ModeRequest, SetpointsRequest, StrategyRequest
from islandgrid.api.routes_read import get_view
from islandgrid.controller.view import ControllerView
from islandgrid.errors import DeviceError

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "No API token configured: writes are disabled"},
    422: {"model": ErrorBody, "description": "Unknown name or bad value; the message names field, value and allowed"},
}

router = APIRouter(prefix="/api", tags=["write"], dependencies=[Depends(require_write)], responses=_ERRORS)


@router.post("/mode", response_model=CommandResult, summary="Island (planned) or reconnect to the grid")
def post_mode(body: ModeRequest, view: Annotated[ControllerView, Depends(get_view)]) -> CommandResult:
    """``{"mode": "island"}`` asks for planned islanding, ``{"mode": "grid"}`` for resynchronisation."""
    return CommandResult.model_validate(view.request_mode(body.mode))


@router.post("/setpoints", response_model=CommandResult, summary="Change operator setpoints")
def post_setpoints(body: SetpointsRequest, view: Annotated[ControllerView, Depends(get_view)]) -> CommandResult:
    """e.g. ``{"values": {"reserve_frac": 0.45}}``; unknown names are refused with the allowed ones."""
    return CommandResult.model_validate(view.set_setpoints(dict(body.values)))


@router.post("/strategy", response_model=CommandResult, summary="Switch the planning strategy")
def post_strategy(body: StrategyRequest, view: Annotated[ControllerView, Depends(get_view)]) -> CommandResult:
    """e.g. ``{"name": "load_following"}``; unknown names are refused with the allowed ones."""
    return CommandResult.model_validate(view.set_strategy(body.name.strip()))


@router.post(
    "/faults",
    response_model=CommandResult,
    summary="Inject a fault into the device twin",
    responses={409: {"model": ErrorBody, "description": "Not running against a twin"}},
)
def post_fault(body: FaultRequest, view: Annotated[ControllerView, Depends(get_view)]) -> CommandResult:
    """Twin mode only: ``{"kind": "grid_loss"}``, ``grid_restore``, ``bms_trip``, ``genset_fail_to_start``,
    ``telemetry_stale``, ``modbus_timeout``."""
    try:
        accepted = view.inject_fault(body.kind.strip(), dict(body.params))
    except DeviceError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"cannot inject fault {body.kind!r}: {exc} (fault injection needs `islandgrid serve --twin`).",
        ) from None
    return CommandResult.model_validate(accepted)
