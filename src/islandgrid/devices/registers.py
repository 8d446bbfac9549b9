"""SunSpec-style Modbus register maps of the five devices, and their codec.

Every device answers holding registers (function codes 3 and 16) at the SunSpec base
address 40000: the ``SunS`` marker (0x5375 0x6E53), one model header (ID, length in
registers), the model's points, then the end model (0xFFFF, 0). The model IDs follow
SunSpec where one fits (103 three-phase inverter, 802 battery, 203 three-phase meter)
and use the vendor range (64xxx) otherwise; the points are a compact subset with
*fixed* scale factors (no ``_SF`` registers) and 32/64-bit integers, documented in
``docs/registers.md``. This is SunSpec-*style*, not a certified SunSpec implementation.

The same maps serve the twin (:mod:`islandgrid.twin.server`) and the controller's
links (:mod:`islandgrid.links`), so both sides agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: The SunSpec base address and marker.
SUNSPEC_BASE = 40000
SUNS_MARKER = (0x5375, 0x6E53)
END_MODEL = (0xFFFF, 0x0000)

Kind = Literal["u16", "i16", "u32", "i32", "acc64"]
_WIDTH: dict[str, int] = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "acc64": 4}

#: The five device names, in the order the controller reads them.
DEVICE_NAMES: tuple[str, ...] = ("pv", "pcs", "genset", "pcc", "load")


@dataclass(frozen=True)
class Point:
    """One register point.

    Attributes
    ----------
    name : str
        Point name; its unit is in the name (``_kw``, ``_hz``, ``_kwh`` ...).
    kind : str
        Register encoding: u16, i16, u32, i32 (big-endian words) or acc64 (64-bit counter).
    scale : float
        Engineering value = raw integer x scale.
    writable : bool
        True for control points the controller writes.
    doc : str
        One line for ``docs/registers.md``.
    """

    name: str
    kind: Kind
    scale: float
    writable: bool = False
    doc: str = ""
    width: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", _WIDTH[self.kind])


@dataclass(frozen=True)
class RegisterMap:
    """One device's model: header, points at consecutive offsets, end marker."""

    device: str
    model_id: int
    title: str
    points: tuple[Point, ...]
    offsets: dict[str, int] = field(init=False, repr=False)
    model_length: int = field(init=False, repr=False)  # registers after the model header (SunSpec 'L')
    total_registers: int = field(init=False, repr=False)  # registers from 40000 through the end model

    def __post_init__(self) -> None:
        offsets: dict[str, int] = {}
        at = 4  # SunS (2) + model ID + model length
        for p in self.points:
            offsets[p.name] = at
            at += p.width
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "model_length", at - 4)
        object.__setattr__(self, "total_registers", at + 2)

    def address(self, name: str) -> int:
        """Absolute Modbus address of a point."""
        return SUNSPEC_BASE + self.offsets[name]

    def point(self, name: str) -> Point:
        """The point called ``name``; KeyError when unknown."""
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"{self.device} has no point {name!r}")

    def encode(self, values: dict[str, float]) -> list[int]:
        """The full register image (40000 .. end model) from engineering values."""
        regs = [SUNS_MARKER[0], SUNS_MARKER[1], self.model_id, self.model_length]
        for p in self.points:
            regs.extend(encode_point(p, values.get(p.name, 0.0)))
        regs.extend(END_MODEL)
        return regs

    def decode(self, regs: list[int]) -> dict[str, float]:
        """Engineering values from a full register image; checks marker and model ID."""
        if len(regs) < self.total_registers or tuple(regs[:2]) != SUNS_MARKER or regs[2] != self.model_id:
            raise ValueError(f"{self.device}: not a SunSpec model {self.model_id} image")
        out: dict[str, float] = {}
        for p in self.points:
            at = self.offsets[p.name]
            out[p.name] = decode_point(p, regs[at : at + p.width])
        return out


def encode_point(p: Point, value: float) -> list[int]:
    """Registers of one point (big-endian word order), saturating at the type's range."""
    raw = round(float(value) / p.scale)
    bits = 16 * p.width
    if p.kind in ("i16", "i32"):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        raw = min(max(raw, lo), hi) & ((1 << bits) - 1)
    elif p.kind == "acc64":
        raw &= (1 << bits) - 1  # accumulators wrap
    else:
        raw = min(max(raw, 0), (1 << bits) - 1)
    return [(raw >> (16 * (p.width - 1 - i))) & 0xFFFF for i in range(p.width)]


def decode_point(p: Point, regs: list[int]) -> float:
    """Engineering value of one point."""
    raw = 0
    for r in regs:
        raw = (raw << 16) | (int(r) & 0xFFFF)
    bits = 16 * p.width
    if p.kind in ("i16", "i32") and raw >= 1 << (bits - 1):
        raw -= 1 << bits
    return raw * p.scale


def _acc(name: str, doc: str) -> Point:
    if name.endswith("_l"):
        return Point(name, "acc64", 1e-6, doc=doc + " [L], 64-bit accumulator in mL")
    return Point(name, "acc64", 1e-6, doc=doc + " [kWh], 64-bit accumulator in mWh")


_HB = Point("heartbeat", "u16", 1, doc="increments on every device update; frozen = stale telemetry")

PV_MAP = RegisterMap(
    "pv",
    103,
    "PV inverter (SunSpec 103-style, curtailment as in 123)",
    (
        _HB,
        Point("state", "u16", 1, doc="1 off, 4 MPPT, 5 throttled (SunSpec St)"),
        Point("p_kw", "i32", 0.001, doc="AC power [kW], W resolution"),
        Point("p_avail_kw", "i32", 0.001, doc="available (MPPT) power [kW]"),
        _acc("e_kwh", "AC energy delivered"),
        _acc("e_avail_kwh", "energy available (integral of p_avail_kw)"),
        Point("hz", "u32", 0.001, doc="AC frequency [Hz]"),
        Point("limit_frac", "u16", 0.0001, writable=True, doc="power limit as a fraction of rating (WMaxLimPct/100)"),
    ),
)

PCS_MAP = RegisterMap(
    "pcs",
    802,
    "PCS with BMS (SunSpec 802-style battery + vendor PCS points)",
    (
        _HB,
        Point("bms_tripped", "u16", 1, doc="1 while the BMS contactor is open (tripped)"),
        Point("mode", "u16", 1, doc="actual mode: 0 off, 1 grid-following, 2 grid-forming"),
        Point("p_kw", "i32", 0.001, doc="AC power [kW], + discharge"),
        Point("soc_frac", "u16", 0.0001, doc="state of charge [frac]"),
        Point("soc_kwh", "u32", 0.001, doc="stored energy [kWh]"),
        Point("p_dis_max_kw", "i32", 0.001, doc="discharge power available now [kW]"),
        Point("p_chg_max_kw", "i32", 0.001, doc="charge power available now [kW]"),
        _acc("e_out_kwh", "AC energy out (discharge)"),
        _acc("e_in_kwh", "AC energy in (charge)"),
        _acc("e_selfdis_kwh", "stored energy lost to self-discharge (BMS estimate)"),
        Point("bus_hz", "u32", 0.001, doc="frequency of the bus the PCS sees [Hz]"),
        Point("bus_v_pu", "u16", 0.0001, doc="bus voltage [pu]"),
        Point("p_set_kw", "i32", 0.001, writable=True, doc="power setpoint while grid-following [kW], + discharge"),
        Point("mode_req", "u16", 1, writable=True, doc="requested mode: 1 grid-following, 2 grid-forming"),
        Point("hz_set", "u32", 0.001, writable=True, doc="grid-forming frequency [Hz] (clamped to nominal ± 0.1)"),
        Point("v_set_pu", "u16", 0.0001, writable=True, doc="grid-forming voltage [pu] (clamped to 0.95-1.05)"),
        Point("bms_reset", "u16", 1, writable=True, doc="write 1 to reset a cleared BMS trip; reads back 0"),
    ),
)

GENSET_MAP = RegisterMap(
    "genset",
    64110,
    "Genset controller (vendor model)",
    (
        _HB,
        Point("state", "u16", 1, doc="0 off, 1 starting, 2 running, 3 fail-to-start alarm"),
        Point("p_kw", "i32", 0.001, doc="AC power [kW]"),
        _acc("e_kwh", "AC energy delivered"),
        _acc("fuel_l", "fuel burnt"),
        Point("run_s", "u32", 1, doc="running seconds since the last start"),
        Point("start_attempts", "u16", 1, doc="start attempts since power-up"),
        Point("run_req", "u16", 1, writable=True, doc="1 run, 0 stop (level)"),
        Point("p_set_kw", "i32", 0.001, writable=True, doc="power setpoint when not forming the grid [kW]"),
        Point("alarm_reset", "u16", 1, writable=True, doc="write 1 to clear a fail-to-start alarm; reads back 0"),
    ),
)

PCC_MAP = RegisterMap(
    "pcc",
    203,
    "PCC meter and breaker (SunSpec 203-style meter + vendor breaker)",
    (
        _HB,
        Point("breaker_closed", "u16", 1, doc="1 closed, 0 open"),
        Point("trip_cause", "u16", 1, doc="0 none, 1 protection (grid V/f), 2 command"),
        Point("p_kw", "i32", 0.001, doc="PCC power [kW], + import"),
        _acc("e_import_kwh", "energy imported"),
        _acc("e_export_kwh", "energy exported"),
        Point("grid_hz", "u32", 0.001, doc="grid-side frequency [Hz], 0 when dead"),
        Point("grid_v_pu", "u16", 0.0001, doc="grid-side voltage [pu]"),
        Point("bus_hz", "u32", 0.001, doc="microgrid-side frequency [Hz]"),
        Point("bus_v_pu", "u16", 0.0001, doc="microgrid-side voltage [pu]"),
        Point("dphi_deg", "i16", 0.01, doc="phase of the bus minus the grid [deg]"),
        Point(
            "close_refused",
            "u16",
            1,
            doc="why the last close command was refused (bits): 1 grid dead or abnormal, 2 Δf, 4 ΔV, 8 Δφ "
            "above the sync-check relay's limits; 0 after a successful close",
        ),
        Point("close_refusals", "u16", 1, doc="refused close commands since power-up (wraps at 65536)"),
        Point("breaker_req", "u16", 1, writable=True, doc="write 1 open, 2 close; reads back 0 once done"),
    ),
)

LOAD_MAP = RegisterMap(
    "load",
    64120,
    "Compute-room load meter with shed contactors (vendor model)",
    (
        _HB,
        Point("p_kw", "i32", 0.001, doc="served power [kW]"),
        Point("p_critical_kw", "i32", 0.001, doc="served critical power [kW]"),
        Point("p_demand_kw", "i32", 0.001, doc="demand incl. shed groups, from the room's DCIM [kW]"),
        Point("p_critical_demand_kw", "i32", 0.001, doc="critical demand [kW]"),
        _acc("e_kwh", "energy served"),
        _acc("e_critical_kwh", "critical energy served"),
        _acc("e_demand_kwh", "energy demanded"),
        _acc("e_critical_demand_kwh", "critical energy demanded"),
        Point("shed_mask", "u16", 1, doc="bit i set: group i is shed (actual)"),
        Point("shed_req", "u16", 1, writable=True, doc="bit i set: shed group i (level)"),
    ),
)

MAPS: dict[str, RegisterMap] = {m.device: m for m in (PV_MAP, PCS_MAP, GENSET_MAP, PCC_MAP, LOAD_MAP)}


def register_map(device: str) -> RegisterMap:
    """The map of ``device``; KeyError names the known devices."""
    try:
        return MAPS[device]
    except KeyError:
        raise KeyError(f"unknown device {device!r}; known: {', '.join(MAPS)}") from None


# ---------------------------------------------------------------------------- docs/registers.md
#: Units by name suffix (the project's convention: units live in the names).
_UNITS: tuple[tuple[str, str], ...] = (
    ("_kwh", "kWh"),
    ("_kw", "kW"),
    ("_hz", "Hz"),
    ("_pu", "pu"),
    ("_frac", "fraction"),
    ("_deg", "degree"),
    ("_s", "s"),
    ("_l", "L"),
)

_DOC_HEAD = """\
# Register maps of the device twin

<!-- Generated from src/islandgrid/devices/registers.py by
     `python -m islandgrid.twin.registers_doc > docs/registers.md`; tests/test_hil_registers_doc.py
     fails when this file and the code differ. Edit the code, then regenerate. -->

The twin (`islandgrid serve SITE.toml --twin`) serves five Modbus TCP devices on loopback, one
server (port) each; the controller reads and writes them through the same maps, over Modbus
(`islandgrid.links.modbus`) or in-process (`islandgrid.links.inprocess`, tests). On hardware the
controller connects to the `[devices]` addresses of the site file (host, port, unit id; default
ports 5020 to 5024). These maps are **SunSpec-style**, not a certified SunSpec implementation.

## Layout and encoding

- Holding registers only: read with function code 3, write with 16 (or 6 for one register).
- Every device starts at the SunSpec base address **40000** with the marker `SunS`
  (`0x5375 0x6E53`), then one model header (model ID, model length L = registers after the
  header), the model's points at consecutive addresses, then the end model (`0xFFFF`, `0`).
  Model IDs follow SunSpec where one fits (103 three-phase inverter, 802 battery, 203
  three-phase meter) and use the vendor range (641xx) otherwise.
- Points have **fixed scale factors** (no `_SF` registers): engineering value = raw integer x
  scale. Types: `u16`, `i16` (one register), `u32`, `i32` (two registers, big-endian word order,
  high word first), `acc64` (a 64-bit unsigned energy accumulator in four registers, high word
  first, 1 count = 1e-6 kWh = 1 mWh (or 1e-6 L for fuel); it wraps, never goes back).
  Values outside a type's range saturate.
- Signs: power + discharge for the PCS, + import for the PCC.
- `heartbeat` (first point of every model) increments on every device update; a frozen
  heartbeat means stale telemetry.
- Writable points (`RW`) are the control points; the controller reads the whole block in one
  request and writes runs of adjacent writable points in one request. Points marked "reads back
  0" are edge commands: write 1 (or 2), the device acts and the register reads 0 again.

## Errors on the wire

| situation | answer |
|---|---|
| address outside the block, or a write that covers part of a point | exception 2 (illegal data address) |
| write to a read-only point | exception 2 (illegal data address) |
| function code other than 3, 6, 16, 23 | exception 1 (illegal function) |
| injected `modbus_exception` fault | exception 4 (server device failure) |
| injected `modbus_timeout` fault | no answer (the client times out) |
| injected `telemetry_stale` fault | answers with a frozen image (heartbeat frozen) |

"""


def _units(p: Point) -> str:
    if p.kind == "acc64":
        return "L" if p.name.endswith("_l") else "kWh"
    for suffix, unit in _UNITS:
        if p.name.endswith(suffix) or p.name == suffix[1:]:
            return unit
    return "-"


def _scale(p: Point) -> str:
    return f"{p.scale:g}"


def maps_markdown() -> str:
    """``docs/registers.md``, rendered from :data:`MAPS` (the doc cannot drift from the code)."""
    lines = [_DOC_HEAD]
    for m in MAPS.values():
        lines.append(f"## `{m.device}`: {m.title}\n")
        lines.append(
            f"Model ID **{m.model_id}**, model length L = {m.model_length}, "
            f"{m.total_registers} registers from 40000 to {SUNSPEC_BASE + m.total_registers - 1}.\n"
        )
        lines.append("| address | name | type | scale | units | R/W | meaning |")
        lines.append("|---:|---|---|---|---|---|---|")
        lines.append(f"| {SUNSPEC_BASE} | `SunS` | u32 | | | R | SunSpec marker 0x5375 0x6E53 |")
        lines.append(f"| {SUNSPEC_BASE + 2} | `ID` | u16 | | | R | model ID = {m.model_id} |")
        lines.append(f"| {SUNSPEC_BASE + 3} | `L` | u16 | | | R | model length = {m.model_length} registers |")
        for p in m.points:
            addr = m.address(p.name)
            span = f"{addr}" if p.width == 1 else f"{addr}-{addr + p.width - 1}"
            rw = "RW" if p.writable else "R"
            lines.append(f"| {span} | `{p.name}` | {p.kind} | {_scale(p)} | {_units(p)} | {rw} | {p.doc} |")
        end = SUNSPEC_BASE + m.total_registers - 2
        lines.append(f"| {end}-{end + 1} | end | u16 x 2 | | | R | end model 0xFFFF, 0 |")
        lines.append("")
    return "\n".join(lines)
