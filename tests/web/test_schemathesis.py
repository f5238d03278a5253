"""Schemathesis against the app's own OpenAPI spec, in-process (ASGI, no network), logged in as an admin.

Every operation in ``/api/openapi.json`` is fuzzed with valid and invalid inputs; whatever it gets, the app
must never answer 5xx, every 4xx is the one error shape (PostHog's on its capture paths), and every answer is
documented: its status, its content type and its body's schema. The spec is read from the app, so endpoints
added later are fuzzed too.

It runs on both app databases (SQLite, and PostgreSQL, which refuses other values: 32-bit ids, NUL characters).
Examples per operation are few and the seed is fixed, so the run is the same on every machine and takes about
50 s on two cores. By hand, fuzz harder with ``SOPFLOW_FUZZ_EXAMPLES=200`` and add schemathesis' coverage phase (boundary and invalid values of every parameter) with
``SOPFLOW_FUZZ_COVERAGE=1``; ``SOPFLOW_FUZZ_SEED=N`` explores other inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import ASGIClient
from tests.accounts.conftest import FAST
from tests.conftest import _require_postgres
from tests.postgres import fresh_database

from sopflow.accounts.sessions import login
from sopflow.accounts.users import create_user
from sopflow.settings import load_settings
from sopflow.store.api_keys import create_api_key
from sopflow.web.app import create_app
from sopflow.web.auth import CSRF_HEADER, SESSION_COOKIE
from sopflow.web.errors import POSTHOG_PATHS
from sopflow.web.services import Services

from .api_surface import app_for_listing, assert_error_shape
from .console_api import PLAYBOOK

EXAMPLES = int(os.environ.get("SOPFLOW_FUZZ_EXAMPLES", "20"))
COVERAGE = os.environ.get("SOPFLOW_FUZZ_COVERAGE") == "1"
# An unlikely name: the fuzzer writes to /users/{name}/..., and must not reset or demote the admin it runs as.
ADMIN = "fuzz-admin-7f3c9e"
PASSWORD = "correct horse 1"
BASE_URL = "http://testserver"  # the in-process client's host: no socket is opened
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": int(os.environ.get("SOPFLOW_FUZZ_SEED", "20261207")),
        "generation": {"max-examples": EXAMPLES, "deterministic": True},
        # Stateful runs chain calls through links, which the spec does not declare; the coverage phase adds
        # hundreds of boundary cases per operation (twice the time or more): both left to hand runs.
        "phases": {"coverage": {"enabled": COVERAGE}, "stateful": {"enabled": False}},
    }
)


# No 5xx; and every answer is documented: its status, its content type, and its body's schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class Fuzzed:
    """The app, started once, with an admin session and an ingest API key."""

    def __init__(self, tmp: Path, database_url: str | None) -> None:
        settings = load_settings(environ={}, home=tmp / "ws", database_url=database_url)
        self.services = Services.open(settings)
        self.app = create_app(settings, services=self.services)
        with self.services.database.session() as session:
            create_user(
                session=session, name=ADMIN, role="admin", password=PASSWORD, actor="setup", hasher=FAST
            )
            # The ingest endpoints need a key (not the console session); with one, the fuzzer reaches the parser
            # instead of stopping at 401.
            self.api_key = create_api_key(session=session, name="fuzz").key
        self.client = ASGIClient(self.app)
        self.client.__enter__()  # runs the lifespan (it keeps the services handed in open)
        self.cookie, self.csrf = self.new_session()
        self.seed()

    def seed(self) -> None:
        """A published and approved playbook, a person and a running campaign with tasks: ids 1 exist, so the
        fuzzer's small integers reach real rows (status reports, task updates), not only 404s."""
        for path, body in (
            ("/api/v1/playbooks", {"yaml": PLAYBOOK}),
            ("/api/v1/playbooks/course/versions/1/approve", None),
            ("/api/v1/staff", {"name": "李雷", "role": "ops", "email": "lei@example.com"}),
            ("/api/v1/campaigns", {"playbook": "course", "start": "now"}),
        ):
            response = self.client.post(
                BASE_URL + path,
                json=body,
                headers={CSRF_HEADER: self.csrf},
                cookies={SESSION_COOKIE: self.cookie},
            )
            assert response.status_code in (200, 201), response.text

    def new_session(self) -> tuple[str, str]:
        # Through the library, from another address: the fuzzer's failed logins from "testclient" may have
        # locked that address out by the time a logout case needs a fresh session.
        with self.services.database.session() as session:
            started = login(session=session, name=ADMIN, password=PASSWORD, client="fuzz-setup").unwrap()
        return started.token, started.auth.csrf_token

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.services.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """On both app databases: they refuse different values (PostgreSQL's integer ids are 32-bit)."""
    with ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            server_url = _require_postgres(request.getfixturevalue("postgres_server"))
            database_url = stack.enter_context(fresh_database(server_url))
        app = Fuzzed(tmp_path_factory.mktemp("fuzz"), database_url)
        stack.callback(app.close)
        yield app


# The spec of an app that is never started (nothing opened at collection): one test per operation. The calls go
# to the started app of the ``fuzzed`` fixture through its in-process client. (``from_fixture`` would load the
# spec from the started app instead, but schemathesis 4.32's lazy loader breaks on pytest 9.)
SPEC = app_for_listing().openapi()
schema = schemathesis.openapi.from_dict(SPEC, config=CONFIG)


def _error_shape(case: Any, response: Any) -> None:
    """A 4xx is the one shape; PostHog's own on its capture paths (its SDKs read ``detail``)."""
    if not 400 <= response.status_code < 500:
        return
    if case.path in POSTHOG_PATHS:
        assert {"type", "code", "detail"} <= set(response.json()), response.text
    else:
        assert_error_shape(response)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_one_error_shape(case: Any, fuzzed: Fuzzed) -> None:
    headers = {CSRF_HEADER: fuzzed.csrf, "Authorization": f"Bearer {fuzzed.api_key}"}
    cookies = {SESSION_COOKIE: fuzzed.cookie}
    if case.path == "/api/v1/auth/logout":
        # Logging out would end the session every later case uses: log out a session of its own.
        token, csrf = fuzzed.new_session()
        headers[CSRF_HEADER], cookies = csrf, {SESSION_COOKIE: token}
    response = case.call(base_url=BASE_URL, session=fuzzed.client, headers=headers, cookies=cookies)
    case.validate_response(response, checks=CHECKS)
    _error_shape(case, response)
