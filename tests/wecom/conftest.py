"""WeCom fixtures: the local WeCom API server, a configured app database, a started app."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from sopflow.events.store import EventStore
from sopflow.settings import Settings, load_settings
from sopflow.store.database import open_app_database
from sopflow.web.app import create_app
from sopflow.wecom.client import TokenCache
from sopflow.wecom.config import configure_wecom, set_states

from .wecom_cipher import AES_KEY, TOKEN
from .wecom_server import CORP_ID, SECRET, FakeWecom


@pytest.fixture
def fake_wecom() -> Iterator[FakeWecom]:
    with FakeWecom() as fake:
        yield fake


@pytest.fixture
def tokens() -> TokenCache:
    """A token cache of the test's own (the process-wide one would carry tokens across tests)."""
    return TokenCache()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(environ={}, home=tmp_path / "ws", database_url=database_url)


@pytest.fixture
def configured(settings: Settings, fake_wecom: FakeWecom) -> Settings:
    database = open_app_database(settings)
    try:
        with database.session() as session:
            configure_wecom(
                session=session,
                corp_id=CORP_ID,
                token=TOKEN,
                aes_key=AES_KEY,
                secret=SECRET,
                agent_id=1000002,
                api_base=fake_wecom.base,
            )
            set_states(session=session, mapping={"moments_poster": "moments"})
    finally:
        database.close()
    return settings


@pytest.fixture
def client(configured: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(configured), raise_server_exceptions=False) as test_client:
        yield test_client


def stored_events(settings: Settings) -> list[dict[str, Any]]:
    with EventStore.open(settings.workspace) as store:
        rows = store.scan_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["ts"], r["event_id"]))
