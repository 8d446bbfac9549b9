"""The link protocol, and the SunSpec session both links share (scan once, then read and write by points)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from islandgrid.devices.roles import role
from islandgrid.devices.scan import BoundDevice, DeviceScan, read_points, scan
from islandgrid.devices.sunspec import PointDef, decode_raw
from islandgrid.errors import DeviceProtocolError


class DeviceLink(Protocol):
    """How the controller reaches its five devices ('pv', 'pcs', 'genset', 'pcc', 'load').

    ``read`` returns the device's points in engineering units (see ``docs/registers.md``), an
    unimplemented point left out; ``write`` sets writable points. Both raise
    :class:`~islandgrid.errors.DeviceTimeoutError` when the device does not answer and
    :class:`~islandgrid.errors.DeviceProtocolError` when it answers with an exception or is not
    a SunSpec device with the role's models.
    """

    async def connect(self) -> None:
        """Open the connections (a device that is down is retried on each read)."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...

    async def read(self, device: str) -> dict[str, float]:
        """All points of ``device``."""
        ...

    async def write(self, device: str, values: dict[str, float]) -> None:
        """Write the given writable points of ``device``."""
        ...


Reader = Callable[[int, int], Awaitable[list[int]]]
Writer = Callable[[int, list[int]], Awaitable[None]]
_SF = PointDef("SF", "sunssf", 0, 1)


class SunSpecSession:
    """One device seen through SunSpec: scanned on first use, then read in planned blocks.

    A reading whose model IDs moved (the device was reconfigured or replaced) drops the scan; the
    next read scans again.

    Parameters
    ----------
    device : str
        Role name ('pv', 'pcs', ...).
    read, write : callable
        The transport: ``await read(address, count)``, ``await write(address, registers)``.
    """

    def __init__(self, device: str, read: Reader, write: Writer) -> None:
        self.device = device
        self._read = read
        self._write = write
        self.bound: BoundDevice | None = None
        self.found: DeviceScan | None = None
        self._sfs: dict[int, int] = {}

    async def bind(self) -> BoundDevice:
        """Scan the device (once) and bind the role's points."""
        if self.bound is None:
            self.found = await scan(self._read)
            self.bound = BoundDevice.bind(role(self.device), self.found)
        return self.bound

    async def read(self) -> dict[str, float]:
        """The role's points, decoded with the device's current scale factors."""
        dev = await self.bind()
        try:
            values, regs = await read_points(dev, self._read)
        except DeviceProtocolError as exc:
            if "layout changed" in str(exc):
                self.bound = None
            raise
        for a in dev.sf_addresses():
            sf = decode_raw(_SF, [regs[a]])
            if isinstance(sf, int):
                self._sfs[a] = sf
        return values

    async def write(self, values: dict[str, float]) -> None:
        """Write controller points (scaled with the scale factors last read), one request per contiguous run."""
        dev = await self.bind()
        if any(a not in self._sfs for a in dev.sf_addresses()):
            await self.read()
        for addr, regs in dev.encode(values, self._sfs):
            await self._write(addr, regs)
