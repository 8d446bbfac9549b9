"""What the controller knows of each device: last good values, their age, link errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from islandgrid.devices.roles import DEVICE_NAMES


@dataclass
class DeviceHealth:
    """Freshness of one device.

    Attributes
    ----------
    values : dict
        Last values read [engineering units]; empty before the first good read.
    last_ok_s : float
        Clock time of the last successful read [s] (-inf: never).
    last_fresh_s : float
        Clock time the heartbeat last changed [s] (-inf: never).
    error : str or None
        'timeout', 'exception' or None after the last read.
    """

    values: dict[str, float] = field(default_factory=dict)
    last_ok_s: float = -math.inf
    last_fresh_s: float = -math.inf
    error: str | None = None
    error_message: str = ""


class Telemetry:
    """Freshness-tracked telemetry of the five devices."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceHealth] = {name: DeviceHealth() for name in DEVICE_NAMES}

    def update(self, name: str, values: dict[str, float], now_s: float) -> None:
        """Record a good read; the data is fresh when the heartbeat moved (on every answer from a device
        without a heartbeat: its freezing cannot be seen)."""
        h = self.devices[name]
        hb = values.get("heartbeat")
        if hb is None or h.values.get("heartbeat") != hb or not h.values:
            h.last_fresh_s = now_s
        h.values = values
        h.last_ok_s = now_s
        h.error = None

    def fail(self, name: str, kind: str, message: str) -> None:
        """Record a failed read."""
        h = self.devices[name]
        h.error = kind
        h.error_message = message

    def age_s(self, name: str, now_s: float) -> float:
        """Seconds since the device's data last changed [s] (inf: never)."""
        return now_s - self.devices[name].last_fresh_s

    def get(self, name: str, point: str, default: float = 0.0) -> float:
        """Last known value of one point."""
        return self.devices[name].values.get(point, default)

    def known(self, name: str) -> bool:
        """True once the device has been read at least once."""
        return bool(self.devices[name].values)
