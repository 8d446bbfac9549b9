"""Reading and verifying a chain: every altered, deleted, inserted or reordered record is found.

:func:`verify_chain` recomputes ``h_i = SHA-256(h_{i-1} || payload_i)`` from the genesis hash
and checks, for every record in order:

1. its seq is the next one (a deleted or inserted record breaks the count);
2. its payload has the canonical length and format version;
3. the recomputed hash equals the stored one (any altered byte of payload or hash);
4. the seq and timestamp inside the payload match the stored row (a reordered record);
5. it starts no earlier than the previous interval ends, and a later start is flagged ``after_gap``;
6. its factor set is stored and hashes to the digest in the payload;
7. its figures are consistent: grid and diesel CO2 from energy x factor, and carbon conserved
   (grid + diesel = load + export + losses + change of the battery's stock).

Truncating the newest records leaves a shorter, valid chain; only an anchor held elsewhere
finds that: pass the published tip hash (``--tip``) or the expected count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.errors import ChainBrokenError
from islandgrid.ledger.record import (
    FLAG_AFTER_GAP,
    FLOAT_FIELDS,
    FORMAT_VERSION,
    QUALITY_NAMES,
    RECORD_DTYPE,
    RECORD_SIZE,
    flag_names,
    genesis_hash,
)
from islandgrid.ledger.store import LedgerStore


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a successful verification.

    Attributes
    ----------
    site_id : str
        The chain.
    n_records : int
        Records checked.
    tip_hash : str
        Hash of the last record (hex); publish it to make truncation detectable.
    first, last : pandas.Timestamp or None
        First and last interval start, UTC.
    gaps : int
        Records flagged ``after_gap``.
    """

    site_id: str
    n_records: int
    tip_hash: str
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    gaps: int


def _broken(site_id: str, seq: int, ts: object, why: str) -> ChainBrokenError:
    when = f" ({pd.Timestamp(int(ts), unit='s', tz='UTC')})" if isinstance(ts, int | np.integer) else ""
    return ChainBrokenError(f"chain {site_id!r} broken at record seq {seq}{when}: {why}")


def verify_chain(
    store: LedgerStore,
    site_id: str | None = None,
    *,
    tip_hash: str | None = None,
    expect_records: int | None = None,
    rtol: float = 1e-9,
) -> VerifyReport:
    """Check a whole chain; raise :class:`ChainBrokenError` naming the first bad record.

    Parameters
    ----------
    store : LedgerStore
        The ledger.
    site_id : str, optional
        The chain; by default the only one.
    tip_hash : str, optional
        A published tip hash (hex) the chain must still contain: finds truncation.
    expect_records : int, optional
        The count the chain must have at least.
    rtol : float
        Tolerance of the per-record carbon checks, relative to the record's emissions [-].

    Returns
    -------
    VerifyReport
        When the chain is intact.
    """
    sid = store.resolve_site(site_id)
    assert sid is not None
    rows = store.backend.rows(sid)
    factor_sets = store.backend.factor_sets()
    sha = hashlib.sha256
    h = genesis_hash(sid)
    payloads: list[bytes] = []
    append = payloads.append
    for i, (seq, ts, payload, digest) in enumerate(rows):
        if seq != i:
            what = "missing" if seq > i else "duplicated or inserted"
            raise _broken(sid, i, None, f"record {what} (found seq {seq} where seq {i} belongs)")
        if len(payload) != RECORD_SIZE:
            raise _broken(sid, i, ts, f"payload is {len(payload)} bytes, the format has {RECORD_SIZE}")
        h = sha(h + payload).digest()
        if h != digest:
            raise _broken(sid, i, ts, "hash mismatch: the record, or one before it, was altered")
        append(payload)
    n = len(payloads)
    if tip_hash is not None:
        known = {bytes(r[3]).hex(): int(r[0]) for r in rows} if n else {}
        if tip_hash.lower() not in known:
            raise _broken(sid, n, None, f"the published tip {tip_hash[:16]}... is not in the chain (truncated?)")
    if expect_records is not None and n < expect_records:
        raise _broken(sid, n, None, f"only {n} records, {expect_records} expected (truncated?)")
    if n == 0:
        return VerifyReport(sid, 0, genesis_hash(sid).hex(), None, None, 0)
    rec = np.frombuffer(b"".join(payloads), dtype=RECORD_DTYPE)
    seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    tss = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
    _check_fields(sid, rec, seqs, tss, factor_sets, rtol)
    return VerifyReport(
        site_id=sid,
        n_records=n,
        tip_hash=h.hex(),
        first=pd.Timestamp(int(rec["ts_s"][0]), unit="s", tz="UTC"),
        last=pd.Timestamp(int(rec["ts_s"][-1]), unit="s", tz="UTC"),
        gaps=int(np.count_nonzero(rec["flags"] & FLAG_AFTER_GAP)),
    )


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def _check_fields(
    sid: str, rec: np.ndarray, seqs: np.ndarray, tss: np.ndarray, factor_sets: dict[bytes, str], rtol: float
) -> None:
    """Vectorised checks 2 and 4 to 7 of :func:`verify_chain`; each names the first bad record."""
    ts = rec["ts_s"]
    checks: list[tuple[np.ndarray, str]] = [
        (rec["version"] != FORMAT_VERSION, f"unknown format version (expected {FORMAT_VERSION})"),
        (rec["seq"] != seqs, "the seq inside the payload differs from its place (reordered)"),
        (ts != tss, "the timestamp inside the payload differs from the stored one (reordered)"),
        (rec["quality"] >= len(QUALITY_NAMES), "unknown data-quality code"),
        (rec["dt_s"] == 0, "zero interval length"),
    ]
    ends = ts[:-1] + rec["dt_s"][:-1].astype(np.int64)
    order = np.concatenate(([False], ts[1:] < ends))
    checks.append((order, "starts before the previous interval ends (out of order)"))
    unflagged = np.concatenate(([False], (ts[1:] > ends) & ~(rec["flags"][1:] & FLAG_AFTER_GAP).astype(bool)))
    checks.append((unflagged, "intervals are missing before it and it is not flagged after_gap (deleted records)"))
    digests = np.ascontiguousarray(rec["factor_set"]).view("<u8")  # (n, 4): compare 32 bytes as 4 words
    matched = np.zeros(len(rec), dtype=bool)
    for d, body in factor_sets.items():
        mask = (digests == np.frombuffer(d, dtype="<u8")).all(axis=1)
        matched |= mask
        if hashlib.sha256(body.encode("utf-8")).digest() != d:
            checks.append((mask, "its factor set was altered"))
    checks.append((~matched, "its factor set is missing"))
    grid_co2 = rec["grid_in_kwh"] * rec["e_grid_kg_per_kwh"]
    diesel_co2 = rec["fuel_l"] * rec["diesel_kg_per_l"]
    emitted = rec["grid_co2_kg"] + rec["diesel_co2_kg"]
    scale = np.maximum(np.abs(emitted), np.abs(rec["bat_co2_stock_kg"])) + 1e-9
    checks.append((np.abs(grid_co2 - rec["grid_co2_kg"]) > rtol * scale, "grid CO2 is not grid_in x factor"))
    checks.append((np.abs(diesel_co2 - rec["diesel_co2_kg"]) > rtol * scale, "diesel CO2 is not fuel x factor"))
    stock = rec["bat_co2_stock_kg"]
    prev = np.concatenate(([np.nan], stock[:-1]))
    carried = rec["load_co2_kg"] + rec["export_co2_kg"] + rec["dump_co2_kg"]
    imbalance = np.abs(emitted - carried - (stock - prev))
    bad = imbalance > rtol * np.maximum(scale, np.abs(prev)) + 1e-9
    bad[0] = False
    checks.append((bad, "carbon not conserved against the previous record's battery stock"))
    finite = np.ones(len(rec), dtype=bool)
    for name in ("load_served_kwh", "load_co2_kg", "e_bus_kg_per_kwh", "bat_co2_stock_kg"):
        finite &= np.isfinite(rec[name])
    checks.append((~finite, "non-finite figures"))
    firsts = [(i, why) for mask, why in checks if (i := _first(mask)) is not None]
    if firsts:
        i, why = min(firsts)
        raise _broken(sid, int(rec["seq"][i]) if why.startswith("the seq") is False else i, int(ts[i]), why)


def read_records(store: LedgerStore, site_id: str | None = None) -> pd.DataFrame:
    """Every record of a chain as a frame: UTC interval-start index, every payload field, quality, flags, hash.

    The floats are the stored IEEE-754 values exactly.
    """
    sid = store.resolve_site(site_id)
    assert sid is not None
    rows = store.backend.rows(sid)
    rec = np.frombuffer(b"".join(r[2] for r in rows), dtype=RECORD_DTYPE)
    idx = pd.DatetimeIndex(pd.to_datetime(rec["ts_s"].astype(np.int64), unit="s", utc=True), name="ts_utc")
    data: dict[str, object] = {
        "seq": rec["seq"].astype(np.int64),
        "dt_s": rec["dt_s"].astype(np.int64),
        "quality": np.array(QUALITY_NAMES, dtype=object)[np.minimum(rec["quality"], len(QUALITY_NAMES) - 1)],
        "flags": rec["flags"].astype(np.int64),
    }
    for name in FLOAT_FIELDS:
        data[name] = rec[name].astype(np.float64)
    frame = pd.DataFrame(data, index=idx)
    codes, inv = np.unique(rec["flags"], return_inverse=True)
    frame["flag_names"] = np.array([flag_names(int(c)) for c in codes], dtype=object)[inv]
    frame["hash"] = [bytes(r[3]).hex() for r in rows]
    words = np.ascontiguousarray(rec["factor_set"]).view("<u8")
    labels = np.full(len(rec), "", dtype=object)
    for d in store.backend.factor_sets():
        labels[(words == np.frombuffer(d, dtype="<u8")).all(axis=1)] = d.hex()
    frame["factor_set"] = labels
    frame.attrs["site_id"] = sid
    return frame
