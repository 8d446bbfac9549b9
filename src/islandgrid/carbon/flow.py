"""Carbon-emission flow: the source mix and carbon intensity of every kWh, through the battery.

Proportional sharing on the AC bus (Kang et al., Sci. Rep. 2012) with the battery as a
pool (GUIDE §4). For interval t:

    e_bus = (grid_in*e_grid + diesel_co2 + bat_out*e_bat) / (pv_used + grid_in + diesel + bat_out)

and every sink (load served, battery charge, export, dump) takes e_bus. The battery
keeps an energy stock S [kWh stored] and a carbon stock M [kg]:

    S <- S*(1 - self-discharge) + eta_c*bat_in - bat_out/eta_d
    M <- M + bat_in*e_bus - bat_out*e_bat,     e_bat = M / (S*eta_d)

so losses raise the intensity of what remains and carbon is never lost. The same
pooling carries a source-mix vector (PV, grid, diesel); it gives ``pv_share``.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from islandgrid.errors import CarbonConservationError

#: Columns of the carbon-flow frame.
CARBON_COLUMNS: tuple[str, ...] = (
    "e_bus_kg_per_kwh",  # intensity of the AC bus
    "e_bat_kg_per_kwh",  # intensity of energy leaving the battery (start of interval)
    "grid_co2_kg",  # emitted by grid import (Scope 2, location-based)
    "diesel_co2_kg",  # emitted by the genset (Scope 1)
    "load_co2_kg",  # carried by the load served
    "export_co2_kg",  # carried by grid export
    "dump_co2_kg",  # carried by dumped energy, and fuel burnt while delivering nothing
    "bat_co2_stock_kg",  # carbon stock M at the end of the interval
    "load_pv_frac",  # source mix of the load served
    "load_grid_frac",
    "load_diesel_frac",
)


@numba.njit(cache=True)
def _pool(
    pv: np.ndarray,
    grid_in: np.ndarray,
    diesel: np.ndarray,
    bat_out: np.ndarray,
    bat_in: np.ndarray,
    selfdis: np.ndarray,
    grid_co2: np.ndarray,
    diesel_co2: np.ndarray,
    load: np.ndarray,
    grid_out: np.ndarray,
    dump: np.ndarray,
    soc_init: float,
    eta_c: float,
    eta_d: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    s = soc_init  # stored energy [kWh]
    m = 0.0  # carbon stock [kg]; initial charge is treated as carbon-free PV
    mix = np.array([1.0, 0.0, 0.0])  # stored-energy source mix (PV, grid, diesel)
    for t in range(pv.shape[0]):
        # self-discharge: energy leaves, carbon stays
        s = max(s - selfdis[t], 0.0)
        e_bat = m / (s * eta_d) if s > 1e-12 else 0.0
        supply = pv[t] + grid_in[t] + diesel[t] + bat_out[t]
        co2_in = grid_co2[t] + diesel_co2[t] + bat_out[t] * e_bat
        if supply > 1e-12:
            e_bus = co2_in / supply
            f_pv = (pv[t] + bat_out[t] * mix[0]) / supply
            f_grid = (grid_in[t] + bat_out[t] * mix[1]) / supply
            f_diesel = (diesel[t] + bat_out[t] * mix[2]) / supply
        else:
            e_bus = 0.0
            f_pv = 0.0
            f_grid = 0.0
            f_diesel = 0.0
        # battery pool update: remove discharge with the pool's mix, add charge with the bus mix
        s_out = bat_out[t] / eta_d
        s_keep = max(s - s_out, 0.0)
        s_add = eta_c * bat_in[t]
        s_new = s_keep + s_add
        if s_new > 1e-12:
            mix[0] = (s_keep * mix[0] + s_add * f_pv) / s_new
            mix[1] = (s_keep * mix[1] + s_add * f_grid) / s_new
            mix[2] = (s_keep * mix[2] + s_add * f_diesel) / s_new
        m = m + bat_in[t] * e_bus - bat_out[t] * e_bat
        s = s_new
        out[t, 0] = e_bus
        out[t, 1] = e_bat
        out[t, 2] = grid_co2[t]
        out[t, 3] = diesel_co2[t]
        out[t, 4] = load[t] * e_bus
        out[t, 5] = grid_out[t] * e_bus
        # fuel burnt with no energy delivered (an idle genset held on) is a loss
        out[t, 6] = dump[t] * e_bus if supply > 1e-12 else co2_in
        out[t, 7] = m
        out[t, 8] = f_pv
        out[t, 9] = f_grid
        out[t, 10] = f_diesel


def carbon_flow(
    flows: pd.DataFrame,
    grid_co2_kg_per_kwh: np.ndarray,
    diesel_co2_kg_per_l: float,
    soc_init_kwh: float,
    eta_charge: float,
    eta_discharge: float,
    rtol: float = 1e-9,
) -> pd.DataFrame:
    """Attribute sources and carbon to every interval's load, export and battery stock.

    Parameters
    ----------
    flows : pandas.DataFrame
        Per-interval flows with the columns of :data:`islandgrid.strategy.base.FLOW_COLUMNS` [kWh, L].
    grid_co2_kg_per_kwh : ndarray
        Grid factor per interval [kg/kWh].
    diesel_co2_kg_per_l : float
        Diesel emission factor [kg/L]; the genset's intensity per interval is
        fuel_l * factor / diesel_kwh, so part-load inefficiency shows.
    soc_init_kwh : float
        Stored energy at the start [kWh]; counted as carbon-free.
    eta_charge, eta_discharge : float
        Battery one-way efficiencies [-].
    rtol : float
        Relative tolerance of the conservation check.

    Returns
    -------
    pandas.DataFrame
        :data:`CARBON_COLUMNS` on the flows' index.

    Raises
    ------
    CarbonConservationError
        If grid + diesel CO2 differs from load + export + dump CO2 + the change in
        the battery's carbon stock.
    """

    def col(name: str) -> np.ndarray:
        return np.ascontiguousarray(flows[name].to_numpy(dtype=np.float64))

    grid_co2 = col("grid_in_kwh") * np.asarray(grid_co2_kg_per_kwh, dtype=np.float64)
    diesel_co2 = col("fuel_l") * diesel_co2_kg_per_l
    out = np.empty((len(flows), len(CARBON_COLUMNS)))
    _pool(
        col("pv_used_kwh"),
        col("grid_in_kwh"),
        col("diesel_kwh"),
        col("bat_out_kwh"),
        col("bat_in_kwh"),
        col("bat_selfdis_kwh"),
        grid_co2,
        diesel_co2,
        col("load_served_kwh"),
        col("grid_out_kwh"),
        col("dump_kwh"),
        float(soc_init_kwh),
        float(eta_charge),
        float(eta_discharge),
        out,
    )
    frame = pd.DataFrame(out, index=flows.index, columns=list(CARBON_COLUMNS))
    check_conservation(frame, rtol=rtol)
    return frame


def check_conservation(carbon: pd.DataFrame, rtol: float = 1e-9) -> None:
    """Raise :class:`CarbonConservationError` unless carbon in equals carbon out plus stock change."""
    emitted = carbon["grid_co2_kg"].to_numpy() + carbon["diesel_co2_kg"].to_numpy()
    carried = carbon["load_co2_kg"].to_numpy() + carbon["export_co2_kg"].to_numpy() + carbon["dump_co2_kg"].to_numpy()
    stock = carbon["bat_co2_stock_kg"].to_numpy()
    delta = np.diff(stock, prepend=0.0)
    per_step = emitted - carried - delta
    scale = max(float(emitted.sum()), 1.0)
    bad = np.abs(per_step) > rtol * scale + 1e-9
    if bad.any():
        i = int(np.argmax(bad))
        raise CarbonConservationError(
            f"carbon not conserved at interval {i} ({carbon.index[i]}): in {emitted[i]:.9g} kg, "
            f"out {carried[i]:.9g} kg, stock change {delta[i]:.9g} kg"
        )
