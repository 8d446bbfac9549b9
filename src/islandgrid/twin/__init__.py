"""The device twin: a simulated site behind five SunSpec-style Modbus TCP devices.

:class:`~islandgrid.twin.twin.Twin` holds the plant and devices (step it in tests);
:class:`~islandgrid.twin.server.TwinServers` serves them over Modbus TCP on loopback.
"""

from islandgrid.twin.clock import ManualClock, SimClock, WallClock
from islandgrid.twin.twin import FAULT_KINDS, Twin

__all__ = ["FAULT_KINDS", "ManualClock", "SimClock", "Twin", "WallClock"]
