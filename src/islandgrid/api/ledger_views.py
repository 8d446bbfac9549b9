"""Read the carbon ledger for the API: pages of records, the verify result and a carbon summary.

Each call opens the SQLite file, reads, and closes it again: the controller may be appending
to the same file (WAL mode lets readers and one writer work at once).
"""

from __future__ import annotations

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

    store = open_ledger(path)
    try:
        yield store
    finally:
        store.close()


def _records(store: Any, site_id: str | None) -> pd.DataFrame:
    from islandgrid.ledger.verify import read_records

    try:
        store.resolve_site(site_id)
    except LedgerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ledger: {exc}") from None
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
        try:
            store.resolve_site(site_id)
        except LedgerError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ledger: {exc}") from None
        report = verify_chain(store, site_id)  # ChainBrokenError: the app answers 409
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


def _sum(frame: pd.DataFrame, col: str) -> float | None:
    if col not in frame:
        return None
    return float(frame[col].fillna(0.0).sum())


def carbon_summary(path: Path, *, site_id: str | None = None) -> dict[str, Any]:
    """GHG-Protocol style totals from the ledger records: Scope 1 (diesel), Scope 2 location-based
    (grid import x factor), the PV share of the load and the load's mean carbon intensity."""
    with _store(path) as store:
        frame = _records(store, site_id)
        sid = str(frame.attrs.get("site_id", site_id or ""))
    served = _sum(frame, "load_served_kwh") or 0.0
    pv_to_load = (
        float((frame["load_served_kwh"] * frame["load_pv_frac"]).fillna(0.0).sum())
        if {"load_served_kwh", "load_pv_frac"} <= set(frame.columns)
        else None
    )
    scope1 = _sum(frame, "diesel_co2_kg")
    scope2 = _sum(frame, "grid_co2_kg")
    load_co2 = _sum(frame, "load_co2_kg")
    quality = frame["quality"].value_counts().to_dict() if "quality" in frame else {}
    gaps = int(frame["flag_names"].str.contains("after_gap").sum()) if "flag_names" in frame else 0
    return {
        "site_id": sid,
        "n_records": len(frame),
        "first": _iso(frame.index[0]) if len(frame) else None,
        "last": _iso(frame.index[-1]) if len(frame) else None,
        "energy_kwh": {
            "load_served": served,
            "pv_used": _sum(frame, "pv_used_kwh"),
            "pv_to_load": pv_to_load,
            "grid_in": _sum(frame, "grid_in_kwh"),
            "grid_out": _sum(frame, "grid_out_kwh"),
            "diesel": _sum(frame, "diesel_kwh"),
            "unserved": _sum(frame, "unserved_kwh"),
        },
        "fuel_l": _sum(frame, "fuel_l"),
        "co2_kg": {
            "scope1_diesel": scope1,
            "scope2_location_grid": scope2,
            "total": (scope1 or 0.0) + (scope2 or 0.0),
            "carried_by_load": load_co2,
        },
        "pv_share_frac": (pv_to_load / served) if pv_to_load is not None and served > 0 else None,
        "load_kg_per_kwh": (load_co2 / served) if load_co2 is not None and served > 0 else None,
        "data_quality": {str(k): int(v) for k, v in quality.items()},
        "records_after_gap": gaps,
        "note": (
            "Scope 2 is location-based (grid import x the factor recorded with each interval). CBAM covers "
            "goods, not compute services: compute carbon reaches EU customers through their Scope 3 / CSRD "
            "reporting. Verify the chain with GET /api/ledger/verify."
        ),
    }
