"""The conditions behind the controller's alarms, checked once per fast-loop tick.

Each rule raises its alarm while the condition holds and clears it when it no longer does (the
board keeps a cleared alarm latched until an operator acknowledges it, see
:mod:`islandgrid.controller.alarms`). A condition is only judged on fresh data: a device whose
telemetry is stale has its own ``telemetry_stale`` alarm, and its last values neither raise nor
clear the alarms they feed. ``foreign_command`` follows the foreign writes the controller saw in
the tick; ``ledger_error`` and ``loop_down`` are raised where they happen (the service's ledger
writes, the supervisor).
"""

from __future__ import annotations

from typing import Any

from islandgrid.controller.alarms import AlarmBoard, AlarmKind
from islandgrid.controller.core import Controller
from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.devices.states import GENSET_FAILED

#: Critical demand not served above this is the ``unserved_critical`` alarm [kW] (the load meter's resolution).
UNSERVED_CRITICAL_MIN_KW = 0.01


def unserved_critical_kw(c: Controller) -> float:
    """Critical demand minus critical load served, from the load meter now [kW]."""
    t = c.tel
    return max(t.get("load", "p_critical_demand_kw") - t.get("load", "p_critical_kw"), 0.0)


def stale_devices(c: Controller, now_s: float) -> list[str]:
    """Devices whose data is older than ``stale_after_s`` (frozen heartbeat, no answer, or never read)."""
    return [d for d in DEVICE_NAMES if not c.fresh(d, now_s)]


def genset_retry_in_s(c: Controller, now_s: float) -> float | None:
    """Seconds until the genset manager's automatic retry [s]; None unless it is ``failed``."""
    wait = c.gm.retry_in_s(now_s)
    return None if wait is None else round(wait, 1)


def _set(board: AlarmBoard, kind: AlarmKind, on: bool, message: str, epoch_s: float, device: str = "site") -> bool:
    """Raise or clear one alarm; True when it is newly raised."""
    if on:
        return board.raise_(kind, message, epoch_s, device=device)[1]
    board.clear(kind, epoch_s, device=device)
    return False


def update_alarms(board: AlarmBoard, c: Controller, epoch_s: float, now_s: float) -> list[dict[str, Any]]:
    """Raise and clear the condition alarms after one tick; returns the newly raised ones."""
    t = c.tel
    new: list[tuple[AlarmKind, str, str]] = []

    def rule(kind: AlarmKind, on: bool, message: str, device: str = "site") -> None:
        if _set(board, kind, on, message, epoch_s, device):
            new.append((kind, device, message))

    stale = set(stale_devices(c, now_s))
    for d in DEVICE_NAMES:
        h = t.devices[d]
        age = t.age_s(d, now_s)
        why = f"no answer ({h.error})" if h.error else "heartbeat frozen"
        rule(AlarmKind.TELEMETRY_STALE, d in stale, f"{d}: {why}, data {age:.0f} s old", device=d)
    if t.known("pcc") and "pcc" not in stale:
        rule(
            AlarmKind.GRID_LOST,
            not c.grid_normal(),
            f"grid out of limits or gone: {t.get('pcc', 'grid_v_pu'):.3f} pu, {t.get('pcc', 'grid_hz'):.2f} Hz",
        )
    if t.known("pcs") and "pcs" not in stale:
        rule(AlarmKind.BMS_TRIP, t.get("pcs", "bms_tripped") >= 1, "BMS tripped: the battery is unavailable")
    wait = genset_retry_in_s(c, now_s)
    gen_failed = c.gm.state == "failed" or (
        t.known("genset") and "genset" not in stale and t.get("genset", "state") == GENSET_FAILED
    )
    retry = f"; automatic retry in {wait:.0f} s if load is at risk" if wait is not None else ""
    rule(AlarmKind.GENSET_FAILED, gen_failed, f"genset failed to start{retry}; POST /api/genset/reset retries now")
    if t.known("load") and "load" not in stale:
        kw = unserved_critical_kw(c)
        rule(AlarmKind.UNSERVED_CRITICAL, kw > UNSERVED_CRITICAL_MIN_KW, f"{kw:.1f} kW of critical load not served")
    foreign = {w.device: w.message() for w in c.foreign}  # raised in the tick that saw it, cleared the next
    for a in board.snapshot():
        if a["kind"] == AlarmKind.FOREIGN_COMMAND.value and a["active"] and a["device"] not in foreign:
            board.clear(AlarmKind.FOREIGN_COMMAND, epoch_s, device=a["device"])
    for dev, message in foreign.items():
        rule(AlarmKind.FOREIGN_COMMAND, True, message, device=dev)
    return [{"kind": k.value, "device": d, "message": m} for k, d, m in new]
