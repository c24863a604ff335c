"""The app's exception handlers: every error answer is ``error_body`` with its status and headers.

Where they sit: the last step of every request that fails.  ``QAError`` (and the
two refusals FastAPI and Starlette raise themselves, converted to the tree:
:class:`~qa.errors.InvalidRequest` for a body that fails its schema,
:class:`~qa.errors.RouteError` for an unknown path or method) answer with their
class's status, headers and :func:`qa.errors.error_body`.  Anything else is one
of our own bugs: logged with its traceback, answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from qa.errors import InvalidRequest, QAError, RouteError, error_body, error_status
from qa.server.schemas import HAS_TEXT, NOT_BLANK

log = logging.getLogger("qa.api")


def error_response(exc: BaseException) -> JSONResponse:
    """The JSON answer to ``exc``: its status, its headers (Retry-After...) and :func:`error_body`."""
    headers = exc.headers if isinstance(exc, QAError) else None
    return JSONResponse(error_body(exc), status_code=error_status(exc), headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``: one for ``QAError``, the two converters, and the 500."""

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        if exc.status >= 500:
            # The detail (paths, provider replies) is for the operator: the client gets exc.public.
            log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status, exc.message)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(InvalidRequest(readable(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route that matched the path only;
            # /documents (GET and POST) and /documents/{doc_id} (GET and DELETE) are two routes each.
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        return error_response(RouteError(str(exc.detail), exc.status_code, headers))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(exc)


def _message(err: dict[str, Any]) -> str:
    # "String should match pattern '[^\t\n...]'" says nothing to a person: name the rule instead.
    if (err.get("type") == "string_too_short" and err.get("ctx", {}).get("min_length") == 1) or (
        err.get("type") == "string_pattern_mismatch"
        and err.get("ctx", {}).get("pattern") in (NOT_BLANK, HAS_TEXT)
    ):
        return "is empty or blank"
    return str(err.get("msg", "invalid"))


def readable(exc: RequestValidationError) -> str:
    """FastAPI's validation errors as one line: ``field: rule; field: rule``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {_message(err)}" if where else _message(err))
    return "; ".join(parts) or "invalid request"


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at the request's path (for a 405's Allow header)."""
    concrete: set[str] = set()
    templated: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, APIRoute | Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match in (Match.FULL, Match.PARTIAL):  # PARTIAL: the path matches, the method doesn't
                (templated if route.param_convertors else concrete).update(route.methods)
    # OpenAPI's rule: a concrete path (/documents/upload) is matched before a templated one
    # (/documents/{doc_id}), so its methods are the resource's.
    return sorted(concrete or templated)
