"""Granular-certificate export: the ledger's hourly production and consumption claims in EnergyTag's data model.

The document (``islandgrid report gc``) holds, per UTC hour, what an issuing body would need to
issue and cancel Granular Certificates (GCs) for the site's own PV and its battery, in the data
model of the open reference registry for the EnergyTag Granular Certificate Scheme
(Future-Energy-Associates/granular_certificate_registry; the JSON Schema derived from its pydantic
models, with provenance, is ``data/schemas/energytag-gc-export-1.schema.json``). Every export is
validated against that schema with ``jsonschema`` before it is written, and carries the ledger tip.

Energy in Wh, one GC per Wh (``face_value`` 1), bundles per hour (the scheme's longest production
period), quantities rounded down to whole Wh. Attribution follows the claims rule of the ledger's
factor set (:func:`~islandgrid.carbon.claims.claims_pv_frac`: first in, first out with losses by
default, from an empty tracked stock). Per interval, with S = pv_used + grid_in + diesel + bat_out
the energy into the AC bus and phi its PV share under that rule::

    pv_out      = clip(phi x S - pv_used, 0, bat_out)    PV released by the battery
    direct      = pv_used / (pv_used + pv_out)            share of the bus's PV produced this interval
    to_load     = load_served x phi x direct               production matched to the load
    to_storage  = bat_in x phi x direct                    production charged into the battery (SCR)
    sd_to_load  = load_served x phi x (1 - direct)         storage discharge matched to the load

Each hour's PV production is one issuance (device: the PV array): a cancelled child bundle for the
load (with a ``cancel`` action naming the site as beneficiary), a cancelled child allocated to the
battery (its Storage Charge Record, SCR) and an active rest (export, losses, unclaimed). Each hour
the battery discharges is one Storage Discharge Record (SDR, the metered discharge) and, where it
released PV, one storage-discharge GC issuance (SD-GC) paired with the SCRs first in, first out
with losses, the registry's allocation (``gc_registry/storage/allocation/fifo.py``): an SDR's PV
part needs PV part / f of charge, taken from the oldest SCRs, f = the storage efficiency factor =
discharged ÷ charged energy over the export period (the EnergyTag method: total output over total
input of an interval). The SD-GCs of an hour are the allocated charge x f, never more than the PV the
claims rule releases that hour: discharge beyond the tracked stock gets no certificate (fossil).

These are the site's own claims from its ledger, not certificates issued by a registry: the issuing
body says so, and a ledger with simulated records marks every bundle a projection.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from islandgrid import __version__
from islandgrid.carbon.claims import claims_pv_frac
from islandgrid.errors import InputError
from islandgrid.ledger.store import LedgerStore
from islandgrid.ledger.verify import VerifyReport, read_records, verify_chain
from islandgrid.reports.accounting import parse_factor_sets
from islandgrid.reports.carbon_basis import is_projection, label, quality_shares

FORMAT = "islandgrid-energytag-gc-export/1"
SCHEMA_FILE = "energytag-gc-export-1.schema.json"
ISSUER = "not issued: the site's own claims from its islandgrid ledger (no registry has issued these)"
PROJECTION = "projection from simulated data: not for issuance"
PV_DEVICE, BATTERY_DEVICE, ACCOUNT, USER = 1, 2, 1, 1
#: GCs expire 12 months after production unless cancelled (a Domain choice; EnergyTag leaves it to the scheme).
EXPIRY = pd.DateOffset(years=1)
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Devices:
    """The two devices the export issues for.

    Attributes
    ----------
    pv_w, battery_w : int
        PV inverter AC and battery discharge capacity [W].
    lat_deg, lon_deg : float
        Location [deg].
    grid_zone : str
        The grid the site connects to (``connected_grid_identification``, ``issue_market_zone``); empty:
        the region of the ledger's grid factor.
    start : pandas.Timestamp
        Production start date of both devices (the ledger's first interval unless known).
    """

    pv_w: int
    battery_w: int
    lat_deg: float
    lon_deg: float
    grid_zone: str = ""
    start: pd.Timestamp | None = None


def schema() -> dict[str, Any]:
    """The bundled JSON Schema of the export (with its provenance under ``x-provenance``)."""
    text = resources.files("islandgrid.data").joinpath(f"schemas/{SCHEMA_FILE}").read_text()
    return dict(json.loads(text))


def validate(doc: dict[str, Any]) -> list[str]:
    """Every way ``doc`` breaks the schema or the model's own rules (empty when valid), at most ten.

    The schema checks fields, types and enums; the rules it cannot express are checked here:
    ``bundle_quantity`` = range end - range start + 1, production periods of at most one hour, and
    ranges of one issuance that do not overlap.
    """
    from jsonschema import Draft202012Validator, FormatChecker

    v = Draft202012Validator(schema(), format_checker=FormatChecker())
    errs = [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}" for e in v.iter_errors(doc)]
    seen: dict[str, list[tuple[int, int]]] = {}
    for i, b in enumerate(doc.get("granular_certificate_bundles", [])):
        try:
            lo, hi, n = int(b["bundle_id_range_start"]), int(b["bundle_id_range_end"]), int(b["bundle_quantity"])
            span = pd.Timestamp(b["production_ending_interval"]) - pd.Timestamp(b["production_starting_interval"])
        except (KeyError, TypeError, ValueError):
            continue  # the schema reported it
        if n != hi - lo + 1:
            errs.append(f"granular_certificate_bundles/{i}: bundle_quantity {n} is not range end - start + 1")
        if not pd.Timedelta(0) < span <= pd.Timedelta(hours=1):
            errs.append(f"granular_certificate_bundles/{i}: production period {span} is not within one hour")
        for a, z in seen.setdefault(str(b.get("issuance_id")), []):
            if lo <= z and a <= hi:
                errs.append(f"granular_certificate_bundles/{i}: ids {lo}-{hi} overlap {a}-{z} of the same issuance")
        seen[str(b.get("issuance_id"))].append((lo, hi))
    return errs[:10]


def _hourly(records: pd.DataFrame, body: dict[str, Any]) -> pd.DataFrame:
    """The module docstring's terms per record, summed per UTC hour [Wh]."""
    phi = claims_pv_frac(records, body)
    col = {c: records[c].to_numpy(dtype=float) for c in
           ("pv_used_kwh", "grid_in_kwh", "diesel_kwh", "bat_out_kwh", "bat_in_kwh", "load_served_kwh")}  # fmt: skip
    pv = col["pv_used_kwh"]
    supply = pv + col["grid_in_kwh"] + col["diesel_kwh"] + col["bat_out_kwh"]
    pv_out = np.clip(phi * supply - pv, 0.0, col["bat_out_kwh"])
    bus_pv = pv + pv_out
    direct = np.divide(pv, bus_pv, out=np.ones_like(pv), where=bus_pv > 0)
    served_pv = col["load_served_kwh"] * phi
    frame = pd.DataFrame(
        {
            "production": pv,
            "to_load": served_pv * direct,
            "to_storage": np.minimum(col["bat_in_kwh"] * phi * direct, pv),
            "pv_out": pv_out,
            "sd_to_load": served_pv * (1.0 - direct),
            "discharge": col["bat_out_kwh"],
            "charge": col["bat_in_kwh"],
            "load": col["load_served_kwh"],
        },
        index=pd.DatetimeIndex(records.index).floor("h"),
    )
    return frame.groupby(level=0).sum() * 1000.0


def _stamp(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime(_ISO)


def _hash(bundle: dict[str, Any]) -> str:
    """SHA-256 of the bundle's properties (canonical JSON), as the registry hashes a bundle at issuance."""
    return hashlib.sha256(json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _pair(
    scr: list[tuple[int, int, float]], sdr: list[tuple[int, int, float]], f: float
) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """FIFO allocation of SCRs to the PV parts of SDRs with storage efficiency factor ``f``.

    ``scr`` and ``sdr`` are (hour number, record id, Wh); an SDR draws on SCRs of earlier hours and
    its own (a charge within the hour comes first). Returns the allocation records (the registry's
    keys, plus the charge each takes) and, per SDR id, the SD-GC energy: allocated charge x f [Wh].
    """
    queue: deque[list[float]] = deque()
    allocs: list[dict[str, Any]] = []
    sd_wh: dict[int, float] = {}
    for _, kind, ident, energy in sorted([(h, 0, i, e) for h, i, e in scr] + [(h, 1, i, e) for h, i, e in sdr]):
        if kind == 0:
            queue.append([ident, energy])
            continue
        need, got = energy / f, 0.0
        while need > 1e-9 and queue:
            scr_id, left = queue[0]
            take = min(need, left)
            allocs.append({"device_id": BATTERY_DEVICE, "scr_allocation_id": int(scr_id), "sdr_allocation_id": ident,
                           "sdr_proportion": round(min(take * f / energy, 1.0), 6),
                           "scr_allocation_methodology": "FIFO", "gc_allocation_id": None,
                           "sdgc_allocation_id": None, "storage_efficiency_factor": f,
                           "allocated_charge_wh": take})  # fmt: skip
            need, got = need - take, got + take
            queue[0][1] = left - take
            if queue[0][1] <= 1e-9:
                queue.popleft()
        sd_wh[ident] = got * f
    return allocs, sd_wh


def gc_document(store: LedgerStore, devices: Devices, site_id: str | None = None) -> dict[str, Any]:
    """The granular-certificate export of a verified chain (module docstring), validated against the schema.

    Parameters
    ----------
    store : LedgerStore
        The ledger (verified first: a broken chain raises).
    devices : Devices
        The PV array and battery the certificates are for.
    site_id : str, optional
        The chain, if the ledger holds several.

    Raises
    ------
    InputError
        The document does not validate (a defect: it is never written).
    """
    chain = verify_chain(store, site_id)
    records = read_records(store, chain.site_id)
    info = store.site_info(chain.site_id)
    sets = parse_factor_sets(store.backend.factor_sets())
    body = sets[str(records["factor_set"].iloc[0])]
    h = _hourly(records, body)
    if not devices.grid_zone:
        grid = body.get("grid", {})
        devices = replace(
            devices, grid_zone=f"{grid.get('region', 'China')} grid ({grid.get('ref', 'no registry factor')})"
        )
    hours = pd.DatetimeIndex(h.index)
    total_in, total_out = float(h["charge"].sum()), float(h["discharge"].sum())
    f = min(total_out / total_in, 1.0) if total_in > 0 and total_out > 0 else 1.0
    n_wh = {c: np.floor(h[c].to_numpy() + 1e-6).astype(np.int64) for c in h.columns}
    b = _Builder(devices, info, chain, is_projection(records), hours[0])
    scr_list: list[tuple[int, int, float]] = []
    matched_prod = np.zeros(len(hours), dtype=np.int64)
    for k, t in enumerate(hours):
        prod = int(n_wh["production"][k])
        load_n = min(int(n_wh["to_load"][k]), prod)
        store_n = min(int(n_wh["to_storage"][k]), prod - load_n)
        made = b.issue(b.pv, t, [("load", "Cancelled", load_n), ("storage", "Cancelled", store_n),
                                 ("rest", "Active", prod - load_n - store_n)], {})  # fmt: skip
        matched_prod[k] = load_n
        if "storage" in made:
            scr_list.append((k, b.charge_record(t, made["storage"]), float(store_n)))
    dis, pv_out = h["discharge"].to_numpy(), h["pv_out"].to_numpy()
    sdr_list = [(k, b.discharge_record(t, float(dis[k]), f, hours[0], hours[-1]), float(pv_out[k]))
                for k, t in enumerate(hours) if dis[k] > 0]  # fmt: skip
    allocs, sd_wh = _pair(scr_list, [(k, i, e) for k, i, e in sdr_list if e > 0], f)
    b.link(allocs)
    matched_sd = np.zeros(len(hours), dtype=np.int64)
    for k, sdr_id, _ in sdr_list:
        sd = int(np.floor(sd_wh.get(sdr_id, 0.0) + 1e-6))
        load_n = min(sd, int(n_wh["sd_to_load"][k]))
        t = hours[k]
        extra = {"sdr_allocation_id": sdr_id, "storage_efficiency_factor": f,
                 "discharging_start_datetime": _stamp(t), "discharging_end_datetime": _stamp(t + _HOUR)}  # fmt: skip
        b.issue(b.battery, t, [("load", "Cancelled", load_n), ("rest", "Active", sd - load_n)], extra)
        matched_sd[k] = load_n
    hq = quality_shares(records, pd.Index(pd.DatetimeIndex(records.index).floor("h")))
    load = n_wh["load"]
    doc = {
        "format": FORMAT,
        "generated_by": f"islandgrid {__version__}",
        "site": {"name": str(info.get("name", "")), "site_id": chain.site_id, "tz": str(info.get("tz", "UTC"))},
        "ledger_tip": tip_dict(chain),
        "period": {"start": _stamp(hours[0]), "end": _stamp(hours[-1] + _HOUR)},
        "face_value_wh": 1,
        "data_quality": label(hq.loc["total"].to_dict()),
        "granular_certificate_bundles": b.bundles,
        "granular_certificate_actions": b.actions,
        "storage_charge_records": b.scrs,
        "storage_discharge_records": b.sdrs,
        "storage_allocations": allocs,
        "hourly": [
            {
                "hour_start": _stamp(t),
                "load_served_wh": int(load[k]),
                "production_wh": int(n_wh["production"][k]),
                "matched_production_wh": int(matched_prod[k]),
                "matched_storage_wh": int(matched_sd[k]),
                "unmatched_wh": int(max(load[k] - matched_prod[k] - matched_sd[k], 0)),
                "data_quality": label(hq.loc[t].to_dict()),
            }
            for k, t in enumerate(hours)
        ],
    }
    errors = validate(doc)
    if errors:  # pragma: no cover - a defect, never a user's error
        raise InputError("the granular-certificate export does not validate: " + "; ".join(errors))
    return doc


def tip_dict(chain: VerifyReport) -> dict[str, Any]:
    """The verified tip and, when the chain is signed, its Ed25519 signature (hex)."""
    out: dict[str, Any] = {"site_id": chain.site_id, "seq": chain.n_records - 1, "tip_hash": chain.tip_hash,
                           "format_version": chain.format_version}  # fmt: skip
    if chain.signature is not None:
        sig = chain.signature.as_dict()
        out.update({k: sig[k] for k in ("signature_alg", "public_key", "signature")})
    return out


_HOUR = pd.Timedelta(hours=1)


class _Builder:
    """Collects bundles, cancel actions, SCRs and SDRs with the ids the registry would give them."""

    def __init__(
        self, devices: Devices, info: dict[str, str], chain: VerifyReport, projection: bool, first: pd.Timestamp
    ):
        name = str(info.get("name", chain.site_id))
        self.beneficiary = name
        self.common: dict[str, Any] = {
            "account_id": ACCOUNT, "energy_carrier": "electricity", "face_value": 1,
            "issuance_post_energy_carrier_conversion": False, "registry_configuration": 1,
            "device_production_start_date": _stamp(devices.start if devices.start is not None else first),
            "device_location": [devices.lat_deg, devices.lon_deg], "country_of_issuance": "CN",
            "connected_grid_identification": devices.grid_zone, "issuing_body": ISSUER,
            "issuance_purpose": PROJECTION if projection else "disclosure (self-declared)",
            "dissemination_level": "self-consumed", "issue_market_zone": devices.grid_zone,
            "emissions_factor_production_device": 0.0,
            "emissions_factor_source": "direct emissions of PV generation: none (GHG Protocol Scope 2 Guidance, 2015)",
            "is_deleted": False,
        }  # fmt: skip
        self.pv = {"device_id": PV_DEVICE, "device_name": f"{name} PV array", "device_technology_type": "solar_pv",
                   "device_capacity": devices.pv_w, "device_type": "production", "is_storage": False,
                   "energy_source": "solar_pv"}  # fmt: skip
        self.battery = {"device_id": BATTERY_DEVICE, "device_name": f"{name} battery",
                        "device_technology_type": "battery_storage", "device_capacity": devices.battery_w,
                        "device_type": "storage", "is_storage": True, "energy_source": "solar_pv"}  # fmt: skip
        self.bundles: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.scrs: list[dict[str, Any]] = []
        self.sdrs: list[dict[str, Any]] = []
        self.next_id = 1
        self.issuance = 0

    def issue(
        self, dev: dict[str, Any], t: pd.Timestamp, parts: list[tuple[str, str, int]], extra: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """One issuance in the hour from ``t``: a child bundle per (role, status, Wh) part; 'load' parts are cancelled
        for the site (a cancel action). Returns role -> bundle."""
        if sum(n for _, _, n in parts) <= 0:
            return {}
        self.issuance += 1
        made = {}
        for role, status, n in parts:
            if n <= 0:
                continue
            b = {**self.common, **dev, **extra, "issuance_id": str(self.issuance), "certificate_status": status,
                 "bundle_id_range_start": self.next_id, "bundle_id_range_end": self.next_id + n - 1,
                 "bundle_quantity": n, "production_starting_interval": _stamp(t),
                 "production_ending_interval": _stamp(t + _HOUR), "expiry_datestamp": _stamp(t + EXPIRY)}  # fmt: skip
            b["hash"] = _hash(b)
            self.bundles.append(b)
            self.next_id += n
            made[role] = b
            if role == "load":
                self.actions.append({"action_type": "cancel", "source_id": ACCOUNT, "user_id": USER,
                                     "source_certificate_issuance_id": b["issuance_id"],
                                     "source_certificate_bundle_id_range_start": b["bundle_id_range_start"],
                                     "source_certificate_bundle_id_range_end": b["bundle_id_range_end"],
                                     "beneficiary": self.beneficiary,
                                     "certificate_period_start": b["production_starting_interval"],
                                     "certificate_period_end": b["production_ending_interval"],
                                     "certificate_quantity": n, "device_id": dev["device_id"],
                                     "energy_source": "solar_pv", "is_deleted": False})  # fmt: skip
        return made

    def charge_record(self, t: pd.Timestamp, b: dict[str, Any]) -> int:
        """The SCR of a bundle cancelled into the battery; returns its id."""
        ident = len(self.scrs) + 1
        self.scrs.append({"scr_allocation_id": ident, "account_id": ACCOUNT, "device_id": BATTERY_DEVICE,
                          "charging_start_datetime": _stamp(t), "charging_end_datetime": _stamp(t + _HOUR),
                          "charging_energy": b["bundle_quantity"], "charging_energy_source": "solar_pv",
                          "gc_issuance_id": int(b["issuance_id"]),
                          "granular_certificate_bundle_id_range_start": b["bundle_id_range_start"],
                          "granular_certificate_bundle_id_range_end": b["bundle_id_range_end"],
                          "scr_geographic_matching_method": "on-site: same connection point",
                          "sdr_allocation_id": None, "is_deleted": False})  # fmt: skip
        return ident

    def discharge_record(self, t: pd.Timestamp, wh: float, f: float, first: pd.Timestamp, last: pd.Timestamp) -> int:
        """The SDR of the battery's metered discharge in the hour from ``t``; returns its id."""
        ident = len(self.sdrs) + 1
        self.sdrs.append({"sdr_allocation_id": ident, "account_id": ACCOUNT, "device_id": BATTERY_DEVICE,
                          "scr_allocation_id": 0, "discharging_start_datetime": _stamp(t),
                          "discharging_end_datetime": _stamp(t + _HOUR), "discharge_energy": round(wh, 3),
                          "charging_energy_source": "solar_pv", "scr_allocation_methodology": "FIFO",
                          "efficiency_factor_methodology": f"EnergyTag: total discharge / total charge over the "
                                                           f"interval = {f:.6f}",
                          "efficiency_factor_interval_start": _stamp(first),
                          "efficiency_factor_interval_end": _stamp(last + _HOUR), "is_deleted": False})  # fmt: skip
        return ident

    def link(self, allocs: list[dict[str, Any]]) -> None:
        """Each SCR names the first SDR it served, each SDR its first SCR (0: no SCR backs it, no SD-GC)."""
        for a in allocs:
            scr, sdr = self.scrs[a["scr_allocation_id"] - 1], self.sdrs[a["sdr_allocation_id"] - 1]
            if scr["sdr_allocation_id"] is None:
                scr["sdr_allocation_id"] = a["sdr_allocation_id"]
            if sdr["scr_allocation_id"] == 0:
                sdr["scr_allocation_id"] = a["scr_allocation_id"]
