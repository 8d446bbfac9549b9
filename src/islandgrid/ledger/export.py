"""Write a chain as CSV or Parquet (exact floats; UTC and local time columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import read_records

#: Suffix of the CSV export's sidecar holding the tip and its signature.
TIP_SIDECAR = ".tip.json"
#: Parquet schema-metadata key holding the same JSON.
TIP_KEY = b"islandgrid.ledger_tip"


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
    sums agree with the ledger to the gram; the tip and its signature go with it (:func:`tip_metadata`:
    a CSV gets the sidecar ``FILE.csv.tip.json``). The files are written in place: the CLI writes it
    into a staging folder and moves it into place (``cli.common.atomic_dir``).
    """
    out = Path(out)
    suffix = check_export_name(out)
    frame = read_records(store, site_id)
    tz = store.site_info(str(frame.attrs["site_id"])).get("tz", "UTC")
    table = frame.reset_index()
    table.insert(1, "ts_local", pd.DatetimeIndex(frame.index).tz_convert(tz).map(pd.Timestamp.isoformat))
    table["ts_utc"] = pd.DatetimeIndex(frame.index).map(pd.Timestamp.isoformat)
    tip = json.dumps(tip_metadata(store, str(frame.attrs["site_id"])), sort_keys=True)
    if suffix == ".csv":
        table.to_csv(out, index=False, float_format=None)
        out.with_name(out.name + TIP_SIDECAR).write_text(tip + "\n", encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), TIP_KEY: tip.encode("utf-8")})
        pq.write_table(arrow, out)
    return len(table)


def tip_metadata(store: LedgerStore, site_id: str) -> dict[str, str | int]:
    """The chain's tip (seq, hash, format version) and, when signed, its Ed25519 signature and public key.

    What every export carries (CSV: the sidecar ``FILE.csv.tip.json``; Parquet: the schema metadata key
    ``islandgrid.ledger_tip``; the carbon report: its HTML and the ``ledger`` sheet of report.xlsx).
    """
    sig = store.signature(site_id)
    tip = store.tip(site_id)
    if tip is None:
        return {"site_id": site_id}
    if sig is not None and sig.seq == tip.seq and sig.tip.hex() == tip.hash:
        return sig.as_dict()
    return {"site_id": site_id, "seq": tip.seq, "tip_hash": tip.hash, "format_version": tip.version}
