"""Ledger routes: the hash-chained carbon ledger and the carbon report built from it.

The ledger is optional: ``create_app(..., ledger_path=None)`` makes these routes answer 404
with a message saying how to configure one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from islandgrid.api.auth import ApiSettings, require_read
from islandgrid.api.models import ErrorBody, LedgerPage, LedgerRecord, LedgerVerify
from islandgrid.api.routes_read import Since, check_since

router = APIRouter(
    prefix="/api",
    tags=["ledger"],
    dependencies=[Depends(require_read)],
    responses={404: {"model": ErrorBody, "description": "No ledger configured"}},
)

NO_LEDGER = (
    "no carbon ledger is configured on this server: start it with a ledger file, "
    "e.g. `islandgrid serve SITE.toml --ledger ledger.sqlite`."
)


def _ledger_path(request: Request) -> str:
    settings: ApiSettings = request.app.state.settings
    if settings.ledger_path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NO_LEDGER)
    if not settings.ledger_path.exists():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"the ledger file {str(settings.ledger_path)!r} does not exist yet (nothing recorded so far).",
        )
    return str(settings.ledger_path)


def _ledger_module() -> Any:
    try:
        import islandgrid.ledger as ledger
    except ImportError as exc:  # pragma: no cover - the ledger ships with islandgrid
        raise HTTPException(
            status.HTTP_501_NOT_IMPLEMENTED, detail=f"the ledger module is unavailable: {exc}"
        ) from None
    return ledger


@router.get("/ledger", response_model=LedgerPage, summary="Ledger records, oldest first")
def get_ledger(
    path: Annotated[str, Depends(_ledger_path)],
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many records")] = 1000,
) -> LedgerPage:
    """Each record with its hash-chain fields, so a client can re-check the chain."""
    records = _ledger_module().api_records(path, since=check_since(since), limit=limit)
    return LedgerPage(path=path, count=len(records), records=[LedgerRecord.model_validate(r) for r in records])


@router.get(
    "/ledger/verify",
    response_model=LedgerVerify,
    summary="Verify the hash chain",
    responses={409: {"model": ErrorBody, "description": "The chain is broken"}},
)
def verify_ledger(path: Annotated[str, Depends(_ledger_path)]) -> LedgerVerify:
    """200 with ``ok: true`` if intact; 409 naming the first altered, missing or reordered record."""
    return LedgerVerify.model_validate(_ledger_module().api_verify(path))


@router.get("/reports/carbon", summary="Carbon report from the ledger")
def carbon_report(path: Annotated[str, Depends(_ledger_path)]) -> dict[str, Any]:
    """GHG-Protocol scopes, hourly CFE score and the CBAM-style block, as JSON."""
    report: dict[str, Any] = _ledger_module().api_carbon_report(path)
    return report
