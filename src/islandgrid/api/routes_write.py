"""Write routes: mode change, setpoints, strategy and (twin only) fault injection. All need the token.

The request models refuse unknown fields, kinds and devices, and mistyped values (422); the
controller says what else it accepts: an unknown setpoint or strategy, or a value out of its
range, raises :class:`~islandgrid.errors.InputError` in the view, which the app answers 422
with the controller's message. Any other exception is a bug (500, logged).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, status

from islandgrid.api.auth import require_write
from islandgrid.api.models import CommandResult, ErrorBody, FaultRequest, ModeRequest, SetpointsRequest, StrategyRequest
from islandgrid.api.routes_read import get_view
from islandgrid.controller.view import ControllerView
from islandgrid.errors import DeviceError

_ERRORS: dict[int | str, dict[str, object]] = {
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
def post_fault(
    body: Annotated[FaultRequest, Body()], view: Annotated[ControllerView, Depends(get_view)]
) -> CommandResult:
    """Twin mode only: ``{"kind": "grid_loss"}``, or a kind with parameters, e.g.
    ``{"kind": "grid_off_nominal", "params": {"hz": 0.45}}``; left-out parameters take the twin's defaults."""
    try:
        accepted = view.inject_fault(body.kind, body.params.model_dump(mode="json", exclude_none=True))
    except DeviceError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"cannot inject fault {body.kind!r}: {exc} (fault injection needs `islandgrid serve --twin`).",
        ) from None
    return CommandResult.model_validate(accepted)
