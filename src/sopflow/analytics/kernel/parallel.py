"""Compiled passes over persons, split over threads: persons are independent, and ctypes lets go of the
GIL for the length of a call, so plain threads run the parts at once, each writing only its own slots."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from itertools import pairwise

import numpy as np

# Below this many events (or persons) per thread, starting a thread costs more than it saves.
ROWS_PER_THREAD = 1 << 19
MAX_THREADS = 8


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def split(offsets: np.ndarray) -> list[tuple[int, int]]:
    """Persons (``offsets``: where each one's rows start, then the end) in ranges of about equal rows,
    one range per thread to use; ``[(0, n)]`` when one thread is enough."""
    n_persons, rows = len(offsets) - 1, int(offsets[-1]) if len(offsets) else 0
    threads = max(1, min(cpus(), MAX_THREADS, rows // ROWS_PER_THREAD, n_persons))
    if threads == 1:
        return [(0, max(n_persons, 0))]
    targets = np.arange(1, threads, dtype=np.int64) * rows // threads
    cuts = [0, *np.searchsorted(offsets, targets).tolist(), n_persons]
    return [(a, b) for a, b in pairwise(cuts) if a < b]


def split_evenly(n: int) -> list[tuple[int, int]]:
    """``range(n)`` in ranges of about equal length, one per thread to use."""
    threads = max(1, min(cpus(), MAX_THREADS, n // ROWS_PER_THREAD))
    cuts = [i * n // threads for i in range(threads + 1)]
    return [(a, b) for a, b in pairwise(cuts) if a < b] or [(0, 0)]


def run_parts(work: Callable[[int, int], None], parts: list[tuple[int, int]]) -> None:
    """``work(begin, end)`` for every part, the first on this thread; the first error is raised here."""
    errors: list[BaseException] = []

    def guarded(begin: int, end: int) -> None:
        try:
            work(begin, end)
        except BaseException as exc:  # handed to the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=part) for part in parts[1:]]
    for thread in threads:
        thread.start()
    if parts:
        guarded(*parts[0])
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
