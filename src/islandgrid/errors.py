"""The one exception tree of islandgrid.

Every error islandgrid raises on purpose derives from :class:`IslandgridError`.
The CLI turns an :class:`InputError` into a clear message and exit code 2; any
other ``IslandgridError`` also exits non-zero with its message, never a traceback.

::

    IslandgridError
    ├── InputError                 bad input from the user: exit code 2
    │   ├── SiteFileError          the TOML site file (field, value, range, fix)
    │   ├── DataFileError          an EPW / CSV / meter / jobs file
    │   └── TargetError            sizing targets or search ranges that cannot work
    ├── SimulationError            the engine broke an invariant (a bug, not bad input)
    │   ├── BalanceError           an interval's energy does not balance
    │   └── CarbonConservationError  carbon was created or lost
    ├── SolverError                the optimiser failed or timed out
    ├── LedgerError                the carbon ledger store
    │   └── ChainBrokenError       verify found an altered, missing or reordered record
    └── DeviceError                the controller's link to a device
        ├── DeviceTimeoutError
        └── DeviceProtocolError
"""

from __future__ import annotations


class IslandgridError(Exception):
    """Base class of every error islandgrid raises on purpose."""

    exit_code: int = 1


class InputError(IslandgridError):
    """Bad input: the message names the field, the value, the allowed range and the fix."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        field: str | None = None,
        value: object = None,
        allowed: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.allowed = allowed
        self.fix = fix
        parts = []
        if source:
            parts.append(f"{source}:")
        if value is not None:
            parts += [f"[{field}]"] if field else []
            parts.append(f"= {value!r}:")
        elif field:
            parts.append(f"[{field}]:")
        parts.append(message)
        text = " ".join(parts)
        if allowed:
            text += f" Allowed: {allowed}."
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class SiteFileError(InputError):
    """A field of the TOML site file is missing, malformed or out of range."""


class DataFileError(InputError):
    """An input data file (EPW, CSV time series, meter or jobs file) is unusable."""


class TargetError(InputError):
    """Sizing targets or search ranges that cannot be met or searched."""


class SimulationError(IslandgridError):
    """The engine broke one of its invariants. This is a bug; please report it."""


class BalanceError(SimulationError):
    """An interval's sources and sinks do not balance."""


class CarbonConservationError(SimulationError):
    """Carbon in (grid + diesel) does not equal carbon out (load + export + stock change)."""


class SolverError(IslandgridError):
    """The optimiser failed, was infeasible or ran out of time."""


class LedgerError(IslandgridError):
    """The carbon ledger store could not be read or written."""


class ChainBrokenError(LedgerError):
    """``verify`` found an altered, missing, inserted or reordered record."""


class DeviceError(IslandgridError):
    """The controller could not talk to a device."""


class DeviceTimeoutError(DeviceError):
    """A device did not answer in time."""


class DeviceProtocolError(DeviceError):
    """A device answered with an exception or a malformed frame."""
