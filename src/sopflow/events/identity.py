"""Persons: raw ids merged through identity links.

Every raw id (a ``user_id``, or an anonymous id named by a link) gets a stable integer code, in order of
first sight. Links come from ``$identify`` events (``properties.$anon_distinct_id`` ↔ ``user_id``) and
``$create_alias`` events (``properties.alias`` ↔ ``user_id``). Linked ids form one person, transitively,
whatever the order the events arrive in; the person's code is the smallest raw code in the group (so it
never changes unless a new link merges two groups), and the id shown for it is an identified id (the
``user_id`` side of a link) when the group has one. Linking is permanent, as in PostHog's merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.schema import ANON_ID_PROPERTY, IDENTIFY_EVENT

ALIAS_EVENT = "$create_alias"
_BIG = np.iinfo(np.int64).max


def extract_links(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """``(other_ids, user_ids)`` of the identity links in canonical rows (blank or self links dropped)."""
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
    with duckdb.connect() as con:
        con.register("links", links)
        found = con.sql(f"SELECT * FROM ({query}) WHERE other <> '' AND other <> user_id").to_arrow_table()
    return found["other"].combine_chunks().cast(pa.string()), found["user_id"].combine_chunks().cast(
        pa.string()
    )


@dataclass
class Identity:
    raw_ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    identified: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.raw_ids)

    def codes_of(self, values: pa.Array) -> np.ndarray:
        """Codes of known ids; -1 for unknown or null."""
        if len(self.raw_ids) == 0:
            return np.full(len(values), -1, dtype=np.int32)
        found = pc.index_in(values, value_set=self.raw_ids)
        return np.array(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)

    def encode(self, values: pa.Array) -> np.ndarray:
        """Codes of ``values`` (non-null), giving new ids the next codes in order of first sight."""
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary
        codes = self.codes_of(distinct)
        new = np.flatnonzero(codes < 0)
        if len(new):
            start = len(self.raw_ids)
            codes[new] = np.arange(start, start + len(new), dtype=np.int32)
            self.raw_ids = pa.concat_arrays([self.raw_ids, distinct.take(pa.array(new)).cast(pa.string())])
            self.labels = np.concatenate([self.labels, codes[new]])
            self.identified = np.concatenate([self.identified, np.zeros(len(new), dtype=bool)])
        indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        return codes[indices]

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
