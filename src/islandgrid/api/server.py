"""Run an app with uvicorn: 127.0.0.1 by default, one worker, no reload."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from islandgrid.api.app import DEFAULT_HOST

log = logging.getLogger(__name__)


def serve_app(app: FastAPI, *, host: str = DEFAULT_HOST, port: int = 8000, log_level: str = "warning") -> None:
    """Serve ``app`` until interrupted (blocks). Binding to anything but loopback logs a warning."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the API listens on %s: reachable from other machines; keep reads protected and use TLS", host)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
