"""The HTTP API and live dashboard of the controller.

``create_app(view, token=...)`` builds a FastAPI app around a
:class:`~islandgrid.controller.view.ControllerView`; ``serve_app`` runs it with uvicorn,
bound to 127.0.0.1 unless told otherwise.
"""

from islandgrid.api.app import DEFAULT_HOST, create_app
from islandgrid.api.auth import load_token_file
from islandgrid.api.server import serve_app

__all__ = ["DEFAULT_HOST", "create_app", "load_token_file", "serve_app"]
