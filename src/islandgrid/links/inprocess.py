"""A link that calls a device image in-process (the twin) through SunSpec: no sockets, no waits.

It scans and binds each device exactly as :class:`~islandgrid.links.modbus.ModbusLink` does.
Faults behave as on the wire, minus the waiting: an injected timeout raises
:class:`~islandgrid.errors.DeviceTimeoutError` at once, an exception
:class:`~islandgrid.errors.DeviceProtocolError`, a stale device returns frozen values.
"""

from __future__ import annotations

from typing import Protocol

from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.links.base import SunSpecSession


class RegisterImage(Protocol):
    """What the link needs of the other side: the registers of each device (the twin has them)."""

    def read(self, device: str, address: int, count: int) -> list[int]:
        """``count`` holding registers of ``device`` from ``address``."""
        ...

    def write(self, device: str, address: int, regs: list[int]) -> None:
        """Write holding registers of ``device`` from ``address``."""
        ...


class InProcessLink:
    """The pure in-process link to a register image, e.g. :class:`~islandgrid.twin.twin.Twin`."""

    def __init__(self, twin: RegisterImage) -> None:
        self.twin = twin
        self.reads = 0
        self.writes = 0
        self.sessions = {name: self._session(name) for name in DEVICE_NAMES}

    def _session(self, device: str) -> SunSpecSession:
        async def read(address: int, count: int) -> list[int]:
            self.reads += 1
            return self.twin.read(device, address, count)

        async def write(address: int, regs: list[int]) -> None:
            self.writes += 1
            self.twin.write(device, address, regs)

        return SunSpecSession(device, read, write)

    async def connect(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def read(self, device: str) -> dict[str, float]:
        """All points of ``device``, decoded from its register image."""
        return await self.sessions[device].read()

    async def write(self, device: str, values: dict[str, float]) -> None:
        """Encode and write the given points."""
        await self.sessions[device].write(values)
