"""Write a chain as CSV or Parquet (exact floats; UTC and local time columns)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import read_records


def export_records(store: LedgerStore, out: str | Path, site_id: str | None = None) -> int:
    """Write every record of a chain to ``out`` (.csv or .parquet), atomically; returns the row count.

    Floats are written with full round-trip precision (CSV) or as binary64 (Parquet), so
    sums agree with the ledger to the gram.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(
            "unknown export format", field="--out", value=str(out), allowed=".csv or .parquet", fix="name the file so"
        )
    frame = read_records(store, site_id)
    tz = store.site_info(str(frame.attrs["site_id"])).get("tz", "UTC")
    table = frame.reset_index()
    table.insert(1, "ts_local", pd.DatetimeIndex(frame.index).tz_convert(tz).map(pd.Timestamp.isoformat))
    table["ts_utc"] = pd.DatetimeIndex(frame.index).map(pd.Timestamp.isoformat)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            table.to_csv(tmp, index=False, float_format=None)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(table)
