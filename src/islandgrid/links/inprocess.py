"""A link that calls a device image in-process (the twin) through the same register maps: no sockets, no waits.

Faults behave as on the wire, minus the waiting: an injected timeout raises
:class:`~islandgrid.errors.DeviceTimeoutError` at once, an exception
:class:`~islandgrid.errors.DeviceProtocolError`, a stale device returns frozen values.
"""

from __future__ import annotations

from typing import Protocol

from islandgrid.devices.registers import SUNSPEC_BASE, register_map
from islandgrid.links.base import write_plan


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

    async def connect(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    async def read(self, device: str) -> dict[str, float]:
        """All points of ``device``, decoded from its register image."""
        rmap = register_map(device)
        self.reads += 1
        return rmap.decode(self.twin.read(device, SUNSPEC_BASE, rmap.total_registers))

    async def write(self, device: str, values: dict[str, float]) -> None:
        """Encode and write the given points."""
        rmap = register_map(device)
        for addr, regs in write_plan(rmap, values):
            self.writes += 1
            self.twin.write(device, addr, regs)
