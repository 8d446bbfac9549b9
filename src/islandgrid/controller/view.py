"""The seam between the controller and its API/dashboard.

The FastAPI app only ever talks to a :class:`ControllerView`; the controller service
implements it, and tests can hand the API a fake.
"""

from __future__ import annotations

from typing import Any, Protocol


class ControllerView(Protocol):
    """What the API may read from, and ask of, a running controller.

    All timestamps are ISO 8601 strings in UTC; all powers in kW, energies in kWh.
    """

    def status(self) -> dict[str, Any]:
        """Now: site_name, mode (state-machine state), SoC [frac and kWh], power per device [kW]
        (pv_kw, battery_kw (+ discharge), genset_kw, grid_kw (+ import), load_kw),
        breaker state, genset state, current carbon intensity [kg/kWh] (the battery at its
        pool's intensity), today's PV-attributed share of the load served [0, 1] and diesel
        minutes, shed load, the last telemetry age [s]. Every field: docs/controller.md."""
        ...

    def history(self, since: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Per-interval metered records, oldest first."""
        ...

    def events(self, since: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """The event log: {ts, kind, message, data}, oldest first."""
        ...

    def kpis(self) -> dict[str, Any]:
        """KPIs so far (today and since start)."""
        ...

    def request_mode(self, mode: str) -> dict[str, Any]:
        """Ask for 'island' (planned islanding) or 'grid' (reconnect); returns the accepted command."""
        ...

    def set_setpoints(self, values: dict[str, float]) -> dict[str, Any]:
        """Change operator setpoints, e.g. reserve_frac; unknown names raise InputError."""
        ...

    def set_strategy(self, name: str) -> dict[str, Any]:
        """Switch the planning strategy by name; unknown names raise InputError."""
        ...

    def inject_fault(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Twin mode only: inject a fault (e.g. 'grid_loss', 'grid_restore', 'bms_trip',
        'genset_fail_to_start', 'telemetry_stale', 'modbus_timeout'); returns the accepted
        fault. Unknown kinds or bad parameters raise InputError; without a twin it raises DeviceError."""
        ...

    def health(self) -> dict[str, Any]:
        """``{"ok": bool, "live": bool, "loops": {"fast": "running" | "down", "planning": ...}}``;
        ``ok`` is False while a supervised loop is down."""
        ...

    def alarms(self) -> list[dict[str, Any]]:
        """The alarm board: ``{id, kind, device, message, raised_epoch_s, active, acknowledged,
        cleared_epoch_s, count}`` per alarm, active ones first."""
        ...

    def acknowledge_alarm(self, alarm_id: str) -> dict[str, Any]:
        """Acknowledge one alarm by id; returns it. An unknown id raises InputError."""
        ...

    def reset_genset(self) -> dict[str, Any]:
        """Reset a failed genset manager (a new start sequence when the genset is needed)."""
        ...

    def compute_budget(self) -> dict[str, Any]:
        """The compute power budget: ``{ts, slot_s, horizon_h, signal, slots: [{start, budget_kw, green_kw,
        level, reason, grid_co2_kg_per_kwh}]}``, 15-minute slots for the next 48 h (docs/compute-live.md)."""
        ...

    def compute_signal(self) -> dict[str, Any]:
        """The signal now: ``{ts, level, reason, message, green_kw, budget_kw, live, grid_ok, soc_frac,
        reserve_frac}``; level green, amber or red."""
        ...

    def compute_event(self, kind: str, message: str, data: dict[str, Any]) -> dict[str, Any]:
        """Write one cluster event (kind ``compute_*``) into the event log; returns the event record."""
        ...
