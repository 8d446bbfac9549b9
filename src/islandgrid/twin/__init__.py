"""The device twin: a simulated site behind five SunSpec-style Modbus TCP devices, and the HIL rig.

:class:`~islandgrid.twin.twin.Twin` holds the plant and devices (step it in tests);
:class:`~islandgrid.twin.server.TwinServers` serves them over Modbus TCP on loopback.
"""

from islandgrid.devices.clock import ManualClock, SimClock, WallClock
from islandgrid.devices.faults import FAULT_KINDS
from islandgrid.twin.twin import Twin

__all__ = ["FAULT_KINDS", "ManualClock", "SimClock", "Twin", "WallClock"]
