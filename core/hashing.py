"""Password hashing off the request path's critical resources: at most a few argon2 runs at
once, a short queue behind them, and a quick 503 beyond it.

argon2 is deliberately slow (tens of milliseconds of CPU and 64 MiB each): 50 wrong-password
logins at once would otherwise take every core and every API thread for seconds and freeze
the other requests (issue 13's login storm). The caller holds no database connection while
it waits or hashes (services.accounts.authenticate ends its read first).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from core.db import Busy

# Leave a core for everything else; the queue absorbs a burst of a few logins.
CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)
QUEUE = 4 * CONCURRENCY
WAIT_S = 2.0

_T = TypeVar("_T")

_running = threading.BoundedSemaphore(CONCURRENCY)
_admitted = threading.BoundedSemaphore(CONCURRENCY + QUEUE)


def _busy() -> Busy:
    return Busy(
        "Máy chủ đang bận xử lý đăng nhập, vui lòng thử lại sau ít giây.",
        "Too many sign-ins are being checked at once; retry shortly.",
    )


def bounded(fn: Callable[..., _T], *args: object) -> _T:
    """``fn(*args)`` once a hashing place is free; Busy at once when the queue is full, or
    after WAIT_S in it."""
    if not _admitted.acquire(blocking=False):
        raise _busy()
    try:
        if not _running.acquire(timeout=WAIT_S):
            raise _busy()
        try:
            return fn(*args)
        finally:
            _running.release()
    finally:
        _admitted.release()
