"""Bearer-token checks: writes always need the token, reads only with ``public_reads=False``.

There is no default secret. Without a configured token every write is refused with 403
and a message that says how to set one. Tokens are compared in constant time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from islandgrid.errors import InputError

#: How an operator sets the token; quoted in every 403.
HOW_TO_SET_TOKEN = (
    "start the server with a token, e.g. `islandgrid serve SITE.toml --token-file FILE` "
    "(FILE holds one line, at least 16 characters; `python -c 'import secrets; print(secrets.token_urlsafe(32))'` "
    "makes one), then send `Authorization: Bearer <token>`"
)

#: Shortest token accepted: a guessable token is no better than none.
MIN_TOKEN_CHARS = 16

_bearer = HTTPBearer(auto_error=False, description="The API token, sent as `Authorization: Bearer <token>`")


@dataclass(frozen=True)
class ApiSettings:
    """What the app was built with; held in ``app.state.settings``."""

    token: str | None
    public_reads: bool
    ledger_path: Path | None


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
    except OSError as exc:
        raise InputError(f"cannot read the token file: {exc}.", field="token_file", value=str(path)) from exc
    lines = text.strip().splitlines()
    return _valid_token(lines[0] if lines else "")


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def _authorised(settings: ApiSettings, creds: HTTPAuthorizationCredentials | None, what: str) -> None:
    if settings.token is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"{what} are disabled: this server has no API token configured. To enable them, {HOW_TO_SET_TOKEN}.",
        )
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"{what} need a token: send the header `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = creds.credentials.encode("utf-8")
    if not secrets.compare_digest(given, settings.token.encode("utf-8")):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="the bearer token is wrong.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


def require_write(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Dependency of every write route."""
    _authorised(_settings(request), creds, "writes")


def require_read(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Dependency of every read route: a no-op unless the app was built with ``public_reads=False``."""
    settings = _settings(request)
    if not settings.public_reads:
        _authorised(settings, creds, "reads (protected on this server)")
