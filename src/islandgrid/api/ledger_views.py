"""Read the carbon ledger for the API: pages of records, the verify result and the carbon report.

Each call opens the SQLite file, reads, and closes it again: the controller may be appending
to the same file (WAL mode lets readers and one writer work at once).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import HTTPException, status

from islandgrid.errors import LedgerError


@contextmanager
def _store(path: Path) -> Iterator[Any]:
    from islandgrid.ledger import open_ledger

    store = open_ledger(path, readonly=True)  # a read never writes the file or leaves one beside it
    try:
        yield store
    finally:
        store.close()


def _site(store: Any, site_id: str | None) -> str:
    """The chain to read: ``site_id`` if the ledger holds it, else the only one; 404 naming the sites otherwise."""
    sites = list(store.sites())
    if site_id is not None and site_id not in sites:
        held = ", ".join(repr(s) for s in sites) or "none yet"
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"query.site_id = {site_id[:100]!r}: the ledger holds no such site. Sites: {held}.",
        )
    try:
        sid = store.resolve_site(site_id)
    except LedgerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ledger: {exc}") from None
    return str(sid)


def _records(store: Any, site_id: str | None) -> pd.DataFrame:
    from islandgrid.ledger.verify import read_records

    site_id = _site(store, site_id)
    frame: pd.DataFrame = read_records(store, site_id)
    return frame


def _iso(ts: Any) -> str | None:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return None
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def ledger_page(
    path: Path, *, since: str | None, limit: int, newest: bool, site_id: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Records after ``since`` (the first ``limit``; with ``newest`` the last ``limit``), oldest first."""
    with _store(path) as store:
        frame = _records(store, site_id)
        sid = str(frame.attrs.get("site_id", site_id or ""))
    if since:
        frame = frame[frame.index > pd.Timestamp(since.replace("Z", "+00:00")).tz_convert("UTC")]
    frame = frame.iloc[-limit:] if newest else frame.iloc[:limit]
    rows: list[dict[str, Any]] = []
    for ts, row in zip(frame.index, frame.to_dict("records"), strict=True):
        rows.append({"ts": _iso(ts), **{str(k): _clean(v) for k, v in row.items()}})
    return sid, rows


def ledger_verify(path: Path, *, site_id: str | None = None) -> dict[str, Any]:
    """Verify the hash chain; a broken chain raises :class:`ChainBrokenError` (the app answers 409)."""
    from islandgrid.ledger.verify import verify_chain

    with _store(path) as store:
        report = verify_chain(store, _site(store, site_id))  # ChainBrokenError: the app answers 409
    return {
        "ok": True,
        "message": f"chain {report.site_id!r} intact: {report.n_records} records, {report.gaps} after a gap",
        "site_id": report.site_id,
        "n_records": report.n_records,
        "tip_hash": report.tip_hash,
        "first": _iso(report.first),
        "last": _iso(report.last),
        "gaps": report.gaps,
    }


def _table(df: pd.DataFrame, index_name: str | None = None) -> list[dict[str, Any]]:
    """A frame as JSON rows (the index as ``index_name`` when given); NaN as null, times as ISO strings."""
    if index_name is not None:
        df = df.reset_index(names=index_name)
    rows = df.to_dict("records")
    return [{str(k): _json(v) for k, v in row.items()} for row in rows]


def _json(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return _clean(value)


def _build(store: Any, site_id: str | None, carbon_price_eur_per_t: float) -> Any:
    from islandgrid.reports.carbon import build_report

    return build_report(store, _site(store, site_id), carbon_price_eur_per_t=carbon_price_eur_per_t)


def carbon_report_json(
    path: Path, *, site_id: str | None, carbon_price_eur_per_t: float, hourly: bool
) -> dict[str, Any]:
    """The carbon report of ``islandgrid report carbon`` (same builder, same figures) as JSON.

    The chain is verified first: a broken chain raises ChainBrokenError (the app answers 409).
    """
    from islandgrid.reports.carbon import status

    with _store(path) as store:
        rep = _build(store, site_id, carbon_price_eur_per_t)
    ch = rep.chain
    out: dict[str, Any] = {
        "site": dict(rep.site),
        "chain": {
            "ok": True,
            "site_id": ch.site_id,
            "n_records": ch.n_records,
            "tip_hash": ch.tip_hash,
            "signature": None if ch.signature is None else ch.signature.as_dict(),
            "first": _iso(ch.first),
            "last": _iso(ch.last),
            "gaps": ch.gaps,
        },
        "status": status(rep),
        "data_quality": _table(rep.quality, "period"),
        "basis_of_preparation": [{"heading": h, "text": t} for h, t in rep.basis],
        "uncertainty": _table(rep.uncertainty),
        "warnings": list(rep.warnings),
        "summary": _table(rep.summary),
        "monthly": _table(rep.monthly, "period"),
        "percentiles": _table(rep.percentiles),
        "cbam": _json(dataclasses.asdict(rep.cbam)),
        "factors": _table(rep.factors),
    }
    if rep.jobs is not None:
        out["jobs"] = _table(rep.jobs)
    if hourly:
        out["hourly"] = _table(rep.hourly, "hour")
    return out


def carbon_report_html(path: Path, *, site_id: str | None, carbon_price_eur_per_t: float) -> str:
    """The self-contained HTML report (plotly embedded: works offline)."""
    from islandgrid.reports.carbon import render_html

    with _store(path) as store:
        rep = _build(store, site_id, carbon_price_eur_per_t)
    html: str = render_html(rep)
    return html
