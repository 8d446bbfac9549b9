"""The controller's health as ``GET /api/health`` reports it."""

from __future__ import annotations

import logging
from typing import Any

from islandgrid.controller.view import ControllerView

log = logging.getLogger(__name__)


def view_health(view: ControllerView) -> dict[str, Any]:
    """The view's health (``ok``, ``live``, ``loops``); a view that cannot answer is not ok."""
    try:
        h = view.health()
    except Exception:  # health must answer, and say the controller is unhealthy, whatever happened
        log.exception("the controller's health check failed")
        return {"ok": False, "live": False, "loops": None}
    return {"ok": bool(h.get("ok", False)), "live": bool(h.get("live", False)), "loops": h.get("loops")}
