"""The OpenAPI schema as the guard and the error handlers really answer, for every route.

FastAPI documents what each route declares; the app-wide behaviour (host check, token gate,
back-off, validation, internal errors) is added here from the same rules, so the schema of a
new router is right without touching it:

* ``security: HTTPBearer`` on exactly the operations :func:`~islandgrid.api.auth.token_rule`
  says need the token (writes; reads only with ``public_reads=False``), and on no other;
* 401 and 429 (with ``Retry-After``) on those, 403 on writes (no token configured);
* 400 (a ``Host`` this server does not answer to, or a body that is not UTF-8 JSON),
  422 (bad or unknown parameters), 500 (an internal error, JSON) and 503 (a device error)
  on every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from islandgrid.api.auth import SCHEME, ApiSettings, token_rule

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

_ERROR_BODY_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "description": "Every 4xx/5xx answer: one clear sentence, plus the validation details where there are some.",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "What was wrong and how to fix it"},
        "errors": {
            "anyOf": [{"type": "array", "items": {"type": "object", "additionalProperties": True}}, {"type": "null"}],
            "title": "Errors",
            "description": "Per-field validation errors",
        },
    },
    "required": ["detail"],
}

_ALWAYS: dict[str, str] = {
    "400": "The Host header names no host this server answers to, or the body is not UTF-8 JSON",
    "422": "A bad, missing or unknown parameter or body field; the message names field, value and allowed",
    "500": "An internal error (a bug); logged on the server",
    "503": "A device did not answer the controller",
}

_TOKEN: dict[str, str] = {
    "401": "The bearer token is missing or wrong",
    "429": "Too many wrong tokens from this client; retry after `Retry-After` seconds",
}

_WRITES: dict[str, str] = {"403": "No API token configured on this server: writes are disabled"}


def _response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
    if retry_after:
        out["headers"] = {
            "Retry-After": {"description": "Seconds until the client may try again", "schema": {"type": "integer"}}
        }
    return out


def decorate(schema: dict[str, Any], settings: ApiSettings) -> dict[str, Any]:
    """Add the app-wide security and error responses to a generated schema (in place; returned)."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).setdefault("ErrorBody", _ERROR_BODY_SCHEMA)
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The API token, sent as `Authorization: Bearer <token>`",
    }
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            codes = dict(_ALWAYS)
            need = token_rule(method, path, settings.public_reads)
            if need is None:
                op.pop("security", None)
                for code in ("401", "403"):
                    responses.pop(code, None)
            else:
                op["security"] = [{SCHEME: []}]
                codes.update(_TOKEN)
                if need == "writes":
                    codes.update(_WRITES)
            for code, text in codes.items():
                responses.setdefault(code, _response(text, retry_after=code == "429"))
            # every error is an ErrorBody in JSON (FastAPI's own 422 has a list as ``detail``, and an
            # HTML route's errors would be documented as text/html)
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
            if "429" in responses:
                responses["429"].setdefault("headers", _response("", retry_after=True)["headers"])
    return schema


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Make ``app.openapi()`` return the decorated schema (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = decorate(schema, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
