"""The dashboard: one static page (HTML + JS + CSS in ``api/static``) that reads only the API.

Plotly's JS is served from the installed ``plotly`` package, so the page needs no CDN.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"

#: The page loads only this server's own files and talks only to this server.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

router = APIRouter(include_in_schema=False)


def plotly_js_path() -> Path | None:
    """The ``plotly.min.js`` bundled with the installed plotly package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


@router.get("/")
def index() -> FileResponse:
    """The dashboard page."""
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP}
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)


@router.get("/dashboard")
def dashboard_alias() -> RedirectResponse:
    return RedirectResponse("/")


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """Plotly, from the installed package (no CDN)."""
    path = plotly_js_path()
    if path is None:
        raise HTTPException(404, detail="plotly.min.js not found: install the `plotly` package.")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def mount_static(app: FastAPI) -> None:
    """Serve ``api/static`` under ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
