"""The twin's five devices: register images built from the plant, writes applied to it,
and per-device communication faults (stale, timeout, exception)."""

from __future__ import annotations

from dataclasses import dataclass, field

from islandgrid.devices.registers import SUNSPEC_BASE, RegisterMap, decode_point, register_map
from islandgrid.devices.states import PCS_FOLLOW, PCS_FORM
from islandgrid.errors import DeviceProtocolError, DeviceTimeoutError
from islandgrid.twin.plant import Plant

#: Communication faults a device can have.
COMM_FAULTS: tuple[str, ...] = ("stale", "timeout", "exception")


def _values(device: str, p: Plant) -> dict[str, float]:
    """Engineering values of one device's points from the plant state."""
    m, cn = p.m, p.counters
    if device == "pv":
        return {
            "state": 1.0 if m["pv_avail_kw"] <= 0 else (5.0 if p.pv_limit_frac < 1 else 4.0),
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


@dataclass
class TwinDevice:
    """One simulated device: its register image and its communication fault, if any.

    Attributes
    ----------
    name : str
        'pv', 'pcs', 'genset', 'pcc' or 'load'.
    unit_id : int
        Modbus unit id it answers to.
    fault : str or None
        None, 'stale' (answers, image frozen), 'timeout' (does not answer) or
        'exception' (answers with Modbus exception 4, server device failure).
    fault_until_s : float or None
        Twin time the fault clears by itself [s]; None = until cleared.
    """

    name: str
    unit_id: int = 1
    fault: str | None = None
    fault_until_s: float | None = None
    heartbeat: int = 0
    image: list[int] = field(default_factory=list)
    map: RegisterMap = field(init=False)

    def __post_init__(self) -> None:
        self.map = register_map(self.name)

    dirty: bool = True
    plant: Plant | None = None

    def refresh(self, plant: Plant) -> None:
        """Mark the image out of date: the device updated (unless it is stale). Built lazily on read."""
        self.plant = plant
        if self.fault == "stale" and self.image:
            return
        self.dirty = True

    def _build(self) -> None:
        if self.dirty and self.plant is not None:
            self.heartbeat = (self.heartbeat + 1) & 0xFFFF
            values = _values(self.name, self.plant)
            values["heartbeat"] = float(self.heartbeat)
            self.image = self.map.encode(values)
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
        start = address - SUNSPEC_BASE
        if start < 0 or count < 1 or start + count > len(self.image):
            raise DeviceProtocolError(f"{self.name}: illegal data address {address} (+{count})")
        return self.image[start : start + count]

    def write(self, address: int, regs: list[int], plant: Plant) -> None:
        """Write control registers; only whole writable points are accepted."""
        self.check_comm()
        at = address - SUNSPEC_BASE
        end = at + len(regs)
        points = [p for p in self.map.points if at <= self.map.offsets[p.name] < end]
        covered = sum(p.width for p in points)
        if not points or covered != len(regs) or self.map.offsets[points[0].name] != at:
            raise DeviceProtocolError(f"{self.name}: illegal data address {address} (+{len(regs)})")
        for p in points:
            if not p.writable:
                raise DeviceProtocolError(f"{self.name}: {p.name} is read-only (address {self.map.address(p.name)})")
        for p in points:
            o = self.map.offsets[p.name] - at
            _apply(self.name, p.name, decode_point(p, regs[o : o + p.width]), plant)
