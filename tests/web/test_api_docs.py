"""The API documents itself: the docs page is at /docs, and every operation of the spec says what it does and
which errors it answers.

The spec is read from the app, so an endpoint added later is held to the same rule; so is the range of every
integer id in a path, which the spec states and the server checks before any query runs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about the httpx2 fork
    from fastapi.testclient import TestClient

from sopflow.settings import load_settings
from sopflow.web.api.console import MAX_ID
from sopflow.web.app import create_app
from sopflow.web.auth import current_user

from .api_surface import app_for_listing, dependencies_of, writes
from .console_api import Console, assert_error, console

__all__ = ["console"]  # the fixture, imported for the tests below


def _operations() -> list[tuple[str, APIRoute]]:
    app = app_for_listing()
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            found += [(f"{method} {route.path_format}", route) for method in sorted(route.methods)]
    return found


def test_the_docs_page_and_the_spec_are_served(tmp_path: Path) -> None:
    with TestClient(create_app(load_settings(environ={}, home=tmp_path / "ws"))) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text and "/api/openapi.json" in page.text
        spec = client.get("/api/openapi.json").json()
        assert spec["info"]["title"] == "sopflow" and len(spec["paths"]) >= 20
        moved = client.get("/api/docs", follow_redirects=False)
        assert moved.status_code == 308 and moved.headers["location"] == "/docs"


def test_every_operation_says_what_it_does() -> None:
    # FastAPI makes a summary up from the function's name; only an explicit summary or a docstring counts.
    undescribed = sorted(
        op for op, route in _operations() if not (route.summary or (route.description or "").strip())
    )
    assert not undescribed, f"operations without a summary or docstring: {undescribed}"


def _integer_path_parameters() -> list[tuple[str, dict[str, Any]]]:
    spec = app_for_listing().openapi()
    return [
        (f"{method.upper()} {path} {parameter['name']}", parameter)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
    ]


def test_every_integer_id_in_a_path_states_its_range() -> None:
    found = _integer_path_parameters()
    assert len(found) >= 13  # the campaigns' and the tasks' ids at least
    unbounded = [
        op
        for op, parameter in found
        if (parameter["schema"].get("minimum"), parameter["schema"].get("maximum")) != (1, MAX_ID)
        or not parameter.get("description")
    ]
    assert not unbounded, f"integer path parameters without the id range and a description: {unbounded}"


def test_an_id_out_of_range_is_refused_naming_the_parameter(console: Console) -> None:
    c = console.login("op")
    for value in (0, -1, MAX_ID + 1):
        for url in (f"/api/v1/campaigns/{value}", f"/api/v1/campaigns/{value}/calendar.ics"):
            error = assert_error(c.get(url), 422, "invalid_input")
            assert error["field"] == "path.campaign_id", error
        error = assert_error(c.post(f"/api/v1/tasks/{value}/done", {"note": "x"}), 422, "invalid_input")
        assert error["field"] == "path.task_id", error
        error = assert_error(c.get("/api/v1/tasks", campaign=value), 422, "invalid_input")
        assert error["field"] == "query.campaign", error
    # The largest id is in range: the database is asked, and there is no such campaign.
    assert_error(c.get(f"/api/v1/campaigns/{MAX_ID}"), 404, "unknown_campaign")
    assert_error(c.get(f"/api/v1/tasks/{MAX_ID}"), 404, "unknown_task")


def test_every_operation_documents_its_errors() -> None:
    app = app_for_listing()
    spec = app.openapi()
    missing: list[str] = []
    for op, route in _operations():
        method, path = op.split(" ", 1)
        documented = set(spec["paths"][path][method.lower()]["responses"])
        needed = (
            {"401", "403"} if any(d.call is current_user for d in dependencies_of(route.dependant)) else set()
        )
        if route.body_field is not None or route.dependant.path_params or route.dependant.query_params:
            needed.add("422")
        if needed - documented or not any(code.startswith("4") for code in documented):
            missing.append(f"{op}: {sorted(needed - documented) or 'no 4xx at all'}")
    assert not missing, f"operations whose error answers are not documented: {missing}"


def test_every_action_that_guards_an_endpoint_is_in_the_role_table() -> None:
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    actions = {w.action for w in writes(app_for_listing()) if w.action not in (None, "read")}
    assert len(actions) >= 5
    missing = sorted(a for a in actions if f"`{a}`" not in text)
    assert not missing, f"actions guarding endpoints but missing from docs/api.md's role table: {missing}"
