"""Carbon-emission flow: the source mix and carbon intensity of every kWh, through the battery.

Proportional sharing on the AC bus (Kang et al., Sci. Rep. 2012) with the battery as a
pool. For interval t:

    e_bus = (grid_in*e_grid + diesel_co2 + bat_out*e_bat) / (pv_used + grid_in + diesel + bat_out)

and every sink (load served, battery charge, export, dump) takes e_bus and the bus's source
mix. (Exactly: the sinks share the carbon in over the energy that left the bus, which is e_bus
when the bus balances; so the rounding of a balance never creates or destroys carbon.) The
battery keeps an energy stock S [kWh stored] and a carbon stock M [kg]:

    S <- S*(1 - self-discharge) + eta_c*bat_in - bat_out/eta_d
    M <- M + bat_in*e_bus - bat_out*e_bat,     e_bat = M / (S*eta_d)

so losses raise the intensity of what remains and carbon is never lost. The same pooling carries a
source-mix vector (PV, grid, diesel); it gives ``pv_share`` (:func:`pv_share`, the one definition).
With ``rule='fifo'`` the battery is a queue of parcels, one per charging interval (energy, carbon,
mix); discharge takes the oldest first; self-discharge shrinks every parcel's energy, not its carbon.
Discharge beyond the tracked stock counts as fossil (the ``diesel`` share), never PV, in either rule.

Diesel intensity comes from the fuel burnt in the interval: ``fuel_l * 2.68 / diesel_kwh``
(the ``diesel_co2`` input is fuel times the factor), so part-load inefficiency shows.
Fuel burnt while the genset delivers nothing is a loss (``dump_co2_kg``). Battery conversion and
self-discharge losses carry no carbon away (it stays in the stock); dumped energy and idle fuel do,
in ``dump_co2_kg``. ``loss_kwh`` and ``loss_*_frac`` give the energy and source mix of all losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from islandgrid.carbon.factors import get_factor
from islandgrid.errors import CarbonConservationError, SiteFileError

#: The battery's opening charge, of unknown origin, counts in every chain as grid energy at the fossil-only factor.
OPENING_FACTOR = "mee-national-fossil-2023"
OPENING_CO2_KG_PER_KWH = get_factor(OPENING_FACTOR).value  # [kg/kWh stored], also inside the sizing kernel

#: Columns of the carbon-flow frame. Export and battery charge take the bus mix, which is
#: the load's mix (``load_*_frac``) in the same interval.
CARBON_COLUMNS: tuple[str, ...] = (
    "e_bus_kg_per_kwh",  # intensity of the AC bus
    "e_bat_kg_per_kwh",  # intensity of energy leaving the battery
    "grid_co2_kg",  # emitted by grid import (Scope 2, location-based)
    "diesel_co2_kg",  # emitted by the genset (Scope 1)
    "load_co2_kg",  # carried by the load served
    "export_co2_kg",  # carried by grid export
    "dump_co2_kg",  # carried by losses: dumped energy, and fuel burnt while delivering nothing
    "bat_co2_stock_kg",  # carbon stock M at the end of the interval
    "load_pv_frac",  # source mix of the load served (= of the bus, export and charge)
    "load_grid_frac",
    "load_diesel_frac",
    "bat_energy_kwh",  # energy stock S at the end of the interval [kWh stored]
    "bat_pv_frac",  # source mix of the stored energy at the end of the interval
    "bat_grid_frac",
    "bat_diesel_frac",
    "loss_kwh",  # battery conversion + self-discharge losses + dump [kWh]
    "loss_pv_frac",  # source mix of those losses
    "loss_grid_frac",
    "loss_diesel_frac",
)
_NCOL = len(CARBON_COLUMNS)
BATTERY_RULES: tuple[str, ...] = ("pool", "fifo")


@dataclass(frozen=True)
class CarbonState:
    """What the battery holds between two runs of the carbon flow (the chain tip's state).

    Attributes
    ----------
    parcels : tuple of (energy_kwh, co2_kg, pv_frac, grid_frac, diesel_frac)
        Stored energy [kWh], its carbon [kg] and its source mix [-], oldest first. The
        pool rule keeps at most one parcel.
    """

    parcels: tuple[tuple[float, float, float, float, float], ...]

    @property
    def energy_kwh(self) -> float:
        """Stored energy S [kWh]."""
        return float(sum(p[0] for p in self.parcels))

    @property
    def co2_kg(self) -> float:
        """Carbon stock M [kg]."""
        return float(sum(p[1] for p in self.parcels))

    @classmethod
    def opening(cls, energy_kwh: float) -> CarbonState:
        """The opening charge of any chain (simulated or metered): grid energy at :data:`OPENING_FACTOR`."""
        e = float(energy_kwh)
        return cls(((e, e * OPENING_CO2_KG_PER_KWH, 0.0, 1.0, 0.0),))

    def to_json(self) -> list[list[float]]:
        """A JSON-friendly form (lists of floats)."""
        return [list(p) for p in self.parcels]

    @classmethod
    def from_json(cls, data: list[list[float]]) -> CarbonState:
        """Inverse of :meth:`to_json`."""
        return cls(tuple((float(a), float(b), float(c), float(d), float(e)) for a, b, c, d, e in data))


@numba.njit(cache=True)
def _kernel(
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
    eta_c: float,
    eta_d: float,
    fifo: bool,
    pe: np.ndarray,
    pm: np.ndarray,
    pmix: np.ndarray,
    ends: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Carbon flow over all intervals; parcels live in pe/pm/pmix[ends[0]:ends[1]] and are updated in place."""
    head = ends[0]
    tail = ends[1]
    m_tot = 0.0
    for k in range(head, tail):
        m_tot += pm[k]
    for t in range(pv.shape[0]):
        # self-discharge: energy leaves every parcel in proportion, carbon stays
        s = 0.0
        for k in range(head, tail):
            s += pe[k]
        sd_pv = 0.0
        sd_grid = 0.0
        sd_diesel = 0.0
        sd = 0.0
        if selfdis[t] > 0.0 and s > 1e-12:
            s_after = max(s - selfdis[t], 0.0)
            scale = s_after / s
            for k in range(head, tail):
                lost = pe[k] * (1.0 - scale)
                sd += lost
                sd_pv += lost * pmix[k, 0]
                sd_grid += lost * pmix[k, 1]
                sd_diesel += lost * pmix[k, 2]
                pe[k] = pe[k] * scale
            s = s_after
        # discharge: take bat_out/eta_d of stored energy, with its carbon and mix
        need = bat_out[t] / eta_d
        c_out = 0.0
        x_pv = 0.0
        x_grid = 0.0
        x_diesel = 0.0
        if not fifo:
            k = head
            if tail > head and s > 1e-12:
                # e_bat = M / (S eta_d); never more carbon out than the stock holds
                take = min(need, pe[k])
                c_out = pm[k] * take / pe[k] if take < pe[k] else pm[k]
                x_pv = pmix[k, 0] * take
                x_grid = pmix[k, 1] * take
                x_diesel = pmix[k, 2] * take
                pe[k] = pe[k] - take
                pm[k] = pm[k] - c_out
                if need > take:
                    x_diesel += need - take  # energy beyond the tracked stock: fossil, never PV
                if need > 0.0:
                    x_pv /= need
                    x_grid /= need
                    x_diesel /= need
                e_bat = c_out / bat_out[t] if bat_out[t] > 1e-15 else pm[k] / (pe[k] * eta_d) if pe[k] > 1e-12 else 0.0
            else:
                e_bat = 0.0
                x_diesel = 1.0
        else:
            e_head = pm[head] / (pe[head] * eta_d) if tail > head and pe[head] > 1e-12 else 0.0
            rem = need
            taken = 0.0
            while rem > 1e-12 and tail > head:
                k = head
                take = min(rem, pe[k])
                frac = take / pe[k] if pe[k] > 1e-12 else 1.0
                c = pm[k] * frac
                c_out += c
                x_pv += take * pmix[k, 0]
                x_grid += take * pmix[k, 1]
                x_diesel += take * pmix[k, 2]
                taken += take
                pe[k] -= take
                pm[k] -= c
                rem -= take
                if pe[k] <= 1e-12 * max(1.0, need):
                    # an emptied parcel leaves with whatever carbon dust it still holds
                    c_out += pm[k]
                    pm[k] = 0.0
                    pe[k] = 0.0
                    head += 1
            if need > taken:
                x_diesel += need - taken  # energy beyond the tracked stock: fossil, never PV
            if need > 1e-15:
                x_pv /= need
                x_grid /= need
                x_diesel /= need
            else:
                x_diesel = 1.0
            if bat_out[t] > 1e-15:
                e_bat = c_out / bat_out[t]
            else:
                e_bat = e_head
                c_out = 0.0
        supply = pv[t] + grid_in[t] + diesel[t] + bat_out[t]
        sinks = load[t] + grid_out[t] + dump[t] + bat_in[t]
        co2_in = grid_co2[t] + diesel_co2[t] + c_out
        # the sinks share the carbon in over the energy that left the bus: equal to e_bus when the bus balances,
        # and no float rounding of the balance can create or destroy carbon (it would be amplified where a
        # genset burns fuel for a few nWh: e_bus of 1e9 kg/kWh times an imbalance of 1e-16 kWh)
        delivered = supply > 1e-12 and sinks > 1e-12
        e_share = co2_in / sinks if delivered else 0.0
        if supply > 1e-12:
            e_bus = co2_in / supply
            f_pv = (pv[t] + bat_out[t] * x_pv) / supply
            f_grid = (grid_in[t] + bat_out[t] * x_grid) / supply
            f_diesel = (diesel[t] + bat_out[t] * x_diesel) / supply
        else:
            e_bus = 0.0
            f_pv = 0.0
            f_grid = 0.0
            f_diesel = 0.0
        # charge: add eta_c*bat_in with the bus's carbon and mix
        s_add = eta_c * bat_in[t]
        c_add = bat_in[t] * e_share
        if s_add > 0.0 or c_add > 0.0:
            k = tail - 1  # a carbon-free parcel like the newest one joins it: the same queue, far fewer parcels
            if fifo and k >= head and c_add == 0.0 and pm[k] == 0.0 and pmix[k, 0] == f_pv and pmix[k, 1] == f_grid:
                pe[k] += s_add
            elif fifo or tail == head:
                if not fifo:
                    head = 0
                    tail = 0
                pe[tail] = s_add
                pm[tail] = c_add
                pmix[tail, 0] = f_pv
                pmix[tail, 1] = f_grid
                pmix[tail, 2] = f_diesel
                tail += 1
            else:
                k = head
                s_keep = max(pe[k], 0.0)
                s_new = s_keep + s_add
                if s_new > 1e-12:
                    pmix[k, 0] = (s_keep * pmix[k, 0] + s_add * f_pv) / s_new
                    pmix[k, 1] = (s_keep * pmix[k, 1] + s_add * f_grid) / s_new
                    pmix[k, 2] = (s_keep * pmix[k, 2] + s_add * f_diesel) / s_new
                pe[k] = s_new
                pm[k] += c_add
        # end-of-interval stock and its mix; the carbon stock is summed over the parcels (not carried as a
        # running total), so it is a function of the queue alone and a resumed chain gives the same bits
        s_end = 0.0
        m_tot = 0.0
        b_pv = 0.0
        b_grid = 0.0
        b_diesel = 0.0
        for k in range(head, tail):
            s_end += pe[k]
            m_tot += pm[k]
            b_pv += pe[k] * pmix[k, 0]
            b_grid += pe[k] * pmix[k, 1]
            b_diesel += pe[k] * pmix[k, 2]
        if s_end > 1e-12:
            b_pv /= s_end
            b_grid /= s_end
            b_diesel /= s_end
        # losses: charge losses (bus mix), discharge losses (taken mix), self-discharge, dump (bus mix)
        l_ch = bat_in[t] * (1.0 - eta_c)
        l_dis = need - bat_out[t]
        loss = l_ch + l_dis + sd + dump[t]
        out[t, 0] = e_bus
        out[t, 1] = e_bat
        out[t, 2] = grid_co2[t]
        out[t, 3] = diesel_co2[t]
        out[t, 4] = load[t] * e_share
        out[t, 5] = grid_out[t] * e_share
        # fuel burnt with no energy delivered (an idle genset held on) is a loss
        out[t, 6] = dump[t] * e_share if delivered else co2_in
        out[t, 7] = m_tot
        out[t, 8] = f_pv
        out[t, 9] = f_grid
        out[t, 10] = f_diesel
        out[t, 11] = s_end
        out[t, 12] = b_pv
        out[t, 13] = b_grid
        out[t, 14] = b_diesel
        out[t, 15] = loss
        if loss > 1e-12:
            out[t, 16] = ((l_ch + dump[t]) * f_pv + l_dis * x_pv + sd_pv) / loss
            out[t, 17] = ((l_ch + dump[t]) * f_grid + l_dis * x_grid + sd_grid) / loss
            out[t, 18] = ((l_ch + dump[t]) * f_diesel + l_dis * x_diesel + sd_diesel) / loss
        else:
            out[t, 16] = 0.0
            out[t, 17] = 0.0
            out[t, 18] = 0.0
    ends[0] = head
    ends[1] = tail


@numba.njit(cache=True)
def pool_kernel(
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
    """The pool rule from the opening charge (:meth:`CarbonState.opening`; used inside the sizing kernel)."""
    pe = np.array([soc_init])
    pm = np.array([soc_init * OPENING_CO2_KG_PER_KWH])
    pmix = np.array([[0.0, 1.0, 0.0]])
    ends = np.array([0, 1])
    _kernel(
        pv, grid_in, diesel, bat_out, bat_in, selfdis, grid_co2, diesel_co2, load, grid_out, dump,
        eta_c, eta_d, False, pe, pm, pmix, ends, out,
    )  # fmt: skip


#: The flow columns the kernel reads [kWh, L].
KERNEL_INPUTS: tuple[str, ...] = (
    "pv_used_kwh",
    "grid_in_kwh",
    "diesel_kwh",
    "bat_out_kwh",
    "bat_in_kwh",
    "bat_selfdis_kwh",
    "fuel_l",
    "load_served_kwh",
    "grid_out_kwh",
    "dump_kwh",
)


def _check_rule(rule: str) -> None:
    if rule not in BATTERY_RULES:
        raise SiteFileError(
            "unknown battery carbon rule",
            field="carbon.battery_rule",
            value=rule,
            allowed="pool, fifo",
            fix="use 'pool' (the default) or 'fifo'",
        )


def carbon_flow_arrays(
    columns: Mapping[str, np.ndarray],
    grid_co2_kg_per_kwh: np.ndarray | float,
    diesel_co2_kg_per_l: float,
    state: CarbonState,
    eta_charge: float,
    eta_discharge: float,
    rule: str = "pool",
    rtol: float = 1e-9,
    index: pd.Index | None = None,
) -> tuple[np.ndarray, CarbonState]:
    """:func:`carbon_flow_state` on plain arrays: no DataFrame in or out (the ledger's hot path).

    Parameters
    ----------
    columns : mapping of str to ndarray
        At least :data:`KERNEL_INPUTS`, float64, one value per interval [kWh, L].
    grid_co2_kg_per_kwh, diesel_co2_kg_per_l, state, eta_charge, eta_discharge, rule, rtol
        As in :func:`carbon_flow_state`; ``index`` names the interval in a conservation error.

    Returns
    -------
    (ndarray, CarbonState)
        ``(n, len(CARBON_COLUMNS))`` float64 in :data:`CARBON_COLUMNS` order; the state after the last interval.
    """
    _check_rule(rule)

    def col(name: str) -> np.ndarray:
        return np.ascontiguousarray(columns[name], dtype=np.float64)

    grid_in = col("grid_in_kwh")
    n = len(grid_in)
    grid_co2 = np.ascontiguousarray(grid_in * np.asarray(grid_co2_kg_per_kwh, dtype=np.float64))
    diesel_co2 = np.ascontiguousarray(col("fuel_l") * float(diesel_co2_kg_per_l))
    k0 = len(state.parcels)
    size = k0 + n + 1
    pe = np.zeros(size)
    pm = np.zeros(size)
    pmix = np.zeros((size, 3))
    for i, (e, c, a, b, d) in enumerate(state.parcels):
        pe[i], pm[i], pmix[i] = e, c, (a, b, d)
    ends = np.array([0, k0], dtype=np.int64)
    out = np.empty((n, _NCOL), order="F")  # column-major: the frame and the checks take columns without a copy
    _kernel(
        col("pv_used_kwh"),
        grid_in,
        col("diesel_kwh"),
        col("bat_out_kwh"),
        col("bat_in_kwh"),
        col("bat_selfdis_kwh"),
        grid_co2,
        diesel_co2,
        col("load_served_kwh"),
        col("grid_out_kwh"),
        col("dump_kwh"),
        float(eta_charge),
        float(eta_discharge),
        rule == "fifo",
        pe,
        pm,
        pmix,
        ends,
        out,
    )
    _check_conservation_array(out, rtol, state.co2_kg, index)
    h, t = int(ends[0]), int(ends[1])
    new = CarbonState(
        tuple(
            (float(pe[k]), float(pm[k]), float(pmix[k, 0]), float(pmix[k, 1]), float(pmix[k, 2])) for k in range(h, t)
        )
    )
    return out, new


def carbon_flow_state(
    flows: pd.DataFrame,
    grid_co2_kg_per_kwh: np.ndarray | float,
    diesel_co2_kg_per_l: float,
    state: CarbonState,
    eta_charge: float,
    eta_discharge: float,
    rule: str = "pool",
    rtol: float = 1e-9,
) -> tuple[pd.DataFrame, CarbonState]:
    """Carbon flow continuing from ``state``; returns the frame and the state after the last interval.

    Parameters
    ----------
    flows : pandas.DataFrame
        Per-interval flows with the columns of :data:`islandgrid.strategy.base.FLOW_COLUMNS` [kWh, L].
    grid_co2_kg_per_kwh : ndarray or float
        Grid factor per interval [kg/kWh].
    diesel_co2_kg_per_l : float
        Diesel emission factor [kg/L].
    state : CarbonState
        What the battery holds before the first interval.
    eta_charge, eta_discharge : float
        Battery one-way efficiencies [-].
    rule : {'pool', 'fifo'}
        How the battery mixes what it stores.
    rtol : float
        Relative tolerance of the conservation check.

    Returns
    -------
    (pandas.DataFrame, CarbonState)
        :data:`CARBON_COLUMNS` on the flows' index, and the state after the last interval.
    """
    _check_rule(rule)
    columns = {name: flows[name].to_numpy(dtype=np.float64) for name in KERNEL_INPUTS}
    out, new = carbon_flow_arrays(
        columns,
        grid_co2_kg_per_kwh,
        diesel_co2_kg_per_l,
        state,
        eta_charge,
        eta_discharge,
        rule=rule,
        rtol=rtol,
        index=flows.index,
    )
    return pd.DataFrame(out, index=flows.index, columns=list(CARBON_COLUMNS), copy=False), new


def carbon_flow(
    flows: pd.DataFrame,
    grid_co2_kg_per_kwh: np.ndarray | float,
    diesel_co2_kg_per_l: float,
    soc_init_kwh: float,
    eta_charge: float,
    eta_discharge: float,
    rtol: float = 1e-9,
    rule: str = "pool",
) -> pd.DataFrame:
    """Attribute sources and carbon to every interval's load, export, losses and battery stock.

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
    rule : {'pool', 'fifo'}
        Battery mixing rule (site file ``carbon.battery_rule``).

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
    frame, _ = carbon_flow_state(
        flows,
        grid_co2_kg_per_kwh,
        diesel_co2_kg_per_l,
        CarbonState.opening(soc_init_kwh),
        eta_charge,
        eta_discharge,
        rule=rule,
        rtol=rtol,
    )
    return frame


def check_conservation(carbon: pd.DataFrame, rtol: float = 1e-9, initial_stock_kg: float = 0.0) -> None:
    """Raise :class:`CarbonConservationError` unless, in every interval, carbon in equals carbon out plus stock change.

    Parameters
    ----------
    carbon : pandas.DataFrame
        A carbon-flow frame (:data:`CARBON_COLUMNS`).
    rtol : float
        Tolerance relative to the period's total emissions [-].
    initial_stock_kg : float
        The battery's carbon stock before the first interval [kg].
    """
    _check_conservation_array(
        carbon[list(CARBON_COLUMNS)].to_numpy(dtype=np.float64), rtol, initial_stock_kg, carbon.index
    )


_I_GRID = CARBON_COLUMNS.index("grid_co2_kg")
_I_DIESEL = CARBON_COLUMNS.index("diesel_co2_kg")
_I_LOAD = CARBON_COLUMNS.index("load_co2_kg")
_I_EXPORT = CARBON_COLUMNS.index("export_co2_kg")
_I_DUMP = CARBON_COLUMNS.index("dump_co2_kg")
_I_STOCK = CARBON_COLUMNS.index("bat_co2_stock_kg")


def _check_conservation_array(out: np.ndarray, rtol: float, initial_stock_kg: float, index: pd.Index | None) -> None:
    """:func:`check_conservation` on the kernel's ``(n, len(CARBON_COLUMNS))`` array."""
    emitted = out[:, _I_GRID] + out[:, _I_DIESEL]
    carried = out[:, _I_LOAD] + out[:, _I_EXPORT] + out[:, _I_DUMP]
    stock = out[:, _I_STOCK]
    delta = np.diff(stock, prepend=initial_stock_kg)
    per_step = emitted - carried - delta
    scale = max(float(emitted.sum()), float(np.abs(stock).max(initial=0.0)), 1.0)
    bad = ~(np.abs(per_step) <= rtol * scale + 1e-9)  # NaN counts as a failure
    if bad.any():
        i = int(np.argmax(bad))
        where = f" ({index[i]})" if index is not None else ""
        raise CarbonConservationError(
            f"carbon not conserved at interval {i}{where}: in {emitted[i]:.9g} kg, "
            f"out {carried[i]:.9g} kg, stock change {delta[i]:.9g} kg"
        )


def pv_share(load_served_kwh: np.ndarray | pd.Series, load_pv_frac: np.ndarray | pd.Series) -> float:
    """``pv_share`` (REopt's delivered-RE share, PV only): load energy from PV (via the battery) over load served [-].

    The one definition: the simulation KPIs and the carbon report both call this.
    """
    served = np.asarray(load_served_kwh, dtype=float)
    total = float(served.sum())
    return float((served * np.asarray(load_pv_frac, dtype=float)).sum()) / total if total > 0 else 0.0
