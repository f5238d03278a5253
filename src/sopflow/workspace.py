"""A workspace folder holds everything of one team: app database, event store, exports.

Chosen by ``--workspace DIR``, else the ``SOPFLOW_HOME`` environment variable, else ``./sopflow-data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = "sopflow-data"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, option: Path | str | None = None) -> Workspace:
        chosen = option or os.environ.get("SOPFLOW_HOME") or DEFAULT_DIR
        return cls(Path(chosen).expanduser().resolve())

    @property
    def app_db(self) -> Path:
        """The SQLite app database (campaigns, tasks, API keys…)."""
        return self.root / "app.db"

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def ensure(self) -> Workspace:
        for folder in (self.root, self.events_dir, self.exports_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self
