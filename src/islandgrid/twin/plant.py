"""The twin's physics: one AC bus with PV, a grid-forming PCS + battery, a genset, the
grid behind a PCC breaker, and the compute room's load in critical + sheddable groups.

The plant is stepped on a simulated clock (:meth:`Plant.step`). What happens in
hardware happens here within the same step, without the controller:

- The PCC protection relay opens the breaker when the grid's voltage or frequency
  leaves the normal band (or the grid is lost).
- The PCS then forms the grid at once, so the battery carries the load in the same
  step while it has energy and power (a grid-forming PCS islands within
  milliseconds: IEEE 1547-2018 §8.2, intentional islanding).
- A running genset forms the grid when the battery cannot (BMS tripped, PCS off).
- On overload the under-frequency relays drop the shed groups first, then the
  critical feeders; nothing forms the bus when neither battery nor genset can: the
  load then loses power (a blackout).

Battery and genset parameters come from the core models
(:class:`~islandgrid.components.battery.BatteryParams`,
:class:`~islandgrid.components.genset.GensetParams`); the battery update (self-discharge first,
never below SoC min, then ηc/ηd), its power and SoC limits, the genset's output limits and its
fuel curve are the compiled helpers of :mod:`islandgrid.components.physics`, the very ones the rule
kernels and the MPC realisation use. Every step records its energy
flows, which balance exactly:
``pv_used + grid_in + diesel + bat_out = load_served + bat_in + grid_out + dump``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from islandgrid.components.battery import BatteryParams
from islandgrid.components.genset import GensetParams
from islandgrid.components.physics import (
    charge_cap_kwh,
    discharge_cap_kwh,
    genset_fuel_l,
    genset_output_kw,
    self_discharge_kwh,
    soc_after,
)
from islandgrid.devices.states import (
    FORMER_DEAD,
    FORMER_GENSET,
    FORMER_GRID,
    FORMER_PCS,
    GENSET_FAILED,
    GENSET_OFF,
    GENSET_RUNNING,
    GENSET_STARTING,
    PCS_FOLLOW,
    PCS_FORM,
    PCS_OFF,
    REFUSED_DF,
    REFUSED_DPHI,
    REFUSED_DV,
    REFUSED_GRID,
)

#: Columns of :attr:`Plant.trace` (energies [kWh] over the step, then state).
TRACE_COLUMNS: tuple[str, ...] = (
    "t_s",
    "dt_s",
    "load_kwh",
    "critical_load_kwh",
    "load_served_kwh",
    "unserved_kwh",
    "unserved_critical_kwh",
    "pv_available_kwh",
    "pv_used_kwh",
    "grid_in_kwh",
    "grid_out_kwh",
    "diesel_kwh",
    "bat_in_kwh",
    "bat_out_kwh",
    "bat_selfdis_kwh",
    "dump_kwh",
    "soc_kwh",
    "grid_up",
    "breaker_closed",
    "genset_running",
    "battery_available",  # not tripped and above soc_min (could deliver energy)
    "former",  # 0 dead bus, 1 grid, 2 PCS, 3 genset
)


def _clean(x_kw: float) -> float:
    """A shortfall [kW] with float noise (|x| < 1 mW) removed."""
    return x_kw if x_kw > 1e-6 else 0.0


@dataclass
class Profile:
    """PV and load as a repeating yearly series, looked up by time of year.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        Interval starts of the site's input series (tz-aware).
    pv_kw, load_kw, critical_kw : ndarray
        Available PV, demand and its critical part [kW].
    held : bool
        False (default): linear in between the points. True: each value held over its interval, as the
        simulation's interval-constant inputs; a step ending at time ``t`` takes the interval that
        holds the instant just before ``t`` (the plant looks up the profile at the end of its step).
    """

    index: pd.DatetimeIndex
    pv_kw: np.ndarray
    load_kw: np.ndarray
    critical_kw: np.ndarray
    held: bool = False
    _t0_s: float = field(init=False, default=0.0)
    _dt_s: float = field(init=False, default=3600.0)

    def __post_init__(self) -> None:
        self._t0_s = self.index[0].timestamp()
        self._dt_s = (self.index[1] - self.index[0]).total_seconds() if len(self.index) > 1 else 3600.0

    def at(self, epoch_s: float) -> tuple[float, float, float]:
        """(pv_kw, load_kw, critical_kw) at a UNIX time, wrapped onto the series' year (linear in between,
        or held: ``held``)."""
        n = len(self.index)
        pos = ((epoch_s - self._t0_s) / self._dt_s) % n
        if self.held:
            i = (math.ceil(pos - 1e-9) - 1) % n
            return float(self.pv_kw[i]), float(self.load_kw[i]), float(self.critical_kw[i])
        i = int(pos)
        w = pos - i
        j = (i + 1) % n
        return (
            float(self.pv_kw[i] * (1 - w) + self.pv_kw[j] * w),
            float(self.load_kw[i] * (1 - w) + self.load_kw[j] * w),
            float(self.critical_kw[i] * (1 - w) + self.critical_kw[j] * w),
        )


@dataclass
class PlantConfig:
    """Fixed plant parameters [kW, kWh, Hz, pu]."""

    battery: BatteryParams
    genset: GensetParams
    import_kw: float
    export_kw: float
    nominal_hz: float
    grid_v_min_pu: float
    grid_v_max_pu: float
    grid_df_max_hz: float
    shed_shares_frac: tuple[float, ...]
    pv_rated_kw: float
    # the breaker's sync-check relay: a close onto a live bus is refused beyond these. A device setting,
    # independent of the limits the site's controller uses to ask for a close; the twin sets it to the
    # IEEE 1547-2018 Table 39 values, the defaults of the site spec's [controller] sync_* (one place)
    sync_df_max_hz: float
    sync_dv_max_pu: float
    sync_dphi_max_deg: float
    pcs_df_max_hz: float = 0.1  # the PCS's grid-forming frequency range, nominal ± this
    pcs_v_min_pu: float = 0.95
    pcs_v_max_pu: float = 1.05


@dataclass
class Plant:
    """State of the plant, stepped by :meth:`step`. Commands are plain attributes the
    twin's devices write; measurements are the ``m_*`` attributes they read."""

    cfg: PlantConfig
    profile: Profile
    start_epoch_s: float
    t_s: float = 0.0
    trace_enabled: bool = False
    # grid
    grid_up: bool = True
    grid_hz: float = 50.0
    grid_v_pu: float = 1.0
    grid_hz_offset: float = 0.0  # fault: off-nominal grid
    breaker_closed: bool = True
    trip_cause: int = 0
    dphi_deg: float = 0.0
    # battery / PCS
    soc_kwh: float = 0.0
    bms_tripped: bool = False
    bms_fault_active: bool = False
    pcs_mode: int = PCS_FOLLOW
    pcs_mode_req: int = PCS_FOLLOW
    pcs_p_set_kw: float = 0.0
    pcs_hz_set: float = 50.0
    pcs_v_set_pu: float = 1.0
    # genset
    genset_state: int = GENSET_OFF
    genset_run_req: bool = False
    genset_p_set_kw: float = 0.0
    genset_fail_to_start: bool = False
    genset_cmd_t_s: float = 0.0
    genset_run_s: float = 0.0
    genset_start_attempts: int = 0
    # PV, load
    pv_limit_frac: float = 1.0
    shed_req_mask: int = 0
    shed_mask: int = 0
    # counters and last-step measurements
    counters: dict[str, float] = field(default_factory=dict)
    m: dict[str, float] = field(default_factory=dict)
    trace: list[tuple[float, ...]] = field(default_factory=list)
    out_of_sync_closures: int = 0  # closes beyond the sync-check limits that got through (must stay 0)
    sync_check_bypassed: bool = False  # a failed or bypassed sync-check relay: closes go through unchecked
    closures: list[dict[str, float]] = field(default_factory=list)  # every close, with Δf, ΔV, Δφ at the time
    close_refused: int = 0  # REFUSED_* bits of the last refused close; 0 after a successful close
    close_refusals: int = 0  # refused close commands since power-up
    refused: list[dict[str, float]] = field(default_factory=list)  # every refused close, as in closures

    def __post_init__(self) -> None:
        self.soc_kwh = self.cfg.battery.soc_init_kwh
        self.grid_hz = self.cfg.nominal_hz
        self.pcs_hz_set = self.cfg.nominal_hz
        for k in (
            "pv_e",
            "pv_avail_e",
            "bat_out_e",
            "bat_in_e",
            "bat_selfdis_e",
            "gen_e",
            "fuel_l",
            "imp_e",
            "exp_e",
            "load_e",
            "crit_e",
            "demand_e",
            "crit_demand_e",
        ):
            self.counters[k] = 0.0
        self.step(0.0)

    # ----------------------------------------------------------------- helpers
    @property
    def epoch_s(self) -> float:
        """UNIX time of the plant clock [s]."""
        return self.start_epoch_s + self.t_s

    def grid_normal(self) -> bool:
        """True while the grid is up and inside the normal V/f band (the PCC relay's view)."""
        c = self.cfg
        return (
            self.grid_up
            and c.grid_v_min_pu <= self.grid_v_pu <= c.grid_v_max_pu
            and abs(self.grid_hz - c.nominal_hz) <= c.grid_df_max_hz
        )

    def battery_limits_kw(self, dt_h: float) -> tuple[float, float]:
        """(discharge, charge) power the battery can deliver/absorb over ``dt_h`` [kW]."""
        b = self.cfg.battery
        if self.bms_tripped or b.energy_kwh <= 0:
            return 0.0, 0.0
        h = max(dt_h, 1e-9)
        dis = discharge_cap_kwh(self.soc_kwh, b.soc_min_kwh, b.discharge_kw, b.eta_discharge, h) / h
        chg = charge_cap_kwh(self.soc_kwh, b.soc_max_kwh, b.charge_kw, b.eta_charge, h) / h
        return dis, chg

    def battery_available(self) -> bool:
        """True when the battery could deliver energy now."""
        b = self.cfg.battery
        return (not self.bms_tripped) and b.energy_kwh > 0 and self.soc_kwh > b.soc_min_kwh + 1e-9

    def sync_bits(self, df_hz: float, dv_pu: float, dphi_deg: float) -> int:
        """The ``REFUSED_*`` bits of the sync-check limits that a close with these differences exceeds.

        Parameters
        ----------
        df_hz : float
            Frequency difference between bus and grid [Hz].
        dv_pu : float
            Voltage difference [p.u.].
        dphi_deg : float
            Phase difference [degrees].
        """
        c = self.cfg
        bits = REFUSED_DF if df_hz > c.sync_df_max_hz else 0
        bits |= REFUSED_DV if dv_pu > c.sync_dv_max_pu else 0
        return bits | (REFUSED_DPHI if dphi_deg > c.sync_dphi_max_deg else 0)

    # ----------------------------------------------------------------- commands
    def command_breaker(self, close: bool) -> bool:
        """Open or close the PCC breaker; returns False when a close is refused.

        The breaker's sync-check relay refuses a close onto a dead or abnormal grid, and a
        close onto a live bus while Δf, ΔV or Δφ exceed its limits (``sync_*_max`` of the
        config, :meth:`sync_bits`). A refusal sets the ``close_refused`` bits and counts in ``close_refusals``
        (both read back through the PCC registers); the breaker stays open. A dead bus
        closes without synchronism.
        """
        if not close:
            if self.breaker_closed:
                self.breaker_closed = False
                self.trip_cause = 2
            return True
        if self.breaker_closed:
            return True
        bus_hz, bus_v = self._bus_hz_v()
        live = bus_hz > 0
        rec = {
            "t_s": self.t_s,
            "df_hz": abs(bus_hz - self.grid_hz) if live else 0.0,
            "dv_pu": abs(bus_v - self.grid_v_pu) if live else 0.0,
            "dphi_deg": abs(self.dphi_deg) if live else 0.0,
        }
        bits = 0 if self.grid_normal() else REFUSED_GRID
        if live:
            bits |= self.sync_bits(rec["df_hz"], rec["dv_pu"], rec["dphi_deg"])
        if bits and not self.sync_check_bypassed:
            self.close_refused = bits
            self.close_refusals = (self.close_refusals + 1) & 0xFFFF
            self.refused.append({**rec, "bits": float(bits)})
            return False
        self.closures.append(rec)
        if bits & (REFUSED_DF | REFUSED_DV | REFUSED_DPHI):  # only with the relay bypassed
            self.out_of_sync_closures += 1
        self.breaker_closed = True
        self.trip_cause = 0
        self.close_refused = 0
        self.dphi_deg = 0.0
        return True

    # ----------------------------------------------------------------- physics
    def _former(self) -> int:
        if self.breaker_closed and self.grid_normal():
            return FORMER_GRID
        if self.pcs_mode == PCS_FORM and not self.bms_tripped:
            return FORMER_PCS
        if self.genset_state == GENSET_RUNNING:
            return FORMER_GENSET
        return FORMER_DEAD

    def _bus_hz_v(self) -> tuple[float, float]:
        former = self._former()
        if former == FORMER_GRID:
            return self.grid_hz, self.grid_v_pu
        if former == FORMER_PCS:
            return self.pcs_hz_set, self.pcs_v_set_pu
        if former == FORMER_GENSET:
            return self.cfg.nominal_hz, 1.0
        return 0.0, 0.0

    def _step_genset(self, dt_s: float) -> None:
        g = self.cfg.genset
        if g.rated_kw <= 0:
            self.genset_state = GENSET_OFF
            return
        if self.genset_state == GENSET_FAILED:
            return
        if not self.genset_run_req:
            self.genset_state = GENSET_OFF
            self.genset_run_s = 0.0
            return
        if self.genset_state == GENSET_OFF:
            self.genset_state = GENSET_STARTING
            self.genset_cmd_t_s = self.t_s
            self.genset_start_attempts += 1
        if self.genset_state == GENSET_STARTING and self.t_s - self.genset_cmd_t_s >= g.start_delay_h * 3600.0:
            self.genset_state = GENSET_FAILED if self.genset_fail_to_start else GENSET_RUNNING
            self.genset_run_s = 0.0
        elif self.genset_state == GENSET_RUNNING:
            self.genset_run_s += dt_s

    def step(self, dt_s: float) -> None:
        """Advance the plant by ``dt_s`` seconds of twin time (0 refreshes the measurements)."""
        c, b, g = self.cfg, self.cfg.battery, self.cfg.genset
        self.t_s += dt_s
        dt_h = dt_s / 3600.0
        # grid frequency wanders a little around nominal (so phases slip), plus any fault offset
        self.grid_hz = c.nominal_hz + self.grid_hz_offset + 0.02 * math.sin(2 * math.pi * self.t_s / 600.0)
        # hardware protection: the PCC relay opens on an abnormal grid; the PCS forms at once
        if self.breaker_closed and not self.grid_normal():
            self.breaker_closed = False
            self.trip_cause = 1
        if self.bms_tripped:
            self.pcs_mode = PCS_OFF
        elif not (self.breaker_closed and self.grid_normal()):
            # islanded: the PCS forms the grid by itself (hardware), or on request (black start)
            if self.pcs_mode == PCS_FOLLOW or self.pcs_mode_req == PCS_FORM:
                self.pcs_mode = PCS_FORM
        else:
            self.pcs_mode = PCS_FORM if self.pcs_mode_req == PCS_FORM else PCS_FOLLOW
        self._step_genset(dt_s)
        former = self._former()

        pv_avail, demand_kw, crit_kw = self.profile.at(self.epoch_s)
        pv_avail = min(max(pv_avail, 0.0), c.pv_rated_kw)
        # self-discharge first (never below SoC min), as in every model of the plant
        selfdis = self_discharge_kwh(self.soc_kwh, b.soc_min_kwh, b.self_discharge_frac_per_h, dt_h)
        self.soc_kwh -= selfdis
        noncrit_kw = max(demand_kw - crit_kw, 0.0)
        self.shed_mask = self.shed_req_mask
        groups_kw = [noncrit_kw * s for s in c.shed_shares_frac]
        on_groups = [(i, kw) for i, kw in enumerate(groups_kw) if not (self.shed_mask >> i) & 1]
        connected_kw = crit_kw + sum(kw for _, kw in on_groups)
        pv_lim = pv_avail * 1.0 if self.pv_limit_frac >= 1 else min(pv_avail, self.pv_limit_frac * c.pv_rated_kw)
        dis_max, chg_max = self.battery_limits_kw(dt_h)
        gen_running = self.genset_state == GENSET_RUNNING
        gen_max = g.rated_kw if gen_running else 0.0

        pv = grid = gen = bat = dump = 0.0  # bat + discharge; grid + import
        served_kw = 0.0
        if former == FORMER_DEAD:
            served_kw = 0.0
        else:
            pv = pv_lim
            if former in (FORMER_GRID, FORMER_PCS):
                gen = genset_output_kw(self.genset_p_set_kw, g.min_load_kw, gen_max) if gen_running else 0.0
            if former in (FORMER_GRID, FORMER_GENSET) and self.pcs_mode != PCS_OFF:
                bat = min(max(self.pcs_p_set_kw, -chg_max), dis_max)
            served_kw = connected_kw
            if former == FORMER_GRID:
                grid = served_kw - pv - gen - bat
                if grid < -c.export_kw:  # export limit: curtail PV, then the battery charges less/discharges less
                    excess = -c.export_kw - grid
                    cut = min(excess, pv)
                    pv -= cut
                    excess -= cut
                    if excess > 0 and bat > 0:
                        cut = min(excess, bat)
                        bat -= cut
                        excess -= cut
                    dump = excess  # genset minimum-load surplus nothing could absorb
                    grid = served_kw + dump - pv - gen - bat
            else:
                # the former balances: the PCS (battery) or the genset
                lo, hi = (-chg_max, dis_max) if former == FORMER_PCS else (0.0, gen_max)
                others = pv + (gen if former == FORMER_PCS else bat)
                need = served_kw - others
                if need > hi:  # overload: relays drop shed groups, then critical feeders
                    short = need - hi
                    for _i, kw in reversed(on_groups):
                        if short <= 0:
                            break
                        drop = min(kw, short)
                        served_kw -= drop
                        short -= drop
                    if short > 0:
                        served_kw -= min(short, crit_kw)
                    need = hi
                    # a dead source cannot hold anything above what it can deliver
                    served_kw = max(served_kw, 0.0)
                    need = served_kw - others
                if need < lo:  # surplus: curtail PV, then the genset dumps (minimum load)
                    surplus = lo - need
                    cut = min(surplus, pv)
                    pv -= cut
                    surplus -= cut
                    dump = surplus
                    need = lo
                if former == FORMER_PCS:
                    bat = need
                else:
                    gen = need
        # energies over the step [kWh]
        bat_out = max(bat, 0.0) * dt_h
        bat_in = max(-bat, 0.0) * dt_h
        if b.energy_kwh > 0:
            self.soc_kwh = soc_after(self.soc_kwh, bat_in, bat_out, b.eta_charge, b.eta_discharge)
        crit_served = min(crit_kw, served_kw)
        fuel_l = (
            genset_fuel_l(g.f0_l_per_h_per_kw * g.nameplate_kw, g.f1_l_per_kwh, dt_h, gen * dt_h)
            if gen_running
            else 0.0
        )
        grid_in, grid_out = max(grid, 0.0) * dt_h, max(-grid, 0.0) * dt_h
        cn = self.counters
        cn["pv_e"] += pv * dt_h
        cn["pv_avail_e"] += pv_avail * dt_h
        cn["bat_out_e"] += bat_out
        cn["bat_in_e"] += bat_in
        cn["bat_selfdis_e"] += selfdis
        cn["gen_e"] += gen * dt_h
        cn["fuel_l"] += fuel_l
        cn["imp_e"] += grid_in
        cn["exp_e"] += grid_out
        cn["load_e"] += served_kw * dt_h
        cn["crit_e"] += crit_served * dt_h
        cn["demand_e"] += demand_kw * dt_h
        cn["crit_demand_e"] += crit_kw * dt_h
        # phase slip between an island and the grid
        bus_hz, bus_v = self._bus_hz_v()
        if former == FORMER_GRID or not self.grid_up or bus_hz <= 0:
            self.dphi_deg = 0.0 if former == FORMER_GRID else self.dphi_deg
        else:
            self.dphi_deg = (self.dphi_deg + 360.0 * (bus_hz - self.grid_hz) * dt_s + 180.0) % 360.0 - 180.0
        self.m = {
            "pv_kw": pv,
            "pv_avail_kw": pv_avail,
            "bat_kw": bat,
            "gen_kw": gen,
            "grid_kw": grid,
            "served_kw": served_kw,
            "crit_served_kw": crit_served,
            "demand_kw": demand_kw,
            "crit_kw": crit_kw,
            "bus_hz": bus_hz,
            "bus_v_pu": bus_v,
            "former": float(former),
            "dis_max_kw": dis_max,
            "chg_max_kw": chg_max,
        }
        if self.trace_enabled and dt_s > 0:
            self.trace.append(
                (
                    self.t_s,
                    dt_s,
                    demand_kw * dt_h,
                    crit_kw * dt_h,
                    served_kw * dt_h,
                    _clean(demand_kw - served_kw) * dt_h,
                    _clean(crit_kw - crit_served) * dt_h,
                    pv_avail * dt_h,
                    pv * dt_h,
                    grid_in,
                    grid_out,
                    gen * dt_h,
                    bat_in,
                    bat_out,
                    selfdis,
                    dump * dt_h,
                    self.soc_kwh,
                    float(self.grid_normal()),
                    float(self.breaker_closed),
                    float(gen_running),
                    float(self.battery_available()),
                    float(former),
                )
            )

    def trace_frame(self) -> pd.DataFrame:
        """The recorded steps as a frame with :data:`TRACE_COLUMNS`."""
        return pd.DataFrame(self.trace, columns=list(TRACE_COLUMNS))
