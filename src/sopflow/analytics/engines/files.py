"""``--events PATH``: a Parquet/CSV file or Parquet dataset read as the store would hold it.

The file goes through the same normalisation as ``sopflow events import`` (header mapping, time zones,
validation) and the same in-memory generation build (dedupe by event id, identity merge, person/time
order), so an analysis of a file and of a workspace that imported it give the same answer. Nothing is
written. A row that fails validation stops the analysis with its row number: a silently smaller
denominator would be worse than no answer.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

import pyarrow as pa

from sopflow.errors import InvalidInput
from sopflow.events.generation import Generation, GenerationBuilder
from sopflow.events.headers import resolve_columns
from sopflow.events.importer import prepare_table
from sopflow.events.normalize_table import normalize_table
from sopflow.events.readers import open_source
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.i18n import _


def read_events_file(path: Path, *, tz: tzinfo) -> tuple[Generation, pa.Table]:
    """The generation of the file's events (in memory) and its canonical rows in ``row`` order."""
    source = open_source(path)
    if source.format not in ("parquet", "csv"):
        raise InvalidInput(
            _(
                "{path}: --events reads Parquet or CSV; import other formats with sopflow events import",
                path=path,
            )
        )
    mapping = resolve_columns(source.headers, {}, source=str(path)) if source.headers else {}
    builder = GenerationBuilder(Generation(), segments_dir=None)
    tables: list[pa.Table] = []
    for chunk in source.chunks():
        assert chunk.table is not None  # Parquet and CSV chunks are tables
        normalized = normalize_table(prepare_table(chunk.table, mapping), tz=tz, rows=chunk.rows)
        if normalized.rejects:
            first = normalized.rejects[0]
            raise InvalidInput(
                _(
                    "{path}: row {row}, field {field}: {reason}",
                    path=path,
                    row=first.row,
                    field=first.field,
                    reason=first.reason,
                )
            )
        # Row numbers count the rows handed to the builder, so a rejected-free chunk maps one to one.
        builder.add(normalized.table)
        tables.append(normalized.table)
    table = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
    return builder.finish(), table
