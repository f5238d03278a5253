"""The one SparkSession of a process, configured from :class:`~sopflow.settings.Settings`.

Spark is started lazily (a JVM takes seconds to start) and reused by every engine of the process. The
session is quiet (errors only, no progress bar, no web UI), computes in UTC (timestamps are instants;
display zones are the metrics' business), and moves data to Python as Arrow.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_LOCK = threading.Lock()
_SESSION: list[SparkSession] = []  # the started session, once there is one

# Spark prints INFO and WARN lines (native libraries, host names) that mean nothing to an operator.
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
# Started from Python, Spark sets the console to this logger's level (WARN unless set) and says so.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


class SparkUnavailable(SopflowError):
    """Spark cannot run here (no Java, no pyspark, or the JVM failed to start)."""

    code = "spark_unavailable"


def spark_session(settings: Settings) -> SparkSession:
    """The process's session, started on first use with ``settings`` (later calls reuse it as it is)."""
    with _LOCK:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise SparkUnavailable(
                _("pyspark is not installed; install sopflow with its dependencies, or use --engine duckdb")
            ) from None
        if _SESSION:
            return _SESSION[0]
        _require_java()
        # Python workers must run this interpreter (its packages, sopflow included), not "python3" on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(settings.spark_master).appName("sopflow")
        for key, value in _conf(settings).items():
            builder = builder.config(key, value)
        try:
            with quiet_pyspark():
                session = builder.getOrCreate()
        except Exception as exc:  # the JVM's failure comes as several pyspark/py4j types
            raise SparkUnavailable(_("Spark could not start: {reason}", reason=_first_line(exc))) from None
        session.sparkContext.setLogLevel("ERROR")
        _SESSION.append(session)
        return session


def _conf(settings: Settings) -> dict[str, str]:
    return {
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={_log4j_file().as_uri()} "
        + settings.spark_java_options,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # List dataset folders on the driver: a listing job costs seconds, a local listing milliseconds.
        "spark.sql.sources.parallelPartitionDiscovery.threshold": "10000",
        # Bigger Arrow batches between the JVM and Python: fewer round trips, and a partition is
        # gathered whole anyway.
        "spark.sql.execution.arrow.maxRecordsPerBatch": "1000000",
    }


def _require_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if (home and Path(home, "bin", "java").exists()) or shutil.which("java"):
        return
    raise SparkUnavailable(
        _(
            "Java was not found: --engine spark needs Java 17 or later (install it or set JAVA_HOME), "
            "or use --engine duckdb"
        )
    )


def _log4j_file() -> Path:
    folder = Path(tempfile.gettempdir()) / "sopflow-spark"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "log4j2.properties"
    if not path.exists() or path.read_text(encoding="utf-8") != _LOG4J:
        tmp = folder / f".log4j2.{os.getpid()}.tmp"
        tmp.write_text(_LOG4J, encoding="utf-8")
        os.replace(tmp, path)
    return path


@contextlib.contextmanager
def quiet_pyspark() -> Iterator[None]:
    """Hide pyspark's notice about pandas 3 (sopflow moves data as Arrow and never through pandas)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
