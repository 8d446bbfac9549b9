"""What each twin device carries on the wire: its SunSpec models, their values, and two vendors' layouts.

Every twin device is a conformant SunSpec device: model 1 (Common) first, then the standard
models of its role (:mod:`islandgrid.devices.roles`) with their full published layouts, scale
factors and unimplemented markers, the vendor models where no SunSpec model fits, and the end
model. Two *vendors* lay the same plant out differently, so the controller is tested against
both with no code change:

- ``conformant`` (vendor A): base address 40000, models in the roles' order, scale factors fitted
  to the ratings (the finest that fits the type).
- ``second_vendor`` (vendor B): base 50000 (PV, genset, load) or 0 (PCS, PCC), the standard
  models in another order, extra models the controller must skip (120 nameplate ratings, an
  undocumented vendor model 64999 of 12 registers), coarser power scale factors (one power of
  ten above A's) and finer frequency ones, and optional points left unimplemented (701 VA, Var,
  PF, per-phase and temperature points, 802 SoH/DoD/cycle count, 203 per-phase points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from islandgrid.devices.roles import BMS_STATE_CONNECTED, BMS_STATE_FAULT, role
from islandgrid.devices.states import PCS_FORM, PCS_OFF
from islandgrid.devices.sunspec import model_def
from islandgrid.twin.plant import Plant

#: A point's value in SunSpec engineering units (a string for Common's, None = unimplemented).
Value = float | int | str | None
#: Vendors the twin can play.
VENDORS: tuple[str, ...] = ("conformant", "second_vendor")
#: A model ID no definition describes: a scan must skip it by its length.
UNKNOWN_VENDOR_MODEL = 64999
UNKNOWN_VENDOR_MODEL_LEN = 12
#: Nominal phase voltage of the twin's LV bus [V]: 220 V phase / 380 V line (GB/T 156-2017, China's LV).
V_PHASE_NOM = 220.0
#: The battery's nominal DC voltage [V]: 240 LFP cells in series at 3.2 V nominal each (LiFePO4 chemistry).
V_DC_NOM = 768.0

#: Optional points vendor B leaves unimplemented, by model.
_B_UNIMPLEMENTED: dict[int, frozenset[str]] = {
    701: frozenset({"VA", "Var", "PF", "TmpAmb", "TmpCab", "TmpSnk", "TmpTrns", "TmpSw", "TmpOt"}),
    802: frozenset({"SoH", "DoD", "NCyc"}),
    203: frozenset(
        {f"{q}ph{p}" for q in ("A", "PhV", "W", "VA", "VAR", "PF") for p in "ABC"}
        | {f"TotWh{d}Ph{p}" for d in ("Exp", "Imp") for p in "ABC"}
    ),
}


@dataclass(frozen=True)
class DeviceLayout:
    """Where a twin device puts its models.

    Attributes
    ----------
    base : int
        Address of the 'SunS' marker.
    models : tuple of int
        Model IDs in chain order (1 first); :data:`UNKNOWN_VENDOR_MODEL` is an opaque block.
    sf_shift : dict
        Added to the fitted scale factor, by SunSpec unit ('W', 'Hz' ...).
    unimplemented : dict
        Points left unimplemented, by model.
    """

    base: int
    models: tuple[int, ...]
    sf_shift: dict[str, int] = field(default_factory=dict)
    unimplemented: dict[int, frozenset[str]] = field(default_factory=dict)


def layout(device: str, vendor: str = "conformant") -> DeviceLayout:
    """The layout of ``device`` for ``vendor`` (one of :data:`VENDORS`)."""
    models = role(device).models
    if vendor == "conformant":
        return DeviceLayout(40000, models)
    if vendor != "second_vendor":
        raise KeyError(f"unknown twin vendor {vendor!r}; known: {', '.join(VENDORS)}")
    rest = list(models[1:])
    rest.reverse()  # another order
    extra = (120,) if device in ("pv", "pcs") else ()
    return DeviceLayout(
        base=0 if device in ("pcs", "pcc") else 50000,
        models=(1, *extra, rest[0], UNKNOWN_VENDOR_MODEL, *rest[1:]),
        sf_shift={"W": 1, "Var": 1, "VA": 1, "Hz": -1, "Wh": 1},
        unimplemented=_B_UNIMPLEMENTED,
    )


def fit_sf(max_abs: float, ptype: str, shift: int = 0) -> int:
    """The smallest scale factor (power of ten) at which ``max_abs`` fits the integer type ``ptype``."""
    top = {"int16": 32767, "uint16": 65534, "int32": 2**31 - 1, "uint32": 2**32 - 2}.get(ptype, 2**63 - 1)
    sf = -3
    while max_abs / 10.0**sf > top and sf < 10:
        sf += 1
    return sf + shift


def ratings_kw(plant: Plant) -> dict[str, float]:
    """The power each device must be able to show [kW] (its rating, or the peak it can see, x 1.5)."""
    c = plant.cfg
    bat = max(c.battery.charge_kw, c.battery.discharge_kw)
    grid = max(x for x in (c.import_kw, c.export_kw, 1.0) if math.isfinite(x))
    load = float(max(plant.profile.load_kw.max(), 1.0))
    return {
        "pv": 1.5 * max(c.pv_rated_kw, 1.0),
        "pcs": 1.5 * max(bat, 1.0),
        "genset": 1.5 * max(c.genset.rated_kw, 1.0),
        "pcc": 1.5 * max(grid, load, bat + c.pv_rated_kw + c.genset.rated_kw),
        "load": 1.5 * load,
    }


def scale_factors(device: str, plant: Plant, lay: DeviceLayout) -> dict[tuple[int, str], int]:
    """The scale factor of every sunssf point of the device's known models."""
    kw = ratings_kw(plant)[device]
    bat_kwh = max(plant.cfg.battery.energy_kwh, 1.0)
    out: dict[tuple[int, str], int] = {}
    for mid in lay.models:
        if mid == UNKNOWN_VENDOR_MODEL:
            continue
        d = model_def(mid)
        for p in d.points:
            if p.type != "sunssf":
                continue
            users = [q for q in d.points if q.sf == p.name]
            unit = users[0].units if users else ""
            ptype = users[0].type if users else "int16"
            if unit in ("W", "VA", "Var"):
                sf = fit_sf(kw * 1e3, ptype, lay.sf_shift.get(unit, 0))
            elif unit in ("Wh", "WH", "VAh", "Varh", "VArh", "varh"):
                if ptype.endswith("64"):
                    sf = -3 + lay.sf_shift.get("Wh", 0)  # mWh: a 64-bit counter never rolls over in a plant's life
                elif ptype.startswith("acc"):
                    sf = 0  # Wh: a 32-bit counter rolls over after 4.3 GWh
                else:
                    sf = fit_sf(bat_kwh * 1.5e3, ptype)
            elif unit == "Hz":
                sf = -3 + lay.sf_shift.get("Hz", 0) if ptype.endswith("32") else -2
            elif unit == "Pct":
                sf = -2
            elif unit == "V":
                sf = -1
            elif unit == "A":
                sf = fit_sf(kw * 1e3 / (3 * V_PHASE_NOM), ptype)
            elif unit == "AH":
                sf = fit_sf(bat_kwh * 1e3 / V_DC_NOM, ptype)
            elif unit == "L":
                sf = -3
            elif unit == "deg":
                sf = -2
            else:
                sf = -2 if p.name.startswith("PF") else 0
            out[(mid, p.name)] = sf
    return out


def _logical_to_sunspec(device: str, logical: dict[str, float]) -> dict[tuple[int, str], Value]:
    """SunSpec engineering values from the twin's controller-side values, through the role's bindings."""
    out: dict[tuple[int, str], Value] = {}
    for b in role(device).bindings:
        if b.name in logical and b.equals is None:
            out[(b.model, b.point)] = logical[b.name] / b.factor
    return out


def sunspec_values(device: str, plant: Plant, logical: dict[str, float]) -> dict[tuple[int, str], Value]:
    """Every implemented point's engineering value (SunSpec units) for one device."""
    v = _logical_to_sunspec(device, logical)
    c = plant.cfg
    v[(1, "Mn")] = "islandgrid"
    v[(1, "Md")] = f"twin {role(device).title}"
    v[(1, "Vr")] = "1.0"
    v[(1, "SN")] = f"IG-TWIN-{device.upper()}"
    v[(1, "DA")] = 1
    m = plant.m
    if device in ("pv", "pcs"):
        w_kw = m["pv_kw"] if device == "pv" else m["bat_kw"]
        rated_kw = c.pv_rated_kw if device == "pv" else max(c.battery.charge_kw, c.battery.discharge_kw)
        v[(701, "ACType")] = 2
        on = w_kw != 0 or (device == "pcs" and plant.pcs_mode != PCS_OFF)
        v[(701, "St")] = int(on)
        v[(701, "ConnSt")] = int(on)
        if device == "pv":
            v[(701, "InvSt")] = 0 if m["pv_avail_kw"] <= 0 else (4 if plant.pv_limit_frac < 1 else 3)
        else:
            v[(701, "InvSt")] = 6 if plant.bms_tripped else (3 if on else 7)
            v[(701, "DERMode")] = 2 if plant.pcs_mode == PCS_FORM else 1  # bit 1 GRID_FORMING, bit 0 GRID_FOLLOWING
        v[(701, "Alrm")] = 0
        v[(701, "W")] = w_kw * 1e3
        v[(701, "VA")] = abs(w_kw) * 1e3
        v[(701, "Var")] = 0.0
        v[(701, "PF")] = 1.0
        v[(701, "A")] = abs(w_kw) * 1e3 / (3 * V_PHASE_NOM)
        v[(701, "LNV")] = V_PHASE_NOM * m["bus_v_pu"]
        v[(701, "LLV")] = V_PHASE_NOM * math.sqrt(3) * m["bus_v_pu"]
        v[(701, "Hz")] = m["bus_hz"]
        for ph in (1, 2, 3):
            v[(701, f"WL{ph}")] = w_kw * 1e3 / 3
            v[(701, f"VL{ph}")] = V_PHASE_NOM * m["bus_v_pu"]
        v[(702, "WMaxRtg")] = rated_kw * 1e3
        v[(702, "VAMaxRtg")] = rated_kw * 1e3
        v[(702, "WMax")] = rated_kw * 1e3
        v[(702, "VNomRtg")] = V_PHASE_NOM
        v[(702, "VNom")] = V_PHASE_NOM
        v[(704, "WMaxLimPctEna")] = 1
        v[(704, "WSetEna")] = 1 if device == "pcs" else 0
        v[(704, "WSetMod")] = 0
    if device == "pv":
        v[(704, "WMaxLimPct")] = plant.pv_limit_frac * 100
    if device == "pcs":
        b = c.battery
        soc_pct = 100 * plant.soc_kwh / b.energy_kwh if b.energy_kwh > 0 else 0.0
        v[(702, "WChaRteMaxRtg")] = b.charge_kw * 1e3
        v[(702, "WDisChaRteMaxRtg")] = b.discharge_kw * 1e3
        v[(713, "WHRtg")] = b.energy_kwh * 1e3
        v[(713, "SoC")] = soc_pct
        v[(713, "SoH")] = 100.0
        v[(713, "Sta")] = 1
        v[(802, "AHRtg")] = b.energy_kwh * 1e3 / V_DC_NOM
        v[(802, "WHRtg")] = b.energy_kwh * 1e3
        v[(802, "SoCMax")] = 100 * b.soc_max_kwh / b.energy_kwh if b.energy_kwh > 0 else 0.0
        v[(802, "SoCMin")] = 100 * b.soc_min_kwh / b.energy_kwh if b.energy_kwh > 0 else 0.0
        v[(802, "SoH")] = 100.0
        v[(802, "DoD")] = 100.0 - soc_pct
        v[(802, "NCyc")] = 0
        v[(802, "LocRemCtl")] = 0
        v[(802, "Typ")] = 4  # LITHIUM_ION
        v[(802, "State")] = BMS_STATE_FAULT if plant.bms_tripped else BMS_STATE_CONNECTED
        v[(802, "ChaSt")] = 3 if m["bat_kw"] > 0 else (4 if m["bat_kw"] < 0 else 6)
        for evt in ("Evt1", "Evt2", "EvtVnd1", "EvtVnd2"):
            v[(802, evt)] = 1 << 20 if evt == "Evt1" and plant.bms_tripped else 0  # bit 20 CONTACTOR_ERROR
        v[(802, "V")] = V_DC_NOM
        v[(802, "A")] = m["bat_kw"] * 1e3 / V_DC_NOM
        v[(802, "W")] = m["bat_kw"] * 1e3
        v[(802, "SetOp")] = 1
        v[(802, "SetInvState")] = 3
    if device in ("pcc", "load"):
        w_kw = m["grid_kw"] if device == "pcc" else m["served_kw"]
        v_ph = V_PHASE_NOM * (m["bus_v_pu"] if device == "load" else (plant.grid_v_pu if plant.grid_up else 0.0))
        v[(203, "A")] = abs(w_kw) * 1e3 / (3 * V_PHASE_NOM)
        v[(203, "PhV")] = v_ph
        v[(203, "PPV")] = v_ph * math.sqrt(3)
        for phase in "ABC":
            v[(203, f"Aph{phase}")] = v[(203, "A")]
            v[(203, f"PhVph{phase}")] = v_ph
            v[(203, f"Wph{phase}")] = w_kw * 1e3 / 3
        for pp in ("AB", "BC", "CA"):
            v[(203, f"PhVph{pp}")] = v_ph * math.sqrt(3)
        v[(203, "Hz")] = m["bus_hz"] if device == "load" else (plant.grid_hz if plant.grid_up else 0.0)
        v[(203, "VA")] = abs(w_kw) * 1e3
        v[(203, "PF")] = 1.0
        v[(203, "Evt")] = 0
        if device == "load":
            v[(203, "TotWhExp")] = None  # the room never exports: the meter does not count export
    if device == "pcc":
        v[(64204, "SyncDHzMax")] = c.sync_df_max_hz
        v[(64204, "SyncDVPctMax")] = 100 * c.sync_dv_max_pu
        v[(64204, "SyncDPhiMax")] = c.sync_dphi_max_deg
    if device == "genset":
        v[(64203, "Hz")] = m["bus_hz"] if plant.genset_state == 2 else 0.0
    return v
