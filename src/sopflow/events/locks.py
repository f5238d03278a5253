"""Advisory file locks (``flock``) with a timeout, shared between processes and threads.

Each acquisition opens its own file description, so two threads of one process exclude each other
exactly as two processes do. A lock that cannot be had in time raises :class:`StoreBusy`, which the
CLI shows as a message (exit 75, "try again") and the HTTP server as a 503.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sopflow.errors import SopflowError
from sopflow.i18n import _

DEFAULT_TIMEOUT_S = 30.0


class StoreBusy(SopflowError):
    """Another process holds the event store's lock for longer than we may wait; retrying later is safe."""

    code = "store_busy"
    exit_code = 75  # EX_TEMPFAIL
    http_status = 503


@contextmanager
def file_lock(
    path: Path, *, shared: bool = False, timeout: float = DEFAULT_TIMEOUT_S, max_delay: float = 0.05
) -> Iterator[None]:
    fd = try_lock(path, shared=shared, timeout=timeout, max_delay=max_delay)
    if fd is None:
        raise StoreBusy(
            _(
                "the event store at {path} is busy (another sopflow process holds its lock); "
                "nothing was written, try again",
                path=path.parent,
            )
        )
    try:
        yield
    finally:
        os.close(fd)  # closing the description releases the flock


def try_lock(
    path: Path, *, shared: bool = False, timeout: float = 0.0, max_delay: float = 0.05
) -> int | None:
    """The locked file descriptor, or ``None`` if the lock was not free within ``timeout`` seconds.

    Polls with a growing delay up to ``max_delay``; a lock held only briefly (a commit) deserves a short one.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            fcntl.flock(fd, mode)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
