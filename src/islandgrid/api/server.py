"""Run an app with uvicorn: 127.0.0.1 by default, one worker, no reload."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from islandgrid.api.app import DEFAULT_HOST
from islandgrid.api.guard import LOOPBACK_HOSTS

log = logging.getLogger(__name__)


def exposure_warning(host: str) -> str | None:
    """The warning for a bind address other machines can reach, or ``None`` for loopback."""
    if host.strip("[]").lower() in LOOPBACK_HOSTS:
        return None
    return (
        f"the API listens on {host}: reachable from other machines. Keep reads protected (--protect-reads), "
        "put it behind TLS, and name the host clients use with --allow-host NAME (other Host headers get 400)"
    )


def serve_app(app: FastAPI, *, host: str = DEFAULT_HOST, port: int = 8000, log_level: str = "warning") -> None:
    """Serve ``app`` until interrupted (blocks). Binding to anything but loopback logs a warning."""
    import uvicorn

    warning = exposure_warning(host)
    if warning is not None:
        log.warning("%s", warning)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
