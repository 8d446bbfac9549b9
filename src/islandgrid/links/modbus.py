"""The Modbus TCP link (pymodbus asyncio client), one connection per device.

Each device is scanned for its SunSpec models on first use (:class:`~islandgrid.links.base.SunSpecSession`),
then read in the planned blocks (at most 125 registers each) that cover the controller's points.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from islandgrid.errors import DeviceProtocolError, DeviceTimeoutError
from islandgrid.links.base import SunSpecSession


@dataclass(frozen=True)
class Endpoint:
    """One device's address: host, TCP port, Modbus unit id, and the model the site expects it to carry."""

    host: str
    port: int
    unit_id: int = 1
    model: int | None = None


class ModbusLink:
    """Reads each device's SunSpec points in planned blocks; writes coalesced runs.

    Parameters
    ----------
    endpoints : dict of str to Endpoint
        Address of each device.
    timeout_s : float
        Seconds to wait for an answer; no retries (the fast loop retries next period).
    """

    def __init__(self, endpoints: dict[str, Endpoint], timeout_s: float = 0.5) -> None:
        self.endpoints = dict(endpoints)
        self.timeout_s = timeout_s
        self._clients: dict[str, AsyncModbusTcpClient] = {}
        self.sessions = {name: self._session(name) for name in self.endpoints}

    async def connect(self) -> None:
        """Open a connection to every device and scan it; one that is down is retried on its next read."""
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        for name, ep in self.endpoints.items():
            self._clients[name] = AsyncModbusTcpClient(
                ep.host, port=ep.port, timeout=self.timeout_s, retries=0, reconnect_delay=0.1, reconnect_delay_max=2.0
            )
        await asyncio.gather(*(self._connect(name) for name in self.endpoints))
        # commission: scan every device that answers now (one that does not is scanned on its first read)
        await asyncio.gather(*(s.bind() for s in self.sessions.values()), return_exceptions=True)

    async def _connect(self, name: str) -> bool:
        client = self._clients[name]
        if client.connected:
            return True
        try:
            return bool(await asyncio.wait_for(client.connect(), timeout=self.timeout_s))
        except (TimeoutError, OSError, ModbusException):
            return False

    async def close(self) -> None:
        """Close every connection."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        await asyncio.sleep(0)

    def _client(self, device: str) -> AsyncModbusTcpClient:
        if device not in self._clients:
            raise DeviceTimeoutError(f"{device}: link not connected (call connect first)")
        return self._clients[device]

    async def _ready(self, device: str) -> tuple[AsyncModbusTcpClient, Endpoint]:
        client = self._client(device)
        ep = self.endpoints[device]
        if not client.connected and not await self._connect(device):
            raise DeviceTimeoutError(f"{device}: cannot connect to {ep.host}:{ep.port}")
        return client, ep

    def _session(self, device: str) -> SunSpecSession:
        async def read(address: int, count: int) -> list[int]:
            client, ep = await self._ready(device)
            rr = await _answer(
                device,
                lambda: client.read_holding_registers(address, count=count, device_id=ep.unit_id),
                no_answer=f"no answer from {ep.host}:{ep.port}",
                on="",
            )
            return list(rr.registers)

        async def write(address: int, regs: list[int]) -> None:
            client, ep = await self._ready(device)
            await _answer(
                device,
                lambda: client.write_registers(address, regs, device_id=ep.unit_id),
                no_answer="no answer to a write",
                on=" on write",
            )

        return SunSpecSession(device, read, write, expected_model=self.endpoints[device].model)

    async def read(self, device: str) -> dict[str, float]:
        """All points of ``device`` (scanning it first if it was not yet)."""
        return await self.sessions[device].read()

    async def write(self, device: str, values: dict[str, float]) -> None:
        """Write the given points (function code 16), one request per contiguous run."""
        await self.sessions[device].write(values)


async def _answer(device: str, request: Callable[[], Awaitable[Any]], no_answer: str, on: str) -> Any:
    """The response to ``request()`` (made inside, so a request refused before it is sent is caught too),
    its failures in the link's exception tree: no answer (I/O, closed connection, timeout) is a
    :class:`DeviceTimeoutError`, any other Modbus failure or an exception response a
    :class:`DeviceProtocolError`."""
    try:
        rr = await request()
    except (ModbusIOException, ConnectionException, TimeoutError) as exc:
        raise DeviceTimeoutError(f"{device}: {no_answer} ({exc})") from None
    except ModbusException as exc:
        raise DeviceProtocolError(f"{device}: {exc}") from None
    if rr.isError():
        raise DeviceProtocolError(f"{device}: Modbus exception {getattr(rr, 'exception_code', '?')}{on}")
    return rr
