"""Bearer-token rules: which requests need the token, the check itself, and the back-off.

One rule decides which requests need the token (:func:`token_rule`): every write method
(POST, PUT, PATCH, DELETE) under ``/api/``, and every read under ``/api/`` except
``/api/health`` when reads are protected. The app's guard middleware enforces it before
the body is read (so a malformed body without a token is 401, not 422), and the OpenAPI
schema declares ``HTTPBearer`` on exactly those operations; a new router gets both for free.

There is no default secret. Without a configured token every write is refused with 403
and a message that says how to set one. Tokens are compared in constant time. A client
that sends :data:`MAX_FAILURES` wrong tokens within :data:`FAILURE_WINDOW_S` seconds is
answered 429 with ``Retry-After`` until the oldest failure leaves the window (OWASP
Authentication Cheat Sheet, "Protect against automated attacks").
"""

from __future__ import annotations

import math
import os
import secrets
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request, status

from islandgrid.errors import InputError

#: How an operator sets the token; quoted in every 403.
HOW_TO_SET_TOKEN = (
    "start the server with a token, e.g. `islandgrid serve SITE.toml --token-file FILE` "
    "(FILE holds one line, at least 16 characters; `python -c 'import secrets; print(secrets.token_urlsafe(32))'` "
    "makes one), then send `Authorization: Bearer <token>`"
)

#: Shortest token accepted: a guessable token is no better than none.
MIN_TOKEN_CHARS = 16

#: Wrong tokens a client may send within :data:`FAILURE_WINDOW_S` before it is answered 429.
MAX_FAILURES = 5

#: The back-off window [s].
FAILURE_WINDOW_S = 60.0

#: Clients remembered by the back-off at most (the oldest are forgotten first).
MAX_CLIENTS = 10_000

#: Methods that only read.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Paths under ``/api/`` that never need the token: liveness holds no data.
ALWAYS_PUBLIC = frozenset({"/api/health"})

#: The name of the security scheme in the OpenAPI schema.
SCHEME = "HTTPBearer"

Need = Literal["writes", "reads (protected on this server)"]


@dataclass
class FailedTokens:
    """Wrong tokens per client in a sliding window; ``clock`` is injectable for tests [s]."""

    clock: Callable[[], float] = time.monotonic
    max_failures: int = MAX_FAILURES
    window_s: float = FAILURE_WINDOW_S
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, client: str) -> deque[float]:
        times = self._seen.get(client, deque())
        cutoff = self.clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            self._seen.pop(client, None)
        return times

    def retry_after_s(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` when it is not blocked."""
        times = self._recent(client)
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[-self.max_failures] + self.window_s - self.clock()))

    def record(self, client: str) -> None:
        """Count one wrong token from ``client``."""
        times = self._recent(client)
        times.append(self.clock())
        self._seen[client] = times
        while len(self._seen) > MAX_CLIENTS:
            self._seen.pop(next(iter(self._seen)))


@dataclass(frozen=True)
class ApiSettings:
    """What the app was built with; held in ``app.state.settings``."""

    token: str | None
    public_reads: bool
    ledger_path: Path | None
    failures: FailedTokens = field(default_factory=FailedTokens)


def token_rule(method: str, path: str, public_reads: bool) -> Need | None:
    """What a request needs the token for, or ``None`` when it needs none (the one rule)."""
    if not path.startswith("/api/") or path in ALWAYS_PUBLIC:
        return None
    if method.upper() not in READ_METHODS:
        return "writes"
    return None if public_reads else "reads (protected on this server)"


def check_token(token: str | None) -> str | None:
    """Validate a configured token: ``None`` (writes disabled) or at least 16 printable characters."""
    return None if token is None else _valid_token(token)


def _valid_token(token: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or " " in token:
        raise InputError(
            "the API token is too short or contains spaces or control characters.",
            field="token",
            value=f"<{len(token)} characters>",
            allowed=f"at least {MIN_TOKEN_CHARS} printable characters without spaces",
            fix="generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
        )
    return token


def load_token_file(path: Path) -> str:
    """Read a token file (first line, stripped) and validate it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the token file: {exc}.", field="token_file", value=str(path)) from exc
    lines = text.strip().splitlines()
    return _valid_token(lines[0] if lines else "")


def token_file_warning(path: Path) -> str | None:
    """A warning when other users may read the token file (POSIX mode bits), else ``None``."""
    if os.name != "posix":
        return None
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        return None
    return (
        f"the token file {str(path)!r} is readable by other users (mode {stat.filemode(mode)}): "
        f"anyone on this machine can take over the controller. Fix: chmod 600 {path}"
    )


def authorise(settings: ApiSettings, header: str | None, client: str, need: Need) -> None:
    """Raise 403 (no token configured), 429 (backing off), or 401 (missing or wrong token).

    ``header`` is the raw ``Authorization`` header; ``client`` the peer address the back-off counts by.
    """
    if settings.token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{need} are disabled: this server has no API token configured. To enable them, {HOW_TO_SET_TOKEN}.",
        )
    wait_s = settings.failures.retry_after_s(client)
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many wrong tokens from {client}: {settings.failures.max_failures} within "
            f"{settings.failures.window_s:g} s. Try again in {wait_s} s with the right token.",
            headers={"Retry-After": str(wait_s)},
        )
    scheme, _, given = (header or "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"{need} need a token: send the header `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(given.encode("utf-8", "surrogateescape"), settings.token.encode("utf-8")):
        settings.failures.record(client)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="the bearer token is wrong.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def client_of(request: Request) -> str:
    """The peer address a request came from (the back-off counts per address)."""
    return request.client.host if request.client is not None else "unknown"


async def _require(request: Request) -> None:
    # async: runs on the event loop like the guard, so the back-off's counters see one thread
    settings: ApiSettings = request.app.state.settings
    need = token_rule(request.method, request.url.path, settings.public_reads)
    if need is not None:
        authorise(settings, request.headers.get("authorization"), client_of(request), need)


#: Dependencies kept for routers that name them; the guard middleware has already applied the same rule.
require_write = _require
require_read = _require
