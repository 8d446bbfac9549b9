"""SunSpec discovery: find the ``SunS`` marker, walk the models, bind the controller's points.

:func:`scan` works over any register reader (Modbus TCP, the twin in-process): it tries the base
addresses 40000, 0 and 50000 for the marker, then walks model headers (ID, length) to the end
model, skipping models it does not know by their length. :class:`BoundDevice` then binds a role's
points (:mod:`islandgrid.devices.roles`) to the addresses found, plans the fewest reads
(<= 125 registers each) that cover them and their scale factors, decodes a reading (scale factors
applied, unimplemented values left out) and encodes writes. So the controller drives any
conformant device, wherever its vendor put the models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from islandgrid.devices.roles import Binding, Role
from islandgrid.devices.sunspec import (
    END_MODEL_ID,
    MAX_READ_REGS,
    SUNS_MARKER,
    SUNSPEC_BASES,
    ModelDef,
    ModelDefinitionError,
    PointDef,
    decode_raw,
    encode_raw,
    model_def,
    scaled,
    to_raw,
)
from islandgrid.errors import DeviceProtocolError

Reader = Callable[[int, int], Awaitable[list[int]]]
#: A device with more models than this is treated as a broken chain.
MAX_MODELS = 64
#: Two reads merge when the gap between them is at most this many registers: one round trip costs more
#: than reading up to a full request of unused registers, so any two that fit one request merge.
MERGE_GAP_REGS = 125


class NotSunSpecError(DeviceProtocolError):
    """The device answers but has no ``SunS`` marker at any base address, or a broken model chain."""


@dataclass(frozen=True)
class FoundModel:
    """One model in a device's chain.

    Attributes
    ----------
    model_id : int
        Model ID read from the header.
    address : int
        Address of the model's ID register.
    length : int
        L, registers after the header, as the device declares it.
    definition : ModelDef or None
        The known definition (None: unknown model, skipped by its length).
    issue : str
        Why the model is not conformant ('' when it is): a length that differs from the definition.
    """

    model_id: int
    address: int
    length: int
    definition: ModelDef | None
    issue: str = ""

    @property
    def label(self) -> str:
        """The model's name, or 'unknown'."""
        return self.definition.label if self.definition else "unknown model"


@dataclass(frozen=True)
class DeviceScan:
    """What a scan found: the base address and the model chain."""

    base: int
    models: tuple[FoundModel, ...]

    def find(self, model_id: int) -> FoundModel | None:
        """The first conformant instance of ``model_id``, or None."""
        for m in self.models:
            if m.model_id == model_id and m.definition is not None and not m.issue:
                return m
        return None

    @property
    def issues(self) -> list[str]:
        """Every non-conformance found, one line each."""
        out = [f"model {m.model_id} at {m.address}: {m.issue}" for m in self.models if m.issue]
        if not self.models or self.models[0].model_id != 1:
            out.insert(0, "the first model is not 1 (Common), which SunSpec requires first")
        return out


async def scan(read: Reader, bases: tuple[int, ...] = SUNSPEC_BASES) -> DeviceScan:
    """Find the SunSpec marker and walk the model chain.

    Parameters
    ----------
    read : callable
        ``await read(address, count)`` returns ``count`` holding registers; raises
        :class:`~islandgrid.errors.DeviceProtocolError` for an illegal address (any
        :class:`~islandgrid.errors.DeviceTimeoutError` propagates: the device does not answer).
    bases : tuple of int
        Base addresses to try, in order.

    Raises
    ------
    NotSunSpecError
        No marker at any base, or a chain that does not end.
    """
    base = None
    for b in bases:
        try:
            if tuple(await read(b, 2)) == SUNS_MARKER:
                base = b
                break
        except DeviceProtocolError:
            continue
    if base is None:
        raise NotSunSpecError(f"no SunSpec marker 'SunS' at {', '.join(str(b) for b in bases)}: not a SunSpec device")
    models: list[FoundModel] = []
    addr = base + 2
    while True:
        try:
            mid, length = (int(x) for x in await read(addr, 2))
        except DeviceProtocolError:
            raise NotSunSpecError(f"model chain breaks at {addr}: no end model (0xFFFF)") from None
        if mid == END_MODEL_ID:
            break
        if len(models) >= MAX_MODELS or addr + 2 + length > 0xFFFF:
            raise NotSunSpecError(f"model chain from {base} does not end (more than {MAX_MODELS} models)")
        try:
            d: ModelDef | None = model_def(mid)
        except ModelDefinitionError:
            d = None
        issue = ""
        if d is not None and length != d.length:
            issue = f"length L = {length}, model {mid} defines {d.length}"
        models.append(FoundModel(mid, addr, length, d, issue))
        addr += 2 + length
    return DeviceScan(base, tuple(models))


# ---------------------------------------------------------------------------- binding a role
@dataclass(frozen=True)
class BoundPoint:
    """A controller point at its address on one device."""

    binding: Binding
    point: PointDef
    address: int
    sf_address: int | None  # address of the scale-factor register, or None (constant / no SF)
    sf_const: int | None


def _sf_of(model: FoundModel, p: PointDef) -> tuple[int | None, int | None]:
    if p.sf is None:
        return None, None
    if isinstance(p.sf, int):
        return None, p.sf
    assert model.definition is not None
    sfp = model.definition.point(p.sf)
    return model.address + sfp.offset, None


@dataclass
class BoundDevice:
    """A role's points bound to the addresses a scan found, with the reads that cover them.

    Raises
    ------
    DeviceProtocolError
        (from :meth:`bind`) when a required point's model is missing.
    """

    role: Role
    found: DeviceScan
    points: dict[str, BoundPoint] = field(default_factory=dict)
    blocks: list[tuple[int, int]] = field(default_factory=list)  # (address, count) per read
    headers: dict[int, int] = field(default_factory=dict)  # address of each used model's ID -> model ID
    rollovers: dict[str, tuple[int, int]] = field(default_factory=dict)  # acc16/acc32 point -> (last raw, wraps)

    @classmethod
    def bind(cls, role: Role, found: DeviceScan) -> BoundDevice:
        """Bind ``role`` to the device ``found``; required points must all be there."""
        dev = cls(role, found)
        missing = []
        for b in role.bindings:
            m = found.find(b.model)
            if m is None or m.definition is None or b.point not in m.definition.by_name:
                if b.required:
                    missing.append(f"{b.name} (model {b.model} {b.point})")
                continue
            p = m.definition.point(b.point)
            sf_addr, sf_const = _sf_of(m, p)
            dev.points[b.name] = BoundPoint(b, p, m.address + p.offset, sf_addr, sf_const)
            dev.headers[m.address] = m.model_id
        if missing:
            raise DeviceProtocolError(f"{role.device}: the device lacks required points: {', '.join(missing)}")
        dev.blocks = plan_reads(dev.addresses())
        return dev

    def addresses(self) -> list[tuple[int, int]]:
        """(address, count) of every register a reading needs: points, scale factors, model IDs."""
        spans = [(bp.address, bp.point.size) for bp in self.points.values()]
        spans += [(bp.sf_address, 1) for bp in self.points.values() if bp.sf_address is not None]
        spans += [(a, 1) for a in self.headers]
        return spans

    def decode(self, regs: dict[int, int]) -> dict[str, float]:
        """Controller values from registers by address; unimplemented points are left out.

        Raises
        ------
        DeviceProtocolError
            A model ID moved (the device was reconfigured: scan again).
        """
        for addr, mid in self.headers.items():
            if regs.get(addr) != mid:
                raise DeviceProtocolError(f"{self.role.device}: model {mid} no longer at {addr}; the layout changed")
        out: dict[str, float] = {}
        for name, bp in self.points.items():
            raw = decode_raw(bp.point, [regs[a] for a in range(bp.address, bp.address + bp.point.size)])
            if raw is None:
                continue
            b = bp.binding
            if b.equals is not None:
                out[name] = 1.0 if raw == b.equals else 0.0
                continue
            if bp.point.type in ("acc16", "acc32") and isinstance(raw, int):
                raw = self._unroll(name, raw, 16 * bp.point.size)
            sf = bp.sf_const
            if bp.sf_address is not None:
                sf_raw = decode_raw(_SF_POINT, [regs[bp.sf_address]])
                if sf_raw is None:
                    continue  # a scaled value with an unimplemented scale factor has no value
                sf = int(sf_raw)
            value = scaled(raw, sf)
            if value is not None:
                out[name] = value * b.factor
        return out

    def _unroll(self, name: str, raw: int, bits: int) -> int:
        """A rolling 16/32-bit accumulator as an ever-growing count: a fall from the top quarter of the range
        into the bottom quarter is a rollover (SunSpec accumulators roll over); any other fall (the device
        reset its counter) is taken as it is."""
        span = 1 << bits
        last, wraps = self.rollovers.get(name, (raw, 0))
        if raw < last and last >= 3 * span // 4 and raw < span // 4:
            wraps += 1
        self.rollovers[name] = (raw, wraps)
        return raw + wraps * span

    def encode(self, values: dict[str, float], sfs: dict[int, int]) -> list[tuple[int, list[int]]]:
        """Register writes for controller values, merged into contiguous runs.

        Parameters
        ----------
        values : dict
            Controller point -> value (engineering units).
        sfs : dict
            Scale factor by its address (from the last reading).

        Raises
        ------
        KeyError
            A point the device does not have; ValueError for a read-only point.
        """
        writes: dict[int, list[int]] = {}
        for name, value in values.items():
            bp = self.points.get(name)
            if bp is None:
                raise KeyError(f"{self.role.device} has no point {name!r} (model {self.role.binding(name).model})")
            if not bp.binding.writable:
                raise ValueError(f"{self.role.device}.{name} is read-only")
            sf = sfs.get(bp.sf_address, 0) if bp.sf_address is not None else bp.sf_const
            writes[bp.address] = encode_raw(bp.point, to_raw(value / bp.binding.factor, sf))
            m = self.found.find(bp.binding.model)
            assert m is not None and m.definition is not None
            for en_name, en_raw in bp.binding.enable:
                ep = m.definition.point(en_name)
                writes[m.address + ep.offset] = encode_raw(ep, en_raw)
        runs: list[tuple[int, list[int]]] = []
        for addr in sorted(writes):
            if runs and runs[-1][0] + len(runs[-1][1]) == addr:
                runs[-1][1].extend(writes[addr])
            else:
                runs.append((addr, list(writes[addr])))
        return runs

    def sf_addresses(self) -> set[int]:
        """Addresses of the scale factors of writable points."""
        return {bp.sf_address for bp in self.points.values() if bp.binding.writable and bp.sf_address is not None}


_SF_POINT = PointDef("SF", "sunssf", 0, 1)


def plan_reads(spans: list[tuple[int, int]], gap: int = MERGE_GAP_REGS) -> list[tuple[int, int]]:
    """The fewest (address, count) reads of at most 125 registers covering ``spans``, merging small gaps."""
    blocks: list[tuple[int, int]] = []
    for addr, n in sorted(spans):
        if blocks:
            start, count = blocks[-1]
            end = max(start + count, addr + n)
            if addr <= start + count + gap and end - start <= MAX_READ_REGS:
                blocks[-1] = (start, end - start)
                continue
        blocks.append((addr, n))
    return blocks


async def read_points(dev: BoundDevice, read: Reader) -> tuple[dict[str, float], dict[int, int]]:
    """One reading of a bound device: controller values and the raw registers by address."""
    regs: dict[int, int] = {}
    for addr, count in dev.blocks:
        got = await read(addr, count)
        if len(got) != count:
            raise DeviceProtocolError(f"{dev.role.device}: asked {count} registers at {addr}, got {len(got)}")
        regs.update(zip(range(addr, addr + count), got, strict=True))
    return dev.decode(regs), regs
