"""Reading and verifying a chain: every altered, deleted, inserted or reordered record is found.

:func:`verify_chain` recomputes ``h_i = SHA-256(h_{i-1} || payload_i)`` from the genesis hash
and checks, for every record in order:

1. its seq is the next one (a deleted or inserted record breaks the count);
2. its payload has the canonical length and format version;
3. the recomputed hash equals the stored one (any altered byte of payload or hash);
4. the seq and timestamp inside the payload match the stored row (a reordered record);
5. it starts no earlier than the previous interval ends, and a later start is flagged ``after_gap``;
6. its factor set is stored and hashes to the digest in the payload, and its grid and diesel factors are the
   ones that set registers (a filled gap may carry the higher of the grid and the gap-fill factor), so a
   chain re-forged with other factors and recomputed hashes is found;
7. its figures are consistent: grid and diesel CO2 from energy x factor to float rounding, and carbon conserved
   (grid + diesel = load + export + losses + change of the battery's stock).

and, around the records, every other row of the database:

8. the site's stored info (name, time zone: what a report shows) is hashed into the genesis of a
   format-2 chain, and it names this site;
9. the stored battery state (what the next append continues from) belongs to the tip, is in its
   canonical form, and its parcels add up, to the bit, to the tip's battery energy, carbon and mix;
10. every stored factor set hashes to its digest; no record lies outside a stored site's chain, no
    battery state belongs to no site, and a stored site has records.
11. a stored tip signature (table ``tip_signatures``, :mod:`islandgrid.ledger.signing`) verifies, belongs to a
    stored site and signs the chain's last record; with ``pubkey`` it is by the published key.

Truncating the newest records leaves a shorter, valid chain; only an anchor held elsewhere
finds that: pass the published tip (``--tip SEQ:HASH``; with the seq a shorter chain is told from a
forked one) or the expected count.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import CarbonState
from islandgrid.errors import ChainBrokenError, InputError
from islandgrid.ledger.record import (
    FLAG_AFTER_GAP,
    FLAG_GAP_FILLED,
    FLOAT_FIELDS,
    FORMAT_VERSION,
    FORMAT_VERSIONS,
    QUALITY_NAMES,
    RECORD_DTYPE,
    RECORD_SIZE,
    chain_hashes,
    flag_names,
    genesis_hash,
)
from islandgrid.ledger.signing import TipSignature
from islandgrid.ledger.store import LedgerStore, state_json

#: Records read, hashed and checked per pass.
VERIFY_SLICE = 8192
#: Tolerance of a recomputed product (grid and diesel CO2) [units in the last place]: float rounding only.
FLOAT_ULPS = 4


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
    format_version : int
        The chain's record format (1: the site's name and time zone are not covered).
    signature : TipSignature or None
        The tip's verified Ed25519 signature; None when the chain is not signed.
    """

    site_id: str
    n_records: int
    tip_hash: str
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    gaps: int
    format_version: int = FORMAT_VERSION
    signature: TipSignature | None = None


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
    pubkey: bytes | None = None,
) -> VerifyReport:
    """Check a whole chain; raise :class:`ChainBrokenError` naming the first bad record.

    Parameters
    ----------
    store : LedgerStore
        The ledger.
    site_id : str, optional
        The chain; by default the only one.
    tip_hash : str, optional
        A published tip, ``SEQ:HASH`` or ``HASH`` (hex), the chain must still contain: finds truncation, and
        with the seq tells it from a fork (another record at that seq).
    expect_records : int, optional
        The count the chain must have at least.
    rtol : float
        Tolerance of the per-record carbon checks, relative to the record's emissions [-].
    pubkey : bytes, optional
        The site's published Ed25519 public key [32 bytes]: the tip must be signed by it. Without it a
        stored signature is still checked against the key stored with it.

    Returns
    -------
    VerifyReport
        When the chain is intact.
    """
    sid = store.resolve_site(site_id)
    assert sid is not None
    factor_sets = store.backend.factor_sets()
    fields = _FieldChecks(factor_sets, rtol)
    info = store.backend.site_info(sid)
    g = h = genesis_hash(sid)
    version = FORMAT_VERSION
    tip: np.void | None = None
    n = gaps = 0
    first_ts = last_ts = None
    anchor_seq, anchor = _anchor(tip_hash)
    anchored = False
    at_anchor: bytes | None = None  # the stored hash of record anchor_seq
    # in slices, as the backend reads them: memory stays small and nothing is decoded per row in Python
    for rows in store.backend.row_chunks(sid, VERIFY_SLICE):
        m = len(rows)
        seqs = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=m)
        tss = np.fromiter(map(itemgetter(1), rows), dtype=np.int64, count=m)
        payloads: list[bytes] = list(map(itemgetter(2), rows))
        stored: list[bytes] = list(map(itemgetter(3), rows))
        lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=m)
        if n == 0:  # the first record's format picks the genesis: the site info is in it from format 2 on
            version = int.from_bytes(payloads[0][:2], "little")
            g = h = _genesis(sid, info, version, int(tss[0]))
            fields.version = version
        computed = chain_hashes(h, payloads)
        h = computed[-1] if computed else h
        # checks 1-3 in record order (its place, its length, its hash): the first failure ends the walk
        first_seq = _first(seqs != np.arange(n, n + m))
        first_len = _first(lengths != RECORD_SIZE)
        first_hash = (
            None
            if computed == stored
            else next(i for i, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b)
        )
        bad = [(i, k) for k, i in enumerate((first_seq, first_len, first_hash)) if i is not None]
        if bad:
            i, k = min(bad)
            if k == 0:
                what = "missing" if seqs[i] > n + i else "duplicated or inserted"
                raise _broken(sid, n + i, None, f"record {what} (found seq {int(seqs[i])} where seq {n + i} belongs)")
            if k == 1:
                raise _broken(sid, n + i, int(tss[i]), f"payload is {lengths[i]} bytes, the format has {RECORD_SIZE}")
            why = "the record, or one before it, was altered"
            if n + i == 0 and version >= 2:
                why = "the first record or the site's stored info (sites.info: name, time zone) was altered"
            raise _broken(sid, n + i, int(tss[i]), f"hash mismatch: {why}")
        anchored = anchored or (anchor is not None and anchor in stored)
        if anchor_seq is not None and n <= anchor_seq < n + m:
            at_anchor = stored[anchor_seq - n]
        rec = np.frombuffer(b"".join(payloads), dtype=RECORD_DTYPE)
        fields.check(rec, seqs, tss, n)  # remembers the first failure; raised after the chain-level checks
        gaps += int(np.count_nonzero(rec["flags"] & FLAG_AFTER_GAP))
        first_ts = int(rec["ts_s"][0]) if first_ts is None else first_ts
        last_ts = int(rec["ts_s"][-1])
        tip = rec[-1]
        n += m
    if anchor is not None:
        _check_anchor(sid, n, anchor_seq, anchor, at_anchor, anchored)
    if expect_records is not None and n < expect_records:
        raise _broken(sid, n, None, f"only {n} records, {expect_records} expected (truncated?)")
    if fields.failure is not None:
        seq, ts, why = fields.failure
        raise _broken(sid, seq, ts, why)
    _check_store(store, factor_sets)
    if n == 0:
        if sid in store.sites():
            raise _broken(sid, 0, None, "the site is stored but its chain has no records (deleted?)")
        return VerifyReport(sid, 0, g.hex(), None, None, 0)
    assert first_ts is not None and last_ts is not None and tip is not None
    state = store.backend.get_state(sid)
    problem = _state_problem(state, tip)
    if problem is not None:
        raise _broken(sid, n - 1, int(tip["ts_s"]), f"the stored battery state (table battery_state) {problem}")
    sig = store.signature(sid)
    problem = _signature_problem(sig, n - 1, h, version, pubkey)
    if problem is not None:
        raise _broken(sid, n - 1, int(tip["ts_s"]), f"tip signature (table tip_signatures): {problem}")
    return VerifyReport(
        signature=sig,
        site_id=sid,
        n_records=n,
        tip_hash=h.hex(),
        first=pd.Timestamp(first_ts, unit="s", tz="UTC"),
        last=pd.Timestamp(last_ts, unit="s", tz="UTC"),
        gaps=gaps,
        format_version=version,
    )


def _genesis(site_id: str, info: str | None, version: int, ts: int) -> bytes:
    """The genesis of a chain whose first record has format ``version`` (checks 2 and 8)."""
    if version not in FORMAT_VERSIONS:
        raise _broken(site_id, 0, ts, f"unknown format version {version} (known: {FORMAT_VERSIONS})")
    if version == 1:
        return genesis_hash(site_id)
    try:
        named = json.loads(info)["site_id"] if info is not None else None
    except (ValueError, TypeError, KeyError):
        named = None  # unreadable: the genesis differs from the one the chain was written with
    if info is None or (named is not None and named != site_id):
        raise _broken(site_id, 0, ts, "the site's stored info (table sites) is missing or names another site")
    return genesis_hash(site_id, info)


def _state_problem(state: tuple[int, str] | None, tip: np.void) -> str | None:
    """Why the stored battery state cannot be the one after ``tip`` (check 9), or None."""
    if state is None:
        return "is missing"
    seq, text = state
    if seq != int(tip["seq"]):
        return f"belongs to record seq {seq}, not to the tip"
    try:
        parcels = CarbonState.from_json(json.loads(text))
    except (ValueError, TypeError):
        return "is not a list of parcels"
    if state_json(parcels) != text:
        return "is not in its canonical form (edited by hand?)"
    # the kernel's own sums over the parcels, in queue order (carbon.flow): equal to the bit
    s_end = m_tot = b_pv = b_grid = b_diesel = 0.0
    for e, c, pv, grid, diesel in parcels.parcels:
        if not (e >= 0 and c >= 0 and all(0 <= x <= 1 for x in (pv, grid, diesel))):
            return "holds a parcel with negative energy or carbon, or a share outside 0..1"
        s_end += e
        m_tot += c
        b_pv += e * pv
        b_grid += e * grid
        b_diesel += e * diesel
    if s_end > 1e-12:
        b_pv, b_grid, b_diesel = b_pv / s_end, b_grid / s_end, b_diesel / s_end
    ours = (s_end, m_tot, b_pv, b_grid, b_diesel)
    names = ("bat_energy_kwh", "bat_co2_stock_kg", "bat_pv_frac", "bat_grid_frac", "bat_diesel_frac")
    bad = [name for name, x in zip(names, ours, strict=True) if x != float(tip[name])]
    return f"does not add up to the tip's {', '.join(bad)}" if bad else None


def _check_store(store: LedgerStore, factor_sets: dict[bytes, str]) -> None:
    """Rows outside every chain (check 10): they could be taken for ledger data, so any change is reported."""
    b = store.backend
    where = f"ledger {getattr(b, 'path', '')}".strip()
    for digest, body in factor_sets.items():
        if hashlib.sha256(body.encode("utf-8")).digest() != digest:
            raise ChainBrokenError(f"{where}: factor set {digest.hex()[:16]}... was altered (table factor_sets)")
    stray = b.stray_keys(3)
    if stray:
        raise ChainBrokenError(
            f"{where}: records {', '.join(map(str, stray))} belong to no stored site "
            "(table records or sites altered: a site_key or a record key was changed)"
        )
    sites = set(store.sites())
    orphans = [s for s in b.state_site_ids() if s not in sites]
    if orphans:
        raise ChainBrokenError(f"{where}: battery state of unknown site(s) {', '.join(orphans)} (table battery_state)")
    unsigned = [row[0] for row in b.signatures() if row[0] not in sites]
    if unsigned:
        raise ChainBrokenError(f"{where}: tip signature of unknown site(s) {unsigned} (table tip_signatures)")


def _signature_problem(
    sig: TipSignature | None, last: int, tip: bytes, version: int, pubkey: bytes | None
) -> str | None:
    """Why the stored signature does not vouch for the chain's tip ``last``/``tip``, or None."""
    if sig is None:
        return None if pubkey is None else "the tip is not signed, a public key was given (--pubkey)"
    if not sig.valid():
        return "the signature does not verify against its public key (altered)"
    if pubkey is not None and sig.public_key != pubkey:
        return f"signed by key {sig.public_key.hex()[:16]}..., not by the published {pubkey.hex()[:16]}..."
    if sig.version != version:
        return f"signs format version {sig.version}, the chain has {version}"
    if sig.seq > last:
        return f"truncated: {sig.seq - last} records missing after seq {last} (the signed tip is seq {sig.seq})"
    if sig.seq < last:
        return f"records after seq {sig.seq} are not signed (appended without the site's key?)"
    if sig.tip != tip:
        return f"forked at seq {last}: the signed tip is {sig.tip.hex()[:16]}..., the chain's {tip.hex()[:16]}..."
    return None


def _anchor(tip: str | None) -> tuple[int | None, bytes | None]:
    """``--tip`` as (seq or None, hash): ``SEQ:HASH`` or ``HASH`` (hex)."""
    if tip is None:
        return None, None
    text = tip.strip()
    seq: int | None = None
    if ":" in text:
        head, text = text.split(":", 1)
        try:
            seq = int(head)
        except ValueError:
            seq = -1
        if seq < 0:
            raise InputError(
                "the seq of the published tip is not a record number",
                field="--tip",
                value=tip,
                allowed="SEQ:HASH (SEQ >= 0, HASH 64 hex digits) or HASH",
                fix="pass the seq and hash printed with the tip",
            )
    try:
        return seq, bytes.fromhex(text)
    except ValueError:
        return seq, b""  # not a hash: in no chain


def _check_anchor(sid: str, n: int, seq: int | None, anchor: bytes, at_seq: bytes | None, anchored: bool) -> None:
    """A published tip against the chain: truncated (its seq beyond the end) or forked (another hash at its seq)."""
    shown = anchor.hex()[:16] + "..."
    if seq is None:
        if not anchored:
            raise _broken(
                sid,
                n,
                None,
                f"tip not in chain: truncated or forked (the published tip {shown} is in no record; "
                "pass --tip SEQ:HASH to tell which)",
            )
        return
    if at_seq is None:
        raise _broken(
            sid,
            n,
            None,
            f"truncated: {seq - n + 1} records missing after seq {n - 1} (the published tip {shown} is seq {seq})",
        )
    if at_seq != anchor:
        raise _broken(
            sid,
            seq,
            None,
            f"forked at seq {seq}: the chain holds {at_seq.hex()[:16]}... where the published tip is {shown} "
            "(a record at or before it was rewritten)",
        )


def _registered(body: str) -> tuple[float | None, float | None, float | None]:
    """The grid, diesel and gap-fill factors a stored factor set registers (None: not a single value).

    A grid factor given as an hourly series has no single value; its records are checked against their
    own products only (docs/ledger.md).
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None, None, None

    def value(key: str) -> float | None:
        entry = data.get(key) if isinstance(data, dict) else None
        v = entry.get("value") if isinstance(entry, dict) else None
        return float(v) if isinstance(v, int | float) else None

    return value("grid"), value("diesel"), value("gap_fill")


def _off(want: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Where ``got`` differs from ``want`` by more than float rounding (:data:`FLOAT_ULPS` ulps of ``want``)."""
    return ~(np.abs(got - want) <= FLOAT_ULPS * np.spacing(np.abs(want)))


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


class _FieldChecks:
    """Vectorised checks 2 and 4 to 7 of :func:`verify_chain`, slice by slice, carrying what crosses a boundary.

    ``failure`` is (seq, ts, why) of the first bad record, by record and then by message, as one pass over
    the whole chain would name it.
    """

    def __init__(self, factor_sets: dict[bytes, str], rtol: float) -> None:
        self.rtol = rtol
        self.sets = [
            (np.frombuffer(d, dtype="<u8"), hashlib.sha256(body.encode("utf-8")).digest() == d, _registered(body))
            for d, body in factor_sets.items()
        ]
        self.prev_end: int | None = None  # end of the previous record's interval [Unix s]
        self.prev_stock = np.nan  # the previous record's battery carbon stock [kg]
        self.version = FORMAT_VERSION  # the chain's format: every record carries it
        self.failure: tuple[int, int, str] | None = None

    def check(self, rec: np.ndarray, seqs: np.ndarray, tss: np.ndarray, offset: int) -> None:
        """Check records ``offset, offset + 1, ...`` (one slice, in order)."""
        if self.failure is not None:
            return
        rtol = self.rtol
        ts = rec["ts_s"]
        dt = rec["dt_s"].astype(np.int64)
        checks: list[tuple[np.ndarray, str]] = [
            (rec["version"] != self.version, f"format version differs from the chain's ({self.version})"),
            (rec["seq"] != seqs, "the seq inside the payload differs from its place (reordered)"),
            (ts != tss, "the timestamp inside the payload differs from the stored one (reordered)"),
            (rec["quality"] >= len(QUALITY_NAMES), "unknown data-quality code"),
            (rec["dt_s"] == 0, "zero interval length"),
        ]
        prev_end = np.concatenate(([ts[0] if self.prev_end is None else self.prev_end], ts[:-1] + dt[:-1]))
        checks.append((ts < prev_end, "starts before the previous interval ends (out of order)"))
        unflagged = (ts > prev_end) & ~(rec["flags"] & FLAG_AFTER_GAP).astype(bool)
        checks.append((unflagged, "intervals are missing before it and it is not flagged after_gap (deleted records)"))
        digests = np.ascontiguousarray(rec["factor_set"]).view("<u8")  # (n, 4): compare 32 bytes as 4 words
        matched = np.zeros(len(rec), dtype=bool)
        gap_filled = (rec["flags"] & FLAG_GAP_FILLED).astype(bool)
        for d, intact, (grid, diesel, fossil) in self.sets:
            mask = (digests == d).all(axis=1)
            matched |= mask
            if not intact:
                checks.append((mask, "its factor set was altered"))
                continue
            # the record's factors are those of the set it names (a filled gap may carry the higher gap-fill one)
            if grid is not None:
                e_grid = rec["e_grid_kg_per_kwh"]
                raised = gap_filled & (e_grid == max(grid, fossil if fossil is not None else grid))
                off = mask & (e_grid != grid) & ~raised
                checks.append((off, "e_grid_kg_per_kwh differs from its registered factor set's grid factor"))
            if diesel is not None:
                off = mask & (rec["diesel_kg_per_l"] != diesel)
                checks.append((off, "diesel_kg_per_l differs from its registered factor set's diesel factor"))
        checks.append((~matched, "its factor set is missing"))
        # derived figures recomputed as the carbon-flow kernel computes them: one IEEE-754 product each,
        # so they agree to the bit; FLOAT_ULPS allows for another platform's rounding, nothing more
        grid_co2 = rec["grid_in_kwh"] * rec["e_grid_kg_per_kwh"]
        diesel_co2 = rec["fuel_l"] * rec["diesel_kg_per_l"]
        checks.append((_off(grid_co2, rec["grid_co2_kg"]), "grid_co2_kg is not grid_in_kwh x e_grid_kg_per_kwh"))
        checks.append((_off(diesel_co2, rec["diesel_co2_kg"]), "diesel_co2_kg is not fuel_l x diesel_kg_per_l"))
        emitted = rec["grid_co2_kg"] + rec["diesel_co2_kg"]
        stock = rec["bat_co2_stock_kg"]
        scale = np.maximum(np.abs(emitted), np.abs(stock)) + 1e-9
        prev = np.concatenate(([self.prev_stock], stock[:-1]))
        carried = rec["load_co2_kg"] + rec["export_co2_kg"] + rec["dump_co2_kg"]
        imbalance = np.abs(emitted - carried - (stock - prev))
        bad = imbalance > rtol * np.maximum(scale, np.abs(prev)) + 1e-9  # False after the first record (NaN)
        checks.append((bad, "carbon not conserved against the previous record's battery stock"))
        finite = np.ones(len(rec), dtype=bool)
        for name in ("load_served_kwh", "load_co2_kg", "e_bus_kg_per_kwh", "bat_co2_stock_kg"):
            finite &= np.isfinite(rec[name])
        checks.append((~finite, "non-finite figures"))
        firsts = [(i, why) for mask, why in checks if (i := _first(mask)) is not None]
        if firsts:
            i, why = min(firsts)
            seq = offset + i if why.startswith("the seq") else int(rec["seq"][i])
            self.failure = (seq, int(ts[i]), why)
        self.prev_end = int(ts[-1] + dt[-1])
        self.prev_stock = float(stock[-1])


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
