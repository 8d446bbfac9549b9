"""The controller's safe state: what it commands when it cannot see the bus, or has crashed.

The controller is *blind* when the PCC or the PCS has had no fresh data for ``blind_after_s``
(mode ``safe``). What is still visible decides who carries the load, and so whether a standby
genset is needed (docs/controller.md, "Safe state", has the table per device and mode):

- the PCC is fresh: its breaker and grid V/f say whether the grid carries the load;
- only the PCS is fresh: a PCS that still *follows* (and was grid-tied) means the grid forms
  the bus, since a grid-following PCS forms it by itself within the same cycle when the grid
  goes (the hardware, not the controller, islands);
- nothing is fresh: unknown.

Grid carries the load: no genset (it would only run in parallel with the grid, burning fuel).
Islanded: the genset is started as a standby source at its rated setpoint. Unknown: it is
started at its minimum load (setpoint 0), so it is ready to take the bus at the least fuel
if the grid is there after all. In every case: battery setpoint 0 kW, no breaker operation,
the shed mask frozen (not rewritten), PV untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from islandgrid.devices.states import PCS_FOLLOW

if TYPE_CHECKING:  # for the annotations only: core.py calls these functions with itself
    from islandgrid.controller.core import Controller

Commands = dict[str, dict[str, float]]


def grid_carries_load(c: Controller, now_s: float) -> bool | None:
    """Whether the grid forms the bus, from what is fresh; None when nothing tells."""
    t = c.tel
    if c.fresh("pcc", now_s):
        return t.get("pcc", "breaker_closed") >= 1 and c.grid_normal()
    if c.fresh("pcs", now_s):
        following = t.get("pcs", "mode") == PCS_FOLLOW and t.get("pcs", "bms_tripped") < 1
        return following and c.prev_mode in ("grid_tied", "islanding")
    return None


def leave_safe(c: Controller, now_s: float) -> None:
    """PCC and PCS are fresh again: the mode the breaker and the bus imply."""
    t = c.tel
    if t.get("pcc", "breaker_closed") >= 1 and c.grid_normal():
        c.set_mode("grid_tied", "telemetry fresh again")
    elif t.get("pcc", "bus_hz") > 0:
        c.island_since_s = now_s
        c.set_mode("islanded", "telemetry fresh again")
    else:
        c.set_mode("blackout", "telemetry fresh again")


def safe_step(c: Controller, now_s: float, cmds: Commands) -> Commands:
    """One tick in ``safe``: battery 0, no breaker operation, shedding frozen, genset per who carries the load."""
    grid = grid_carries_load(c, now_s)
    g = c.gm.tick(now_s, c.tel.get("genset", "state"), grid is not True, c.fresh("genset", now_s))
    cmds["pcs"]["p_set_kw"] = 0.0
    cmds["genset"].update(c.genset_cmd(g.run_req, g.alarm_reset))
    if grid is None and g.run_req:
        cmds["genset"]["p_set_kw"] = 0.0  # standby at minimum load: the grid may still be there
    return {d: v for d, v in cmds.items() if v}


def crash_commands(c: Controller, now_s: float) -> Commands:
    """What a crashed fast loop leaves the plant with, until it restarts.

    Battery setpoint 0 kW; away from the grid (any mode but ``grid_tied``/``islanding``) the
    genset is asked to run as standby, since no loop is left to start it when the battery
    runs low. Breaker, shed mask and PV are left as they are.
    """
    cmds: Commands = {"pcs": {"p_set_kw": 0.0}}
    away = grid_carries_load(c, now_s) is not True if c.mode == "safe" else c.mode not in ("grid_tied", "islanding")
    if away:
        cmds["genset"] = c.genset_cmd(True, False)
    return cmds
