"""What a per-person function derived from a frame, kept while the frame lives.

The embedded engine hands out the same :class:`PersonFrame` object for the same whole-cache request on one
snapshot (``engines/embedded.py``), so the parts of a profile that do not depend on the range (each
person's channel, first invitation, the rows of each stage, the revenue lines) are computed once per
snapshot, and a new range or attribution only filters them. Frames the Spark executors build die after one
call; their entries go with them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sopflow.analytics.frame import PersonFrame

T = TypeVar("T")

_kept: dict[int, tuple[weakref.ref[PersonFrame], dict[Hashable, Any]]] = {}
_lock = threading.RLock()  # a weakref callback may run during a collection inside the lock


def _store(frame: PersonFrame) -> dict[Hashable, Any]:
    key = id(frame)
    with _lock:
        found = _kept.get(key)
        if found is not None and found[0]() is frame:
            return found[1]
        store: dict[Hashable, Any] = {}

        def forget(_ref: weakref.ref[PersonFrame], key: int = key) -> None:
            with _lock:
                entry = _kept.get(key)
                if entry is not None and entry[0] is _ref:
                    del _kept[key]

        _kept[key] = (weakref.ref(frame, forget), store)
        return store


def remembered(frame: PersonFrame, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``key`` is asked of ``frame``, the same answer afterwards.

    ``key`` must name everything the answer depends on besides the frame (a column, a stage rule)."""
    store = _store(frame)
    try:
        known: T = store[key]
        return known
    except KeyError:
        pass
    answer = store[key] = compute()
    return answer


def kept_frames() -> int:
    """How many frames have something kept (for tests: entries go when their frame goes)."""
    with _lock:
        return len(_kept)
