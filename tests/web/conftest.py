"""Web fixtures: a fresh workspace and app per test, an API key, and the events stored so far."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette now prefers the httpx2 fork for its test client; plain httpx works the same here.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from sopflow.settings import Settings, load_settings
from sopflow.store.api_keys import create_api_key
from sopflow.web.app import create_app
from sopflow.web.services import Services

from .helpers import read_events


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return load_settings(environ={}, home=tmp_path / "ws", **overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """``make_client(max_body_bytes=…)`` → a started app (lifespan run) on a fresh workspace."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        chosen = settings.model_copy(update=overrides) if overrides else settings
        client = TestClient(create_app(chosen), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def services_of(client: TestClient) -> Services:
    services = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(services, Services)
    return services


@pytest.fixture
def api_key(client: TestClient) -> str:
    with services_of(client).database.session() as session:
        return create_api_key(session=session, name="tests").key


@pytest.fixture
def stored(settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    return lambda: read_events(settings.workspace)
