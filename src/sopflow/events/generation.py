"""A generation: the sealed part of the store at one point, and how compaction builds the next one.

On disk (all immutable once written; ``manifest.json`` names the current generation):

- ``segments/seg-<gen>-<i>.parquet`` — canonical rows, zstd-compressed, in arrival order (a full
  compaction rewrites them in (person, ts) order); the concatenation of the manifest's segments, in
  order, numbers every sealed row. Person/time order lives in the cache below: sorting whole rows
  costs more than all the rest of a compaction together, and no reader needs it;
- ``gen-<gen>/`` — the analytics cache and dictionaries, NumPy ``.npy`` files memory-mapped by readers:
  ``person`` (int32), ``ts`` (int64 µs UTC), ``event`` and ``channel`` (int16, or int32 past 32k names;
  channel -1 = none) and ``row`` (int64, the row's number in the segments), grouped by person (each
  person's rows contiguous) and ordered by (ts, event) within a person; ``offsets`` (int64) where each
  person's rows start; ``keys`` (sorted uint64 dedupe keys); ``labels``/``identified``/``has_events``
  per raw-id code; ``raw_ids.arrow`` and ``names.json`` (event and channel names by code); the coded
  inviter column ``inviter`` (int32, in cache order) with its ids, see :mod:`sopflow.events.inviters`, and
  the coded revenue column ``revenue`` with its amounts, see :mod:`sopflow.events.revenues` (both absent in
  generations written before them: the next compaction adds them).

Compaction re-sorts only the persons it touches: rows of persons with no new events and no identity
change keep their place, the touched persons' rows (old and new) are sorted and appended.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sopflow.events import inviters, revenues
from sopflow.events.identity import LINK_EVENTS, Identity, extract_links
from sopflow.events.inviters import InviterIds
from sopflow.events.keys import event_keys, merge_sorted, sorted_contains
from sopflow.events.layout import gen_dir_name
from sopflow.events.native.keyset import HashKeySet
from sopflow.events.revenues import RevenueCodes
from sopflow.events.segments import Segment, SegmentWriter, write_segment
from sopflow.events.wal import fsync_dir, fsync_file

CACHE_COLUMNS = ("person", "ts", "event", "channel", "row")
# The coded columns of compactions (see the module docstring), and the canonical column each codes.
CODED = (inviters.CODES, revenues.CODES)
_SOURCES = {inviters.CODES: "inviter_id", revenues.CODES: "revenue"}
RADIX_FROM = 1 << 21
SEGMENT_ROWS = 8_000_000  # rows per segment file of an import
_ID_SCHEMA = pa.schema([pa.field("id", pa.string())])


@dataclass
class Generation:
    number: int = 0
    segments: list[Segment] = field(default_factory=list)
    event_names: list[str] = field(default_factory=list)
    channel_names: list[str] = field(default_factory=list)
    identity: Identity = field(default_factory=Identity)
    has_events: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    cache: dict[str, np.ndarray] = field(default_factory=lambda: _empty_cache())
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    # the coded inviter column's ids (``cache["inviter"]`` holds the codes) and their raw-id codes; None in
    # a generation written before the column existed, and in readers' in-memory views
    inviter_ids: InviterIds | None = None
    inviter_raw: np.ndarray | None = None
    # the coded revenue column's amounts (``cache["revenue"]`` holds the codes); None as for the inviters
    revenue_codes: RevenueCodes | None = None

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.segments)


def _empty_cache() -> dict[str, np.ndarray]:
    return {
        "person": np.zeros(0, np.int32),
        "ts": np.zeros(0, np.int64),
        "event": np.zeros(0, np.int16),
        "channel": np.zeros(0, np.int16),
        "row": np.zeros(0, np.int64),
    }


def load_generation(events_dir: Path, manifest: dict[str, Any], *, cache: bool = True) -> Generation:
    """The generation ``manifest`` names (arrays memory-mapped); an empty one for a new store."""
    number = int(manifest.get("generation", 0))
    if number == 0:
        return Generation()
    folder = events_dir / gen_dir_name(number)

    def array(name: str) -> np.ndarray:
        loaded: np.ndarray = np.load(folder / f"{name}.npy", mmap_mode="r")
        return loaded

    names = json.loads((folder / "names.json").read_text(encoding="utf-8"))
    with pa.memory_map(str(folder / "raw_ids.arrow")) as source:
        raw_ids = pa.ipc.open_file(source).read_all()["id"].combine_chunks()
    identity = Identity(raw_ids, np.asarray(array("labels")), np.asarray(array("identified")))
    segments = [Segment(**s) for s in manifest.get("segments", [])]
    columns = {c: array(c) for c in CACHE_COLUMNS} if cache else _empty_cache()
    coded = cache and inviters.present(folder)
    if coded:
        columns[inviters.CODES] = array(inviters.CODES)
    amounts = cache and revenues.present(folder)
    if amounts:
        columns[revenues.CODES] = array(revenues.CODES)
    return Generation(
        number=number,
        segments=segments,
        event_names=names["events"],
        channel_names=names["channels"],
        identity=identity,
        has_events=array("has_events"),
        keys=array("keys"),
        cache=columns,
        offsets=array("offsets"),
        inviter_ids=inviters.load_ids(folder) if coded else None,
        inviter_raw=array(inviters.RAW) if coded else None,
        revenue_codes=RevenueCodes.of(revenues.load_units(folder)) if amounts else None,
    )


def write_generation(events_dir: Path, gen: Generation) -> str:
    """Write ``gen-<n>/`` durably (temp folder, fsync, rename); returns its name."""
    name = gen_dir_name(gen.number)
    tmp = events_dir / f".{name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    arrays = {
        **gen.cache,
        "offsets": gen.offsets,
        "keys": gen.keys,
        "labels": gen.identity.labels,
        "identified": gen.identity.identified,
        "has_events": gen.has_events,
    }
    for key, value in arrays.items():
        path = tmp / f"{key}.npy"
        np.save(path, np.ascontiguousarray(value))
        fsync_file(path)
    (tmp / "names.json").write_text(
        json.dumps({"events": gen.event_names, "channels": gen.channel_names}, ensure_ascii=False),
        encoding="utf-8",
    )
    fsync_file(tmp / "names.json")
    ids = tmp / "raw_ids.arrow"
    with pa.OSFile(str(ids), "wb") as sink, pa.ipc.new_file(sink, _ID_SCHEMA) as writer:
        writer.write_table(pa.table({"id": gen.identity.raw_ids}, schema=_ID_SCHEMA))
    fsync_file(ids)
    if gen.inviter_ids is not None and gen.inviter_raw is not None and inviters.CODES in gen.cache:
        inviters.save(tmp, gen.inviter_ids, gen.inviter_raw)
    if gen.revenue_codes is not None and revenues.CODES in gen.cache:
        revenues.save(tmp, gen.revenue_codes)
    fsync_dir(tmp)
    target = events_dir / name
    if target.exists():
        # A compaction killed after renaming its generation into place but before writing the manifest:
        # never named by a manifest, so no reader uses it, and this compaction (holding the lock) redoes it.
        shutil.rmtree(target)
    os.replace(tmp, target)
    fsync_dir(events_dir)
    return name


def encode_names(values: pa.Array | pa.ChunkedArray, names: list[str]) -> np.ndarray:
    """Integer codes of ``values`` in ``names`` (extended in place); -1 for null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    index = {name: i for i, name in enumerate(names)}
    mapping = []
    for value in encoded.dictionary.to_pylist():
        if value not in index:
            index[value] = len(names)
            names.append(value)
        mapping.append(index[value])
    lookup = np.asarray([*mapping, -1], dtype=np.int64)
    indices = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return lookup[indices]


def code_dtype(count: int) -> type[np.signedinteger[Any]]:
    return np.int16 if count < np.iinfo(np.int16).max else np.int32


def sort_order(person: np.ndarray, ts: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Stable order by (person, ts, event); skips the sort when the rows are already in that order.

    Large inputs use one stable sort of a packed (ts, event) key, then a stable LSD radix sort of the
    person code in 16-bit digits (NumPy radix-sorts 16-bit keys): 1.3–1.8× faster than ``lexsort``.
    """
    if _is_sorted(person, ts, event):
        return np.arange(len(person))
    event_bits = int(event.max()).bit_length() if len(event) else 0
    span_bits = int(ts.max() - ts.min()).bit_length() if len(ts) else 0
    if len(person) < RADIX_FROM or span_bits + event_bits > 62:
        return np.lexsort((event, ts, person))
    key = ((ts - ts.min()) << event_bits) | event.astype(np.int64)
    order = np.argsort(key, kind="stable")
    codes = person[order].astype(np.int64)
    for shift in (0, 16) if int(person.max()) >= 1 << 16 else (0,):
        step = np.argsort(((codes >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order, codes = order[step], codes[step]
    return order


def _is_sorted(person: np.ndarray, ts: np.ndarray, event: np.ndarray) -> bool:
    if len(person) < 2:
        return True
    dp, dt, de = np.diff(person), np.diff(ts), np.diff(event.astype(np.int32))
    return bool(((dp > 0) | ((dp == 0) & ((dt > 0) | ((dt == 0) & (de >= 0))))).all())


class GenerationBuilder:
    """Seal new rows on top of ``base`` into generation ``base.number + 1``."""

    def __init__(self, base: Generation, *, segments_dir: Path | None) -> None:
        self.base = base
        self.segments_dir = segments_dir
        self.number = base.number + 1
        self.event_names = list(base.event_names)
        self.channel_names = list(base.channel_names)
        ident = base.identity
        self.identity = Identity(ident.raw_ids, np.array(ident.labels), np.array(ident.identified))
        self.has_events = np.array(base.has_events)
        self.segments = list(base.segments)
        self.sealed_rows = base.rows
        self._new_keys = HashKeySet(expected=1 << 20)
        self._key_parts: list[np.ndarray] = []
        self._parts: list[dict[str, np.ndarray]] = []
        self._placed: list[int] = []  # per part: the segment its rows went to (-1: not written)
        self._writer = (
            SegmentWriter(segments_dir, self.number, segment_rows=SEGMENT_ROWS) if segments_dir else None
        )
        # The coded inviter and revenue columns are written by compactions only (a reader's view does without
        # them). A base written before a column existed gets it here (``upgrades``), from its segments.
        self._inviters: InviterIds | None = None
        self._revenues: RevenueCodes | None = None
        self.upgrades = False
        if segments_dir is not None:
            self._inviters = InviterIds.of(base.inviter_ids.values if base.inviter_ids else None)
            self._revenues = RevenueCodes.of(
                base.revenue_codes.array() if base.revenue_codes is not None else None
            )
            self.upgrades = len(base.cache["person"]) > 0 and not (
                inviters.CODES in base.cache and revenues.CODES in base.cache
            )
        self.added = 0
        self.duplicates = 0

    def add(
        self,
        table: pa.Table,
        *,
        keys: np.ndarray | None = None,
        user_digests: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[int, int]:
        """Dedupe ``table`` against everything sealed or added, and write its new rows as a segment.
        Returns ``(added, duplicates)``.

        Without a ``segments_dir`` (a reader's view of the unsealed log) nothing is written and ``row``
        numbers the input rows in the order they were added, after the sealed ones.
        """
        keys = event_keys(table["event_id"]) if keys is None else keys
        sealed = np.asarray(self.base.keys)
        fresh = self._new_keys.add(keys, skip=sorted_contains(sealed, keys) if len(sealed) else None)
        positions = np.flatnonzero(fresh)
        input_rows, added = table.num_rows, len(positions)
        self.duplicates += input_rows - added
        if added == 0:
            self.sealed_rows += 0 if self.segments_dir is not None else input_rows
            return 0, input_rows
        # Only the columns coded here are filtered; the whole table is filtered by the segment writer, in the
        # background (filtering every column here would hold this thread far longer).
        keep = None if added == input_rows else fresh
        mask = None if keep is None else pa.array(keep)

        def kept(name: str) -> pa.Array | pa.ChunkedArray:
            return table[name] if mask is None else table[name].filter(mask)

        if keep is not None:
            keys = keys[keep]
            if user_digests is not None:
                user_digests = (user_digests[0][keep], user_digests[1][keep])
        events = encode_names(kept("event"), self.event_names)
        channels = encode_names(kept("channel"), self.channel_names)
        users = self.identity.encode(kept("user_id"), user_digests)
        self._grow_has_events()
        self.has_events[users] = True
        link_codes = [self.event_names.index(e) for e in LINK_EVENTS if e in self.event_names]
        row_codes = events if keep is None else np.full(input_rows, -1, dtype=events.dtype)
        if keep is not None:
            row_codes[positions] = events
        others, linked = extract_links(table, event_codes=row_codes, link_codes=link_codes)
        if len(linked):
            self.identity.link(self.identity.encode(others), self.identity.encode(linked))
            self._grow_has_events()
        ts = np.asarray(kept("ts").cast(pa.int64()).to_numpy(), dtype=np.int64)
        self._key_parts.append(keys)
        if self._writer is not None:  # numbered within its segment until the segments' order is known
            segment, offset = self._writer.write(table, keep=keep)
            rows = offset + np.arange(added, dtype=np.int64)
            self._placed.append(segment)
        else:
            rows = self.sealed_rows + positions.astype(np.int64)
            self.sealed_rows += input_rows
            self._placed.append(-1)
        part = {"user": users, "ts": ts, "event": events, "channel": channels, "row": rows}
        if self._inviters is not None and self._revenues is not None:
            part[inviters.CODES] = self._inviters.encode(kept("inviter_id"))
            part[revenues.CODES] = self._revenues.encode(kept("revenue"))
        self._parts.append(part)
        self.added += added
        return added, input_rows - added

    def discard(self) -> None:
        """Forget this build: delete the segments it wrote (never referenced by a manifest)."""
        if self._writer is not None:
            self._writer.discard()
        self._new_keys.close()

    def _grow_has_events(self) -> None:
        missing = len(self.identity) - len(self.has_events)
        if missing > 0:
            self.has_events = np.concatenate([self.has_events, np.zeros(missing, dtype=bool)])

    def finish(self) -> Generation:
        if self._writer is not None:  # segment sizes are known before the last writes end: sort meanwhile
            starts = self.sealed_rows + np.cumsum([0, *self._writer.planned_rows()])
            for part, segment in zip(self._parts, self._placed, strict=True):
                part["row"] += starts[segment]
        self._new_keys.close()
        labels = self.identity.labels
        base_labels = self.base.identity.labels
        changed = np.flatnonzero(labels[: len(base_labels)] != base_labels)
        cache = self._merged_cache(labels, changed)
        inviter_raw = None if self._inviters is None else self._inviters.raw_codes(self.identity)
        new_keys = np.concatenate(self._key_parts) if self._key_parts else np.zeros(0, np.uint64)
        self._key_parts.clear()
        keys = merge_sorted(self.base.keys, np.sort(new_keys))
        person = cache["person"]
        starts = np.flatnonzero(person[1:] != person[:-1]) + 1 if len(person) else np.zeros(0, np.int64)
        offsets = (
            np.concatenate([[0], starts, [len(person)]]).astype(np.int64)
            if len(person)
            else np.zeros(1, dtype=np.int64)
        )
        if self._writer is not None:
            written = self._writer.finish()
            assert [s.rows for s in written] == self._writer.planned_rows()
            self.segments += written
        return Generation(
            number=self.number,
            segments=self.segments,
            event_names=self.event_names,
            channel_names=self.channel_names,
            identity=self.identity,
            has_events=self.has_events,
            keys=keys,
            cache=cache,
            offsets=offsets,
            inviter_ids=self._inviters,
            inviter_raw=inviter_raw,
            revenue_codes=self._revenues,
        )

    def _base_coded(self) -> dict[str, np.ndarray]:
        """The base rows' inviter and revenue codes in cache order (read from the segments for an old base,
        once for both); empty for a reader's view."""
        if self._inviters is None or self._revenues is None:
            return {}
        old = self.base.cache
        found = {c: np.asarray(old[c]) for c in CODED if c in old}
        missing = {c: source for c, source in _SOURCES.items() if c not in found}
        if not missing:
            return found
        if not self.upgrades:
            return found | {c: np.zeros(0, dtype=np.int32) for c in missing}
        assert self.segments_dir is not None
        encoders = {inviters.CODES: self._inviters.encode, revenues.CODES: self._revenues.encode}
        by_row = inviters.codes_of_segments(
            self.segments_dir,
            [s.name for s in self.base.segments],
            {source: encoders[c] for c, source in missing.items()},
        )
        rows = np.asarray(old["row"])
        return found | {c: by_row[source][rows] for c, source in missing.items()}

    def _merged_cache(self, labels: np.ndarray, changed: np.ndarray) -> dict[str, np.ndarray]:
        old = dict(self.base.cache)
        columns: tuple[str, ...] = CACHE_COLUMNS
        base_coded = self._base_coded()
        if base_coded:
            old.update(base_coded)
            columns = (*CACHE_COLUMNS, *CODED)
        person_old = np.asarray(old["person"])
        if len(changed) and len(person_old):
            person_old = labels[person_old]
        empty = {"user": np.zeros(0, np.int32), **_empty_cache()}
        empty.update({c: np.zeros(0, np.int32) for c in CODED})
        new = {
            c: np.concatenate([p[c] for p in self._parts]) if self._parts else empty[c]
            for c in ("user", *columns[1:])
        }
        person_new = labels[new["user"]] if len(new["user"]) else np.zeros(0, np.int32)
        affected = np.zeros(len(labels), dtype=bool)
        affected[labels[changed]] = True
        affected[person_new] = True
        moved = affected[person_old] if len(person_old) else np.zeros(0, dtype=bool)
        keep, move = np.flatnonzero(~moved), np.flatnonzero(moved)
        event_type = code_dtype(len(self.event_names))
        channel_type = code_dtype(len(self.channel_names))
        touched = {
            "person": np.concatenate([person_old[move], person_new]).astype(np.int32),
            "ts": np.concatenate([np.asarray(old["ts"])[move], new["ts"]]),
            "event": np.concatenate([np.asarray(old["event"])[move], new["event"]]).astype(event_type),
            "channel": np.concatenate([np.asarray(old["channel"])[move], new["channel"]]).astype(
                channel_type
            ),
            "row": np.concatenate([np.asarray(old["row"])[move], new["row"]]),
        }
        for column in base_coded:
            touched[column] = np.concatenate([base_coded[column][move], new[column]])
        order = sort_order(touched["person"], touched["ts"], touched["event"])
        result = {}
        for column in columns:
            kept = person_old[keep] if column == "person" else np.asarray(old[column])[keep]
            result[column] = np.concatenate([kept.astype(touched[column].dtype), touched[column][order]])
        return result


def rewrite_segments(gen: Generation, *, events_dir: Path, number: int) -> Generation:
    """One segment holding every row in cache order (full compaction), so ``row`` becomes 0..n-1."""
    segments_dir = events_dir / "segments"
    tables = [pq.read_table(segments_dir / s.name) for s in gen.segments]
    table = pa.concat_tables(tables) if tables else None
    cache = {c: np.asarray(v) for c, v in gen.cache.items()}
    segments = []
    if table is not None and table.num_rows:
        ordered = table.take(pa.array(cache["row"]))
        name = f"seg-{number:06d}-full-{secrets.token_hex(3)}.parquet"
        segments.append(write_segment(segments_dir, name, ordered))
        cache["row"] = np.arange(len(cache["row"]), dtype=np.int64)
    return Generation(
        number=number,
        segments=segments,
        event_names=gen.event_names,
        channel_names=gen.channel_names,
        identity=gen.identity,
        has_events=gen.has_events,
        keys=np.asarray(gen.keys),
        cache=cache,
        offsets=np.asarray(gen.offsets),
        inviter_ids=gen.inviter_ids,
        inviter_raw=gen.inviter_raw,
        revenue_codes=gen.revenue_codes,
    )
