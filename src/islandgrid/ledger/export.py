"""Write a chain as CSV or Parquet (exact floats; UTC and local time columns)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import read_records


def check_export_name(out: str | Path) -> str:
    """The export format from the file name (``.csv`` or ``.parquet``); InputError for any other."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(
            "unknown export format", field="--out", value=str(out), allowed=".csv or .parquet", fix="name the file so"
        )
    return suffix


def export_records(store: LedgerStore, out: str | Path, site_id: str | None = None) -> int:
    """Write every record of a chain to the file ``out`` (.csv or .parquet); returns the row count.

    Floats are written with full round-trip precision (CSV) or as binary64 (Parquet), so
    sums agree with the ledger to the gram. The file is written in place: the CLI writes it
    into a staging folder and moves it into place (``cli.common.atomic_dir``).
    """
    out = Path(out)
    suffix = check_export_name(out)
    frame = read_records(store, site_id)
    tz = store.site_info(str(frame.attrs["site_id"])).get("tz", "UTC")
    table = frame.reset_index()
    table.insert(1, "ts_local", pd.DatetimeIndex(frame.index).tz_convert(tz).map(pd.Timestamp.isoformat))
    table["ts_utc"] = pd.DatetimeIndex(frame.index).map(pd.Timestamp.isoformat)
    if suffix == ".csv":
        table.to_csv(out, index=False, float_format=None)
    else:
        table.to_parquet(out, index=False)
    return len(table)
