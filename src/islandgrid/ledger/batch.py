"""Flows -> ledger records: validate, continue the carbon flow from the chain tip, pack and hash.

Storage-agnostic: :class:`~islandgrid.ledger.store.LedgerStore` calls :func:`build_batch`
inside its write transaction, with the tip and battery state it read in that transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.factors import FACTORS, EmissionFactor, get_factor
from islandgrid.carbon.flow import CARBON_COLUMNS, CarbonState, carbon_flow_state
from islandgrid.errors import DataFileError
from islandgrid.ledger.record import (
    ENERGY_FIELDS,
    FLAG_AFTER_GAP,
    FORMAT_VERSION,
    QUALITY_CODES,
    RECORD_DTYPE,
    LedgerRecord,
    chain_hashes,
    split_payloads,
)
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

_CHUNK = 4096  # records packed per pass (about 1.4 MB, stays in cache)
_NONNEG = tuple(c for c in ENERGY_FIELDS if c not in ("it_kwh", "soc_kwh"))  # what the ledger stores


def site_id_of(site: Site, site_id: str | None = None) -> str:
    """The ledger key of a site: ``site_id``, else ``carbon.site_id``, else a slug of ``location.name``."""
    if site_id:
        return site_id
    if site.carbon.site_id:
        return site.carbon.site_id
    slug = re.sub(r"[^a-z0-9]+", "-", site.location.name.lower()).strip("-")
    return slug or "site"


def _factor_entry(f: EmissionFactor) -> dict[str, Any]:
    d = f.as_dict()
    d["ref"] = f.ref
    return d


def factor_set(site: Site, grid_label: str | None = None) -> dict[str, Any]:
    """The factors a site's records use, with provenance (hashed into every record).

    Parameters
    ----------
    site : Site
        The site.
    grid_label : str, optional
        Describes a per-interval grid series that is not a registry entry.
    """
    g = site.grid
    if grid_label is not None:
        grid: dict[str, Any] = {"name": grid_label, "kind": "proxy", "unit": "kg CO2/kWh"}
    elif g.carbon_csv is not None:
        grid = {
            "name": f"hourly series {g.carbon_csv.name}",
            "kind": "proxy",
            "unit": "kg CO2/kWh",
            "source_document": "site file grid.carbon_csv; no official hourly Chinese series exists (proxy)",
        }
    elif isinstance(g.carbon_factor, str):
        grid = _factor_entry(get_factor(g.carbon_factor))
    else:
        grid = {"name": "site-file value", "value": float(g.carbon_factor), "unit": "kg CO2/kWh", "kind": "location"}
    diesel_match = [f for f in FACTORS if f.kind == "fuel" and abs(f.value - site.genset.co2_kg_per_l) < 1e-12]
    if diesel_match:
        diesel = _factor_entry(diesel_match[0])
    else:
        diesel = {"name": "site-file value", "value": site.genset.co2_kg_per_l, "unit": "kg CO2/L", "kind": "fuel"}
    c = site.carbon
    if isinstance(c.residual_factor, str):
        residual = _factor_entry(get_factor(c.residual_factor, field="carbon.residual_factor"))
    else:
        residual = {"name": "site-file value", "value": float(c.residual_factor), "unit": "kg CO2/kWh"}
    fossil = _factor_entry(get_factor("mee-national-fossil-2023"))
    return {
        "grid": grid,
        "diesel": diesel,
        "residual": residual,
        "gap_fill": fossil,
        "pv": {"name": "direct (operational) basis", "value": 0.0, "unit": "kg CO2/kWh", "kind": "operational"},
        "gec_frac": c.gec_frac,
        "battery_rule": c.battery_rule,
        "eta_charge": site.battery.eta_charge,
        "eta_discharge": site.battery.eta_discharge,
    }


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the form whose SHA-256 is a factor set's digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def site_grid_factor(site: Site, index: pd.DatetimeIndex) -> np.ndarray:
    """The site's grid factor on ``index`` [kg/kWh]: a registry name, a number or the hourly CSV."""
    g = site.grid
    if g.carbon_csv is not None:
        from islandgrid.inputs.pv import read_timeseries_csv

        return read_timeseries_csv(g.carbon_csv, "kg_per_kwh", index, lo=0.0, hi=2.0, unit="kg/kWh")
    value = get_factor(g.carbon_factor).value if isinstance(g.carbon_factor, str) else float(g.carbon_factor)
    return np.full(len(index), value)


def validate_flows(flows: pd.DataFrame, source: str = "flows") -> float:
    """Check columns, index and signs; return the step [s].

    Raises
    ------
    DataFileError
        Missing columns, a naive or unordered index, an uneven step, negative or non-finite energies.
    """
    missing = [c for c in FLOW_COLUMNS if c not in flows.columns]
    if missing:
        raise DataFileError(
            "flows lack columns", source=source, value=missing, fix="give every column of strategy.base.FLOW_COLUMNS"
        )
    idx = flows.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise DataFileError(
            "the index must be a tz-aware DatetimeIndex", source=source, fix="use df.tz_localize('Asia/Shanghai')"
        )
    if len(idx) == 0:
        raise DataFileError("no intervals to append", source=source, fix="pass at least one row")
    steps = np.diff(idx.as_unit("ns").asi8) / 1e9 if len(idx) > 1 else np.array([])
    if len(steps) and (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise DataFileError(
            "timestamps out of order or repeated",
            source=source,
            field="index",
            value=str(idx[i]),
            allowed="strictly increasing",
            fix="sort the rows and drop duplicates",
        )
    if len(steps) and (steps != steps[0]).any():
        i = int(np.argmax(steps != steps[0])) + 1
        raise DataFileError(
            "the step is not constant",
            source=source,
            field="index",
            value=str(idx[i]),
            allowed=f"every {steps[0]:g} s",
            fix="resample to a constant step, or append in separate calls",
        )
    for c in _NONNEG:
        v = flows[c].to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(
                "energy must be finite and non-negative",
                source=source,
                field=c,
                value=float(v[i]),
                allowed=">= 0",
                fix=f"check row {i} ({idx[i]})",
            )
    return float(steps[0]) if len(steps) else float("nan")


@dataclass(frozen=True)
class Batch:
    """Records ready to store.

    Attributes
    ----------
    records : ndarray
        Structured array of :data:`RECORD_DTYPE`.
    rows : list of (seq, ts_s, payload, hash)
        What the backend stores.
    state : CarbonState
        Battery carbon state after the last record.
    factor_digest : bytes
        SHA-256 of ``factor_body``.
    factor_body : str
        Canonical JSON of the factor set.
    """

    records: np.ndarray
    rows: list[tuple[int, int, bytes, bytes]]
    state: CarbonState
    factor_digest: bytes
    factor_body: str


def _quality_codes(quality: str | Sequence[str], n: int) -> np.ndarray:
    if isinstance(quality, str):
        quality = [quality]
    q = list(quality)
    bad = [x for x in set(q) if x not in QUALITY_CODES]
    if bad:
        raise DataFileError(
            "unknown data-quality flag",
            field="quality",
            value=bad[0],
            allowed="measured, estimated, default",
            fix="use one of those",
        )
    if len(q) == 1:
        return np.full(n, QUALITY_CODES[q[0]], dtype=np.uint8)
    if len(q) != n:
        raise DataFileError(
            "one quality flag per row, or one for all", field="quality", value=len(q), allowed=f"1 or {n}"
        )
    return np.array([QUALITY_CODES[x] for x in q], dtype=np.uint8)


def initial_state(site: Site, flows: pd.DataFrame) -> CarbonState:
    """The battery state before a new chain: metered SoC if given (backed out of the first row), else the site's.

    The initial charge is counted as carbon-free, as in the simulation.
    """
    b = site.battery
    soc0 = float(flows["soc_kwh"].iloc[0]) if "soc_kwh" in flows else float("nan")
    if np.isfinite(soc0):
        first = flows.iloc[0]
        s = soc0 - b.eta_charge * float(first["bat_in_kwh"]) + float(first["bat_out_kwh"]) / b.eta_discharge
        s += float(first["bat_selfdis_kwh"])
        return CarbonState.carbon_free(max(s, 0.0))
    return CarbonState.carbon_free(b.soc_init_frac * b.energy_kwh)


def build_batch(
    site: Site,
    flows: pd.DataFrame,
    tip: LedgerRecord | None,
    state: CarbonState,
    quality: str | Sequence[str],
    *,
    prev_hash: bytes,
    grid_co2_kg_per_kwh: np.ndarray | None = None,
    flags: np.ndarray | int = 0,
    it_kwh: np.ndarray | None = None,
    grid_label: str | None = None,
    dt_s: int | None = None,
) -> Batch:
    """Carbon flow from ``state`` over ``flows``, packed into records chained after ``tip``.

    Parameters
    ----------
    site : Site
        For factors and battery efficiencies.
    flows : pandas.DataFrame
        :data:`FLOW_COLUMNS` on a tz-aware, constant-step index (already validated).
    tip : LedgerRecord or None
        The chain's last record; None for a new chain.
    state : CarbonState
        The battery state after ``tip``.
    quality : str or sequence of str
        Data-quality flag, one for all rows or one per row.
    prev_hash : bytes
        The tip's hash, or the genesis hash.
    grid_co2_kg_per_kwh : ndarray, optional
        Grid factor per interval [kg/kWh]; default the site's.
    flags : int or ndarray
        Flag bits per row (``FLAG_*``).
    it_kwh : ndarray, optional
        IT energy per interval [kWh], for the per-job PUE.
    grid_label : str, optional
        Names a grid series that is not a registry entry.
    dt_s : int, optional
        Interval length [s]; needed only for a single row without a freq on a new chain.

    Raises
    ------
    DataFileError
        When the first interval starts before the tip's interval ends.
    """
    n = len(flows)
    idx = pd.DatetimeIndex(flows.index)
    ts_s = np.asarray(idx.tz_convert("UTC").as_unit("s").asi8, dtype=np.int64)
    if dt_s is None:
        if n > 1:
            dt_s = int(ts_s[1] - ts_s[0])
        elif idx.freq is not None:
            dt_s = int(pd.Timedelta(idx.freq.nanos, unit="ns").total_seconds())
        elif tip is not None:
            dt_s = tip.dt_s
        else:
            raise DataFileError(
                "cannot tell the interval length of a single row",
                field="dt_s",
                fix="pass dt_s= (seconds) or an index with a freq",
            )
    elif n > 1 and int(ts_s[1] - ts_s[0]) != dt_s:
        raise DataFileError(
            "dt_s does not match the index step",
            field="dt_s",
            value=dt_s,
            allowed=f"{int(ts_s[1] - ts_s[0])} s",
            fix="drop dt_s or fix the index",
        )
    row_flags = np.zeros(n, dtype=np.uint8) | np.asarray(flags, dtype=np.uint8)
    if tip is not None:
        expected = int(tip.ts.timestamp()) + tip.dt_s
        if ts_s[0] < expected:
            raise DataFileError(
                "the first interval does not follow the ledger's last record",
                field="timestamp",
                value=str(idx[0]),
                allowed=f"at or after {pd.Timestamp(expected, unit='s', tz='UTC')}, where the tip (seq {tip.seq}) ends",
                fix="append only intervals after the tip; records are never overwritten",
            )
        if ts_s[0] > expected:
            row_flags[0] |= FLAG_AFTER_GAP
    grid = site_grid_factor(site, idx) if grid_co2_kg_per_kwh is None else np.asarray(grid_co2_kg_per_kwh, float)
    b = site.battery
    carbon, new_state = carbon_flow_state(
        flows, grid, site.genset.co2_kg_per_l, state, b.eta_charge, b.eta_discharge, rule=site.carbon.battery_rule
    )
    body = canonical_json(factor_set(site, grid_label))
    digest = hashlib.sha256(body.encode("utf-8")).digest()
    columns: list[tuple[str, np.ndarray | float]] = []
    for name in ENERGY_FIELDS:
        if name == "it_kwh":
            columns.append((name, np.nan if it_kwh is None else np.asarray(it_kwh, dtype=float)))
        elif name in flows:
            columns.append((name, flows[name].to_numpy(dtype=float)))
        else:
            columns.append((name, np.nan))
    columns.append(("e_grid_kg_per_kwh", grid))
    columns.append(("diesel_kg_per_l", site.genset.co2_kg_per_l))
    columns.extend((name, carbon[name].to_numpy()) for name in CARBON_COLUMNS)
    seq0 = 0 if tip is None else tip.seq + 1
    seqs = np.arange(seq0, seq0 + n, dtype=np.int64)
    quality_codes = _quality_codes(quality, n)
    digest_u8 = np.frombuffer(digest, dtype=np.uint8)
    rec = np.empty(n, dtype=RECORD_DTYPE)
    # fill in cache-sized chunks: a record is 344 bytes, so one field pass over a year would stream the whole array
    for a in range(0, n, _CHUNK):
        z = slice(a, min(a + _CHUNK, n))
        r = rec[z]
        r["version"] = FORMAT_VERSION
        r["quality"] = quality_codes[z]
        r["flags"] = row_flags[z]
        r["dt_s"] = dt_s
        r["seq"] = seqs[z]
        r["ts_s"] = ts_s[z]
        r["factor_set"] = digest_u8
        for name, values in columns:
            r[name] = values[z] if isinstance(values, np.ndarray) and values.ndim else values
    payloads = split_payloads(rec.tobytes())
    hashes = chain_hashes(prev_hash, payloads)
    rows = list(zip(seqs.tolist(), ts_s.tolist(), payloads, hashes, strict=True))
    return Batch(records=rec, rows=rows, state=new_state, factor_digest=digest, factor_body=body)
