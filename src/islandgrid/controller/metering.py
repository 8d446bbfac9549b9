"""Metering: each interval's flows from the devices' energy counters, into the carbon ledger.

Every ``meter_interval_s`` (60 s of twin time by default, aligned to the clock) the
controller differences the accumulators of the five devices (PV, PCS in/out/self-discharge,
genset energy and fuel, PCC import/export, load served/demanded) into one row with the
:data:`~islandgrid.strategy.base.FLOW_COLUMNS` and appends it to a :class:`FlowSink`
with quality 'measured'. An interval whose counters could not all be read is not
written: the ledger sees the gap and flags it, as it does across a controller restart.
An interval during which (or at whose start) one metering device's data was stale (its
heartbeat frozen: it answered with an old image, so its counters did not move, and then
jumped) is written with quality 'estimated' and the ledger flag ``stale``: that device's
columns are not its counters but the bus balance of the four fresh devices (one equation,
one unknown; :func:`estimate_by_balance`). With two or more devices stale the interval has
more unknowns than equations and becomes a gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from islandgrid.components.genset import GensetParams
from islandgrid.ledger.record import FLAG_STALE
from islandgrid.site.spec import Site
from islandgrid.strategy.base import FLOW_COLUMNS

#: (device, point) of every accumulator the meter differences.
COUNTERS: dict[str, tuple[str, str]] = {
    "pv_used_kwh": ("pv", "e_kwh"),
    "pv_available_kwh": ("pv", "e_avail_kwh"),
    "bat_out_kwh": ("pcs", "e_out_kwh"),
    "bat_in_kwh": ("pcs", "e_in_kwh"),
    "bat_selfdis_kwh": ("pcs", "e_selfdis_kwh"),
    "diesel_kwh": ("genset", "e_kwh"),
    "fuel_l": ("genset", "fuel_l"),
    "grid_in_kwh": ("pcc", "e_import_kwh"),
    "grid_out_kwh": ("pcc", "e_export_kwh"),
    "load_served_kwh": ("load", "e_kwh"),
    "critical_served_kwh": ("load", "e_critical_kwh"),
    "load_kwh": ("load", "e_demand_kwh"),
    "critical_load_kwh": ("load", "e_critical_demand_kwh"),
}


class FlowSink(Protocol):
    """Where metered intervals go: the carbon ledger's store, or memory in tests."""

    def append_flows(self, site: Site, flows: pd.DataFrame, quality: str = "measured", flags: int = 0) -> int:
        """Append rows (tz-aware index, constant step, FLOW_COLUMNS) with extra flag bits; returns rows written."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


class MemorySink:
    """An in-memory :class:`FlowSink` (tests, and ``serve`` without ``--db``)."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []

    def append_flows(self, site: Site, flows: pd.DataFrame, quality: str = "measured", flags: int = 0) -> int:
        """Keep the rows, with their quality and flags."""
        self.frames.append(flows.assign(quality=quality, flags=flags))
        return len(flows)

    def frame(self) -> pd.DataFrame:
        """Everything appended, in order."""
        return pd.concat(self.frames) if self.frames else pd.DataFrame(columns=[*FLOW_COLUMNS, "quality", "flags"])

    def close(self) -> None:
        """Nothing to release."""


class LedgerSink:
    """The carbon ledger store (``islandgrid.ledger.open_ledger``) as a :class:`FlowSink`."""

    def __init__(self, path: str) -> None:
        from islandgrid.ledger import open_ledger  # the ledger issue's store

        self.store: Any = open_ledger(path)

    def append_flows(self, site: Site, flows: pd.DataFrame, quality: str = "measured", flags: int = 0) -> int:
        """Append through the store (it continues the hash chain and flags gaps).

        The interval length is the site's ``controller.meter_interval_s``: a one-row append
        has no index step, and the store needs it to start a chain and to find gaps.
        """
        dt_s = int(site.controller.meter_interval_s)
        return int(self.store.append_flows(site, flows, quality=quality, dt_s=dt_s, flags=flags))

    def carbon_state(self, site: Site) -> Any:
        """The battery's carbon state after the chain's last record (a ``CarbonState``), or None for a new chain.

        The controller's status continues its own carbon flow from here, so the battery's
        intensity survives a restart of ``serve``; it is the state the store's next append
        continues from.
        """
        from islandgrid.ledger.batch import site_id_of

        return self.store.battery_state(site_id_of(site))

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def estimate_by_balance(row: dict[str, float], device: str, fuel_l: Callable[[float], float]) -> None:
    """Replace ``device``'s energies in ``row`` by the bus balance of the other devices (in place) [kWh].

    ``pv_used + grid_in + diesel + bat_out = load_served + bat_in + grid_out + dump`` with the dump
    taken as 0 (a frozen device cannot tell a surplus from its own flow); the unknown side is
    clipped at 0. PV: available = used (no curtailment seen). PCS: no self-discharge.
    Genset: ``fuel_l(diesel_kwh)`` from its fuel curve. Load meter: demand = served, and the
    critical split is unknown (both 0, so no critical unserved energy is claimed).
    """
    r = row
    if device == "pv":
        r["pv_used_kwh"] = max(r["load_served_kwh"] + r["bat_in_kwh"] + r["grid_out_kwh"]
                               - r["grid_in_kwh"] - r["diesel_kwh"] - r["bat_out_kwh"], 0.0)  # fmt: skip
        r["pv_available_kwh"] = r["pv_used_kwh"]
    elif device == "pcs":
        net = r["load_served_kwh"] + r["grid_out_kwh"] - r["pv_used_kwh"] - r["grid_in_kwh"] - r["diesel_kwh"]
        r["bat_out_kwh"], r["bat_in_kwh"], r["bat_selfdis_kwh"] = max(net, 0.0), max(-net, 0.0), 0.0
    elif device == "genset":
        r["diesel_kwh"] = max(r["load_served_kwh"] + r["bat_in_kwh"] + r["grid_out_kwh"]
                              - r["pv_used_kwh"] - r["grid_in_kwh"] - r["bat_out_kwh"], 0.0)  # fmt: skip
        r["fuel_l"] = fuel_l(r["diesel_kwh"])
    elif device == "pcc":
        net = r["load_served_kwh"] + r["bat_in_kwh"] - r["pv_used_kwh"] - r["diesel_kwh"] - r["bat_out_kwh"]
        r["grid_in_kwh"], r["grid_out_kwh"] = max(net, 0.0), max(-net, 0.0)
    elif device == "load":
        served = r["pv_used_kwh"] + r["grid_in_kwh"] + r["diesel_kwh"] + r["bat_out_kwh"]
        r["load_served_kwh"] = r["load_kwh"] = max(served - r["bat_in_kwh"] - r["grid_out_kwh"], 0.0)
        r["critical_served_kwh"] = r["critical_load_kwh"] = 0.0
    else:
        raise KeyError(device)


def fuel_estimator(genset: GensetParams, interval_s: float) -> Callable[[float], float]:
    """Fuel of ``kwh`` generated over one interval at constant power, from the set's fuel curve [L]."""
    h = interval_s / 3600.0
    return lambda kwh: float(genset.fuel_l_per_h(kwh / h)) * h if kwh > 0 else 0.0


def _delta(now: float, before: float) -> float:
    d = now - before
    return d if d >= 0 else 0.0  # a counter reset (device restart) gives no energy, not negative


class Meter:
    """Turns counter readings into interval rows.

    Parameters
    ----------
    interval_s : float
        Interval length [s]; intervals are aligned to multiples of it in UNIX time.
    tz : str
        Site time zone for the row index.
    """

    def __init__(
        self,
        interval_s: float,
        tz: str,
        write: Callable[[pd.DataFrame, int], None],
        fuel_l: Callable[[float], float] = lambda kwh: 0.0,
    ) -> None:
        self.interval_s = interval_s
        self.tz = tz
        self.write = write
        self.fuel_l = fuel_l
        self.base: dict[str, float] | None = None
        self.base_epoch_s: float | None = None
        self.n_ticks = 0
        self.n_grid_ok = 0
        self.n_genset_on = 0
        self.rows = 0
        self.gaps = 0
        self.stale: set[str] = set()  # devices whose data was stale during this interval or at its start
        self.stale_rows = 0
        self._first_boundary: float | None = None

    def tick(
        self,
        epoch_s: float,
        counters: dict[str, float] | None,
        soc_kwh: float,
        grid_ok: bool,
        genset_on: bool,
        stale: frozenset[str] = frozenset(),
    ):
        """Account one fast-loop tick; writes a row at each interval boundary.

        ``counters`` is None when a device could not be read this tick; ``stale`` names the metering
        devices that answered with frozen data. Returns the row written (a dict) or None.
        """
        self.n_ticks += 1
        self.stale |= stale
        self.n_grid_ok += int(grid_ok)
        self.n_genset_on += int(genset_on)
        boundary = math.floor(epoch_s / self.interval_s + 1e-9) * self.interval_s
        if self.base_epoch_s is None:
            # start at the first boundary crossed, so that no row covers part of an interval
            if self._first_boundary is None:
                self._first_boundary = boundary
            elif boundary > self._first_boundary and counters is not None:
                self._rebase(boundary, counters, stale)
            return None
        if boundary < self.base_epoch_s + self.interval_s:
            return None
        if counters is None:
            return None  # keep waiting; if it spans more than one interval it becomes a gap
        row = None
        if boundary - self.base_epoch_s < 1.5 * self.interval_s and self.base is not None and len(self.stale) <= 1:
            row = {k: _delta(counters[k], self.base[k]) for k in COUNTERS}
            for dev in self.stale:
                estimate_by_balance(row, dev, self.fuel_l)
            crit_served = row.pop("critical_served_kwh")
            row["unserved_kwh"] = max(row["load_kwh"] - row["load_served_kwh"], 0.0)
            row["unserved_critical_kwh"] = max(row["critical_load_kwh"] - crit_served, 0.0)
            row["pv_curtailed_kwh"] = max(row["pv_available_kwh"] - row["pv_used_kwh"], 0.0)
            supply = row["pv_used_kwh"] + row["grid_in_kwh"] + row["diesel_kwh"] + row["bat_out_kwh"]
            demand = row["load_served_kwh"] + row["bat_in_kwh"] + row["grid_out_kwh"]
            row["dump_kwh"] = max(supply - demand, 0.0)
            row["soc_kwh"] = soc_kwh
            row["genset_on"] = 1.0 if self.n_genset_on > 0 else 0.0
            row["grid_available"] = 1.0 if self.n_grid_ok * 2 >= self.n_ticks else 0.0
            ts = pd.Timestamp(self.base_epoch_s, unit="s", tz="UTC").tz_convert(self.tz)
            df = pd.DataFrame(
                [{c: float(row[c]) for c in FLOW_COLUMNS}], index=pd.DatetimeIndex([ts], name="timestamp")
            )
            self.write(df, FLAG_STALE if self.stale else 0)
            self.rows += 1
            self.stale_rows += int(bool(self.stale))
            row["ts_epoch_s"] = self.base_epoch_s
        else:
            self.gaps += 1
        self._rebase(boundary, counters, stale)
        return row

    def _rebase(self, boundary: float, counters: dict[str, float], stale: frozenset[str]) -> None:
        self.base = dict(counters)
        self.base_epoch_s = boundary
        self.stale = set(stale)  # counters read stale at the start count for the interval they start
        self.n_ticks = self.n_grid_ok = self.n_genset_on = 0
