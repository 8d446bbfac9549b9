"""``/docs`` (Swagger UI) and ``/redoc`` served from local files, so the docs work without a CDN.

The assets come from the ``fastapi-offline`` package (a dependency). If it is missing, the
two pages say so and point at ``/openapi.json``, which is always served. Both pages carry a
Content-Security-Policy that lets them load and fetch only from this server: the bundled
ReDoc script would otherwise fetch its footer logo from ``cdn.redoc.ly`` (it is not shown),
and Swagger UI's validator badge is switched off (``validatorUrl: null``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS_URL = "/docs-assets"

#: The docs pages load and fetch only from this server (Swagger UI starts from an inline script;
#: ReDoc renders in a blob worker).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _assets_dir() -> Path | None:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def mount_docs(app: FastAPI, title: str) -> None:
    """Add ``/docs`` and ``/redoc`` pages whose JS and CSS are served by this app."""
    assets = _assets_dir()
    openapi_url = app.openapi_url or "/openapi.json"
    if assets is not None:
        app.mount(DOCS_ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        if assets is None:
            return _no_assets(openapi_url)
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title}: API",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        if assets is None:
            return _no_assets(openapi_url)
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title}: API",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page


def _no_assets(openapi_url: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><title>API docs</title><p>The interactive docs need the <code>fastapi-offline</code> "
        f"package (<code>pip install fastapi-offline</code>). The schema is at <a href='{openapi_url}'>"
        f"{openapi_url}</a>.</p>",
        status_code=200,
    )
