"""Flows -> ledger records: validate, continue the carbon flow from the chain tip, pack and hash.

Storage-agnostic: :class:`~islandgrid.ledger.store.LedgerStore` calls :func:`build_batch`
inside its write transaction, with the tip and battery state it read in that transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.carbon.certificates import read_register
from islandgrid.carbon.factors import FACTORS, EmissionFactor, get_factor
from islandgrid.carbon.flow import CarbonState, carbon_flow_arrays
from islandgrid.carbon.pairing import UNMATCHED_RULE, scope2_factors
from islandgrid.errors import DataFileError
from islandgrid.ledger.record import (
    ENERGY_FIELDS,
    FLAG_AFTER_GAP,
    FLAG_RECONCILED,
    FORMAT_VERSION,
    QUALITY_CODES,
    RECORD_DTYPE,
    LedgerRecord,
    chain_hashes,
    pack_records,
    payload_list,
)
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

#: The conservative factor for energy of unknown origin: filled gaps, a metered chain's initial charge.
GAP_FILL_FACTOR = "mee-national-fossil-2023"
#: Meter-class tolerance of an interval's bus balance: a larger imbalance is refused [-], [kWh].
BALANCE_RTOL = 0.02
BALANCE_ATOL_KWH = 0.01
#: Imbalances up to this fraction of the throughput are float rounding and left alone [-]:
#: far below the 1e-9 of the carbon checks, far above the 1e-16 of a simulated row.
ROUNDING_RTOL = 1e-12
#: Records packed and hashed per pass while they stream into the backend (about 2.8 MB).
SLICE = 8192
_ALL_FLOWS = list(range(len(FLOW_COLUMNS)))
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
    pair = scope2_factors(site)
    if isinstance(pair.residual, EmissionFactor):
        residual = _factor_entry(pair.residual)
    else:
        residual = {"name": "site-file value", "value": pair.residual, "unit": "kg CO2/kWh"}
    fossil = _factor_entry(get_factor(GAP_FILL_FACTOR))
    body: dict[str, Any] = {
        "grid": grid,
        "diesel": diesel,
        "residual": residual,
        "unmatched_rule": UNMATCHED_RULE,
        "gap_fill": fossil,
        "pv": {"name": "direct (operational) basis", "value": 0.0, "unit": "kg CO2/kWh", "kind": "operational"},
        "gec_frac": c.gec_frac,
        "battery_rule": c.battery_rule,
        "claims_rule": c.claims_rule,
        "eta_charge": site.battery.eta_charge,
        "eta_discharge": site.battery.eta_discharge,
    }
    if pair.mixed_years_reason:
        body["mixed_years_reason"] = pair.mixed_years_reason
    if c.grid_cfe_share is not None:
        body["grid_cfe_share"] = c.grid_cfe_share
    if c.certificates is not None:
        body["certificates"] = read_register(c.certificates, site.location.tz)
    return body


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


def flow_columns(flows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every :data:`FLOW_COLUMNS` column as a contiguous float64 array, from one 2-D copy.

    One pandas selection and one transpose instead of one ``flows[name]`` lookup per column
    (which costs more than the carbon flow itself for a day of 1-minute rows).
    """
    columns = flows.columns
    pos: list[int] = []
    for c in FLOW_COLUMNS:
        loc = columns.get_loc(c)
        if not isinstance(loc, int):
            raise DataFileError("a flow column appears more than once", field=c, fix="drop the duplicate column")
        pos.append(loc)
    if pos == _ALL_FLOWS and len(columns) == len(FLOW_COLUMNS):  # exactly the flow columns: no selection
        block = flows.to_numpy(dtype=np.float64)
    else:
        block = flows.iloc[:, pos].to_numpy(dtype=np.float64)
    return dict(zip(FLOW_COLUMNS, np.ascontiguousarray(block.T), strict=True))


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
    _check_nonneg(flow_columns(flows), idx, source)
    return float(steps[0]) if len(steps) else float("nan")


def _check_nonneg(cols: dict[str, np.ndarray], idx: pd.Index, source: str) -> None:
    """Raise on the first negative or non-finite stored energy (column order of the payload, then time)."""
    for c in _NONNEG:
        v = cols[c]
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


def bus_residual(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sources minus sinks of every interval (the bus balance, docs/ledger.md) and the throughput max of both [kWh].

    sources = pv_used + grid_in + diesel + bat_out; sinks = load_served + bat_in + grid_out + dump.
    """
    supply = cols["pv_used_kwh"] + cols["grid_in_kwh"] + cols["diesel_kwh"] + cols["bat_out_kwh"]
    sinks = cols["load_served_kwh"] + cols["bat_in_kwh"] + cols["grid_out_kwh"] + cols["dump_kwh"]
    return supply - sinks, np.maximum(supply, sinks)


def balance_tolerance_kwh(throughput_kwh: np.ndarray) -> np.ndarray:
    """The largest |sources - sinks| an interval may have and still be reconciled [kWh] (meter class)."""
    return BALANCE_RTOL * throughput_kwh + BALANCE_ATOL_KWH


def carbon_step(
    site: Site,
    cols: dict[str, np.ndarray],
    index: pd.DatetimeIndex,
    grid_co2_kg_per_kwh: np.ndarray,
    state: CarbonState,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, CarbonState]:
    """The ledger's carbon step for metered or simulated intervals: the one rule the ledger and the live status use.

    Balances each interval's bus (:func:`reconcile_bus`), then runs the carbon flow through the
    battery with the site's rule and the carbon flow's own conservation tolerance.

    Returns
    -------
    (cols, reconciled, carbon, state)
        The balanced flows [kWh, L], which rows were reconciled (bool), the carbon columns
        (:data:`~islandgrid.carbon.flow.CARBON_COLUMNS` order) and the battery's state after.

    Raises
    ------
    DataFileError
        A row whose imbalance is beyond the meter tolerance (the ledger refuses it).
    """
    cols, reconciled = reconcile_bus(cols, index)
    b = site.battery
    carbon, new_state = carbon_flow_arrays(
        cols,
        grid_co2_kg_per_kwh,
        site.genset.co2_kg_per_l,
        state,
        b.eta_charge,
        b.eta_discharge,
        rule=site.carbon.battery_rule,
        index=index,
    )
    return cols, reconciled, carbon, new_state


def reconcile_bus(
    cols: dict[str, np.ndarray],
    idx: pd.Index | None = None,
    source: str = "flows",
    rounding_rtol: float = ROUNDING_RTOL,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Balance every interval's bus so that the carbon flow conserves carbon exactly (docs/ledger.md).

    Proportional sharing gives the sinks ``e_bus = carbon in / sources``; if the sinks hold more
    or less energy than the sources, they carry away more or less carbon than came in. Metered
    rows never balance exactly (meter classes, counter resolution), so an imbalance up to
    :data:`BALANCE_RTOL` of the throughput + :data:`BALANCE_ATOL_KWH` is reconciled as the meter
    CSV import does: a surplus goes to ``dump_kwh`` (a loss, carrying its carbon), a shortfall is
    added to the largest source. Imbalances below :data:`ROUNDING_RTOL` (float rounding of
    simulated flows) are left alone.

    Parameters
    ----------
    cols : dict of str to ndarray
        From :func:`flow_columns`; not modified.
    idx : pandas.Index, optional
        Names the interval in an error.
    source : str
        Names the input in an error.
    rounding_rtol : float
        Imbalances up to this fraction of the throughput are left alone [-]; 0 reconciles
        every non-zero imbalance (the meter CSV import).

    Returns
    -------
    (dict, ndarray of bool)
        The columns (changed ones copied) and which rows were reconciled.

    Raises
    ------
    DataFileError
        A row whose imbalance exceeds the meter tolerance.
    """
    resid, through = bus_residual(cols)
    tol = balance_tolerance_kwh(through)
    bad = ~(np.abs(resid) <= tol)
    if bad.any():
        i = int(np.argmax(bad))
        when = f" ({idx[i]})" if idx is not None else ""
        raise DataFileError(
            "the interval's sources and sinks differ by more than the meter tolerance",
            source=source,
            field=f"row {i}{when}",
            value=f"sources - sinks = {resid[i]:.6g} kWh",
            allowed=f"|sources - sinks| <= {BALANCE_RTOL:g} x throughput + {BALANCE_ATOL_KWH:g} kWh",
            fix="sources (pv_used + grid_in + diesel + bat_out) must equal sinks (load_served + bat_in + grid_out"
            " + dump); check the meters",
        )
    off = np.abs(resid) > rounding_rtol * through
    if not off.any():
        return cols, off
    out = dict(cols)
    surplus = off & (resid > 0)
    if surplus.any():
        out["dump_kwh"] = np.where(surplus, cols["dump_kwh"] + resid, cols["dump_kwh"])
    short = off & (resid < 0)
    if short.any():
        names = ("pv_used_kwh", "grid_in_kwh", "diesel_kwh", "bat_out_kwh")
        largest = np.argmax(np.vstack([cols[c] for c in names]), axis=0)
        for k, c in enumerate(names):
            m = short & (largest == k)
            if m.any():
                out[c] = np.where(m, cols[c] - resid, cols[c])
    return out, off


class Batch:
    """Records ready to store, packed and hashed a slice at a time as the backend takes them.

    A year of 1-minute records is 180 MB of payloads; packing and hashing them in slices of
    :data:`SLICE` keeps the memory small and the working set in cache.

    Attributes
    ----------
    n : int
        Number of records.
    seq0 : int
        Seq of the first record.
    state : CarbonState
        Battery carbon state after the last record.
    factor_digest : bytes
        SHA-256 of ``factor_body``.
    factor_body : str
        Canonical JSON of the factor set.
    """

    def __init__(
        self,
        *,
        header: dict[str, Any],
        energies: np.ndarray,
        factors: tuple[np.ndarray, float],
        carbon: np.ndarray,
        prev_hash: bytes,
        state: CarbonState,
        factor_digest: bytes,
        factor_body: str,
    ) -> None:
        self._header = header
        self._energies = energies
        self._factors = factors
        self._carbon = carbon
        self._prev_hash = prev_hash
        self.n = len(header["seq"])
        self.seq0 = int(header["seq"][0])
        self.state = state
        self.factor_digest = factor_digest
        self.factor_body = factor_body

    @property
    def last_seq(self) -> int:
        """Seq of the last record."""
        return self.seq0 + self.n - 1

    def records(self, start: int = 0, stop: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Records ``start:stop`` as a structured array of :data:`RECORD_DTYPE` (into ``out`` if given)."""
        z = slice(start, self.n if stop is None else stop)
        h = self._header
        grid, diesel = self._factors
        return pack_records(
            version=h["version"],
            quality=h["quality"][z],
            flags=h["flags"][z],
            dt_s=h["dt_s"],
            seq=h["seq"][z],
            ts_s=h["ts_s"][z],
            factor_set=h["factor_set"],
            energies=self._energies[:, z],
            factors=(grid[z], diesel),
            carbon=self._carbon[z],
            out=out,
        )

    def rows(self) -> Iterator[tuple[int, int, bytes, bytes]]:
        """(seq, ts_s, payload, hash) per record, what the backend stores; packed and hashed lazily, in order."""
        buf = np.empty(min(SLICE, self.n), dtype=RECORD_DTYPE)
        prev = [self._prev_hash]

        def one(start: int) -> Iterator[tuple[int, int, bytes, bytes]]:
            stop = min(start + SLICE, self.n)
            rec = self.records(start, stop, out=buf[: stop - start])
            payloads = payload_list(rec)  # copies: buf is reused for the next slice
            hashes = chain_hashes(prev[0], payloads)
            prev[0] = hashes[-1]
            h = self._header
            return zip(h["seq"][start:stop].tolist(), h["ts_s"][start:stop].tolist(), payloads, hashes, strict=True)

        return chain.from_iterable(map(one, range(0, self.n, SLICE)))


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

    One rule for every chain, simulated or metered (:meth:`CarbonState.opening`, as the simulation):
    nobody knows where the charge already in the battery came from, so it is counted conservatively,
    as grid energy at the fossil-only factor (``mee-national-fossil-2023``); it reaches the load as
    grid-sourced, never as PV.
    """
    b = site.battery
    soc0 = float(flows["soc_kwh"].iloc[0]) if "soc_kwh" in flows else float("nan")
    if np.isfinite(soc0):
        first = flows.iloc[0]
        s = soc0 - b.eta_charge * float(first["bat_in_kwh"]) + float(first["bat_out_kwh"]) / b.eta_discharge
        s += float(first["bat_selfdis_kwh"])
        energy_kwh = max(s, 0.0)
    else:
        energy_kwh = b.soc_init_frac * b.energy_kwh
    return CarbonState.opening(energy_kwh)


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
    grid = np.broadcast_to(np.asarray(grid, dtype=np.float64), (n,))
    cols, reconciled, carbon, new_state = carbon_step(site, flow_columns(flows), idx, grid, state)
    row_flags[reconciled] |= FLAG_RECONCILED
    body = canonical_json(factor_set(site, grid_label))
    digest = hashlib.sha256(body.encode("utf-8")).digest()
    energies = np.empty((len(ENERGY_FIELDS), n))
    for j, name in enumerate(ENERGY_FIELDS):
        if name == "it_kwh":
            energies[j] = np.nan if it_kwh is None else np.asarray(it_kwh, dtype=float)
        else:
            energies[j] = cols.get(name, np.nan)
    seq0 = 0 if tip is None else tip.seq + 1
    header: dict[str, Any] = {
        "version": FORMAT_VERSION if tip is None else tip.version,  # a chain keeps its format
        "quality": _quality_codes(quality, n),
        "flags": row_flags,
        "dt_s": dt_s,
        "seq": np.arange(seq0, seq0 + n, dtype=np.int64),
        "ts_s": ts_s,
        "factor_set": digest,
    }
    return Batch(
        header=header,
        energies=energies,
        factors=(grid, site.genset.co2_kg_per_l),
        carbon=carbon,
        prev_hash=prev_hash,
        state=new_state,
        factor_digest=digest,
        factor_body=body,
    )
