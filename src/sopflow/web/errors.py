"""One exception type for HTTP errors, one handler, two JSON shapes.

Native endpoints (everything but the PostHog-compatible paths) answer errors as::

    {"error": {"code": "invalid_api_key", "message": "…", "field": "batch[3].ts"}}

``field`` is present only when one field is at fault. The PostHog-compatible capture paths answer in the
shape PostHog's API uses for errors, which its SDKs read (``detail``)::

    {"type": "authentication_error", "code": "invalid_api_key", "detail": "…", "attr": null}

Every error raised anywhere (a :class:`SopflowError`, FastAPI's validation errors, 404/405, or a bug) goes
through :func:`install_error_handlers`, so no response ever has another shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sopflow.errors import SopflowError
from sopflow.i18n import _

log = logging.getLogger("sopflow.web")

POSTHOG_PATHS = frozenset(
    path + slash for path in ("/batch", "/capture", "/e", "/i/v0/e") for slash in ("", "/")
)
_POSTHOG_TYPES = {
    400: "validation_error",
    401: "authentication_error",
    413: "validation_error",
    415: "validation_error",
    422: "validation_error",
    429: "throttled_error",
}


class ApiError(SopflowError):
    """An error answered over HTTP: a stable ``code``, its status, and the field at fault if there is one."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.http_status = status
        self.field = field
        self.headers = headers


def native_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def posthog_body(status: int, code: str, message: str, field: str | None) -> dict[str, Any]:
    kind = _POSTHOG_TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
    return {"type": kind, "code": code, "detail": message, "attr": field}


def error_parts(path: str, status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of an error on ``path``: PostHog's shape on its capture paths, ours elsewhere."""
    if path in POSTHOG_PATHS:
        return posthog_body(status, code, message, field)
    return native_body(code, message, field)


def sopflow_error_parts(exc: SopflowError, *, path: str) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """Status, JSON body and extra headers answering ``exc``."""
    headers = getattr(exc, "headers", None)
    if exc.http_status == 503 and headers is None:
        headers = {"Retry-After": "1"}  # busy store: the client may simply send the same batch again
    body = error_parts(path, exc.http_status, exc.code, exc.message, getattr(exc, "field", None))
    return exc.http_status, body, headers


def error_response(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_parts(request.url.path, status, code, message, field)
    return JSONResponse(body, status_code=status, headers=headers)


async def _sopflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SopflowError)
    status, body, headers = sopflow_error_parts(exc, path=request.url.path)
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    return error_response(
        request, status=422, code="invalid_input", message=str(first.get("msg", "")), field=field
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(
            request,
            status=404,
            code="not_found",
            message=_("no such endpoint: {path}", path=request.url.path),
        )
    if exc.status_code == 405:
        return error_response(
            request,
            status=405,
            code="method_not_allowed",
            message=_("{method} is not allowed on {path}", method=request.method, path=request.url.path),
        )
    if exc.status_code == 400:
        # Only the framework raises these (sopflow raises its own errors): a body it could not decode, JSON that
        # is not UTF-8 ("There was an error parsing the body") or a broken multipart form ("Invalid multipart
        # data."), in English and without a code. Answered like every other malformed body: 422 on the field.
        log.info("unreadable body on %s %s: %s", request.method, request.url.path, exc.detail)
        return error_response(
            request,
            status=422,
            code="invalid_input",
            message=_(
                "the request body could not be read as its Content-Type says ({content_type})",
                content_type=request.headers.get("content-type") or "-",
            ),
            field="body",
        )
    return error_response(request, status=exc.status_code, code="http_error", message=str(exc.detail))


async def _overflow_error(request: Request, exc: Exception) -> JSONResponse:
    # A number too large for the database (SQLite stores 64-bit integers: /campaigns/9223372036854775808) or for
    # a date is the client's mistake, not the server's: a 422 like any other value out of range.
    log.info("number out of range on %s %s: %s", request.method, request.url.path, exc)
    return _out_of_range(request)


def _out_of_range(request: Request) -> JSONResponse:
    return error_response(
        request, status=422, code="invalid_input", message=_("a number in the request is out of range")
    )


# SQLSTATE of a value the column cannot hold: PostgreSQL's integer ids are 32-bit (/campaigns/2147483648).
_NUMERIC_OUT_OF_RANGE = "22003"


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state == _NUMERIC_OUT_OF_RANGE:
        log.info("number out of range on %s %s: %s", request.method, request.url.path, exc.orig)
        return _out_of_range(request)
    if "NUL (0x00)" in str(exc.orig):
        # PostgreSQL text cannot hold U+0000 (psycopg refuses it before sending); JSON and forms can carry it.
        log.info("NUL character refused on %s %s", request.method, request.url.path)
        return error_response(
            request,
            status=422,
            code="invalid_input",
            message=_("text in the request contains a NUL character (\\u0000), which cannot be stored"),
        )
    return await _unexpected_error(request, exc)  # any other refusal of the data is a bug to fix


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, status=500, code="internal_error", message=_("internal error; please retry later")
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SopflowError, _sopflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _overflow_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected_error)
