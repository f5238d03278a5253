"""Persons: raw ids merged through identity links.

Every raw id (a ``user_id``, or an anonymous id named by a link) gets a stable integer code, in order of
first sight. Links come from ``$identify`` events (``properties.$anon_distinct_id`` ↔ ``user_id``) and
``$create_alias`` events (``properties.alias`` ↔ ``user_id``). Linked ids form one person, transitively,
whatever the order the events arrive in; the person's code is the smallest raw code in the group (so it
never changes unless a new link merges two groups), and the id shown for it is an identified id (the
``user_id`` side of a link) when the group has one. Linking is permanent, as in PostHog's merge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.keys import duckdb_cursor
from sopflow.events.schema import ANON_ID_PROPERTY, IDENTIFY_EVENT

ALIAS_EVENT = "$create_alias"
LINK_EVENTS = (IDENTIFY_EVENT, ALIAS_EVENT)
_BIG = np.iinfo(np.int64).max


def id_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of each id (DuckDB's ``hash``: stable within this process, never stored)."""
    if not len(values):
        return np.zeros(0, dtype=np.uint64)
    with duckdb_cursor() as con:
        batches = pa.table({"v": values}).to_batches(max_chunksize=1 << 17)  # threads share the work
        con.register("id_values", pa.Table.from_batches(batches))
        hashes = con.sql("SELECT hash(v) AS h FROM id_values").to_arrow_table()["h"]
    return np.asarray(hashes.to_numpy(), dtype=np.uint64)


def extract_links(
    table: pa.Table, *, event_codes: np.ndarray | None = None, link_codes: Sequence[int] = ()
) -> tuple[pa.Array, pa.Array]:
    """``(other_ids, user_ids)`` of the identity links in canonical rows (blank or self links dropped).

    With the rows' ``event_codes``, the codes of the link events (``link_codes``) pick the rows: comparing
    small integers instead of every event name."""
    if event_codes is not None:
        picked = np.flatnonzero(np.isin(event_codes, np.asarray(link_codes, dtype=event_codes.dtype)))
        links = table.select(["event", "user_id", "properties"]).take(pa.array(picked))
    else:
        events = table["event"]
        is_link = pc.or_(pc.equal(events, IDENTIFY_EVENT), pc.equal(events, ALIAS_EVENT))
        links = table.select(["event", "user_id", "properties"]).filter(pc.fill_null(is_link, False))
    if links.num_rows == 0:
        return pa.array([], pa.string()), pa.array([], pa.string())
    query = f"""
        SELECT trim(CASE WHEN event = '{IDENTIFY_EVENT}'
                         THEN json_extract_string(properties, '$."{ANON_ID_PROPERTY}"')
                         ELSE json_extract_string(properties, '$.alias') END) AS other,
               user_id
        FROM links WHERE properties IS NOT NULL
    """
    with duckdb_cursor() as con:
        con.register("links", links)
        found = con.sql(f"SELECT * FROM ({query}) WHERE other <> '' AND other <> user_id").to_arrow_table()
    return found["other"].combine_chunks().cast(pa.string()), found["user_id"].combine_chunks().cast(
        pa.string()
    )


class Identity:
    """Raw ids and their person labels.

    Looking codes up goes through 64-bit hashes of the raw ids kept in sorted runs (built on first use,
    for this process only): hashing a chunk's distinct ids and binary-searching the runs costs the size of
    the chunk, where a set lookup against every raw id would rebuild a hash table of all of them per chunk.
    A hash match is confirmed by comparing the ids themselves, so a collision costs time, never a wrong code.
    """

    def __init__(
        self,
        raw_ids: pa.Array | None = None,
        labels: np.ndarray | None = None,
        identified: np.ndarray | None = None,
    ) -> None:
        self._parts: list[pa.Array] = [] if raw_ids is None or not len(raw_ids) else [raw_ids]
        self._count = sum(len(p) for p in self._parts)
        self.labels = np.zeros(0, dtype=np.int32) if labels is None else labels
        self.identified = np.zeros(0, dtype=bool) if identified is None else identified
        self._runs: list[tuple[np.ndarray, np.ndarray]] | None = None  # (sorted hashes, codes)

    def __len__(self) -> int:
        return self._count

    @property
    def raw_ids(self) -> pa.Array:
        """Every raw id, by code."""
        if len(self._parts) != 1:
            combined = pa.concat_arrays(self._parts) if self._parts else pa.array([], pa.string())
            self._parts = [combined]
        return self._parts[0]

    def codes_of(self, values: pa.Array) -> np.ndarray:
        """Codes of known ids; -1 for unknown or null."""
        return self._lookup(values, id_hashes(values))

    def encode(self, values: pa.Array) -> np.ndarray:
        """Codes of ``values`` (non-null), giving new ids the next codes in order of first sight."""
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary.cast(pa.string())
        hashes = id_hashes(distinct)
        codes = self._lookup(distinct, hashes)
        new = np.flatnonzero(codes < 0)
        if len(new):
            start = self._count
            codes[new] = np.arange(start, start + len(new), dtype=np.int32)
            self._parts.append(distinct.take(pa.array(new)))
            self._count += len(new)
            self._add_run(hashes[new], codes[new])
            self.labels = np.concatenate([self.labels, codes[new]])
            self.identified = np.concatenate([self.identified, np.zeros(len(new), dtype=bool)])
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return codes[indices]

    def _lookup(self, values: pa.Array, hashes: np.ndarray) -> np.ndarray:
        codes = np.full(len(values), -1, dtype=np.int32)
        if self._count == 0 or not len(values):
            return codes
        for run_hashes, run_codes in self._hash_runs():
            pos = np.searchsorted(run_hashes, hashes)
            pos[pos == len(run_hashes)] = 0
            hit = (run_hashes[pos] == hashes) & (codes < 0)
            codes[hit] = run_codes[pos[hit]]
        found = np.flatnonzero(codes >= 0)
        if len(found):
            same = pc.equal(self.raw_ids.take(pa.array(codes[found])), values.take(pa.array(found)))
            wrong = found[~np.asarray(same.fill_null(False), dtype=bool)]
            if len(wrong):  # a hash collision (about 2⁻⁶⁴ per pair): settle those ids by value
                exact = pc.index_in(values.take(pa.array(wrong)), value_set=self.raw_ids)
                codes[wrong] = np.asarray(exact.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
        return codes

    def _hash_runs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._runs is None:
            self._runs = []
            if self._count:
                self._add_run(id_hashes(self.raw_ids), np.arange(self._count, dtype=np.int32))
        return self._runs

    def _add_run(self, hashes: np.ndarray, codes: np.ndarray) -> None:
        """Keep a few sorted runs, merging while the last is no more than twice the new one (log-structured)."""
        if self._runs is None:
            return  # built from raw_ids on first lookup, new ids included
        while self._runs and len(self._runs[-1][0]) <= 2 * len(hashes):
            last_hashes, last_codes = self._runs.pop()
            hashes, codes = np.concatenate([last_hashes, hashes]), np.concatenate([last_codes, codes])
        order = np.argsort(hashes, kind="stable")
        self._runs.append((hashes[order], codes[order]))

    def link(self, others: np.ndarray, users: np.ndarray) -> np.ndarray:
        """Merge the groups of each pair; returns the codes whose person changed."""
        if not len(users):
            return np.zeros(0, dtype=np.int64)
        self.identified[users] = True
        left, right = self.labels[others], self.labels[users]
        differ = left != right
        left, right = left[differ], right[differ]
        if not len(left):
            return np.zeros(0, dtype=np.int64)
        nodes, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
        a, b = inverse[: len(left)], inverse[len(left) :]
        comp = np.arange(len(nodes))
        while True:
            low = np.minimum(comp[a], comp[b])
            nxt = comp.copy()
            np.minimum.at(nxt, a, low)
            np.minimum.at(nxt, b, low)
            nxt = nxt[nxt]
            if np.array_equal(nxt, comp):
                break
            comp = nxt
        mapping = np.arange(len(self.labels), dtype=np.int32)
        mapping[nodes] = nodes[comp]  # nodes are sorted, so the smallest index is the smallest code
        new_labels = mapping[self.labels]
        changed = np.flatnonzero(new_labels != self.labels)
        self.labels = new_labels
        return changed

    def display_codes(self) -> np.ndarray:
        """For each person code (a root), the raw code shown for the person."""
        n = len(self.labels)
        candidate = np.where(self.identified, np.arange(n), _BIG)
        best = np.full(n, _BIG, dtype=np.int64)
        np.minimum.at(best, self.labels, candidate)
        return np.where(best == _BIG, np.arange(n), best).astype(np.int32)

    def person_ids(self, persons: np.ndarray) -> pa.Array:
        """The id shown for each person code."""
        return self.raw_ids.take(pa.array(self.display_codes()[persons]))
