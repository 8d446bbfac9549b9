"""Commands the controller did not send: a second Modbus master writing to the same devices.

Modbus TCP has no notion of ownership: a server accepts several client connections (Modbus
Messaging on TCP/IP Implementation Guide V1.0b, Modbus Organization 2006, connection
management) and any client that reaches a device can write its control registers. The
controller therefore checks, on every fresh read, that each level control point it writes
(setpoints, mode and run requests, the shed mask, the PV limit) still reads back as the device
took its last command. The device's own reading of a command (clamped, rounded to its
register's scale factor) is learnt on the first fresh read after the write, so a clamp or rounding is
never mistaken for a foreign write: later readings of the same registers decode identically, and a
difference beyond float noise is a change of the registers. Edge commands (``breaker_req``, ``bms_reset``,
``alarm_reset``) read back 0; the breaker's own ``trip_cause`` register (2: opened by a
command) tells a commanded open from a protection trip instead.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Edge commands: written as pulses, they read back 0 and are not compared.
EDGE_POINTS: frozenset[str] = frozenset({"breaker_req", "bms_reset", "alarm_reset"})
#: The PCC's ``trip_cause`` when the breaker was opened by a command (registers.md).
TRIP_BY_COMMAND = 2
#: Relative float noise of decoding the same registers twice (raw x 10**sf x factor); any register change is larger.
_NOISE_REL = 1e-9


@dataclass(frozen=True)
class ForeignWrite:
    """One control point that changed without a command from the controller."""

    device: str
    point: str
    expected: float
    got: float

    def message(self) -> str:
        """One line for the event log and the alarm."""
        return (
            f"{self.device}.{self.point} reads {self.got:g}, the controller last commanded {self.expected:g}: "
            "written by another Modbus master"
        )


class CommandWatch:
    """Compares each level control point's read-back with what the device took from the controller."""

    def __init__(self) -> None:
        self._pending: set[tuple[str, str]] = set()  # written; the next fresh read gives the device's value
        self._taken: dict[tuple[str, str], float] = {}  # the device's reading of the last command

    def wrote(self, device: str, values: dict[str, float]) -> None:
        """The controller wrote these points (successfully)."""
        for point in values:
            if point not in EDGE_POINTS:
                self._pending.add((device, point))

    def forget(self, device: str) -> None:
        """Drop what is known of ``device`` (it restarted or the controller did)."""
        self._pending = {k for k in self._pending if k[0] != device}
        self._taken = {k: v for k, v in self._taken.items() if k[0] != device}

    def check(self, device: str, values: dict[str, float]) -> list[ForeignWrite]:
        """Check one fresh read of ``device``; returns the points another master changed."""
        out: list[ForeignWrite] = []
        for key in [k for k in self._pending if k[0] == device]:
            if key[1] in values:
                self._taken[key] = values[key[1]]
            self._pending.discard(key)
        for (dev, point), taken in list(self._taken.items()):
            if dev != device or point not in values:
                continue
            got = values[point]
            if abs(got - taken) > _NOISE_REL * max(abs(taken), 1.0):
                out.append(ForeignWrite(device, point, taken, got))
                self._taken[(dev, point)] = got  # reported once per change
        return out
