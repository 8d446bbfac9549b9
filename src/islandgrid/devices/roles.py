"""The five device roles: which SunSpec (and vendor) models each carries, and where the controller's points live.

The controller speaks of points in engineering units with the unit in the name (``p_kw``,
``soc_frac``, ``e_kwh`` ...). Each is a :class:`Binding` to one point of one model: a device is
found by scanning (:mod:`islandgrid.devices.scan`), and the binding says which model and point to
read or write and how to convert (``factor``: controller value = SunSpec value x factor). A model
a device lacks, or an unimplemented value, leaves the point out of the controller's reading;
a *required* point missing from the device is a commissioning error.

Roles (models in the order the twin lays them out; a real device may order them otherwise):

- ``pv``: PV inverter: 1 Common, 701 DER AC measurement, 702 DER capacity, 704 DER AC controls,
  64201 available power (vendor).
- ``pcs``: battery PCS + BMS: 1, 701, 702, 704, 713 DER storage capacity, 802 battery base,
  64202 grid-forming control (vendor).
- ``genset``: genset controller: 1, 64203 (vendor, after DSE GenComm).
- ``pcc``: PCC meter and breaker: 1, 203 three-phase wye meter, 64204 breaker and sync-check relay (vendor).
- ``load``: compute-room meter: 1, 203, 64205 load groups and shed contactors (vendor).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The five device names, in the order the controller reads them.
DEVICE_NAMES: tuple[str, ...] = ("pv", "pcs", "genset", "pcc", "load")

#: kW per W, kWh per Wh, fraction per percent.
_K = 1e-3
_PCT = 1e-2


@dataclass(frozen=True)
class Binding:
    """Where one controller point lives on a SunSpec device.

    Attributes
    ----------
    name : str
        The controller's point name (unit in the name).
    model : int
        Model ID.
    point : str
        SunSpec point name in that model.
    factor : float
        Controller value = SunSpec engineering value x factor (1e-3 for W -> kW).
    required : bool
        The controller cannot run the device without it (a scan that misses it fails).
    writable : bool
        A control point the controller writes.
    enable : tuple of (str, int)
        Points of the same model written (raw) together with this one, e.g. the enable flag
        ``WMaxLimPctEna`` = 1 of a power limit.
    equals : int or None
        Read-only flag: the controller value is 1.0 when the raw value equals this code, else 0.0.
    doc : str
        One line for ``docs/registers.md``.
    """

    name: str
    model: int
    point: str
    factor: float = 1.0
    required: bool = True
    writable: bool = False
    enable: tuple[tuple[str, int], ...] = ()
    equals: int | None = None
    doc: str = ""


@dataclass(frozen=True)
class Role:
    """One device role: its models (Common first) and the controller's points on them."""

    device: str
    title: str
    models: tuple[int, ...]
    bindings: tuple[Binding, ...]

    def binding(self, name: str) -> Binding:
        """The binding of controller point ``name``; KeyError names the device."""
        for b in self.bindings:
            if b.name == name:
                return b
        raise KeyError(f"{self.device} has no point {name!r}")


B = Binding
#: 802 State code of a tripped BMS (contactor open on a fault).
BMS_STATE_FAULT = 99
BMS_STATE_CONNECTED = 3

PV = Role(
    "pv",
    "PV inverter",
    (1, 701, 702, 704, 64201),
    (
        B("heartbeat", 64201, "Hb", required=False, doc="increments on every update; frozen = stale"),
        B("state", 701, "InvSt", required=False, doc="inverter state (701 InvSt: 0 off, 3 running, 4 throttled)"),
        B("p_kw", 701, "W", _K, doc="AC power [kW]"),
        B("p_avail_kw", 64201, "WAvail", _K, doc="available (MPPT) power [kW]"),
        B("e_kwh", 701, "TotWhInj", _K, doc="AC energy delivered [kWh]"),
        B("e_avail_kwh", 64201, "TotWhAvail", _K, doc="energy available [kWh]"),
        B("hz", 701, "Hz", required=False, doc="AC frequency [Hz]"),
        B(
            "limit_frac",
            704,
            "WMaxLimPct",
            _PCT,
            writable=True,
            enable=(("WMaxLimPctEna", 1),),
            doc="active power limit [fraction of WMax]",
        ),
    ),
)

PCS = Role(
    "pcs",
    "Battery PCS with BMS",
    (1, 701, 702, 704, 713, 802, 64202),
    (
        B("heartbeat", 802, "Hb", required=False, doc="BMS heartbeat; frozen = stale"),
        B("bms_tripped", 802, "State", equals=BMS_STATE_FAULT, doc="1 while the BMS is in FAULT (contactor open)"),
        B("mode", 64202, "Mod", doc="actual mode: 0 off, 1 grid-following, 2 grid-forming"),
        B("p_kw", 701, "W", _K, doc="AC power [kW], + discharge"),
        B("soc_frac", 802, "SoC", _PCT, doc="state of charge [fraction]"),
        B("soc_kwh", 713, "WHAvail", _K, doc="stored energy [kWh]"),
        B("soh_frac", 802, "SoH", _PCT, required=False, doc="state of health [fraction]"),
        B("p_dis_max_kw", 802, "WDisChaRteMax", _K, doc="discharge power available now [kW]"),
        B("p_chg_max_kw", 802, "WChaRteMax", _K, doc="charge power available now [kW]"),
        B("e_out_kwh", 701, "TotWhInj", _K, doc="AC energy out (discharge) [kWh]"),
        B("e_in_kwh", 701, "TotWhAbs", _K, doc="AC energy in (charge) [kWh]"),
        B("e_selfdis_kwh", 64202, "TotWhSelfDis", _K, doc="stored energy lost to self-discharge [kWh]"),
        B("bus_hz", 64202, "BusHz", doc="frequency of the bus the PCS sees [Hz]"),
        B("bus_v_pu", 64202, "BusVPct", _PCT, doc="bus voltage [pu]"),
        B(
            "p_set_kw",
            704,
            "WSet",
            _K,
            writable=True,
            enable=(("WSetEna", 1),),
            doc="power setpoint while grid-following [kW], + discharge",
        ),
        B("mode_req", 64202, "ModReq", writable=True, doc="requested mode: 1 grid-following, 2 grid-forming"),
        B("hz_set", 64202, "HzSet", writable=True, doc="grid-forming frequency [Hz]"),
        B("v_set_pu", 64202, "VSetPct", _PCT, writable=True, doc="grid-forming voltage [pu]"),
        B("bms_reset", 802, "AlmRst", writable=True, doc="write 1 to reset a cleared BMS trip; reads back 0"),
    ),
)

GENSET = Role(
    "genset",
    "Genset controller",
    (1, 64203),
    (
        B("heartbeat", 64203, "Hb", required=False, doc="increments on every update; frozen = stale"),
        B("state", 64203, "St", doc="0 off, 1 starting, 2 running, 3 fail-to-start alarm"),
        B("p_kw", 64203, "W", _K, doc="AC power [kW]"),
        B("e_kwh", 64203, "TotWh", _K, doc="energy delivered [kWh]"),
        B("fuel_l", 64203, "TotFuel", doc="fuel burnt [L]"),
        B("run_s", 64203, "RunTms", required=False, doc="running seconds since the last start [s]"),
        B("start_attempts", 64203, "NStarts", required=False, doc="start attempts since power-up"),
        B("run_req", 64203, "RunReq", writable=True, doc="1 run, 0 stop (level)"),
        B("p_set_kw", 64203, "WSet", _K, writable=True, doc="power setpoint when not forming the grid [kW]"),
        B("alarm_reset", 64203, "AlmRst", writable=True, doc="write 1 to clear a fail-to-start alarm; reads back 0"),
    ),
)

PCC = Role(
    "pcc",
    "PCC meter and breaker",
    (1, 203, 64204),
    (
        B("heartbeat", 64204, "Hb", required=False, doc="increments on every update; frozen = stale"),
        B("breaker_closed", 64204, "BrkSt", doc="1 closed, 0 open"),
        B("trip_cause", 64204, "TripCause", doc="0 none, 1 protection (grid V/f), 2 command"),
        B("p_kw", 203, "W", _K, doc="PCC power [kW], + import"),
        B("e_import_kwh", 203, "TotWhImp", _K, doc="energy imported [kWh]"),
        B("e_export_kwh", 203, "TotWhExp", _K, doc="energy exported [kWh]"),
        B("grid_hz", 64204, "GridHz", doc="grid-side frequency [Hz], 0 when dead"),
        B("grid_v_pu", 64204, "GridVPct", _PCT, doc="grid-side voltage [pu]"),
        B("bus_hz", 64204, "BusHz", doc="microgrid-side frequency [Hz]"),
        B("bus_v_pu", 64204, "BusVPct", _PCT, doc="microgrid-side voltage [pu]"),
        B("dphi_deg", 64204, "DPhi", doc="phase of the bus minus the grid [deg]"),
        B("close_refused", 64204, "CloseRefused", doc="why the last close was refused (bits, below)"),
        B("close_refusals", 64204, "NCloseRefused", doc="refused close commands since power-up"),
        B("breaker_req", 64204, "BrkReq", writable=True, doc="write 1 open, 2 close; reads back 0 once done"),
    ),
)

LOAD = Role(
    "load",
    "Compute-room load meter with shed contactors",
    (1, 203, 64205),
    (
        B("heartbeat", 64205, "Hb", required=False, doc="increments on every update; frozen = stale"),
        B("p_kw", 203, "W", _K, doc="served power [kW]"),
        B("p_critical_kw", 64205, "WCrit", _K, doc="served critical power [kW]"),
        B("p_demand_kw", 64205, "WDmd", _K, doc="demand incl. shed groups [kW]"),
        B("p_critical_demand_kw", 64205, "WCritDmd", _K, doc="critical demand [kW]"),
        B("e_kwh", 203, "TotWhImp", _K, doc="energy served [kWh]"),
        B("e_critical_kwh", 64205, "TotWhCrit", _K, doc="critical energy served [kWh]"),
        B("e_demand_kwh", 64205, "TotWhDmd", _K, doc="energy demanded [kWh]"),
        B("e_critical_demand_kwh", 64205, "TotWhCritDmd", _K, doc="critical energy demanded [kWh]"),
        B("shed_mask", 64205, "ShedSt", doc="bit i set: group i is shed (actual)"),
        B("shed_req", 64205, "ShedReq", writable=True, doc="bit i set: shed group i (level)"),
    ),
)

ROLES: dict[str, Role] = {r.device: r for r in (PV, PCS, GENSET, PCC, LOAD)}


def role(device: str) -> Role:
    """The role called ``device``; KeyError names the known roles."""
    try:
        return ROLES[device]
    except KeyError:
        raise KeyError(f"unknown device {device!r}; known: {', '.join(ROLES)}") from None
