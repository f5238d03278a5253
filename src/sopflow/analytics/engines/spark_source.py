"""What the Spark engine reads: a Parquet file or dataset, or the workspace's events exported to Parquet.

Every source becomes one DataFrame of the same shape: ``person`` (the identity-merged id shown for the
person), ``ts_us`` (int64 µs UTC), the canonical text columns, ``revenue`` as decimal(18, 4), and
``properties``.

- The dataset ``sopflow events export`` writes carries ``person_id`` (merged by the store), used as is.
- Any other Parquet in the canonical shape is read as the embedded engine reads it: rows with the same
  ``event_id`` count once (the first in file order), naive timestamps are in the settings' timezone, and
  identity links are merged with the store's own code (:mod:`sopflow.events.identity`) on the driver.
  Ids are numbered in order of first sight (file, then row; ``user_id`` before link targets), which
  decides the id shown for a person that has two identified ids.
- Over a workspace, the store is exported into ``exports/spark/events-<stamp>/``; the stamp changes
  with the store's manifest and unsealed log, so a stale export is never read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from sopflow.errors import InvalidInput
from sopflow.events.identity import ALIAS_EVENT, Identity, extract_links
from sopflow.events.layout import BULK_SUFFIX, FRAME_SUFFIX, WAL_DIR
from sopflow.events.manifest import read_manifest
from sopflow.events.schema import EVENT_SCHEMA, IDENTIFY_EVENT
from sopflow.events.store import EventStore
from sopflow.i18n import _
from sopflow.workspace import Workspace

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

REQUIRED = ("event", "user_id", "ts")
TEXT_COLUMNS = ("event_id", "channel", "campaign", "step", "variant", "inviter_id", "currency", "properties")
_EXPORT_PREFIX = "events-"
_POSITION = ("_file", "_row")


def workspace_dataset(workspace: Workspace) -> Path:
    """The workspace's events as a Parquet dataset, exported now unless an up-to-date export exists."""
    with EventStore.open(workspace) as store:
        folder = workspace.exports_dir / "spark"
        target = folder / f"{_EXPORT_PREFIX}{store_stamp(store.events_dir)}"
        if not target.is_dir():
            # The stamp is taken before the export's snapshot: a concurrent write only makes the export
            # newer than its name, so the next run exports again rather than reading stale data.
            store.export_parquet(target, overwrite=True)
            for old in folder.glob(f"{_EXPORT_PREFIX}*"):
                if old != target:
                    shutil.rmtree(old, ignore_errors=True)
    return target


def store_stamp(events_dir: Path) -> str:
    """Changes whenever the store's content may have: the manifest, or the size of an unsealed log file."""
    digest = hashlib.sha256(json.dumps(read_manifest(events_dir), sort_keys=True).encode())
    wal = events_dir / WAL_DIR
    for path in sorted(wal.iterdir()) if wal.is_dir() else []:
        if path.name.endswith((FRAME_SUFFIX, BULK_SUFFIX)):
            digest.update(f"{path.name}\0{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files Spark will read under ``path``; refuses anything else with a clear message."""
    if not path.exists():
        raise InvalidInput(_("{path}: no such file", path=path))
    if path.is_file():
        files = [path]
    else:
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
    for file in files:
        with file.open("rb") as fh:
            if fh.read(4) != b"PAR1":
                raise InvalidInput(
                    _(
                        "{path}: --engine spark reads Parquet only; use --engine duckdb for this file, "
                        "or import it (sopflow events import) and analyse the workspace",
                        path=file,
                    )
                )
    return files


def load_events(spark: SparkSession, path: Path, *, tz: tzinfo, empty: bool = False) -> DataFrame:
    """The events under ``path`` (checked by :func:`parquet_files`; ``empty``: it found none)."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    if empty:
        return canonical(spark.createDataFrame(_empty_export()), tz=tz, source=path)
    try:
        raw = spark.read.option("recursiveFileLookup", "true").parquet(str(path))
        if "person_id" in raw.columns:
            return canonical(raw, tz=tz, source=path)
        positioned = raw.select(
            "*",
            F.col("_metadata.file_path").alias(_POSITION[0]),
            F.col("_metadata.row_index").alias(_POSITION[1]),
        )
        # Kept for the identity jobs and the metric's (the dedupe is a shuffle, done once). Not persist():
        # Spark reuses a cache for any equal plan, so a rewritten file at the same path would read stale.
        deduped = _first_of_each_event(canonical(positioned, tz=tz, source=path, keep=_POSITION))
        events = deduped.localCheckpoint(eager=False)
        return _with_persons(spark, events).drop(*_POSITION)
    except PySparkException as exc:
        raise InvalidInput(
            _("{path}: Spark cannot read these events: {reason}", path=path, reason=_first_line(exc))
        ) from None


def canonical(raw: DataFrame, *, tz: tzinfo, source: Path, keep: tuple[str, ...] = ()) -> DataFrame:
    """``raw`` in the engine's shape; ``person`` is ``person_id`` when present, else ``user_id`` for now."""
    from pyspark.sql import functions as F

    present = set(raw.columns)
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise InvalidInput(
            _(
                "{path}: the events need the columns {required} (as sopflow events export writes them); "
                "missing: {missing}",
                path=source,
                required=", ".join(REQUIRED),
                missing=", ".join(missing),
            )
        )
    person = "person_id" if "person_id" in present else "user_id"
    columns: list[Column] = [
        F.col(person).cast("string").alias("person"),
        _micros(raw, tz=tz, source=source).alias("ts_us"),
        F.col("event").cast("string").alias("event"),
        F.col("user_id").cast("string").alias("user_id"),
        *(_text(name, present).alias(name) for name in TEXT_COLUMNS),
        (F.col("revenue") if "revenue" in present else F.lit(None)).cast("decimal(18,4)").alias("revenue"),
        *(F.col(name) for name in keep),
    ]
    return raw.select(*columns)


def _text(name: str, present: set[str]) -> Column:
    from pyspark.sql import functions as F

    return (F.col(name) if name in present else F.lit(None)).cast("string")


def _micros(raw: DataFrame, *, tz: tzinfo, source: Path) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType, TimestampType

    kind = raw.schema["ts"].dataType
    if isinstance(kind, TimestampType):
        return F.unix_micros(F.col("ts"))
    if isinstance(kind, TimestampNTZType):
        # A wall-clock time: read it in the settings' zone (the session computes in UTC).
        return F.unix_micros(F.to_utc_timestamp(F.col("ts").cast("timestamp"), str(tz)))
    raise InvalidInput(
        _(
            "{path}: column ts must be a timestamp, not {kind}; import the file (sopflow events import) "
            "or use --engine duckdb",
            path=source,
            kind=kind.simpleString(),
        )
    )


def _first_of_each_event(events: DataFrame) -> DataFrame:
    """One row per event, the first in file order (as the store keeps the first it sees).

    An event is its ``event_id``; a row without one is its content (the store derives the id from it).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    content = F.to_json(F.struct(*(F.col(c) for c in events.columns if c not in _POSITION)))
    key = F.coalesce(F.concat(F.lit("id:"), F.col("event_id")), F.concat(F.lit("row:"), content))
    first = Window.partitionBy(key).orderBy(*_POSITION)
    return events.withColumn("_n", F.row_number().over(first)).filter(F.col("_n") == 1).drop("_n")


def _with_persons(spark: SparkSession, events: DataFrame) -> DataFrame:
    """``person`` merged through the identity links, with the store's code, on the driver."""
    from pyspark.sql import functions as F

    # One job fetches the links and any row the store would have refused (read as is, it would count).
    blank = {name: F.col(name).isNull() | (F.trim(F.col(name)) == "") for name in ("event", "user_id")}
    bad = F.col("ts_us").isNull() | blank["event"] | blank["user_id"]
    fetched = (
        events.filter(F.col("event").isin(IDENTIFY_EVENT, ALIAS_EVENT) | bad)
        .select(
            "event",
            "user_id",
            "properties",
            *_POSITION,
            F.when(blank["event"], "event").when(blank["user_id"], "user_id").when(bad, "ts").alias("_bad"),
        )
        .toArrow()
        .sort_by([(name, "ascending") for name in _POSITION])
    )
    _refuse_blank_rows(fetched)
    others, users = extract_links(fetched.filter(pc.is_null(fetched["_bad"])))
    if not len(users):
        return events
    linked = pa.concat_arrays([others, users]).unique()
    seen = (
        events.join(F.broadcast(spark.createDataFrame(pa.table({"user_id": linked}))), "user_id")
        .groupBy("user_id")
        .agg(F.min(F.struct(*_POSITION)).alias("first"))
        .toArrow()
    )
    mapping = _person_mapping(seen, others, users)
    if not mapping.num_rows:
        return events
    merged = events.join(spark.createDataFrame(mapping), "user_id", "left")
    return merged.withColumn("person", F.coalesce(F.col("person_id"), F.col("user_id"))).drop("person_id")


def _refuse_blank_rows(fetched: pa.Table) -> None:
    blank = fetched.filter(pc.is_valid(fetched["_bad"]))
    if blank.num_rows:
        first = blank.slice(0, 1).to_pylist()[0]
        raise InvalidInput(
            _(
                "{path}: row {row}: {field} is empty; fix the file, or use --engine duckdb to see every problem",
                path=Path(unquote(urlsplit(first["_file"]).path)),
                row=first["_row"] + 1,
                field=first["_bad"],
            )
        )


def _person_mapping(seen: pa.Table, others: pa.Array, users: pa.Array) -> pa.Table:
    """``(user_id, person_id)`` for every linked id whose shown id is another one."""
    first = pc.struct_field(seen["first"], [0]), pc.struct_field(seen["first"], [1])
    order = pc.sort_indices(
        pa.table({"f": first[0], "r": first[1]}), [("f", "ascending"), ("r", "ascending")]
    )
    as_users = seen["user_id"].take(order).combine_chunks().cast(pa.string())
    # Ids seen only as link targets come after every user_id, in link order (as one store chunk numbers them).
    targets_only = others.filter(pc.invert(pc.is_in(others, value_set=as_users))).unique()
    identity = Identity()
    identity.encode(pa.concat_arrays([as_users, targets_only]))
    identity.link(identity.encode(others), identity.encode(users))
    ids = identity.raw_ids
    shown = identity.person_ids(identity.labels)
    differ = pc.not_equal(ids, shown)
    return pa.table({"user_id": ids.filter(differ), "person_id": shown.filter(differ)})


def _empty_export() -> pa.Table:
    return EVENT_SCHEMA.append(pa.field("person_id", pa.string())).empty_table()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
