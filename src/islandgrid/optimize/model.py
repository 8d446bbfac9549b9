"""The plant's dispatch model: ONE LP/MILP builder, used by the perfect-foresight optimiser (the whole
period) and by the MPC (one window of its rolling horizon). Built with numpy, no modelling layer.

Variables, per interval t of the horizon [kWh in the interval]:

=========  ==============================================  =====================================
pv         PV into the bus (pv_used)                        0 .. pv_available (curtailment free)
gin, gout  grid import / export                             0 .. limit x dt, 0 while the grid is down
bin, bout  battery charge / discharge (AC side)             0 .. power limit x dt
dsl        genset output                                    0 .. rated x dt
e          stored energy above SoC min, end of interval     0 .. soc_max - soc_min (soft: >= -soc_min)
shed       non-critical unserved load                       0 .. load - critical
shedc      critical unserved load                           0 .. critical
ures       stored energy missing below the islanding        0 .. reserve - soc_min, while the grid
           reserve                                          is up
dump       genset minimum-load surplus (MILP only)          0 .. rated x dt
umin, omax stored energy below SoC min / above SoC max      soft SoC bounds only (the MPC: a
                                                            measured state may lie outside)
=========  ==============================================  =====================================

and, MILP only, per genset block (an hour, or the interval if longer) ``on`` (binary) and
``start`` (>= 0).

Rows:

- bus, every t:  pv + gin + dsl + bout + shed + shedc - bin - gout - dump = load
- battery, every t:  e_t - a e_{t-1} - eta_c bin_t + bout_t / eta_d = (e0 at t = 0), a = 1 - s dt
  (see *Self-discharge*);
- reserve, grid-up t:  e_t + ures_t >= reserve - soc_min (a soft floor while grid-tied, priced by
  ``Penalties.reserve_per_kwh_h``; when islanded the reserve is there to be used, as in the rules);
- soft SoC bounds:  e_t + umin_t >= 0,  e_t - omax_t <= soc_max - soc_min;
- MILP:  min x dt x on <= dsl <= rated x dt x on;  optionally (``Formulation.direct_use_cut``, the
  MPC window) the direct-use valid inequality
  dsl - bin - gout - dump <= min(load, rated x dt) x on (diesel beyond what the load takes while the
  genset is on must be stored, exported or dumped: valid for every integer schedule, it cuts off the
  relaxation's fractional genset at full-load efficiency feeding the load directly, and lifts an
  islanded window's LP bound from ~5 % to ~1 % under the MILP optimum);  start_b >= on_b - on_{b-1}
  (``on_{-1}``: the genset's initial state);  sum of the last ceil(min_run_h) starts <= on_b (not
  in a block the grid, import > 0, starts up: the rules' grid-return policy);  on_{b-m} + sum of
  the last m starts <= 1 with m = ceil(min_off_h) blocks (minimum off time; ``on_{-1}`` the initial
  state, earlier blocks off); a genset measured on inside its minimum run time is held on through
  the first block unless the grid is back.
  Binaries are free only in blocks where commitment can matter (:func:`live_blocks`) and fixed off
  elsewhere. That restriction can only raise the MILP's cost; the optimiser's reported gap to the
  unrestricted LP bound covers it. The genset's start delay is not modelled (the plan starts it in
  time; the battery bridges the seconds).

Self-discharge. The rule engine (:mod:`islandgrid.strategy.rules`, step 1) takes
``min(s dt soc, soc - soc_min)`` from the stored energy at the start of every interval, before any
flow: the rate ``s`` [1/h] on the stored energy, never below SoC min (the BMS holds the cells
there). That loss is concave in the SoC (the floor), which no LP can state exactly; the model takes
it on the stored energy ABOVE SoC min, ``s dt (soc - soc_min)``, at the same point of the interval.
This is the rules' loss at SoC min (0: the floor holds for free, as under the rules) and never more
than the rules' loss anywhere (it differs from it by at most ``s dt soc_min`` per interval, 0.0002 %
of the battery an hour at 0.05 %/day and SoC min 10 %), so the perfect-foresight optimum stays a
lower bound on every rule strategy; the state variable is shifted to SoC min for this reason. A
measured state below SoC min (MPC) loses nothing in its first interval, as under the rules. A plan
that the plant will follow must not count on the difference: the MPC's window keeps it as a margin
above SoC min (``Formulation.selfdis_margin``; at most s dt soc_min per interval, compounded).

Objective [currency]: grid import at tariff + carbon price x grid factor, minus export at the
export price, fuel at (fuel price + carbon price x kg CO2/L) per litre, unserved energy (critical
much higher), reserve shortfall, SoC outside its bounds (soft bounds), the discharge tie-break,
and in the MILP the no-load fuel per running block, a start cost and the dump penalty; minus the
terminal value of the stored energy with ``end_soc='terminal'``. Curtailment is free.
The prices of the slacks are :class:`Penalties`, one set for the optimiser and the MPC.

Fuel. MILP: HOMER's curve exactly, F0 x nameplate x dt per running block-interval plus F1 per
kWh (HOMER Pro manual, "Generator fuel curve"). LP: the genset has no commitment; running at
``dsl`` for an interval is read as running at rated power for the fraction dsl / (rated x dt) of
it (the rule engine's run fraction), so the fuel is F1 x dsl + F0 x nameplate x dsl / rated: one
linear price per kWh. This LP is the LP relaxation of the MILP without its start costs, hence a
valid lower bound on it.

End of the horizon: ``end_soc='free'`` (default; the battery may end anywhere, the same freedom the
rules have, so the optimum bounds every rule), ``'initial'`` (end at least where it started: no
energy is borrowed from the battery over the period) or ``'terminal'`` (the MPC's window: each kWh
stored at the end is worth the cheapest grid-up import price of the horizon times eta_d, worth
keeping, never worth buying from the grid just to hold). Every horizon starts at its initial state
(:class:`InitialState`); a PyPSA-style cyclic state (start free, end = start) is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from islandgrid.errors import InputError
from islandgrid.strategy.base import DispatchProblem

#: Per-interval column kinds, in column order.
KINDS: tuple[str, ...] = (
    "pv", "gin", "gout", "bin", "bout", "dsl", "e", "shed", "shedc", "ures", "dump", "umin", "omax",
)  # fmt: skip
MODES: tuple[str, ...] = ("lp", "milp")
END_SOC: tuple[str, ...] = ("free", "initial")
#: End rules of the builder: the user's (:data:`END_SOC`) and the MPC window's terminal value.
END_RULES: tuple[str, ...] = (*END_SOC, "terminal")


@dataclass(frozen=True)
class Penalties:
    """Penalty prices of the dispatch model, the optimiser's and the MPC's [currency per kWh unless noted].

    Attributes
    ----------
    shed_per_kwh, shed_critical_per_kwh : float
        Value of lost load, non-critical and critical [currency/kWh].
    reserve_per_kwh_h : float
        Stored energy below the islanding reserve while grid-tied [currency/(kWh h)]: far above any
        tariff, so the reserve is kept whenever it can be; per hour, so that the answer does not depend
        on the step length. 0 drops the reserve: perfect foresight knows every outage, so this gives the
        bound also for strategies that ignore the reserve (HOMER's load following and cycle charging).
    soc_bound_per_kwh : float
        Stored energy below SoC min or above SoC max, per interval [currency/kWh] (soft bounds, used only
        when a measured state forces it): far above the value of lost load.
    discharge_per_kwh : float
        Tie-break on battery discharge [currency/kWh]: with eta_c eta_d = 1 the only cost that rules out
        simultaneous charge and discharge (with losses, the losses already do); far below any tariff
        difference, so it decides only between otherwise equal dispatches.
    dump_per_kwh : float
        Genset minimum-load surplus thrown away (MILP) [currency/kWh].
    start_h_of_noload_fuel : float
        Start cost as hours of no-load fuel [h] (MILP).
    """

    shed_per_kwh: float = 20.0
    shed_critical_per_kwh: float = 100.0
    reserve_per_kwh_h: float = 5.0
    soc_bound_per_kwh: float = 1000.0
    discharge_per_kwh: float = 1e-4
    dump_per_kwh: float = 0.01
    start_h_of_noload_fuel: float = 0.25


@dataclass(frozen=True)
class Horizon:
    """The series over the model's horizon and the reserve it holds.

    Attributes
    ----------
    pv_kw, load_kw, critical_kw : ndarray
        [kW] per interval.
    grid_available : ndarray of float
        Grid-connected share of each interval [-] (the import and export limits scale with it).
    import_price, export_price, grid_co2 : ndarray
        [currency/kWh], [currency/kWh], [kg/kWh].
    reserve_kwh : float
        Islanding reserve held while the grid is up [kWh].
    """

    pv_kw: np.ndarray
    load_kw: np.ndarray
    critical_kw: np.ndarray
    grid_available: np.ndarray
    import_price: np.ndarray
    export_price: np.ndarray
    grid_co2: np.ndarray
    reserve_kwh: float

    @classmethod
    def of(cls, problem: DispatchProblem, start: int = 0, stop: int | None = None) -> Horizon:
        """Intervals [start, stop) of ``problem`` with the site file's reserve."""
        sl = slice(start, problem.n if stop is None else stop)
        return cls(
            pv_kw=np.asarray(problem.pv_kw, dtype=float)[sl],
            load_kw=np.asarray(problem.load_kw, dtype=float)[sl],
            critical_kw=np.asarray(problem.critical_kw, dtype=float)[sl],
            grid_available=np.asarray(problem.grid_available, dtype=float)[sl],
            import_price=np.asarray(problem.import_price_per_kwh, dtype=float)[sl],
            export_price=np.asarray(problem.export_price_per_kwh, dtype=float)[sl],
            grid_co2=np.asarray(problem.grid_co2_kg_per_kwh, dtype=float)[sl],
            reserve_kwh=problem.battery.reserve_kwh,
        )

    @property
    def n(self) -> int:
        """Number of intervals."""
        return len(self.pv_kw)


@dataclass(frozen=True)
class InitialState:
    """The state the horizon starts from.

    Attributes
    ----------
    soc_kwh : float
        Stored energy [kWh]; may lie outside [soc_min, soc_max] with soft SoC bounds.
    genset_on : bool
        Whether the genset is running.
    run_h : float
        How long it has run since its start [h].
    """

    soc_kwh: float
    genset_on: bool = False
    run_h: float = 0.0


@dataclass(frozen=True)
class Formulation:
    """How the plant is written.

    Attributes
    ----------
    mode : {'lp', 'milp'}
        Linear genset (LP) or genset commitment by blocks (MILP; its binaries are flagged in
        :attr:`Model.integrality`, so the same model is also its own LP relaxation).
    end_soc : {'free', 'initial', 'terminal'}
        End-of-horizon rule (module docstring).
    soft_soc : bool
        SoC bounds as priced slacks (umin, omax) rather than column bounds: any measured state is
        admissible (the MPC; EMHASS issues #390 and #1049 are the failure of a hard bound here).
    fixed_structure : bool
        Every kind at every interval, whatever the data (zero bounds instead of absent columns), so
        that a re-solve with new data changes only bounds, costs and coefficients (the MPC's window);
        otherwise kinds that can only be 0 are left out (the optimiser's year).
    direct_use_cut : bool
        Add the direct-use valid inequality (MILP). It never changes the MILP's optimum, only
        tightens its relaxation: the MPC's rounding heuristic starts from that relaxation, so the
        window has it; the optimiser's year does not (measured on the example's year made
        islanded, 8760 live blocks: with it HiGHS's branch and bound overran its 30 s time limit
        by 27 s, for a gap of 55 % instead of 64 % at the limit).
    selfdis_margin : bool
        Keep the plan's stored energy at interval k at least ``(1 - a^(k+1)) soc_min`` above SoC
        min (soft bounds only): the most by which the rules' self-discharge can exceed the model's by
        then (module docstring), so that a plan the plant follows does not reach SoC min early (the
        MPC window; without it a plan that empties the battery exactly at an outage's end left the
        realisation 4 Wh short and started the genset, three times a year on the example).
    e_end_kwh : float or None
        Fix the stored energy above SoC min at the end [kWh] (the time decomposition; overrides
        ``end_soc``).
    """

    mode: str = "lp"
    end_soc: str = "free"
    soft_soc: bool = False
    fixed_structure: bool = False
    direct_use_cut: bool = False
    selfdis_margin: bool = False
    e_end_kwh: float | None = None


@dataclass
class Model:
    """An assembled LP/MILP in HiGHS's column-wise form plus the map back to the flows.

    Attributes
    ----------
    cost, col_lower, col_upper : ndarray
        Per column.
    row_lower, row_upper : ndarray
        Per row.
    start, index, value : ndarray
        The constraint matrix, compressed sparse column.
    integrality : ndarray or None
        1 for the genset binaries (MILP), else None.
    offset : float
        Constant of the objective [currency].
    cols : dict
        Kind -> (first column, times) of the per-interval kinds present; 'on' and 'start' -> (first
        column, blocks) in the MILP.
    rows : dict
        'bal', 'soc', 'res', 'umin', 'omax', 'gmax', 'gmin', 'direct' -> (first row, times); 'start',
        'minrun' -> (first row, blocks).
    """

    problem: DispatchProblem
    horizon: Horizon
    form: Formulation
    penalties: Penalties
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integrality: np.ndarray | None
    offset: float = 0.0
    cols: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    rows: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)
    e_init_kwh: float = 0.0
    decay: float = 1.0
    spb: int = 1
    r_soc: int = 0

    @property
    def mode(self) -> str:
        """'lp' or 'milp'."""
        return self.form.mode

    @property
    def end_soc(self) -> str:
        """The end-of-horizon rule."""
        return self.form.end_soc

    @property
    def n_t(self) -> int:
        """Intervals in the horizon."""
        return self.horizon.n

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.row_lower)

    def values(self, x: np.ndarray, kind: str) -> np.ndarray:
        """Per-interval values of ``kind`` from a solution ``x`` (0 where the kind has no column)."""
        out = np.zeros(self.n_t)
        if kind in self.cols:
            c0, times = self.cols[kind]
            out[times] = x[c0 : c0 + len(times)]
        return out


def validate_options(mode: str, end_soc: str, time_limit_s: float = 1.0, mip_rel_gap: float = 0.0) -> None:
    """Raise :class:`InputError` on options the optimiser cannot take."""
    if mode not in MODES:
        raise InputError(
            "unknown optimisation mode", field="mode", value=mode, allowed=", ".join(MODES), fix="use lp or milp"
        )
    if end_soc not in END_SOC:
        raise InputError(
            "unknown end-of-period SoC rule",
            field="end_soc",
            value=end_soc,
            allowed=", ".join(END_SOC),
            fix="use free (end anywhere) or initial (end at least at the start SoC)",
        )
    if not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(
            "the solver time limit must be a positive number of seconds",
            field="time_limit_s",
            value=time_limit_s,
            allowed="> 0",
            fix="give e.g. --time-limit 300",
        )
    if not (0.0 <= mip_rel_gap < 1.0):
        raise InputError(
            "the relative MIP gap must lie in [0, 1)",
            field="mip_rel_gap",
            value=mip_rel_gap,
            allowed="0 <= gap < 1",
            fix="give e.g. --mip-gap 0.001",
        )


def validate(problem: DispatchProblem, mode: str, end_soc: str) -> None:
    """Raise :class:`InputError` on options or data the optimiser cannot take."""
    validate_options(mode, end_soc)
    if problem.n == 0:
        raise InputError("the problem has no intervals", field="index", value=0, fix="give at least one interval")
    b = problem.battery
    if b.energy_kwh > 0 and b.soc_init_kwh < b.soc_min_kwh - 1e-9:
        raise InputError(
            "the optimiser starts at the initial SoC, which lies below SoC min",
            field="battery.soc_init_frac",
            value=b.soc_init_kwh,
            allowed=f">= soc_min ({b.soc_min_kwh} kWh)",
            fix="raise soc_init_frac to at least soc_min_frac",
        )
    for name in ("pv_kw", "load_kw", "critical_kw", "import_price_per_kwh", "export_price_per_kwh"):
        arr = np.asarray(getattr(problem, name), dtype=float)
        if not np.isfinite(arr).all():
            raise InputError("contains NaN or infinite values", field=name, value="non-finite", fix="fill the gaps")


def fuel_cost_per_l(problem: DispatchProblem) -> float:
    """Fuel price plus its carbon cost [currency/L]."""
    g = problem.genset
    return g.fuel_price_per_l + g.co2_kg_per_l * problem.carbon_price_per_kg


def grid_cost_per_kwh(problem: DispatchProblem, h: Horizon) -> np.ndarray:
    """Import price plus its carbon cost per interval [currency/kWh]."""
    return np.asarray(h.import_price, dtype=float) + problem.carbon_price_per_kg * np.asarray(h.grid_co2, dtype=float)


def live_blocks(problem: DispatchProblem, h: Horizon, spb: int) -> np.ndarray:
    """Genset blocks whose binary is left free in the MILP (the others are fixed off).

    A block is live when the grid is down in any of its intervals or cannot carry the net load
    (load - PV above the import limit), and one block either side of such a block (a start just
    before an outage). If a kWh of diesel (marginal fuel alone) is cheaper than some grid kWh or
    earns more than it costs as export, every block is live. This is a restriction of the MILP (its
    result stays feasible, so it is an upper bound); the optimiser's LP bound is unrestricted, so the
    reported gap covers it.
    """
    g = problem.genset
    n = h.n
    blocks = -(-n // spb)
    if g.rated_kw <= 0:
        return np.zeros(blocks, dtype=bool)
    worth = np.maximum(grid_cost_per_kwh(problem, h), np.asarray(h.export_price, dtype=float))
    if g.f1_l_per_kwh * fuel_cost_per_l(problem) < float(worth.max(initial=0.0)):
        return np.ones(blocks, dtype=bool)
    need = (np.asarray(h.grid_available, dtype=float) < 1.0) | (
        np.asarray(h.load_kw) - np.asarray(h.pv_kw) > problem.grid.import_kw + 1e-9
    )
    blk = np.arange(n) // spb
    live = np.bincount(blk, weights=need.astype(float), minlength=blocks) > 0
    live[1:] |= live[:-1].copy()
    live[:-1] |= live[1:].copy()
    return live


def csc(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_cols: int) -> tuple[Any, Any, Any]:
    """COO triplets -> CSC arrays (start, index, value); no duplicate entries may be given."""
    order = np.lexsort((rows, cols))
    counts = np.bincount(cols, minlength=n_cols)
    start = np.zeros(n_cols + 1, dtype=np.int32)
    np.cumsum(counts, out=start[1:])
    return start, rows[order].astype(np.int32), vals[order].astype(float)
