"""The app's outermost guard, one ASGI middleware in front of every route and router.

In order, for every HTTP request:

1. **Host check** against DNS rebinding: the ``Host`` header must name one of the allowed
   hosts (``127.0.0.1``, ``localhost``, ``[::1]`` and the ``--host`` the server was bound to,
   with any port); anything else is 400. A page on ``evil.example`` that rebinds its name to
   127.0.0.1 sends ``Host: evil.example`` and is refused: the server-side defence of Jackson
   et al., "Protecting Browsers from DNS Rebinding Attacks", ACM CCS 2007, §5; the header is
   RFC 9110 §7.2).
2. **Token** by :func:`~islandgrid.api.auth.token_rule`, *before* the body is read: a write
   with a malformed body and no token is 401, not 422; repeated wrong tokens are 429.
3. **Security headers** on every answer, errors included.
4. **Internal errors**: any exception a route lets through is logged with its traceback and
   answered 500 with a JSON body (and the headers), never plain text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from islandgrid.api.auth import ApiSettings, authorise, token_rule

log = logging.getLogger(__name__)

#: Host names every server answers to: this machine only.
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")

#: Headers on every answer: no sniffing, no framing, no referrer.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)

#: API answers are never cached.
NO_STORE = (b"cache-control", b"no-store")

INTERNAL_ERROR = "internal error: this is a bug in islandgrid; the server log has the details. Please report it."


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header, lower case, without the port and IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    name, _, _port = host.partition(":")
    return name


def allowed_hosts(bind_host: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The loopback names, the bind address (unless it is a wildcard) and any extra names."""
    names = {*LOOPBACK_HOSTS, *(host_name(h) if h.startswith("[") else h.strip().lower() for h in extra)}
    if bind_host and bind_host not in ("0.0.0.0", "::", ""):
        names.add(bind_host.strip().strip("[]").lower())
    return frozenset(names)


class Guard:
    """Host check, token gate, security headers and the JSON 500, for every route (see the module doc)."""

    def __init__(self, app: ASGIApp, *, settings: ApiSettings, hosts: frozenset[str]) -> None:
        self.app = app
        self.settings = settings
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = [NO_STORE] if path.startswith("/api/") else []
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in (*SECURITY_HEADERS, *extra) if k not in present),
                ]
            await send(message)

        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            code, detail, more = refusal
            await self._answer(send_with_headers, code, detail, more)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("internal error answering %s %s", scope.get("method"), path)
            if started:
                raise
            await self._answer(send_with_headers, 500, INTERNAL_ERROR, {})

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str, dict[str, str]] | None:
        host = headers.get("host")
        if host is None or host_name(host) not in self.hosts:
            shown = "no Host header" if host is None else f"Host {host[:100]!r}"
            return (
                400,
                f"{shown} is not a name this server answers to (allowed: {', '.join(sorted(self.hosts))}). "
                "Open the server by its address, e.g. http://127.0.0.1:PORT/, or start it with "
                "`islandgrid serve --allow-host NAME` for another name.",
                {},
            )
        need = token_rule(scope.get("method", "GET"), scope.get("path", ""), self.settings.public_reads)
        if need is None:
            return None
        client = scope.get("client")
        try:
            authorise(self.settings, headers.get("authorization"), client[0] if client else "unknown", need)
        except HTTPException as exc:
            return exc.status_code, str(exc.detail), dict(exc.headers or {})
        return None

    @staticmethod
    async def _answer(send: Send, code: int, detail: str, headers: dict[str, Any]) -> None:
        body = json.dumps({"detail": detail}).encode("utf-8")
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()),
        ]
        await send({"type": "http.response.start", "status": code, "headers": raw})
        await send({"type": "http.response.body", "body": body})
