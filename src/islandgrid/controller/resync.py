"""Reconnection: steer the island into synchronism with the grid and close only within limits.

``resync`` steers the PCS to the grid's voltage and to its frequency plus :data:`RESYNC_SLIP_HZ`,
so the phase difference sweeps through zero, and commands the PCC breaker closed only when Δf,
ΔV and Δφ are all within ``sync_df_hz``, ``sync_dv_frac`` and ``sync_dphi_deg`` (IEEE 1547-2018
Table 39); see docs/controller.md, "Reconnection and the synchronism check".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from islandgrid.devices.states import PCS_FORM

if TYPE_CHECKING:  # for the annotations only: core.py calls these functions with itself
    from islandgrid.controller.core import Controller

Commands = dict[str, dict[str, float]]

#: PCS frequency offset used to slip its phase past the grid's while resynchronising [Hz].
RESYNC_SLIP_HZ = 0.05


def sync_fields(df_hz: float, dv_frac: float, dphi_deg: float) -> dict[str, float]:
    """Δf [Hz], ΔV [-] and Δφ [°] as an event's data fields."""
    return {"df_hz": round(df_hz, 4), "dv_frac": round(dv_frac, 4), "dphi_deg": round(dphi_deg, 2)}


def resync_step(c: Controller, now_s: float, cmds: Commands) -> None:
    """One tick in ``resync``: steer the island into synchronism, close once Δf, ΔV and Δφ are all within limits."""
    t = c.tel
    cfg = c.cfg
    if t.get("pcc", "breaker_closed") >= 1:  # the commanded close went through (or an operator closed it)
        if c.close_sent_s is None:
            c.close_sync = c.sync_values()
        reconnected(c, now_s, cmds)
        return
    if not c.grid_normal():
        c.grid_stable_since_s = None
        c.close_sent_s = None
        c.set_mode("islanded", "grid left the normal band during resynchronisation")
        c.islanded_step(now_s, cmds)
        return
    c.island_sources(now_s, cmds)
    grid_hz, grid_v = t.get("pcc", "grid_hz"), t.get("pcc", "grid_v_pu")
    steer = {"mode_req": PCS_FORM, "p_set_kw": 0.0, "v_set_pu": min(max(grid_v, 0.95), 1.05)}
    if c.close_sent_s is not None:
        # the close is on its way: hold the island as it is until the PCC confirms or refuses it
        if now_s - c.close_sent_s <= max(3.0 * cfg.fast_loop_s, 2.0):
            return
        c.close_sent_s = None
        c.emit("breaker_close_unconfirmed", "the PCC did not report the breaker closed; trying again")
    df, dv, dphi = c.sync_values()
    bus_live = t.get("pcc", "bus_hz") > 0
    if bus_live and df <= cfg.sync_df_hz and dv <= cfg.sync_dv_frac and dphi <= cfg.sync_dphi_deg:
        cmds["pcc"]["breaker_req"] = 2.0
        c.close_sent_s = now_s
        c.close_sync = (df, dv, dphi)
        c.emit(
            "breaker_close",
            f"synchronism check passed (Δf {df:.3f} Hz, ΔV {dv * 100:.1f} %, Δφ {dphi:.1f}°): close commanded",
            **sync_fields(df, dv, dphi),
        )
        return
    if now_s - c.resync_since_s > cfg.resync_timeout_s:
        c.emit(
            "sync_refused",
            f"reconnection refused: Δf {df:.3f} Hz (≤ {cfg.sync_df_hz}), ΔV {dv * 100:.1f} % "
            f"(≤ {cfg.sync_dv_frac * 100:g}), Δφ {dphi:.1f}° (≤ {cfg.sync_dphi_deg:g})",
            **sync_fields(df, dv, dphi),
        )
        c.grid_stable_since_s = now_s  # wait another stable period before trying again
        c.set_mode("islanded", "synchronism not reached in time")
        return
    # steer the island: a small slip above the grid's frequency so the phase sweeps through zero
    cmds["pcs"].update({**steer, "hz_set": grid_hz + RESYNC_SLIP_HZ})


def reconnected(c: Controller, now_s: float, cmds: Commands) -> None:
    """The PCC reports the commanded close: grid-tied, PCS back to following."""
    df, dv, dphi = c.close_sync
    c.close_sent_s = None
    c.grid_stable_since_s = None
    c.set_mode("grid_tied", "synchronism check passed; breaker closed", df_hz=df, dv_frac=dv, dphi_deg=dphi)
    c.emit(
        "reconnected",
        f"breaker closed at Δf {df:.3f} Hz, ΔV {dv * 100:.1f} %, Δφ {dphi:.1f}°",
        **sync_fields(df, dv, dphi),
    )
    c.grid_tied_step(now_s, cmds)
