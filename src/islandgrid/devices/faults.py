"""The faults a device twin can be told to play, and their parameter limits.

Shared by the twin (which plays them), the controller service (which forwards an operator's request)
and the API (whose schema lists them); real devices have no fault injection.
"""

from __future__ import annotations

from typing import Any, Protocol


class FaultTarget(Protocol):
    """Something that plays injected faults: the twin (:class:`islandgrid.twin.twin.Twin`)."""

    def inject_fault(self, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Play one of :data:`FAULT_KINDS`; returns the accepted fault."""
        ...


#: Fault kinds :meth:`islandgrid.twin.twin.Twin.inject_fault` accepts, with their parameters.
FAULT_KINDS: dict[str, str] = {
    "grid_loss": "the grid goes dead; the PCC relay opens and the PCS islands in the same step",
    "grid_restore": "the grid comes back at nominal voltage and frequency",
    "grid_off_nominal": "the grid runs off nominal: params hz (offset from nominal, default 0.45), v_pu (default 1.0)",
    "bms_trip": "the BMS opens its contactor: params duration_s (twin s; default: until bms_reset)",
    "bms_reset": "the cause of a BMS trip clears (the controller must still reset the BMS)",
    "genset_fail_to_start": "every genset start fails: params on (default true)",
    "telemetry_stale": "a device keeps answering with frozen values: params device (default pcs), duration_s",
    "modbus_timeout": "a device stops answering: params device (default pcs), duration_s",
    "modbus_exception": "a device answers every request with exception 4: params device (default pcs), duration_s",
    "clear_faults": "clear every communication fault (params device: only that one)",
}


#: ``grid_off_nominal`` limits: |hz offset| < this [Hz], 0 < v_pu < :data:`GRID_V_PU_LIMIT` [p.u.].
GRID_HZ_OFFSET_LIMIT_HZ = 5.0
GRID_V_PU_LIMIT = 1.5
