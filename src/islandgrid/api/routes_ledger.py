"""Ledger routes: the hash-chained carbon ledger and the carbon report built from it.

The ledger is optional: ``create_app(..., ledger_path=None)`` makes these routes answer 404
with a message saying how to configure one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from islandgrid.api.auth import ApiSettings, require_read
from islandgrid.api.ledger_views import carbon_report_html, carbon_report_json, ledger_page, ledger_verify
from islandgrid.api.models import ErrorBody, LedgerPage, LedgerRecord, LedgerVerify
from islandgrid.api.routes_read import Since, check_since

router = APIRouter(
    prefix="/api",
    tags=["ledger"],
    dependencies=[Depends(require_read)],
    responses={
        404: {"model": ErrorBody, "description": "No ledger configured, no records yet, or no such site"},
        409: {"model": ErrorBody, "description": "The chain is broken (no figures from a broken chain)"},
    },
)

#: Q1-2026 CBAM certificate price published by the European Commission (Reg. (EU) 2023/956 Art. 21),
#: the report's default [EUR/t].
CBAM_PRICE_EUR_PER_T = 75.36

#: The HTML report embeds plotly and its own styles inline, and fetches nothing.
REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

NO_LEDGER = (
    "no carbon ledger is configured on this server: start it with a ledger file, "
    "e.g. `islandgrid serve SITE.toml --db ledger.sqlite`."
)


def _ledger_path(request: Request) -> Path:
    settings: ApiSettings = request.app.state.settings
    if settings.ledger_path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=NO_LEDGER)
    if not settings.ledger_path.exists():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"the ledger file {str(settings.ledger_path)!r} does not exist yet (nothing recorded so far).",
        )
    return settings.ledger_path


SiteId = Annotated[
    str | None, Query(description="The chain (site id); by default the only one", min_length=1, max_length=200)
]


@router.get("/ledger", response_model=LedgerPage, summary="Ledger records, oldest first")
def get_ledger(
    path: Annotated[Path, Depends(_ledger_path)],
    since: Since = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many records")] = 1000,
    newest: Annotated[bool, Query(description="The newest `limit` records instead of the first after `since`")] = False,
    site_id: SiteId = None,
) -> LedgerPage:
    """Each record with its hash-chain fields (seq, hash, factor set, quality, flags) and every stored figure.

    Pages forward: pass the last record's ``ts`` as ``since`` to get the next page."""
    sid, records = ledger_page(path, since=check_since(since), limit=limit, newest=newest, site_id=site_id)
    return LedgerPage(
        path=str(path), site_id=sid, count=len(records), records=[LedgerRecord.model_validate(r) for r in records]
    )


@router.get(
    "/ledger/verify",
    response_model=LedgerVerify,
    summary="Verify the hash chain",
    responses={409: {"model": ErrorBody, "description": "The chain is broken"}},
)
def verify_ledger(path: Annotated[Path, Depends(_ledger_path)], site_id: SiteId = None) -> LedgerVerify:
    """200 with ``ok: true`` and the tip hash if intact; 409 naming the first altered, missing, inserted or
    reordered record."""
    return LedgerVerify.model_validate(ledger_verify(path, site_id=site_id))


CarbonPrice = Annotated[
    float,
    Query(ge=0, le=10_000, description="Carbon price for the cost lines [EUR/t CO2]; default the Q1-2026 CBAM price"),
]


@router.get("/reports/carbon", summary="Carbon report from the ledger (JSON)")
def carbon_report(
    path: Annotated[Path, Depends(_ledger_path)],
    site_id: SiteId = None,
    carbon_price: CarbonPrice = CBAM_PRICE_EUR_PER_T,
    hourly: Annotated[bool, Query(description="Also the per-hour table (one row per local hour)")] = False,
) -> dict[str, Any]:
    """The figures of `islandgrid report carbon`, from the same builder: the verified chain and its tip
    signature, what the report is (projection or inventory, the HTML banner's words), data quality, the
    basis of preparation, uncertainty, warnings, Scope 1 and Scope 2 (location- and market-based), PV
    share, hourly CFE score, monthly table, intensity percentiles, the CBAM-style block and every factor
    used. 409 if the chain is broken."""
    return carbon_report_json(path, site_id=site_id, carbon_price_eur_per_t=carbon_price, hourly=hourly)


@router.get(
    "/reports/carbon.html",
    summary="Carbon report from the ledger (HTML)",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "A self-contained page; works offline"}},
)
def carbon_report_page(
    path: Annotated[Path, Depends(_ledger_path)],
    site_id: SiteId = None,
    carbon_price: CarbonPrice = CBAM_PRICE_EUR_PER_T,
) -> HTMLResponse:
    """The same report as `islandgrid report carbon` writes to report.html."""
    html = carbon_report_html(path, site_id=site_id, carbon_price_eur_per_t=carbon_price)
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})
