"""One SparkSession (``local[2]``) for every Spark test of a test process, and engines over test data.

    from spark_support import requires_java, spark_engine, table_rows

    engine = spark_engine(tmp_path, events_path=path)  # starts the shared session on first use

The session splits persons over three partitions even for tiny data (adaptive coalescing is off), so a
per-person function meets frames of several persons and partitions without any, as in production.
Functions defined in test modules are shipped to the Python workers by value (they cannot import
test modules).
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from sopflow.analytics.engines.spark import SparkEngine
from sopflow.analytics.engines.spark_session import spark_session
from sopflow.analytics.frame import Coded, PersonTable
from sopflow.settings import Settings
from sopflow.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

TESTS = Path(__file__).resolve().parents[1]
# C1-only JIT: the JVM starts and warms up about twice as fast, which is all tiny test data needs.
SETTINGS = Settings(
    spark_master="local[2]",
    spark_shuffle_partitions=3,
    spark_driver_memory="1g",
    spark_java_options="-XX:TieredStopAtLevel=1",
)

requires_java = pytest.mark.skipif(
    shutil.which("java") is None and not os.environ.get("JAVA_HOME"), reason="--engine spark needs Java 17+"
)


def shared_session() -> SparkSession:
    session = spark_session(SETTINGS)
    session.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    _ship_test_modules()
    return session


def _ship_test_modules() -> None:
    from pyspark import cloudpickle

    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and name != "__main__" and Path(file).resolve().is_relative_to(TESTS):
            cloudpickle.register_pickle_by_value(module)


def spark_engine(
    workspace: Path, *, events_path: Path | None = None, tz: tzinfo | None = None
) -> SparkEngine:
    """A Spark engine over ``events_path``, else over the workspace folder ``workspace``."""
    shared_session()
    return SparkEngine.open(
        workspace=Workspace.resolve(workspace), events_path=events_path, tz=tz, settings=SETTINGS
    )


def table_rows(table: PersonTable, *, key: str) -> list[dict[str, Any]]:
    """A person table as plain rows sorted by ``key`` (engines return persons in no particular order)."""
    columns = {
        name: column.decoded() if isinstance(column, Coded) else np.asarray(column).tolist()
        for name, column in table.items()
    }
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    return sorted(rows, key=lambda row: (row[key] is None, row[key]))
