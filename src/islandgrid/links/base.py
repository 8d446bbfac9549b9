"""The link protocol, and the SunSpec session both links share (scan once, then read and write by points)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from islandgrid.devices.roles import role
from islandgrid.devices.scan import BoundDevice, DeviceScan, read_points, scan
from islandgrid.devices.sunspec import PointDef, decode_raw
from islandgrid.errors import DeviceProtocolError, InputError


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
    expected_model : int, optional
        A model the device must carry (the site's ``[devices]`` ``model``); a device without it is refused.
    """

    def __init__(self, device: str, read: Reader, write: Writer, expected_model: int | None = None) -> None:
        self.device = device
        self.expected_model = expected_model
        self._read = read
        self._write = write
        self.bound: BoundDevice | None = None
        self.found: DeviceScan | None = None
        self._sfs: dict[int, int] = {}

    async def bind(self) -> BoundDevice:
        """Scan the device (once) and bind the role's points."""
        if self.bound is None:
            self.found = await scan(self._read)
            if self.expected_model is not None and self.found.find(self.expected_model) is None:
                have = ", ".join(str(m.model_id) for m in self.found.models)
                raise DeviceProtocolError(
                    f"{self.device}: the site expects model {self.expected_model}, the device carries {have}"
                )
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


def check_expected_models(models: dict[str, int | None], source: str = "[devices]") -> None:
    """Each expected model must be one of its role's models (a PV inverter cannot be expected to be a meter).

    Raises
    ------
    InputError
        Naming ``[devices] NAME.model``, the value and the models the role uses.
    """
    for name, model in models.items():
        if model is None:
            continue
        allowed = role(name).models
        if model not in allowed:
            raise InputError(
                f"model {model} is not one the controller drives a {name} device through",
                source=source,
                field=f"{name}.model",
                value=model,
                allowed=", ".join(str(m) for m in allowed),
                fix=f"name one of the {name} device's SunSpec models, e.g. {allowed[1]}",
            )
