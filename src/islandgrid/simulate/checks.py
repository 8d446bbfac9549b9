"""Physics invariants checked on every interval of every run."""

from __future__ import annotations

import numpy as np

from islandgrid.components.battery import BatteryParams
from islandgrid.errors import BalanceError

_TOL_KWH = 1e-6


def check_flows(flows: dict[str, np.ndarray], battery: BatteryParams, dt_h: float) -> None:
    """Raise :class:`BalanceError` unless every interval balances and stays in its limits.

    Checks, per interval:

    - bus: pv_used + grid_in + diesel + bat_out = load_served + bat_in + grid_out + dump
    - PV: pv_used + pv_curtailed = pv_available
    - load: load_served + unserved = load, unserved_critical <= critical load
    - battery: soc_t = soc_{t-1} - selfdis + eta_c*bat_in - bat_out/eta_d,
      soc_min - tol <= soc <= soc_max + tol (soc may start below its minimum only
      if it started there), power limits
    - every flow non-negative
    """
    f = flows
    scale = _TOL_KWH * max(1.0, float(np.max(f["load_kwh"], initial=0.0)))
    for name, arr in f.items():
        if name in ("soc_kwh",):
            continue
        if (arr < -scale).any():
            i = int(np.argmax(arr < -scale))
            raise BalanceError(f"{name} is negative ({arr[i]:.6g}) at interval {i}")
    lhs = f["pv_used_kwh"] + f["grid_in_kwh"] + f["diesel_kwh"] + f["bat_out_kwh"]
    rhs = f["load_served_kwh"] + f["bat_in_kwh"] + f["grid_out_kwh"] + f["dump_kwh"]
    _close("bus balance", lhs, rhs, scale)
    _close("PV split", f["pv_used_kwh"] + f["pv_curtailed_kwh"], f["pv_available_kwh"], scale)
    _close("load split", f["load_served_kwh"] + f["unserved_kwh"], f["load_kwh"], scale)
    if (f["unserved_critical_kwh"] > f["critical_load_kwh"] + scale).any():
        raise BalanceError("critical unserved exceeds the critical load")
    soc = f["soc_kwh"]
    prev = np.concatenate(([battery.soc_init_kwh], soc[:-1]))
    expect = (
        prev - f["bat_selfdis_kwh"] + battery.eta_charge * f["bat_in_kwh"] - f["bat_out_kwh"] / battery.eta_discharge
    )
    _close("battery state", soc, expect, scale)
    lo = min(battery.soc_min_kwh, battery.soc_init_kwh)
    if (soc < lo - scale).any() or (soc > battery.soc_max_kwh + scale).any():
        i = int(np.argmax((soc < lo - scale) | (soc > battery.soc_max_kwh + scale)))
        raise BalanceError(
            f"SoC {soc[i]:.6g} kWh at interval {i} outside [{battery.soc_min_kwh}, {battery.soc_max_kwh}] kWh"
        )
    if (f["bat_in_kwh"] > battery.charge_kw * dt_h + scale).any():
        raise BalanceError("battery charge above its power limit")
    if (f["bat_out_kwh"] > battery.discharge_kw * dt_h + scale).any():
        raise BalanceError("battery discharge above its power limit")


def _close(what: str, a: np.ndarray, b: np.ndarray, tol: float) -> None:
    bad = np.abs(a - b) > tol
    if bad.any():
        i = int(np.argmax(bad))
        raise BalanceError(f"{what} fails at interval {i}: {a[i]:.9g} != {b[i]:.9g} kWh")
