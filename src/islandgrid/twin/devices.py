"""The twin's five devices: SunSpec register images built from the plant, writes applied to it,
and per-device communication faults (stale, timeout, exception).

The values are the controller-side points of :func:`_values` (kW, kWh, fraction), carried on the
wire through the roles' bindings (:mod:`islandgrid.devices.roles`) and the layout of the vendor the
twin plays (:mod:`islandgrid.twin.images`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from islandgrid.devices.roles import Binding, role
from islandgrid.devices.states import PCS_FOLLOW, PCS_FORM
from islandgrid.devices.sunspec import (
    END_MODEL_ID,
    SUNS_MARKER,
    PointDef,
    decode_raw,
    encode_raw,
    model_def,
    scaled,
    to_raw,
)
from islandgrid.errors import DeviceProtocolError, DeviceTimeoutError
from islandgrid.twin.images import (
    UNKNOWN_VENDOR_MODEL,
    UNKNOWN_VENDOR_MODEL_LEN,
    DeviceLayout,
    Value,
    layout,
    scale_factors,
    sunspec_values,
)
from islandgrid.twin.plant import Plant

#: Communication faults a device can have.
COMM_FAULTS: tuple[str, ...] = ("stale", "timeout", "exception")


def _values(device: str, p: Plant) -> dict[str, float]:
    """Engineering values of one device's points from the plant state."""
    m, cn = p.m, p.counters
    if device == "pv":
        return {
            "p_kw": m["pv_kw"],
            "p_avail_kw": m["pv_avail_kw"],
            "e_kwh": cn["pv_e"],
            "e_avail_kwh": cn["pv_avail_e"],
            "hz": m["bus_hz"],
            "limit_frac": p.pv_limit_frac,
        }
    if device == "pcs":
        b = p.cfg.battery
        return {
            "bms_tripped": float(p.bms_tripped),
            "mode": float(p.pcs_mode),
            "p_kw": m["bat_kw"],
            "soc_frac": p.soc_kwh / b.energy_kwh if b.energy_kwh > 0 else 0.0,
            "soc_kwh": p.soc_kwh,
            "p_dis_max_kw": m["dis_max_kw"],
            "p_chg_max_kw": m["chg_max_kw"],
            "e_out_kwh": cn["bat_out_e"],
            "e_in_kwh": cn["bat_in_e"],
            "e_selfdis_kwh": cn["bat_selfdis_e"],
            "bus_hz": m["bus_hz"],
            "bus_v_pu": m["bus_v_pu"],
            "p_set_kw": p.pcs_p_set_kw,
            "mode_req": float(p.pcs_mode_req),
            "hz_set": p.pcs_hz_set,
            "v_set_pu": p.pcs_v_set_pu,
            "bms_reset": 0.0,
        }
    if device == "genset":
        return {
            "state": float(p.genset_state),
            "p_kw": m["gen_kw"],
            "e_kwh": cn["gen_e"],
            "fuel_l": cn["fuel_l"],
            "run_s": p.genset_run_s,
            "start_attempts": float(p.genset_start_attempts),
            "run_req": float(p.genset_run_req),
            "p_set_kw": p.genset_p_set_kw,
            "alarm_reset": 0.0,
        }
    if device == "pcc":
        up = p.grid_up
        return {
            "breaker_closed": float(p.breaker_closed),
            "trip_cause": float(p.trip_cause),
            "p_kw": m["grid_kw"],
            "e_import_kwh": cn["imp_e"],
            "e_export_kwh": cn["exp_e"],
            "grid_hz": p.grid_hz if up else 0.0,
            "grid_v_pu": p.grid_v_pu if up else 0.0,
            "bus_hz": m["bus_hz"],
            "bus_v_pu": m["bus_v_pu"],
            "dphi_deg": p.dphi_deg,
            "close_refused": float(p.close_refused),
            "close_refusals": float(p.close_refusals),
            "breaker_req": 0.0,
        }
    if device == "load":
        return {
            "p_kw": m["served_kw"],
            "p_critical_kw": m["crit_served_kw"],
            "p_demand_kw": m["demand_kw"],
            "p_critical_demand_kw": m["crit_kw"],
            "e_kwh": cn["load_e"],
            "e_critical_kwh": cn["crit_e"],
            "e_demand_kwh": cn["demand_e"],
            "e_critical_demand_kwh": cn["crit_demand_e"],
            "shed_mask": float(p.shed_mask),
            "shed_req": float(p.shed_req_mask),
        }
    raise KeyError(device)


def _apply(device: str, name: str, value: float, p: Plant) -> None:
    """Apply one written control point to the plant."""
    c = p.cfg
    if device == "pv" and name == "limit_frac":
        p.pv_limit_frac = min(max(value, 0.0), 1.0)
    elif device == "pcs":
        if name == "p_set_kw":
            p.pcs_p_set_kw = value
        elif name == "mode_req":
            p.pcs_mode_req = PCS_FORM if round(value) == PCS_FORM else PCS_FOLLOW
        elif name == "hz_set":
            p.pcs_hz_set = min(max(value, c.nominal_hz - c.pcs_df_max_hz), c.nominal_hz + c.pcs_df_max_hz)
        elif name == "v_set_pu":
            p.pcs_v_set_pu = min(max(value, c.pcs_v_min_pu), c.pcs_v_max_pu)
        elif name == "bms_reset" and round(value) == 1 and p.bms_tripped and not p.bms_fault_active:
            p.bms_tripped = False
    elif device == "genset":
        if name == "run_req":
            p.genset_run_req = round(value) == 1
        elif name == "p_set_kw":
            p.genset_p_set_kw = max(value, 0.0)
        elif name == "alarm_reset" and round(value) == 1 and p.genset_state == 3:
            p.genset_state = 0
            p.genset_run_req = False
    elif device == "pcc" and name == "breaker_req":
        if round(value) == 1:
            p.command_breaker(False)
        elif round(value) == 2:
            p.command_breaker(True)
    elif device == "load" and name == "shed_req":
        p.shed_req_mask = round(value) & 0xFFFF


@dataclass(frozen=True)
class _Slot:
    """One point of the image: where it is, how it is scaled, and what feeds it."""

    offset: int  # registers from the base address
    point: PointDef
    key: tuple[int, str]
    sf_key: tuple[int, str] | None
    sf_const: int | None
    unimplemented: bool


#: Heartbeats count 0 .. 65534 (65535 is uint16's 'unimplemented').
_HB_MODULUS = 0xFFFF


@dataclass
class TwinDevice:
    """One simulated SunSpec device: its register image and its communication fault, if any.

    Attributes
    ----------
    name : str
        'pv', 'pcs', 'genset', 'pcc' or 'load'.
    unit_id : int
        Modbus unit id it answers to.
    vendor : str
        The layout it plays (:data:`islandgrid.twin.images.VENDORS`).
    fault : str or None
        None, 'stale' (answers, image frozen), 'timeout' (does not answer) or
        'exception' (answers with Modbus exception 4, server device failure).
    fault_until_s : float or None
        Twin time the fault clears by itself [s]; None = until cleared.
    """

    name: str
    unit_id: int = 1
    vendor: str = "conformant"
    fault: str | None = None
    fault_until_s: float | None = None
    heartbeat: int = 0
    image: list[int] = field(default_factory=list)
    dirty: bool = True
    plant: Plant | None = None
    layout: DeviceLayout = field(init=False)
    settings: dict[tuple[int, str], Value] = field(default_factory=dict)  # written points no plant state feeds
    _slots: list[_Slot] = field(default_factory=list)
    _by_model_point: dict[tuple[int, str], Binding] = field(default_factory=dict)
    _sfs: dict[tuple[int, str], int] = field(default_factory=dict)
    _length: int = 0
    _slot_by_key: dict[tuple[int, str], _Slot] = field(default_factory=dict)
    _base_image: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.layout = layout(self.name, self.vendor)
        self._by_model_point = {(b.model, b.point): b for b in role(self.name).bindings}
        at = 2
        for mid in self.layout.models:
            if mid == UNKNOWN_VENDOR_MODEL:
                at += 2 + UNKNOWN_VENDOR_MODEL_LEN
                continue
            d = model_def(mid)
            omit = self.layout.unimplemented.get(mid, frozenset())
            for p in d.points:
                sf_key = (mid, p.sf) if isinstance(p.sf, str) else None
                sf_const = p.sf if isinstance(p.sf, int) else None
                self._slots.append(_Slot(at + 2 + p.offset - 2, p, (mid, p.name), sf_key, sf_const, p.name in omit))
            at += 2 + d.length
        self._length = at + 2
        for slot in self._slots:
            self._slot_by_key.setdefault(slot.key, slot)

    @property
    def base(self) -> int:
        """Address of the 'SunS' marker."""
        return self.layout.base

    def refresh(self, plant: Plant) -> None:
        """Mark the image out of date: the device updated (unless it is stale). Built lazily on read."""
        if self.plant is None:
            self._sfs = scale_factors(self.name, plant, self.layout)
        self.plant = plant
        if self.fault == "stale" and self.image:
            return
        self.dirty = True

    def _template(self) -> list[int]:
        """The image's constant part: marker, headers, scale factors, unimplemented markers, end model."""
        regs = [0] * self._length
        regs[0], regs[1] = SUNS_MARKER
        at = 2
        for mid in self.layout.models:
            length = UNKNOWN_VENDOR_MODEL_LEN if mid == UNKNOWN_VENDOR_MODEL else model_def(mid).length
            regs[at], regs[at + 1] = mid, length
            at += 2 + length
        regs[at], regs[at + 1] = END_MODEL_ID, 0
        for s in self._slots:
            raw = self._sfs.get(s.key) if s.point.type == "sunssf" and not s.unimplemented else None
            regs[s.offset : s.offset + s.point.size] = encode_raw(s.point, raw)
        return regs

    def _build(self) -> None:
        if not (self.dirty and self.plant is not None):
            return
        if not self._base_image:
            self._base_image = self._template()
        self.heartbeat = (self.heartbeat + 1) % _HB_MODULUS
        logical = _values(self.name, self.plant)
        logical["heartbeat"] = float(self.heartbeat)
        values = {**self.settings, **sunspec_values(self.name, self.plant, logical)}
        regs = list(self._base_image)
        for key, value in values.items():
            s = self._slot_by_key.get(key)
            if s is None or s.unimplemented or s.point.type == "sunssf":
                continue
            p = s.point
            if value is None or isinstance(value, str) or p.type in ("float32", "float64"):
                raw: int | float | str | None = value
            else:
                sf = self._sfs.get(s.sf_key) if s.sf_key is not None else s.sf_const
                raw = to_raw(float(value), sf)
            regs[s.offset : s.offset + p.size] = encode_raw(p, raw)
        self.image = regs
        self.dirty = False

    def check_comm(self) -> None:
        """Raise the device's communication fault, if it has one."""
        if self.fault == "timeout":
            raise DeviceTimeoutError(f"{self.name}: no answer (injected timeout)")
        if self.fault == "exception":
            raise DeviceProtocolError(f"{self.name}: Modbus exception 4, server device failure (injected)")

    def read(self, address: int, count: int) -> list[int]:
        """Registers ``address .. address+count-1``; DeviceProtocolError for an illegal address."""
        self.check_comm()
        self._build()
        start = address - self.base
        if start < 0 or count < 1 or start + count > len(self.image):
            raise DeviceProtocolError(f"{self.name}: illegal data address {address} (+{count})")
        return self.image[start : start + count]

    def write(self, address: int, regs: list[int], plant: Plant) -> None:
        """Write registers; only whole points with RW access are accepted."""
        self.check_comm()
        at = address - self.base
        end = at + len(regs)
        slots = [s for s in self._slots if at <= s.offset < end]
        covered = sum(s.point.size for s in slots)
        if not slots or covered != len(regs) or slots[0].offset != at:
            raise DeviceProtocolError(f"{self.name}: illegal data address {address} (+{len(regs)})")
        for s in slots:
            if not s.point.writable or s.unimplemented:
                raise DeviceProtocolError(f"{self.name}: {s.key[1]} is read-only (address {self.base + s.offset})")
        for s in slots:
            o = s.offset - at
            raw = decode_raw(s.point, regs[o : o + s.point.size])
            sf = self._sfs.get(s.sf_key) if s.sf_key is not None else s.sf_const
            value = raw if isinstance(raw, str) else scaled(raw, sf)
            b = self._by_model_point.get(s.key)
            if b is not None and value is not None and not isinstance(value, str):
                _apply(self.name, b.name, value * b.factor, plant)
            else:
                self.settings[s.key] = value
