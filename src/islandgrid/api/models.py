"""Request and response models of the HTTP API (pydantic v2).

Response models name the fields the dashboard relies on and let the controller add more
(``extra="allow"``): the :class:`~islandgrid.controller.view.ControllerView` returns plain
dicts, and a new field there should show up in the API without a change here.
Units live in the names: ``_kw``, ``_kwh``, ``_frac``, ``_kg_per_kwh``; times are ISO 8601 UTC.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator
from pydantic.json_schema import SkipJsonSchema

from islandgrid.devices.faults import FAULT_KINDS, GRID_HZ_OFFSET_LIMIT_HZ, GRID_V_PU_LIMIT
from islandgrid.devices.roles import DEVICE_NAMES

#: The states of the controller's state machine (``islandgrid.controller.core.MODES``; a test keeps them equal).
STATES: tuple[str, ...] = ("grid_tied", "islanding", "islanded", "resync", "blackout", "black_start", "safe")

#: A number in a JSON body: an integer or a float, never a string or a boolean.
Number = StrictFloat | StrictInt

#: Modes an operator may ask for: planned islanding, or reconnect to the grid.
ModeName = Literal["island", "grid"]


class _Open(BaseModel):
    """A response object that keeps any extra field the controller sends."""

    model_config = ConfigDict(extra="allow")


class Status(_Open):
    """The controller now."""

    ts: str | None = Field(None, description="Time of the last telemetry, ISO 8601 UTC")
    site_name: str | None = Field(None, description="The site's name (site file [location] name)")
    mode: str = Field(..., description=f"State-machine state, one of {', '.join(STATES)}")
    soc_frac: float | None = Field(None, description="Battery state of charge [0..1]")
    soc_kwh: float | None = Field(None, description="Battery energy stored [kWh]")
    pv_kw: float | None = Field(None, description="PV output [kW]")
    battery_kw: float | None = Field(None, description="Battery power [kW], + discharge, - charge")
    genset_kw: float | None = Field(None, description="Genset output [kW]")
    grid_kw: float | None = Field(None, description="Grid power at the PCC [kW], + import, - export")
    load_kw: float | None = Field(None, description="Load served [kW]")
    shed_kw: float | None = Field(None, description="Load shed [kW]")
    breaker: str | None = Field(None, description="PCC breaker: closed or open")
    genset_state: str | None = Field(None, description="Genset: off, starting, running, failed, ...")
    carbon_kg_per_kwh: float | None = Field(
        None,
        description="Current bus carbon intensity [kg CO2/kWh]: grid import x grid factor, diesel fuel CO2 and "
        "battery discharge x the battery pool's intensity, over all supply (Kang et al., Sci. Rep. 2012)",
    )
    battery_carbon_kg_per_kwh: float | None = Field(
        None, description="Intensity of energy leaving the battery now, e_bat = M / (S x eta_d) [kg CO2/kWh]"
    )
    pv_share_today_frac: float | None = Field(
        None,
        description="Today's (site-local date) load energy attributed to PV, through the battery pool, "
        "over load served [0..1]: the core's pv_share on the metered intervals",
    )
    diesel_min_today: float | None = Field(None, description="Today's genset run time [min]")
    strategy: str | None = Field(None, description="Planning strategy in use")
    telemetry_age_s: float | None = Field(None, description="Age of the last telemetry [s]")


class HistoryRecord(_Open):
    """One metered interval."""

    ts: str = Field(..., description="Interval time, ISO 8601 UTC")


class Event(_Open):
    """One line of the event log."""

    ts: str = Field(..., description="ISO 8601 UTC")
    kind: str = Field(..., description="e.g. mode_change, grid_loss, genset_start, fault, command")
    message: str = Field(..., description="Human-readable text")
    data: dict[str, Any] = Field(default_factory=dict, description="Machine-readable details")


class Kpis(_Open):
    """KPIs so far, today and since start; the fields are the controller's."""


class CommandResult(_Open):
    """What the controller accepted."""


class ModeRequest(BaseModel):
    """Ask for planned islanding or for reconnection."""

    model_config = ConfigDict(extra="forbid")

    mode: ModeName = Field(..., description="'island' (planned islanding) or 'grid' (reconnect)")


class SetpointsRequest(BaseModel):
    """Operator setpoints by name, e.g. ``{"values": {"reserve_frac": 0.4}}``."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, Number] = Field(..., min_length=1, max_length=50, description="Setpoint name → value")

    @field_validator("values")
    @classmethod
    def _finite(cls, values: dict[str, float]) -> dict[str, float]:
        for name, value in values.items():
            if not math.isfinite(value):
                raise ValueError(f"setpoint {name!r} = {value!r} is not a finite number")
        return values


class StrategyRequest(BaseModel):
    """Switch the planning strategy by name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=100, description="Strategy name, e.g. 'load_following'")


#: The twin's devices, by name.
DeviceName = StrEnum("DeviceName", {d: d for d in DEVICE_NAMES})  # type: ignore[misc]


class _Strict(BaseModel):
    """Fault parameters: unknown names refused; a left-out parameter takes the twin's default, null is refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("null is not a value here: leave the parameter out to get the twin's default")
        return value


class NoParams(_Strict):
    """This fault kind takes no parameters."""


class GridOffNominalParams(_Strict):
    """``grid_off_nominal``: the grid's frequency offset and voltage (twin defaults when left out)."""

    hz: Number | SkipJsonSchema[None] = Field(
        default=None,
        gt=-GRID_HZ_OFFSET_LIMIT_HZ,
        lt=GRID_HZ_OFFSET_LIMIT_HZ,
        allow_inf_nan=False,
        description="Offset from nominal frequency [Hz]",
    )
    v_pu: Number | SkipJsonSchema[None] = Field(
        default=None, gt=0.0, lt=GRID_V_PU_LIMIT, allow_inf_nan=False, description="Voltage [p.u.]"
    )


class DurationParams(_Strict):
    """A fault that lasts ``duration_s`` twin seconds (default: until cleared)."""

    duration_s: Number | SkipJsonSchema[None] = Field(
        default=None, gt=0, allow_inf_nan=False, description="Duration [twin s]"
    )


class GensetFailParams(_Strict):
    """``genset_fail_to_start``: ``on`` true makes every start fail, false clears it."""

    on: StrictBool | SkipJsonSchema[None] = Field(
        default=None, description="true (default) or false; a JSON boolean, not a string"
    )


class DeviceFaultParams(DurationParams):
    """A communication fault on one device (default pcs)."""

    device: DeviceName | SkipJsonSchema[None] = Field(default=None, description="The device (default pcs)")


class ClearParams(_Strict):
    """``clear_faults``: one device, or every device when left out."""

    device: DeviceName | SkipJsonSchema[None] = Field(default=None, description="Only this device (default: all)")


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GridLossFault(_Fault):
    """The ``grid_loss`` fault."""

    kind: Literal["grid_loss"] = Field(..., description=FAULT_KINDS["grid_loss"])
    params: NoParams = Field(NoParams(), description="The fault's parameters")


class GridRestoreFault(_Fault):
    """The ``grid_restore`` fault."""

    kind: Literal["grid_restore"] = Field(..., description=FAULT_KINDS["grid_restore"])
    params: NoParams = Field(NoParams(), description="The fault's parameters")


class GridOffNominalFault(_Fault):
    """The ``grid_off_nominal`` fault."""

    kind: Literal["grid_off_nominal"] = Field(..., description=FAULT_KINDS["grid_off_nominal"])
    params: GridOffNominalParams = Field(GridOffNominalParams(), description="The fault's parameters")


class BmsTripFault(_Fault):
    """The ``bms_trip`` fault."""

    kind: Literal["bms_trip"] = Field(..., description=FAULT_KINDS["bms_trip"])
    params: DurationParams = Field(DurationParams(), description="The fault's parameters")


class BmsResetFault(_Fault):
    """The ``bms_reset`` fault."""

    kind: Literal["bms_reset"] = Field(..., description=FAULT_KINDS["bms_reset"])
    params: NoParams = Field(NoParams(), description="The fault's parameters")


class GensetFailToStartFault(_Fault):
    """The ``genset_fail_to_start`` fault."""

    kind: Literal["genset_fail_to_start"] = Field(..., description=FAULT_KINDS["genset_fail_to_start"])
    params: GensetFailParams = Field(GensetFailParams(), description="The fault's parameters")


class TelemetryStaleFault(_Fault):
    """The ``telemetry_stale`` fault."""

    kind: Literal["telemetry_stale"] = Field(..., description=FAULT_KINDS["telemetry_stale"])
    params: DeviceFaultParams = Field(DeviceFaultParams(), description="The fault's parameters")


class ModbusTimeoutFault(_Fault):
    """The ``modbus_timeout`` fault."""

    kind: Literal["modbus_timeout"] = Field(..., description=FAULT_KINDS["modbus_timeout"])
    params: DeviceFaultParams = Field(DeviceFaultParams(), description="The fault's parameters")


class ModbusExceptionFault(_Fault):
    """The ``modbus_exception`` fault."""

    kind: Literal["modbus_exception"] = Field(..., description=FAULT_KINDS["modbus_exception"])
    params: DeviceFaultParams = Field(DeviceFaultParams(), description="The fault's parameters")


class ClearFaultsFault(_Fault):
    """The ``clear_faults`` fault."""

    kind: Literal["clear_faults"] = Field(..., description=FAULT_KINDS["clear_faults"])
    params: ClearParams = Field(ClearParams(), description="The fault's parameters")


class ControllerRestartFault(_Fault):
    """The ``controller_restart`` fault."""

    kind: Literal["controller_restart"] = Field(
        ..., description="restart the controller's loops (the plant keeps running)"
    )
    params: NoParams = Field(NoParams(), description="The fault's parameters")


#: One model per fault kind, told apart by ``kind`` (an enum in the schema); extra fields are refused.
FaultRequest = Annotated[
    GridLossFault
    | GridRestoreFault
    | GridOffNominalFault
    | BmsTripFault
    | BmsResetFault
    | GensetFailToStartFault
    | TelemetryStaleFault
    | ModbusTimeoutFault
    | ModbusExceptionFault
    | ClearFaultsFault
    | ControllerRestartFault,
    Field(discriminator="kind"),
]

#: The models of :data:`FaultRequest`, one per kind.
FAULT_MODELS: tuple[type[_Fault], ...] = (
    GridLossFault,
    GridRestoreFault,
    GridOffNominalFault,
    BmsTripFault,
    BmsResetFault,
    GensetFailToStartFault,
    TelemetryStaleFault,
    ModbusTimeoutFault,
    ModbusExceptionFault,
    ClearFaultsFault,
    ControllerRestartFault,
)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one clear sentence, plus the validation details where there are some."""

    detail: str = Field(..., description="What was wrong and how to fix it")
    errors: list[dict[str, Any]] | None = Field(None, description="Per-field validation errors")


class LedgerRecord(_Open):
    """One ledger record, as stored (with its hash-chain fields)."""


class LedgerPage(BaseModel):
    """A page of ledger records, oldest first."""

    path: str = Field(..., description="The ledger file")
    site_id: str = Field(..., description="The chain")
    count: int = Field(..., description="Records in this page")
    records: list[LedgerRecord]


class LedgerVerify(_Open):
    """The result of verifying the ledger's hash chain."""

    ok: bool = Field(..., description="True if no record was altered, removed, inserted or reordered")
    message: str = Field(..., description="What verify found")


class Health(BaseModel):
    """Liveness and the API's access settings."""

    ok: bool = Field(..., description="False while a controller loop (fast or planning) is down")
    live: bool = Field(False, description="Every loop running and all telemetry fresh (as the status's `live`)")
    loops: dict[str, str] | None = Field(None, description="Each loop's state: running or down")
    version: str
    public_reads: bool
    writes_enabled: bool = Field(..., description="False when no API token is configured")
    ledger: bool = Field(..., description="True when a ledger file is configured")
    states: list[str] = Field(default_factory=lambda: list(STATES), description="State-machine states")
