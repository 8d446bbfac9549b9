"""A twin served over Modbus TCP from a background thread, for blocking clients (pysunspec2, the CLI)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from islandgrid.twin.server import TwinServers
from islandgrid.twin.twin import Twin


@contextmanager
def served(twin: Twin) -> Iterator[dict[str, int]]:
    """Serve ``twin``'s five devices on loopback (free ports) while the block runs; yields the ports."""
    loop = asyncio.new_event_loop()
    servers: dict[str, Any] = {}
    ready = threading.Event()
    stop: dict[str, asyncio.Event] = {}

    async def main() -> None:
        stop["ev"] = asyncio.Event()
        srv = TwinServers(twin)
        try:
            servers["ports"] = await srv.start()
        finally:
            ready.set()
        await stop["ev"].wait()
        await srv.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield servers["ports"]
    finally:
        loop.call_soon_threadsafe(stop["ev"].set)
        thread.join(10)
        loop.close()


def in_twin_lock(twin: Twin, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` holding the twin's lock (the servers read the twin from their thread)."""
    with twin.lock:
        return fn()
