"""What the web app holds while it runs: settings, app database, key verifier, event store, ingestor."""

from __future__ import annotations

from dataclasses import dataclass

from sopflow.events.store import EventStore
from sopflow.settings import Settings
from sopflow.store.api_keys import ApiKeyVerifier
from sopflow.store.database import Database, open_app_database
from sopflow.web.ingest import Ingestor


@dataclass
class Services:
    settings: Settings
    database: Database
    keys: ApiKeyVerifier
    store: EventStore
    ingestor: Ingestor

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """Open the app database (migrating it) and the event store; raises a clean error if either fails."""
        database = open_app_database(settings)
        try:
            store = EventStore.open(
                settings.workspace.ensure(), auto_compact_rows=settings.compact_after_events or None
            )
        except BaseException:
            database.close()
            raise
        keys = ApiKeyVerifier(database, cache_seconds=settings.api_key_cache_seconds)
        return cls(
            settings=settings,
            database=database,
            keys=keys,
            store=store,
            ingestor=Ingestor(store=store, settings=settings),
        )

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self.database.close()
