"""What runs in Spark's Python workers: a partition's rows as a :class:`PersonFrame`, a person table back.

Kept apart from the engine so that a worker imports only NumPy, pyarrow and the frame definitions (the
metric's own module aside), not the event store, the settings or Spark's driver side.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.analytics.frame import Coded, FrameRequest, PersonFrame, PersonFunction, PersonTable

PAYLOAD = "person_table"
_DTYPE = b"numpy_dtype"


def empty_frame(request: FrameRequest) -> PersonFrame:
    return PersonFrame(
        offsets=np.zeros(1, dtype=np.int64),
        ts=np.zeros(0, dtype=np.int64),
        event=np.zeros(0, dtype=np.int32),
        event_names=[],
        columns={name: Coded(np.zeros(0, dtype=np.int32), []) for name in request.columns},
        person_ids=[] if request.person_ids else None,
    )


def run_partition(
    batches: Iterator[pa.RecordBatch], *, fn: PersonFunction, columns: tuple[str, ...], person_ids: bool
) -> Iterator[pa.RecordBatch]:
    """In an executor: the partition's rows (a person's rows may span batches) as one frame, through ``fn``."""
    gathered = [batch for batch in batches if batch.num_rows]
    if not gathered:
        return
    frame = frame_of(pa.Table.from_batches(gathered), columns=columns, person_ids=person_ids)
    yield pa.record_batch({PAYLOAD: pa.array([to_ipc(fn(frame))], pa.binary())})


def frame_of(table: pa.Table, *, columns: tuple[str, ...], person_ids: bool) -> PersonFrame:
    """Rows grouped by ``person`` and ordered by ``ts`` within one, as a :class:`PersonFrame`."""
    person = table.column("person").combine_chunks()
    n = len(person)
    changes = pc.not_equal(person.slice(1), person.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(changes) + 1
    offsets = np.concatenate([[0], starts, [n]]).astype(np.int64)
    event = coded(table.column("event"))
    frame = PersonFrame(
        offsets=offsets,
        ts=np.asarray(table.column("ts").to_numpy(), dtype=np.int64),
        event=event.codes,
        event_names=event.values,
        columns={name: coded(table.column(f"_c{i}")) for i, name in enumerate(columns)},
    )
    if person_ids:
        frame.person_ids = person.take(pa.array(offsets[:-1])).to_pylist()
    return frame


def coded(values: pa.ChunkedArray | pa.Array) -> Coded:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(array.cast(pa.string()))
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
    return Coded(codes, encoded.dictionary.to_pylist())


def to_ipc(table: PersonTable) -> bytes:
    """A person table as one Arrow IPC stream: Coded as dictionary arrays, arrays tagged with their dtype."""
    arrays, fields = [], []
    for name, column in table.items():
        if isinstance(column, Coded):
            codes = np.asarray(column.codes, dtype=np.int32)
            array: pa.Array = pa.DictionaryArray.from_arrays(
                pa.array(codes, mask=codes < 0), pa.array(column.values, pa.string())
            )
            fields.append(pa.field(name, array.type))
        else:
            values = np.asarray(column)
            array = pa.array(values)
            fields.append(pa.field(name, array.type, metadata={_DTYPE: values.dtype.str}))
        arrays.append(array)
    batch = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    payload: bytes = sink.getvalue().to_pybytes()
    return payload


def from_ipc(payload: bytes) -> PersonTable:
    table = pa.ipc.open_stream(payload).read_all()
    out: PersonTable = {}
    for field, column in zip(table.schema, table.columns, strict=True):
        array = column.combine_chunks()
        if isinstance(array, pa.DictionaryArray):
            codes = np.asarray(array.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
            out[field.name] = Coded(codes, array.dictionary.to_pylist())
        else:
            dtype = np.dtype(field.metadata[_DTYPE].decode())
            out[field.name] = np.asarray(array.to_numpy(zero_copy_only=False)).astype(dtype, copy=False)
    return out
