"""The canonical record: a fixed little-endian byte layout, and the SHA-256 chain over it.

One record per site per interval. Its payload is the packed structure :data:`RECORD_DTYPE`
(no padding, little-endian, IEEE-754 binary64 floats), and

    hash_0 = SHA-256(GENESIS_PREFIX_SITE || site info as UTF-8)  (the chain's anchor, not stored)
    hash_i = SHA-256(hash_{i-1} || payload_i)                     (32 raw bytes each)

where the site info is the JSON stored with the site (:func:`site_info_json`: id, name, time
zone), so the chain covers everything a report shows. A format-1 chain (written before) anchors
to ``SHA-256(GENESIS_PREFIX || site_id)`` and keeps doing so when appended to.

``docs/ledger.md`` spells the layout out field by field so that a verifier can re-implement
it without islandgrid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import CARBON_COLUMNS

#: Format version written into every payload of a new chain (2: the genesis carries the site info).
FORMAT_VERSION = 2
#: Every version a chain may have (all its records carry the same one).
FORMAT_VERSIONS = (1, 2)
#: Prefix of the genesis hash of a format-1 chain (site id only).
GENESIS_PREFIX = b"islandgrid-ledger/1\n"
#: Prefix of the genesis hash of a format-2 chain (the site's stored info).
GENESIS_PREFIX_SITE = b"islandgrid-ledger/2\n"

#: Data-quality codes (payload byte ``quality``).
QUALITY_CODES: dict[str, int] = {"measured": 0, "estimated": 1, "default": 2}
QUALITY_NAMES: tuple[str, ...] = ("measured", "estimated", "default")

#: Flag bits (payload byte ``flags``).
FLAG_GAP_FILLED = 1  # the interval was missing and has been filled conservatively
FLAG_AFTER_GAP = 2  # intervals are missing between the previous record and this one (not filled)
FLAG_SIMULATED = 4  # from a simulation (``ledger build``), not from meters
FLAG_RECONCILED = 8  # meter imbalance within tolerance, reconciled (see docs/ledger.md)
FLAG_STALE = 16  # metered while a device's telemetry was frozen (heartbeat stopped): quality 'estimated'
FLAG_NAMES: dict[int, str] = {
    FLAG_GAP_FILLED: "gap_filled",
    FLAG_AFTER_GAP: "after_gap",
    FLAG_SIMULATED: "simulated",
    FLAG_RECONCILED: "reconciled",
    FLAG_STALE: "stale",
}

#: Metered/simulated energies of the interval [kWh; fuel in L], in payload order.
ENERGY_FIELDS: tuple[str, ...] = (
    "pv_used_kwh",
    "pv_curtailed_kwh",
    "grid_in_kwh",
    "grid_out_kwh",
    "diesel_kwh",
    "fuel_l",
    "bat_in_kwh",
    "bat_out_kwh",
    "bat_selfdis_kwh",
    "load_kwh",
    "load_served_kwh",
    "unserved_kwh",
    "dump_kwh",
    "it_kwh",  # IT energy (for PUE in the per-job allocation); NaN when not metered
    "soc_kwh",  # stored energy at the end of the interval as metered; NaN when not known
)
#: Factors applied in the interval.
FACTOR_FIELDS: tuple[str, ...] = ("e_grid_kg_per_kwh", "diesel_kg_per_l")
FLOAT_FIELDS: tuple[str, ...] = ENERGY_FIELDS + FACTOR_FIELDS + CARBON_COLUMNS

RECORD_DTYPE = np.dtype(
    [
        ("version", "<u2"),
        ("quality", "u1"),
        ("flags", "u1"),
        ("dt_s", "<u4"),
        ("seq", "<i8"),
        ("ts_s", "<i8"),  # interval start, Unix seconds, UTC
        ("factor_set", "u1", (32,)),  # SHA-256 of the canonical JSON of the factors used
    ]
    + [(name, "<f8") for name in FLOAT_FIELDS]
)
RECORD_SIZE = RECORD_DTYPE.itemsize
_OFFSETS: dict[str, int] = {name: int(spec[1]) for name, spec in (RECORD_DTYPE.fields or {}).items()}
#: Byte offset of the first float field; the float fields follow back to back to the end of the record.
FLOAT_OFFSET = _OFFSETS[FLOAT_FIELDS[0]]
if [_OFFSETS[f] for f in FLOAT_FIELDS] != list(range(FLOAT_OFFSET, RECORD_SIZE, 8)):  # pragma: no cover
    raise RuntimeError("the float fields of a record must be back to back, in FLOAT_FIELDS order")
_CHUNK = 4096  # records packed per pass (about 1.4 MB, stays in cache)
_VOID = np.dtype((np.void, RECORD_SIZE))


def genesis_hash(site_id: str, site_info: str | None = None) -> bytes:
    """The anchor the first record chains to [32 bytes].

    Parameters
    ----------
    site_id : str
        The chain.
    site_info : str, optional
        The site's info exactly as stored (:func:`site_info_json`): a format-2 chain. None: the
        anchor of a format-1 chain (the site id only).
    """
    if site_info is None:
        return hashlib.sha256(GENESIS_PREFIX + site_id.encode("utf-8")).digest()
    return hashlib.sha256(GENESIS_PREFIX_SITE + site_info.encode("utf-8")).digest()


def site_info_json(site_id: str, name: str, tz: str) -> str:
    """The site info stored with a new chain and hashed into its genesis: sorted keys, no spaces, UTF-8."""
    return json.dumps({"name": name, "site_id": site_id, "tz": tz}, sort_keys=True, separators=(",", ":"))


def pack_records(
    *,
    version: int,
    quality: np.ndarray,
    flags: np.ndarray,
    dt_s: int,
    seq: np.ndarray,
    ts_s: np.ndarray,
    factor_set: bytes,
    energies: np.ndarray,
    factors: tuple[np.ndarray, float],
    carbon: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Pack records: a structured array of :data:`RECORD_DTYPE` (its bytes are the payloads).

    Parameters
    ----------
    version, dt_s : int
        The same for every record.
    quality, flags, seq, ts_s : ndarray
        Per record.
    factor_set : bytes
        The 32-byte digest, the same for every record.
    energies : ndarray
        ``(len(ENERGY_FIELDS), n)``, in :data:`ENERGY_FIELDS` order.
    factors : (ndarray, float)
        The grid factor per record [kg/kWh] and the diesel factor [kg/L].
    carbon : ndarray
        ``(n, len(CARBON_COLUMNS))`` from the carbon-flow kernel.
    out : ndarray, optional
        ``n`` records of :data:`RECORD_DTYPE` to fill (reused between calls).
    """
    n = len(seq)
    rec = np.empty(n, dtype=RECORD_DTYPE) if out is None else out
    # the float fields of all records as one (n, 36) float64 view: whole blocks copied, not one field at a time
    floats = rec.view(np.uint8).reshape(n, RECORD_SIZE)[:, FLOAT_OFFSET:].view("<f8")
    ne = len(ENERGY_FIELDS)
    grid, diesel = factors
    digest = np.frombuffer(factor_set, dtype=np.uint8)
    for a in range(0, n, _CHUNK):  # cache-sized chunks: a record is 344 bytes, a year of them 180 MB
        z = slice(a, min(a + _CHUNK, n))
        r = rec[z]
        r["version"] = version
        r["quality"] = quality[z]
        r["flags"] = flags[z]
        r["dt_s"] = dt_s
        r["seq"] = seq[z]
        r["ts_s"] = ts_s[z]
        r["factor_set"] = digest
        f = floats[z]
        f[:, :ne] = energies[:, z].T
        f[:, ne] = grid[z]
        f[:, ne + 1] = diesel
        f[:, ne + 2 :] = carbon[z]
    return rec


def payload_list(rec: np.ndarray) -> list[bytes]:
    """One bytes object per record of a :data:`RECORD_DTYPE` array (its canonical payload)."""
    payloads: list[bytes] = rec.view(_VOID).tolist()  # void items come back as bytes, trailing zeros kept
    return payloads


def split_payloads(packed: bytes) -> list[bytes]:
    """Cut back-to-back payloads of :data:`RECORD_SIZE` bytes into one bytes object each."""
    w = RECORD_SIZE
    return [packed[i : i + w] for i in range(0, len(packed), w)]


def chain_hashes(prev: bytes, payloads: list[bytes]) -> list[bytes]:
    """The chain hashes of consecutive payloads: ``h_i = SHA-256(h_{i-1} || payload_i)``.

    Parameters
    ----------
    prev : bytes
        The hash of the record before the first one (or the genesis hash) [32 bytes].
    payloads : list of bytes
        Canonical payloads, in chain order.
    """
    sha = hashlib.sha256
    out: list[bytes] = []
    append = out.append
    h = prev
    for p in payloads:
        h = sha(h + p).digest()
        append(h)
    return out


@dataclass(frozen=True)
class LedgerRecord:
    """One decoded record (what :meth:`LedgerStore.tip` returns).

    Attributes
    ----------
    site_id : str
        The chain it belongs to.
    seq : int
        Position in the chain, from 0.
    ts : pandas.Timestamp
        Interval start, UTC.
    dt_s : int
        Interval length [s].
    quality : str
        'measured', 'estimated' or 'default'.
    flags : int
        Bit set of ``FLAG_*``.
    hash : str
        The record's chain hash, hex.
    values : dict
        Every float field of the payload [units in the names].
    version : int
        The record format (the chain's).
    """

    site_id: str
    seq: int
    ts: pd.Timestamp
    dt_s: int
    quality: str
    flags: int
    hash: str
    values: dict[str, float]
    version: int = FORMAT_VERSION

    @property
    def end(self) -> pd.Timestamp:
        """End of the interval, UTC."""
        return self.ts + pd.Timedelta(seconds=self.dt_s)


def decode(site_id: str, payload: bytes, digest: bytes) -> LedgerRecord:
    """Decode one payload and its hash."""
    r = np.frombuffer(payload, dtype=RECORD_DTYPE, count=1)[0]
    return LedgerRecord(
        site_id=site_id,
        seq=int(r["seq"]),
        ts=pd.Timestamp(int(r["ts_s"]), unit="s", tz="UTC"),
        dt_s=int(r["dt_s"]),
        quality=QUALITY_NAMES[int(r["quality"])] if int(r["quality"]) < len(QUALITY_NAMES) else "?",
        flags=int(r["flags"]),
        hash=digest.hex(),
        values={name: float(r[name]) for name in FLOAT_FIELDS},
        version=int(r["version"]),
    )


def flag_names(flags: int) -> str:
    """Comma-separated names of the set flag bits."""
    return ",".join(name for bit, name in FLAG_NAMES.items() if flags & bit)
