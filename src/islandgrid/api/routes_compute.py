"""Compute routes: the EMS tells the cluster when to compute (issue 13 §4).

``GET /api/compute/budget`` and ``GET /api/compute/signal`` are reads (public unless reads are
protected); ``POST /api/compute/events`` is a write (the token): the cluster adapter
(``islandgrid compute slurm``) reports every action it takes, with its reason, into the
controller's event log. What the numbers mean: :mod:`islandgrid.controller.budget` and
docs/compute-live.md.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from islandgrid.api.auth import require_read, require_write
from islandgrid.api.models import ErrorBody, Event
from islandgrid.api.routes_read import get_view
from islandgrid.controller.budget import LEVELS, REASONS
from islandgrid.controller.compute import COMPUTE_EVENT_KINDS
from islandgrid.controller.view import ControllerView
from islandgrid.errors import IslandgridError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/compute")

Level = Literal["green", "amber", "red"]
Reason = Literal["pv_surplus", "grid", "outage", "battery_reserve", "diesel", "not_live"]
assert set(Level.__args__) == set(LEVELS) and set(Reason.__args__) == set(REASONS)  # type: ignore[attr-defined]

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Reads are protected and the token is missing or wrong"},
    503: {"model": ErrorBody, "description": "The controller cannot compute a budget now (no forecast)"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "No API token configured: writes are disabled"},
    422: {"model": ErrorBody, "description": "Unknown kind, or a field out of range"},
}


class ComputeSignal(BaseModel):
    """The signal now."""

    model_config = ConfigDict(extra="allow")

    ts: str = Field(..., description="Now, ISO 8601 UTC")
    level: Level = Field(..., description="green: PV surplus; amber: grid or outage on battery; red: stop")
    reason: Reason = Field(..., description="Why: pv_surplus, grid, outage, battery_reserve, diesel, not_live")
    message: str = Field(..., description="The reason in words, with the numbers")
    green_kw: float = Field(..., description="PV surplus over the inflexible load, within the room's rating [kW]")
    budget_kw: float = Field(..., description="Power flexible jobs may draw now [kW]")
    live: bool = Field(..., description="The controller's status is fresh and its loops run")


class ComputeSlot(BaseModel):
    """One 15-minute slot of the budget."""

    start: str = Field(..., description="Slot start, ISO 8601 UTC")
    budget_kw: float = Field(..., description="Power flexible jobs may draw [kW]")
    green_kw: float = Field(..., description="Of which PV surplus [kW]")
    level: Level = Field(..., description="green, amber or red")
    reason: Reason = Field(..., description="Why the slot has its level")
    grid_co2_kg_per_kwh: float = Field(..., description="The grid's carbon factor [kg CO2/kWh]")


class ComputeBudget(BaseModel):
    """The compute power budget: 15-minute slots for the next 48 h; the first is now."""

    ts: str = Field(..., description="When it was computed, ISO 8601 UTC")
    slot_s: float = Field(..., description="Slot length [s]")
    horizon_h: float = Field(..., description="Horizon [h]")
    signal: ComputeSignal
    slots: list[ComputeSlot]


Scalar = StrictBool | StrictInt | StrictFloat | Annotated[str, Field(max_length=200)] | None


class ComputeEventRequest(BaseModel):
    """One action of the cluster adapter, e.g. ``{"kind": "compute_hold", "message": "job 42 held: red (diesel)",
    "data": {"job_id": "42", "reason": "diesel"}}``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[COMPUTE_EVENT_KINDS] = Field(..., description="What the adapter did")  # type: ignore[valid-type]
    message: str = Field(..., min_length=1, max_length=500, description="What and why, in words")
    data: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(
        default_factory=dict, max_length=32, description="Machine-readable details (scalars)"
    )

    @field_validator("data")
    @classmethod
    def _finite(cls, data: dict[str, Any]) -> dict[str, Any]:
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"data.{key} = {value!r} is not a finite number")
        return data


#: Most events one batch may carry.
MAX_BATCH = 1000


class ComputeEventBatch(BaseModel):
    """Several adapter actions at once, in order: ``{"events": [{"kind": ..., "message": ..., "data": {...}}]}``."""

    model_config = ConfigDict(extra="forbid")

    events: list[ComputeEventRequest] = Field(..., min_length=1, max_length=MAX_BATCH, description="The events")


def _unavailable(what: str, exc: Exception) -> HTTPException:
    log.error("compute %s unavailable: %s", what, exc)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"no compute {what} now: {exc}")


@router.get(
    "/budget",
    response_model=ComputeBudget,
    tags=["read"],
    dependencies=[Depends(require_read)],
    responses=_READ_ERRORS,
    summary="The compute power budget: kW per 15 min for the next 48 h",
)
def get_budget(view: Annotated[ControllerView, Depends(get_view)]) -> ComputeBudget:
    """Per slot, the power flexible jobs may draw (``budget_kw``), its PV-surplus part (``green_kw``), the level
    and its reason; the first slot is now and carries the signal."""
    try:
        return ComputeBudget.model_validate(view.compute_budget())
    except IslandgridError as exc:
        raise _unavailable("budget", exc) from None


@router.get(
    "/signal",
    response_model=ComputeSignal,
    tags=["read"],
    dependencies=[Depends(require_read)],
    responses=_READ_ERRORS,
    summary="The compute signal now: green, amber or red, with the reason",
)
def get_signal(view: Annotated[ControllerView, Depends(get_view)]) -> ComputeSignal:
    """green: PV surplus; amber: grid power, or an outage on a battery above its reserve; red: diesel, or an
    outage with the battery at its reserve (flexible jobs should stop; checkpointable ones are requeued)."""
    try:
        return ComputeSignal.model_validate(view.compute_signal())
    except IslandgridError as exc:
        raise _unavailable("signal", exc) from None


@router.post(
    "/events",
    response_model=Event,
    tags=["write"],
    dependencies=[Depends(require_write)],
    responses=_WRITE_ERRORS,
    summary="Write a cluster action into the controller's event log",
)
def post_event(body: ComputeEventRequest, view: Annotated[ControllerView, Depends(get_view)]) -> Event:
    """The adapter reports what it did (held, released, deferred, requeued a job; failed open) and why."""
    return Event.model_validate(view.compute_event(body.kind, body.message, dict(body.data)))


@router.post(
    "/events/batch",
    response_model=list[Event],
    tags=["write"],
    dependencies=[Depends(require_write)],
    responses=_WRITE_ERRORS,
    summary="Write up to 1,000 cluster actions into the event log, in order",
)
def post_events(body: ComputeEventBatch, view: Annotated[ControllerView, Depends(get_view)]) -> list[Event]:
    """As ``POST /api/compute/events``, for an iteration that acted on many jobs (one request, not one per job)."""
    return [Event.model_validate(view.compute_event(e.kind, e.message, dict(e.data))) for e in body.events]
