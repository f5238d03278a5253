"""The engines that read events for the metrics: ``duckdb`` (embedded, default) and ``spark``."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from sopflow.analytics.frame import Engine
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.workspace import Workspace

ENGINES = ("duckdb", "spark")


def open_engine(
    name: str, *, workspace: Workspace, events_path: Path | None = None, tz: tzinfo | None = None
) -> Engine:
    """The engine ``name`` over ``events_path`` (a Parquet/CSV file or Parquet dataset), else the workspace.

    Spark reads Parquet only: over the workspace it reads the dataset ``sopflow events export`` writes
    (exported on the fly into the workspace's exports folder when missing or stale). ``tz``: the time zone
    of naive timestamps in a CSV given as ``events_path``.
    """
    if name == "duckdb":
        from sopflow.analytics.engines.embedded import EmbeddedEngine

        return EmbeddedEngine.open(workspace=workspace, events_path=events_path, tz=tz)
    if name == "spark":
        from sopflow.analytics.engines.spark import SparkEngine

        engine: Engine = SparkEngine.open(workspace=workspace, events_path=events_path, tz=tz)
        return engine
    raise InvalidInput(
        _("unknown engine {name!r}; choose one of: {choices}", name=name, choices=", ".join(ENGINES))
    )
