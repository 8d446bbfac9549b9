"""The adapter's side of the controller's API: read the budget, write events (``/api/compute/*``)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from islandgrid.errors import DeviceError


class ApiError(DeviceError):
    """The controller's API could not be reached or answered with an error."""


class BudgetSource(Protocol):
    """Where the adapter gets its budget and sends its events (the API, or a fake in tests)."""

    def budget(self) -> dict[str, Any]:
        """The JSON of ``GET /api/compute/budget``; raises :class:`ApiError` when unavailable."""
        ...

    def post_event(self, kind: str, message: str, data: dict[str, Any]) -> None:
        """``POST /api/compute/events``; raises :class:`ApiError` when it cannot."""
        ...


class ApiClient:
    """HTTP client of one controller.

    Parameters
    ----------
    base_url : str
        The API's address, e.g. ``http://127.0.0.1:8080``.
    token : str or None
        The bearer token (writes need it; reads too on a server with protected reads).
    timeout_s : float
        Per request [s].
    transport : httpx.BaseTransport, optional
        For tests (an in-process app).
    """

    def __init__(
        self, base_url: str, token: str | None, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise ApiError(f"{method} {path}: HTTP {r.status_code}: {str(detail)[:300]}")
        try:
            return r.json()
        except ValueError:
            raise ApiError(f"{method} {path}: the answer is not JSON") from None

    def budget(self) -> dict[str, Any]:
        """``GET /api/compute/budget``."""
        doc = self._call("GET", "/api/compute/budget")
        if not isinstance(doc, dict) or not doc.get("slots"):
            raise ApiError("GET /api/compute/budget: no slots in the answer")
        return doc

    def post_event(self, kind: str, message: str, data: dict[str, Any]) -> None:
        """``POST /api/compute/events``."""
        self._call("POST", "/api/compute/events", json={"kind": kind, "message": message[:500], "data": data})

    def post_events(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        """``POST /api/compute/events/batch``: several events in one request, in order (at most 1,000)."""
        body = [{"kind": k, "message": m[:500], "data": d} for k, m, d in events]
        self._call("POST", "/api/compute/events/batch", json={"events": body})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
