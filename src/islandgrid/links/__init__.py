"""The link seam: the controller reads and writes devices only through a :class:`DeviceLink`.

:class:`~islandgrid.links.modbus.ModbusLink` talks Modbus TCP (pymodbus) to real or
simulated devices; :class:`~islandgrid.links.inprocess.InProcessLink` calls a twin
directly, through the same register maps, for fast tests (as httpx's MockTransport).
"""

from islandgrid.links.base import DeviceLink, SunSpecSession
from islandgrid.links.inprocess import InProcessLink

__all__ = ["DeviceLink", "InProcessLink", "SunSpecSession"]
