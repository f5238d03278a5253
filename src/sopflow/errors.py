"""Errors that reach users. Each carries a stable code, a CLI exit code and an HTTP status."""

from __future__ import annotations


class SopflowError(Exception):
    """A failure caused by the user's input or environment, shown as a clean message (never a traceback)."""

    code = "error"
    exit_code = 1
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(SopflowError):
    """Input that failed validation; nothing was written."""

    code = "invalid_input"
    exit_code = 2
    http_status = 422


class NotFound(SopflowError):
    code = "not_found"
    exit_code = 2
    http_status = 404


class Unauthorized(SopflowError):
    """No valid login: a wrong password, no session, or an expired one."""

    code = "unauthorized"
    exit_code = 2
    http_status = 401


class Forbidden(SopflowError):
    """Logged in, but this role may not do this (or the request's CSRF token is missing or wrong)."""

    code = "forbidden"
    exit_code = 2
    http_status = 403
