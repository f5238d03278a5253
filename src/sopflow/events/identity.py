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
from sopflow.events.native.idmap import IdMap, string_digests
from sopflow.events.schema import ANON_ID_PROPERTY, IDENTIFY_EVENT
from sopflow.events.timecolumn import string_buffers

ALIAS_EVENT = "$create_alias"
LINK_EVENTS = (IDENTIFY_EVENT, ALIAS_EVENT)
_BIG = np.iinfo(np.int64).max


def id_digests(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A 128-bit hash of each id as two 64-bit halves (see ``native/idmap.c``); a null hashes as ``""``.
    For this process's lookups only: never stored."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = values.cast(pa.string())
    if values.null_count:
        values = values.fill_null("")
    offsets, data = string_buffers(values)
    return string_digests(offsets, data)


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

    Codes are looked up through a map in C keyed by each id's MD5 (built on first use, for this process):
    the first half finds the entry, the second confirms it. Should two ids ever share the first half and
    not the second, their text is compared (:meth:`_settle`), so a code is never wrong. Ids agreeing on all
    128 bits would share a code: about 10⁻²⁵ for a billion ids, far below any hardware error rate.
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
        self._map: IdMap | None = None
        self._by_text: dict[str, int] | None = None  # only once ids clash on the first half

    def __len__(self) -> int:
        return self._count

    @property
    def raw_ids(self) -> pa.Array:
        """Every raw id, by code."""
        if len(self._parts) != 1:
            combined = pa.concat_arrays(self._parts) if self._parts else pa.array([], pa.string())
            self._parts = [combined]
        return self._parts[0]

    def codes_of(self, values: pa.Array, digests: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Codes of known ids; -1 for unknown or null."""
        return self._codes(values, digests, insert=False)

    def encode(self, values: pa.Array, digests: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Codes of ``values`` (non-null), giving new ids the next codes in order of first sight.
        ``digests``: the values' :func:`id_digests`, when the caller has them."""
        start = self._count
        codes = self._codes(values, digests, insert=True)
        if self._count > start:
            self.labels = np.concatenate([self.labels, np.arange(start, self._count, dtype=np.int32)])
            self.identified = np.concatenate([self.identified, np.zeros(self._count - start, dtype=bool)])
        return codes

    def _codes(
        self, values: pa.Array, digests: tuple[np.ndarray, np.ndarray] | None, *, insert: bool
    ) -> np.ndarray:
        if values.type != pa.string():
            values = values.cast(pa.string())
        h1, h2 = id_digests(values) if digests is None else digests
        codes, is_new, clash, following = self._id_map().encode(h1, h2, next_code=self._count, insert=insert)
        if following > self._count:
            added = values.filter(pa.array(is_new))
            if isinstance(added, pa.ChunkedArray):
                added = added.combine_chunks()
            if self._by_text is not None:
                self._by_text.update(zip(added.to_pylist(), range(self._count, following), strict=True))
            self._parts.append(added)
            self._count = following
        if clash.any():
            self._settle(values, codes, np.flatnonzero(clash), insert=insert)
        if not insert and values.null_count:
            codes[np.asarray(values.is_null(), dtype=bool)] = -1
        return codes

    def _id_map(self) -> IdMap:
        if self._map is None:
            self._map = IdMap(expected=max(self._count, 1 << 16))
            if self._count and self._map.put(*id_digests(self.raw_ids)).any():
                self._text_codes()  # the clashing ids were kept out of the map: found by text
        return self._map

    def _text_codes(self) -> dict[str, int]:
        if self._by_text is None:
            self._by_text = {text: code for code, text in enumerate(self.raw_ids.to_pylist())}
        return self._by_text

    def _settle(self, values: pa.Array, codes: np.ndarray, rows: np.ndarray, *, insert: bool) -> None:
        """Rows whose digest clashed with another id's: looked up by text, new ones coded in row order."""
        by_text = self._text_codes()
        texts = values.take(pa.array(rows)).to_pylist()
        added: list[str] = []
        for row, text in zip(rows.tolist(), texts, strict=True):
            code = by_text.get(text)
            if code is None and insert:
                code = by_text[text] = self._count + len(added)
                added.append(text)
            codes[row] = -1 if code is None else code
        if added:
            self._parts.append(pa.array(added, pa.string()))
            self._count += len(added)

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
