"""SunSpec model definitions and their wire encoding, built from the JSON models pysunspec2 ships.

A SunSpec device answers holding registers from a base address (40000, 0 or 50000) with the
marker ``SunS`` (0x5375 0x6E53), then models, each a header (model ID, length L = registers after
the header) and its points, then the end model (0xFFFF, 0). The layouts come from the SunSpec
Alliance's model definitions (``sunspec2/models/json/model_<ID>.json`` in pysunspec2) and, for the
vendor models (IDs 64xxx), from the JSON files in ``devices/models/`` written in the same format;
nothing is laid out by hand here.

Encoding follows the SunSpec Information Model Specification: big-endian words, a point with a
scale factor carries ``value / 10**sf`` as an integer, ``sunssf`` points are signed 16-bit powers
of ten, and every type has an *unimplemented* marker (0x8000 for int16 and sunssf, 0xFFFF for
uint16/enum16/bitfield16, 0x80000000 for int32, 0xFFFFFFFF for uint32/enum32/bitfield32, 0 for
accumulators, NaN 0x7FC00000 for float32, NUL for strings), decoded here as ``None``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sunspec2 import mb

#: The SunSpec marker 'SunS' and the end model header.
SUNS_MARKER: tuple[int, int] = (0x5375, 0x6E53)
END_MODEL_ID = 0xFFFF
#: Base addresses a SunSpec device may use, in the order a client tries them (SunSpec Modbus spec).
SUNSPEC_BASES: tuple[int, ...] = (40000, 0, 50000)
#: The most registers one Modbus read may return (Modbus Application Protocol V1.1b3, 6.3).
MAX_READ_REGS = 125
#: Where the vendor models' JSON files live.
VENDOR_MODEL_DIR = Path(__file__).resolve().parent / "models"

_WIDTH: dict[str, int] = {
    "int16": 1, "uint16": 1, "count": 1, "acc16": 1, "enum16": 1, "bitfield16": 1, "pad": 1, "sunssf": 1,
    "int32": 2, "uint32": 2, "acc32": 2, "enum32": 2, "bitfield32": 2, "ipaddr": 2, "float32": 2,
    "int64": 4, "uint64": 4, "acc64": 4, "float64": 4, "eui48": 4, "ipv6addr": 8,
}  # fmt: skip
_SIGNED = frozenset({"int16", "int32", "int64", "sunssf"})


class ModelDefinitionError(ValueError):
    """A model ID with no definition, or a definition this encoder cannot lay out."""


@dataclass(frozen=True)
class PointDef:
    """One point of a model definition.

    Attributes
    ----------
    name : str
        SunSpec point name (``W``, ``TotWhInj``, ``W_SF`` ...); points of a fixed sub-group are
        named ``Group.Point``.
    type : str
        SunSpec type (int16, uint32, acc64, sunssf, string, enum16 ...).
    offset : int
        Registers from the model's ID register (ID is 0, L is 1, the first point 2).
    size : int
        Registers it takes.
    sf : str or int or None
        Name of the scale-factor point in the same model, a constant power of ten, or None.
    units : str
        SunSpec units ('W', 'Wh', 'Hz', 'Pct' ...), '' when none.
    writable : bool
        Access RW.
    mandatory : bool
        Mandatory in the model ('M').
    label : str
        Short description.
    symbols : dict of int to str
        Enum / bitfield symbols.
    """

    name: str
    type: str
    offset: int
    size: int
    sf: str | int | None = None
    units: str = ""
    writable: bool = False
    mandatory: bool = False
    label: str = ""
    symbols: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDef:
    """A SunSpec model definition: ID, name, length and its points at fixed offsets."""

    model_id: int
    name: str
    label: str
    length: int  # L: registers after the two-register header
    points: tuple[PointDef, ...]
    vendor: bool = False
    description: str = ""
    by_name: dict[str, PointDef] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.points})

    def point(self, name: str) -> PointDef:
        """The point called ``name``; KeyError names the model."""
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"model {self.model_id} has no point {name!r}") from None


def _flatten(group: dict[str, Any], prefix: str, at: int, out: list[PointDef]) -> int:
    """Lay out a group's points (and its fixed sub-groups) from register ``at``; returns the next free offset."""
    for p in group.get("points", []):
        ptype = str(p["type"])
        size = int(p["size"]) if ptype == "string" else _WIDTH.get(ptype, 0)
        if size <= 0:
            raise ModelDefinitionError(f"point {p['name']}: unknown type {ptype!r}")
        sf = p.get("sf")
        out.append(
            PointDef(
                name=prefix + str(p["name"]),
                type=ptype,
                offset=at,
                size=size,
                sf=int(sf) if isinstance(sf, int) or (isinstance(sf, str) and sf.lstrip("-").isdigit()) else sf,
                units=str(p.get("units", "")),
                writable=p.get("access") == "RW",
                mandatory=p.get("mandatory") == "M",
                label=str(p.get("label", p["name"])),
                symbols={int(s["value"]): str(s["name"]) for s in p.get("symbols", [])},
            )
        )
        at += size
    for g in group.get("groups", []):
        count = g.get("count", 1)
        if not isinstance(count, int):
            raise ModelDefinitionError(f"group {g['name']}: a repeating group (count {count!r}) is not laid out")
        for i in range(count):
            tag = g["name"] if count == 1 else f"{g['name']}[{i + 1}]"
            at = _flatten(g, f"{prefix}{tag}.", at, out)
    return at


def model_from_json(doc: dict[str, Any], *, vendor: bool = False) -> ModelDef:
    """A :class:`ModelDef` from a SunSpec JSON model definition (pysunspec2's format)."""
    group = doc["group"]
    points: list[PointDef] = []
    end = _flatten(group, "", 0, points)
    return ModelDef(
        model_id=int(doc["id"]),
        name=str(group["name"]),
        label=str(group.get("label", group["name"])),
        length=end - 2,
        points=tuple(p for p in points if p.name not in ("ID", "L")),
        vendor=vendor,
        description=str(group.get("desc", "")),
    )


@cache
def model_def(model_id: int) -> ModelDef:
    """The definition of ``model_id``: a vendor model of ``devices/models`` or a SunSpec model of pysunspec2.

    Raises
    ------
    ModelDefinitionError
        No definition is known for ``model_id``.
    """
    vendor = VENDOR_MODEL_DIR / f"model_{model_id}.json"
    if vendor.is_file():
        return model_from_json(json.loads(vendor.read_text(encoding="utf-8")), vendor=True)
    std = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    if not std.is_file():
        raise ModelDefinitionError(f"no SunSpec or vendor definition of model {model_id}")
    return model_from_json(json.loads(std.read_text(encoding="utf-8")))


def vendor_model_ids() -> tuple[int, ...]:
    """IDs of the vendor models in ``devices/models``, ascending."""
    return tuple(sorted(int(p.stem.split("_")[1]) for p in VENDOR_MODEL_DIR.glob("model_*.json")))


# ---------------------------------------------------------------------------- raw values
def unimplemented(ptype: str, size: int) -> list[int]:
    """The registers of an unimplemented value of type ``ptype`` (pysunspec2's markers)."""
    if ptype == "string" or ptype == "ipv6addr":
        return [0] * size
    if ptype == "float32":
        return [mb.SUNS_UNIMPL_FLOAT32 >> 16, mb.SUNS_UNIMPL_FLOAT32 & 0xFFFF]
    if ptype == "float64":
        return [(mb.SUNS_UNIMPL_FLOAT64 >> (48 - 16 * i)) & 0xFFFF for i in range(4)]
    if ptype == "pad":
        return [0x8000]
    raw = int(mb.unimpl_value[ptype])
    return _int_regs(raw, size)


def _int_regs(raw: int, size: int) -> list[int]:
    raw &= (1 << (16 * size)) - 1
    return [(raw >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def encode_raw(p: PointDef, raw: int | float | str | None) -> list[int]:
    """Registers of one point from its raw (unscaled) value; None gives the unimplemented marker.

    Integers saturate one count inside their type's range (the extreme is the marker); an accumulator
    rolls over, and a count of 0 (the accumulator's marker) is sent as 1.
    """
    if raw is None:
        return unimplemented(p.type, p.size)
    if p.type == "string":
        data = str(raw).encode("utf-8")[: 2 * p.size].ljust(2 * p.size, b"\0")
        return [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(p.size)]
    if p.type in ("float32", "float64"):
        fmt, n = (">f", ">I") if p.type == "float32" else (">d", ">Q")
        bits = struct.unpack(n, struct.pack(fmt, float(raw)))[0]
        return _int_regs(int(bits), p.size)
    value = int(raw)
    bits = 16 * p.size
    lo, hi = (-(1 << (bits - 1)) + 1, (1 << (bits - 1)) - 1) if p.type in _SIGNED else (0, (1 << bits) - 2)
    if p.type.startswith("acc"):
        value %= 1 << bits  # accumulators roll over
        return _int_regs(value or 1, p.size)  # 0 marks 'unimplemented': a counter at 0 reads one count
    return _int_regs(min(max(value, lo), hi), p.size)


def decode_raw(p: PointDef, regs: list[int] | tuple[int, ...]) -> int | float | str | None:
    """The raw value of one point from its registers; None when the device marks it unimplemented."""
    if p.type == "string":
        data = b"".join(int(r).to_bytes(2, "big") for r in regs)
        return None if not data or data[0] == 0 else data.rstrip(b"\0").decode("utf-8", "replace")
    if p.type == "pad":
        return None
    raw = 0
    for r in regs:
        raw = (raw << 16) | (int(r) & 0xFFFF)
    if p.type == "float32":
        return None if raw == mb.SUNS_UNIMPL_FLOAT32 else _nan_none(struct.unpack(">f", raw.to_bytes(4, "big"))[0])
    if p.type == "float64":
        return None if raw == mb.SUNS_UNIMPL_FLOAT64 else _nan_none(struct.unpack(">d", raw.to_bytes(8, "big"))[0])
    if p.type in ("ipv6addr", "eui48"):
        return raw
    if p.type in _SIGNED and raw >= 1 << (16 * p.size - 1):
        raw -= 1 << (16 * p.size)
    unimpl = mb.unimpl_value.get(p.type)
    if isinstance(unimpl, int) and raw == unimpl:
        return None
    return raw


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def scaled(raw: int | float | str | None, sf: int | None) -> float | None:
    """Engineering value ``raw * 10**sf`` [the point's SunSpec units]; None when unimplemented."""
    if raw is None or isinstance(raw, str):
        return None
    return float(raw) if sf is None else float(raw) * 10.0**sf


def to_raw(value: float, sf: int | None) -> int:
    """The raw integer for an engineering value at scale factor ``sf``."""
    return round(value / 10.0**sf) if sf is not None else round(value)
