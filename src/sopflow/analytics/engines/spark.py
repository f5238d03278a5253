"""The Spark engine (``--engine spark``): the same per-person functions, run in Spark's executors.

Spark reads Parquet only (see :mod:`~sopflow.analytics.engines.spark_source`): the file or dataset of
``--events``, else the workspace's events exported to Parquet. For a metric it selects the requested
columns, sends each person's rows to one partition (``repartition`` by person), orders them by time, and
in every partition builds one :class:`PersonFrame` of its persons and calls the metric's function on it
(``mapInArrow``). The function is shipped by pickling, so it must be importable on the workers (every
metric lives in sopflow).

Each partition's :class:`PersonTable` travels back whole, as one Arrow IPC message (Coded columns as
dictionary arrays, NumPy columns tagged with their dtype), and the driver concatenates them as the
embedded engine's single table would be. So no output schema is guessed up front: a function whose
dtypes differ on an empty frame (``np.bincount`` of nothing with weights is int64) is still exact. With
no events at all the function is called once on an empty frame, as the embedded engine does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sopflow.analytics.engines.spark_session import quiet_pyspark, spark_session
from sopflow.analytics.engines.spark_source import load_events, parquet_files, workspace_dataset
from sopflow.analytics.engines.spark_worker import PAYLOAD, empty_frame, from_ipc, run_partition
from sopflow.analytics.frame import (
    FrameRequest,
    PersonFunction,
    PersonTable,
    concat_tables,
    property_source,
)
from sopflow.settings import Settings, load_settings
from sopflow.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


@dataclass
class SparkEngine:
    """Events as a Spark DataFrame (``person``, ``ts_us``, canonical columns, ``properties``)."""

    events: DataFrame
    partitions: int
    name: str = "spark"

    @classmethod
    def open(
        cls,
        *,
        workspace: Workspace,
        events_path: Path | None = None,
        tz: tzinfo | None = None,
        settings: Settings | None = None,
    ) -> SparkEngine:
        settings = settings or load_settings(home=workspace.root)
        path = Path(events_path).resolve() if events_path is not None else workspace_dataset(workspace)
        files = parquet_files(path)  # refuse CSV and the like before a JVM starts
        spark = spark_session(settings)
        events = load_events(spark, path, tz=tz or ZoneInfo(settings.timezone), empty=not files)
        return cls(events, settings.spark_shuffle_partitions)

    def time_bounds(self) -> tuple[int, int] | None:
        from pyspark.sql import functions as F

        row = self.events.agg(F.min("ts_us"), F.max("ts_us")).first()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def map_persons(self, request: FrameRequest, fn: PersonFunction) -> PersonTable:
        from pyspark.sql import functions as F

        events = self.events
        if request.events is not None:
            wanted = sorted(request.events)
            events = events.filter(F.col("event").isin(wanted) if wanted else F.lit(False))
        selected = events.select(
            F.col("person"), F.col("ts_us").alias("ts"), F.col("event"), *_properties(request.columns)
        )
        run = functools.partial(run_partition, fn=fn, columns=request.columns, person_ids=request.person_ids)
        with quiet_pyspark():
            result = (
                selected.repartition(self.partitions, "person")
                .sortWithinPartitions("person", "ts")
                .mapInArrow(run, f"{PAYLOAD} binary")
                .toArrow()
            )
        parts = [from_ipc(payload) for payload in result.column(PAYLOAD).to_pylist()]
        return concat_tables(parts) if parts else fn(empty_frame(request))


def _properties(names: tuple[str, ...]) -> list[Column]:
    """The requested properties as text, named ``_c<i>`` (names are free text, Spark's are not)."""
    from pyspark.sql import functions as F

    columns: list[Column] = []
    awkward: list[tuple[int, str]] = []
    for i, name in enumerate(names):
        kind, key = property_source(name)
        if kind == "column":
            columns.append(F.col(name).cast("string").alias(f"_c{i}"))
        elif key and "'" not in key and key != "*":
            # Same text as DuckDB's json_extract_string: scalars unquoted, nested values as compact JSON.
            columns.append(F.get_json_object(F.col("properties"), f"$['{key}']").alias(f"_c{i}"))
        else:
            awkward.append((i, name))
    if awkward:
        # Keys a JSON path cannot spell; json_tuple takes them literally (one generator per select).
        generator = F.json_tuple(F.col("properties"), *(name for _i, name in awkward))
        columns.append(generator.alias(*(f"_c{i}" for i, _name in awkward)))
    return columns
