"""The app's API surface for the API-wide checks (guards, error shape, fuzzing): its routes, read from the app
itself, and the one error shape every answer must have.

Routes come from ``app.routes`` (FastAPI 0.16x nests included routers: :func:`iter_route_contexts` flattens
them), so endpoints that other parts of the console add later are covered without editing these tests.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts

from sopflow.settings import load_settings
from sopflow.web.app import create_app
from sopflow.web.auth import current_user

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Write:
    """One method on one path (an unsafe one, unless asked otherwise), and what its dependencies check."""

    method: str
    path: str  # as declared, with {params}
    action: str | None  # the action of its require(action) dependency, if it has one
    session: bool  # whether it needs a logged-in session (current_user) at all
    json_body: bool  # whether it reads a JSON body
    form_body: bool = False  # whether it reads a form (multipart uploads)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, samples: dict[str, str]) -> str:
        """The path with each parameter filled in: its sample when given, else ``1``."""
        return _PARAM.sub(lambda m: samples.get(m.group(1), "1"), self.path)


def app_for_listing() -> FastAPI:
    """An app that is never started (no lifespan, nothing opened): enough to read its routes at collection."""
    return create_app(load_settings(environ={}, home=Path("/nonexistent/sopflow-route-listing")))


def dependencies_of(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from dependencies_of(sub)


def _action(dependant: Dependant) -> str | None:
    """The ``action`` of a :func:`sopflow.web.auth.require` dependency, read from its closure."""
    for sub in dependencies_of(dependant):
        call = sub.call
        if call is not None and getattr(call, "__qualname__", "") == "require.<locals>.dependency":
            action = inspect.getclosurevars(call).nonlocals.get("action")
            if isinstance(action, str):
                return action
    return None


def writes(app: FastAPI, methods_wanted: frozenset[str] = UNSAFE_METHODS) -> list[Write]:
    """The app's routes for ``methods_wanted`` (by default the unsafe ones), one per method."""
    found: list[Write] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        methods = sorted((context.methods or set()) & methods_wanted)
        if not methods or context.path is None:
            continue
        if isinstance(route, APIRoute):
            dependant = route.dependant
            session = any(sub.call is current_user for sub in dependencies_of(dependant))
            form_body = _is_form(route)
            json_body = route.body_field is not None and not form_body
            action = _action(dependant)
        else:  # a plain Starlette route: no dependencies we can see, so it counts as unguarded
            session, json_body, form_body, action = False, False, False, None
        found += [Write(m, context.path, action, session, json_body, form_body) for m in methods]
    return sorted(found, key=lambda w: (w.path, w.method))


def _is_form(route: APIRoute) -> bool:
    return route.body_field is not None and isinstance(route.body_field.field_info, Form)


class AnyResponse(Protocol):
    """What httpx's and requests' responses share (schemathesis calls through requests)."""

    status_code: int

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


def assert_error_shape(
    response: AnyResponse, status: int | None = None, code: str | None = None
) -> dict[str, Any]:
    """``{"error": {"code", "message", ...}}`` with non-empty code and message, and no trace of the code."""
    if status is not None:
        assert response.status_code == status, response.text
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, response.text
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], response.text
    assert isinstance(error.get("message"), str) and error["message"], response.text
    if code is not None:
        assert error["code"] == code, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(error)
