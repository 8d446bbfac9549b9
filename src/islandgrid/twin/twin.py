"""The device twin: the plant, its five SunSpec devices, fault injection, and its clock.

Stepped mode (tests, benchmarks): call :meth:`Twin.step` yourself; nothing runs in the
background. Real-time mode (``islandgrid serve --twin``): :meth:`Twin.run` advances the
plant in fixed steps to keep up with a :class:`~islandgrid.devices.clock.SimClock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from islandgrid.components.battery import battery_params
from islandgrid.components.genset import genset_params
from islandgrid.devices.clock import Clock
from islandgrid.devices.faults import FAULT_KINDS, GRID_HZ_OFFSET_LIMIT_HZ, GRID_V_PU_LIMIT
from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.devices.states import GENSET_FAILED, GENSET_OFF
from islandgrid.errors import DeviceError, InputError
from islandgrid.inputs.series import InputSeries
from islandgrid.site.spec import ControllerSpec, Site
from islandgrid.twin.devices import TwinDevice
from islandgrid.twin.plant import Plant, PlantConfig, Profile


def profile_from_inputs(inputs: InputSeries, held: bool = False) -> Profile:
    """The twin's PV/load profile from already built inputs (``held``: see :class:`Profile`)."""
    f = inputs.frame
    return Profile(
        index=pd.DatetimeIndex(f.index),
        pv_kw=f["pv_kw"].to_numpy(dtype=float),
        load_kw=f["load_kw"].to_numpy(dtype=float),
        critical_kw=f["critical_kw"].to_numpy(dtype=float),
        held=held,
    )


def profile_from_site(site: Site) -> Profile:
    """The PV/load profile of the site's input series (one year at the site's resolution)."""
    from islandgrid.inputs.series import build_inputs

    return profile_from_inputs(build_inputs(site))


def plant_config(site: Site) -> PlantConfig:
    """Plant parameters from the site (core battery and genset models, the relay's sync limits)."""
    c = site.controller
    return PlantConfig(
        battery=battery_params(site.battery),
        genset=genset_params(site.genset, site.location.elevation_m),
        import_kw=site.grid.import_kw,
        export_kw=site.grid.export_kw,
        nominal_hz=c.nominal_hz,
        grid_v_min_pu=c.grid_v_min_pu,
        grid_v_max_pu=c.grid_v_max_pu,
        grid_df_max_hz=c.grid_df_max_hz,
        shed_shares_frac=tuple(c.shed_shares_frac),
        pv_rated_kw=site.pv.kwp / site.pv.dc_ac_ratio if site.pv.kwp > 0 else 0.0,
        **relay_sync_limits(),
    )


def relay_sync_limits() -> dict[str, float]:
    """The PCC sync-check relay's limits: IEEE 1547-2018 Table 39 (DER <= 500 kVA), i.e. the defaults of
    the site spec's ``[controller]`` ``sync_df_hz``, ``sync_dv_frac``, ``sync_dphi_deg`` [Hz, p.u., degrees].

    The relay is a device setting: a site that loosens its controller's limits still meets the relay.
    """
    f = ControllerSpec.model_fields
    return {
        "sync_df_max_hz": float(f["sync_df_hz"].default),
        "sync_dv_max_pu": float(f["sync_dv_frac"].default),
        "sync_dphi_max_deg": float(f["sync_dphi_deg"].default),
    }


class Twin:
    """The simulated site behind five Modbus devices.

    Parameters
    ----------
    site : Site
        The site; its battery, genset, grid and controller sections set the physics.
    start : datetime or str, optional
        Twin start time (tz-aware); default: now.
    profile : Profile, optional
        PV/load series; default: built from the site's inputs (about a second).
    step_s : float
        Physics step [s] of twin time, 1 s by default.
    trace : bool
        Keep every step's energy flows (:meth:`Plant.trace_frame`), for tests.
    vendor : str
        The devices' SunSpec layout (:data:`islandgrid.twin.images.VENDORS`): 'conformant' (base
        40000, the roles' model order) or 'second_vendor' (other bases, order, scale factors,
        extra models, optional points left out).
    """

    def __init__(
        self,
        site: Site,
        *,
        start: datetime | str | None = None,
        profile: Profile | None = None,
        step_s: float = 1.0,
        trace: bool = False,
        vendor: str = "conformant",
    ) -> None:
        self.site = site
        ts = pd.Timestamp.now(tz="UTC").floor("s") if start is None else pd.Timestamp(start)
        if ts.tzinfo is None:
            ts = ts.tz_localize(site.location.tz)
        self.start_epoch_s = ts.timestamp()
        self.step_s = step_s
        self.plant = Plant(
            cfg=plant_config(site),
            profile=profile if profile is not None else profile_from_site(site),
            start_epoch_s=self.start_epoch_s,
            trace_enabled=trace,
        )
        d = site.devices
        self.devices: dict[str, TwinDevice] = {
            name: TwinDevice(name, unit_id=getattr(d, name).unit_id, vendor=vendor) for name in DEVICE_NAMES
        }
        self.lock = threading.RLock()
        self.faults_log: list[dict[str, Any]] = []
        self._bms_until_s: float | None = None
        for dev in self.devices.values():
            dev.refresh(self.plant)

    # ------------------------------------------------------------------ time
    @property
    def t_s(self) -> float:
        """Twin seconds since start [s]."""
        return self.plant.t_s

    def step(self, dt_s: float | None = None) -> None:
        """Advance the physics by one step (default ``step_s``) and refresh every device."""
        dt = self.step_s if dt_s is None else dt_s
        with self.lock:
            self.plant.step(dt)
            for dev in self.devices.values():
                if dev.fault_until_s is not None and self.plant.t_s >= dev.fault_until_s - 1e-9:
                    dev.fault, dev.fault_until_s = None, None
                dev.refresh(self.plant)
            if self.plant.bms_fault_active and self._bms_until_s is not None and self.plant.t_s >= self._bms_until_s:
                self.plant.bms_fault_active = False
                self._bms_until_s = None

    def advance_to(self, t_s: float) -> int:
        """Step until the plant reaches ``t_s`` [s]; returns the number of steps."""
        n = 0
        while self.plant.t_s + self.step_s <= t_s + 1e-9:
            self.step()
            n += 1
        return n

    async def run(self, clock: Clock, stop: asyncio.Event) -> None:
        """Keep the plant in step with ``clock`` until ``stop`` is set (real-time mode)."""
        tick_real_s = max(min(self.step_s / max(clock.speed, 1e-9), 0.05), 0.002)
        while not stop.is_set():
            # bounded catch-up, so a stalled loop cannot spiral
            target = clock.now_s()
            if target - self.plant.t_s > 3600:
                self.plant.t_s = target - self.step_s
            self.advance_to(target)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_real_s)

    # ------------------------------------------------------------------ registers
    def read(self, device: str, address: int, count: int) -> list[int]:
        """Read holding registers of a device (raises DeviceError subclasses on faults)."""
        with self.lock:
            return list(self.devices[device].read(address, count))

    def write(self, device: str, address: int, regs: list[int]) -> None:
        """Write holding registers of a device and refresh its image (a refused breaker close reads back at once)."""
        with self.lock:
            dev = self.devices[device]
            dev.write(address, regs, self.plant)
            dev.refresh(self.plant)

    # ------------------------------------------------------------------ faults
    def inject_fault(self, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Inject one of :data:`FAULT_KINDS`; returns the accepted fault.

        Raises
        ------
        InputError
            Unknown kind, device or parameter value.
        """
        params = dict(params or {})
        if kind not in FAULT_KINDS:
            raise InputError("unknown fault kind", field="kind", value=kind, allowed=", ".join(FAULT_KINDS))
        p = self.plant
        with self.lock:
            t = p.t_s
            dur = params.get("duration_s")
            if dur is not None and (not isinstance(dur, int | float) or not np.isfinite(dur) or dur <= 0):
                raise InputError(
                    "not a positive number of twin seconds", field="params.duration_s", value=dur, allowed="> 0"
                )
            until = t + float(dur) if dur is not None else None
            if kind == "grid_loss":
                p.grid_up = False
            elif kind == "grid_restore":
                p.grid_up, p.grid_hz_offset, p.grid_v_pu = True, 0.0, 1.0
            elif kind == "grid_off_nominal":
                hz, v = params.get("hz", 0.45), params.get("v_pu", 1.0)
                lim_hz, lim_v = GRID_HZ_OFFSET_LIMIT_HZ, GRID_V_PU_LIMIT
                for name, x, lo, hi in (("hz", hz, -lim_hz, lim_hz), ("v_pu", v, 0.0, lim_v)):
                    if isinstance(x, bool) or not isinstance(x, int | float) or not lo < x < hi:
                        raise InputError(
                            "grid_off_nominal: hz is an offset from nominal [Hz], v_pu the voltage [p.u.]",
                            field=f"params.{name}",
                            value=x,
                            allowed=f"a number in ({lo:g}, {hi:g})",
                        )
                hz, v = float(hz), float(v)
                p.grid_up, p.grid_hz_offset, p.grid_v_pu = True, hz, v
                params = {"hz": hz, "v_pu": v}
            elif kind == "bms_trip":
                p.bms_tripped, p.bms_fault_active = True, True
                self._bms_until_s = until
            elif kind == "bms_reset":
                p.bms_fault_active = False
                self._bms_until_s = None
            elif kind == "genset_fail_to_start":
                on = params.get("on", True)
                if not isinstance(on, bool):
                    raise InputError("not a boolean", field="params.on", value=on, allowed="true or false")
                p.genset_fail_to_start = on
                if not on and p.genset_state == GENSET_FAILED:
                    p.genset_state = GENSET_OFF
                params = {"on": on}
            else:
                device = params.get("device", "pcs")
                targets = list(self.devices) if (kind == "clear_faults" and "device" not in params) else [device]
                for name in targets:
                    if name not in self.devices:
                        raise InputError(
                            "unknown device", field="params.device", value=name, allowed=", ".join(self.devices)
                        )
                for name in targets:
                    dev = self.devices[name]
                    if kind == "clear_faults":
                        dev.fault, dev.fault_until_s = None, None
                    else:
                        dev.fault = {"telemetry_stale": "stale", "modbus_timeout": "timeout"}.get(kind, "exception")
                        dev.fault_until_s = until
                params["device"] = device if len(targets) == 1 else "all"
            rec = {"kind": kind, "params": params, "t_s": t}
            self.faults_log.append(rec)
            return rec

    def require_device(self, name: str) -> TwinDevice:
        """The device called ``name``; DeviceError when unknown."""
        if name not in self.devices:
            raise DeviceError(f"no twin device {name!r}")
        return self.devices[name]
