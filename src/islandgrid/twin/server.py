"""Modbus TCP servers for the twin: one pymodbus server per device, on loopback.

Each server's datastore is the twin device itself (a thin
:class:`pymodbus.datastore.ModbusServerContext` subclass), so a read returns the
device's current register image and a write lands in the plant. Injected faults act
on the wire: ``timeout`` holds the request unanswered (the client times out),
``exception`` answers with Modbus exception 4 (server device failure), ``stale``
answers with a frozen image.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusTcpServer

from islandgrid.errors import DeviceError, DeviceProtocolError, DeviceTimeoutError
from islandgrid.twin.twin import Twin


def quiet_pymodbus() -> None:
    """pymodbus logs every timeout with a frame dump; the controller logs its own events."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)


class _DeviceContext(ModbusServerContext):
    """pymodbus datastore backed by one twin device (holding registers only)."""

    def __init__(self, twin: Twin, device: str, released: asyncio.Event) -> None:
        # deliberately not calling super().__init__: it only builds the deprecated sim stores
        self.old_simulator = True  # tells ModbusBaseServer to use this context as is
        self.simdevices = []
        self._twin = twin
        self._device = device
        self._released = released

    def device_ids(self) -> list[int]:
        return [self._twin.devices[self._device].unit_id]

    async def _comm(self) -> ExcCodes | None:
        try:
            self._twin.devices[self._device].check_comm()
        except DeviceTimeoutError:
            await self._released.wait()  # never answered; released when the server closes
            return ExcCodes.DEVICE_BUSY
        except DeviceProtocolError:
            return ExcCodes.DEVICE_FAILURE
        return None

    async def async_getValues(  # type: ignore[override]  # noqa: N802
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        if func_code not in (3, 6, 16, 23):
            return ExcCodes.ILLEGAL_FUNCTION
        if (rc := await self._comm()) is not None:
            return rc
        try:
            return self._twin.read(self._device, address, count)
        except DeviceError:
            return ExcCodes.ILLEGAL_ADDRESS

    async def async_setValues(  # type: ignore[override]  # noqa: N802
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        if func_code not in (6, 16, 23):
            return ExcCodes.ILLEGAL_FUNCTION
        if (rc := await self._comm()) is not None:
            return rc
        try:
            self._twin.write(self._device, address, [int(v) for v in values])
        except DeviceError:
            return ExcCodes.ILLEGAL_ADDRESS
        return None


class TwinServers:
    """The five Modbus TCP servers of a twin.

    Parameters
    ----------
    twin : Twin
        The twin to serve.
    host : str
        Bind address; loopback by default.
    ports : dict, optional
        Port per device; missing or 0 = a free port chosen by the OS.
    """

    def __init__(self, twin: Twin, host: str = "127.0.0.1", ports: dict[str, int] | None = None) -> None:
        self.twin = twin
        self.host = host
        self.requested = dict(ports or {})
        self.ports: dict[str, int] = {}
        self._servers: list[ModbusTcpServer] = []
        self._released = asyncio.Event()

    async def start(self) -> dict[str, int]:
        """Bind and start every server; returns the port of each device."""
        quiet_pymodbus()
        try:
            for name in self.twin.devices:
                srv = ModbusTcpServer(
                    _DeviceContext(self.twin, name, self._released),
                    address=(self.host, int(self.requested.get(name, 0))),
                )
                await srv.serve_forever(background=True)
                self._servers.append(srv)
                if srv.transport is None:
                    raise DeviceError(f"twin {name}: Modbus server did not bind")
                sock = srv.transport.sockets[0]  # type: ignore[attr-defined]
                self.ports[name] = int(sock.getsockname()[1])
        except (OSError, RuntimeError) as exc:
            await self.close()
            raise DeviceError(f"twin: cannot start the Modbus servers on {self.host}: {exc}") from None
        return dict(self.ports)

    async def close(self) -> None:
        """Stop every server and release held requests."""
        self._released.set()
        for srv in self._servers:
            await srv.shutdown()
        self._servers.clear()
        await asyncio.sleep(0)  # let released handlers finish
