"""Commissioning: scan one Modbus TCP device for SunSpec models and read every point of them.

The engineer's first look at a device on the site LAN (``islandgrid devices scan HOST:PORT``): the
base address, the model chain, each known model's points with their values and units (scale
factors applied, unimplemented points left out), the layouts that differ from their definition,
and which of the controller's device roles the device can fill.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from islandgrid.devices.roles import ROLES
from islandgrid.devices.scan import BoundDevice, DeviceScan, FoundModel, Reader, scan
from islandgrid.devices.sunspec import MAX_READ_REGS, decode_raw, scaled
from islandgrid.errors import DeviceError, DeviceProtocolError, DeviceTimeoutError


@dataclass(frozen=True)
class PointReading:
    """One point's live value: engineering value (scale factor applied) or text, with its units."""

    name: str
    value: float | int | str
    units: str
    label: str


@dataclass
class ModelReading:
    """One model of the chain and, when it is known and conformant, its points' values."""

    found: FoundModel
    points: list[PointReading] = field(default_factory=list)


@dataclass
class ScanReport:
    """What ``devices scan`` found on one device."""

    host: str
    port: int
    unit_id: int
    scan: DeviceScan
    models: list[ModelReading]
    roles: dict[str, str]  # role -> '' (it fits) or why not

    @property
    def issues(self) -> list[str]:
        """Non-conformant layouts, one line each."""
        return self.scan.issues


async def _read_model(read_fn: Reader, m: FoundModel) -> ModelReading:
    reading = ModelReading(m)
    d = m.definition
    if d is None or m.issue:
        return reading
    regs: list[int] = []
    at = m.address
    end = m.address + 2 + m.length
    while at < end:
        n = min(MAX_READ_REGS, end - at)
        regs += await read_fn(at, n)
        at += n
    sfs: dict[str, int] = {}
    for p in d.points:
        if p.type == "sunssf":
            raw = decode_raw(p, regs[p.offset : p.offset + 1])
            if isinstance(raw, int):
                sfs[p.name] = raw
    for p in d.points:
        if p.type in ("sunssf", "pad"):
            continue
        raw = decode_raw(p, regs[p.offset : p.offset + p.size])
        if raw is None:
            continue
        if isinstance(raw, str):
            reading.points.append(PointReading(p.name, raw, "", p.label))
            continue
        if p.symbols and p.type.startswith("enum"):
            name = p.symbols.get(int(raw), str(raw))
            reading.points.append(PointReading(p.name, f"{raw} {name}", "", p.label))
            continue
        if isinstance(p.sf, str):
            if p.sf not in sfs:
                continue  # its scale factor is unimplemented: no value
            sf: int | None = sfs[p.sf]
        else:
            sf = p.sf
        value = scaled(raw, sf)
        if value is not None:
            reading.points.append(PointReading(p.name, value, p.units, p.label))
    return reading


async def commission_scan(host: str, port: int, unit_id: int = 1, timeout_s: float = 2.0) -> ScanReport:
    """Scan one device and read every point of its known models.

    Raises
    ------
    DeviceTimeoutError
        Connection refused, no route, or no answer within ``timeout_s``.
    DeviceProtocolError
        The device answers but is not SunSpec (no marker at 40000, 0, 50000, or a broken chain).
    """
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)
    try:
        try:
            ok = await asyncio.wait_for(client.connect(), timeout=timeout_s)
        except (TimeoutError, OSError, ModbusException):
            ok = False
        if not ok:
            raise DeviceTimeoutError(f"{host}:{port}: cannot connect (connection refused, no route or no answer)")

        async def read(address: int, count: int) -> list[int]:
            try:
                rr = await client.read_holding_registers(address, count=count, device_id=unit_id)
            except (ModbusIOException, ConnectionException, TimeoutError) as exc:
                raise DeviceTimeoutError(
                    f"{host}:{port} unit {unit_id}: no answer within {timeout_s:g} s ({exc})"
                ) from None
            except ModbusException as exc:
                raise DeviceProtocolError(f"{host}:{port}: {exc}") from None
            if rr.isError():
                raise DeviceProtocolError(f"{host}:{port}: Modbus exception {getattr(rr, 'exception_code', '?')}")
            return list(rr.registers)

        found = await scan(read)
        models = [await _read_model(read, m) for m in found.models]
    finally:
        client.close()
    roles: dict[str, str] = {}
    for name, r in ROLES.items():
        try:
            BoundDevice.bind(r, found)
            roles[name] = ""
        except DeviceError as exc:
            roles[name] = str(exc).split(": ", 1)[-1]
    return ScanReport(host, port, unit_id, found, models, roles)
