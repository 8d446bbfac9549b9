"""The link protocol and the register plumbing both links share."""

from __future__ import annotations

from typing import Protocol

from islandgrid.devices.registers import RegisterMap, encode_point


class DeviceLink(Protocol):
    """How the controller reaches its five devices ('pv', 'pcs', 'genset', 'pcc', 'load').

    ``read`` returns the device's points in engineering units (see ``docs/registers.md``);
    ``write`` sets writable points. Both raise
    :class:`~islandgrid.errors.DeviceTimeoutError` when the device does not answer and
    :class:`~islandgrid.errors.DeviceProtocolError` when it answers with an exception.
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


def write_plan(rmap: RegisterMap, values: dict[str, float]) -> list[tuple[int, list[int]]]:
    """Group written points into as few contiguous register writes as possible.

    Returns
    -------
    list of (address, registers)
        One entry per run of adjacent points, in map order.

    Raises
    ------
    KeyError
        For a point the map does not have; ValueError for a read-only point.
    """
    for name in values:
        if not rmap.point(name).writable:
            raise ValueError(f"{rmap.device}.{name} is read-only")
    out: list[tuple[int, list[int]]] = []
    next_addr = -1
    for p in rmap.points:
        if p.name not in values:
            continue
        addr = rmap.address(p.name)
        regs = encode_point(p, values[p.name])
        if out and addr == next_addr:
            out[-1][1].extend(regs)
        else:
            out.append((addr, list(regs)))
        next_addr = addr + p.width
    return out
