"""Password hashing off the request path's critical resources: at most a few argon2 runs at
once, a short queue behind them, and a quick 503 beyond it.

argon2 is deliberately slow (tens of milliseconds of CPU and 64 MiB each): 50 wrong-password
logins at once would otherwise take every core and every API thread for seconds and freeze
the other requests (issue 13's login storm). The caller holds no database connection while
it waits or hashes (services.accounts.authenticate ends its read first).

The hashes run on threads of their own at a lower CPU priority (``NICE``; argon2's own worker
threads inherit it): one argon2 run with 4 lanes can take both cores of a small machine, and
while it does the readers' requests should get the CPU first (issue 13: readers' p99 during a
login storm). A login waits longer under load; the queue and its 503 bound that.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from core.db import Busy, place_lent

# Leave a core for everything else; the queue absorbs a burst of a few logins.
CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)
QUEUE = 4 * CONCURRENCY
WAIT_S = 2.0
NICE = 10  # added to the hashing threads' niceness (Linux: per thread); elsewhere no change

_T = TypeVar("_T")

_running = threading.BoundedSemaphore(CONCURRENCY)
_admitted = threading.BoundedSemaphore(CONCURRENCY + QUEUE)


def _lower_priority() -> None:
    try:  # Linux: PRIO_PROCESS with a thread id sets that thread's niceness only
        own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, own + NICE))
    except (AttributeError, OSError):  # no such call, or not allowed: hash at normal priority
        pass


_hashers = ThreadPoolExecutor(
    max_workers=CONCURRENCY, thread_name_prefix="argon2", initializer=_lower_priority
)


def _busy() -> Busy:
    return Busy(
        "Máy chủ đang bận xử lý đăng nhập, vui lòng thử lại sau ít giây.",
        "Too many sign-ins are being checked at once; retry shortly.",
    )


def bounded(fn: Callable[..., _T], *args: object) -> _T:
    """``fn(*args)`` on a low-priority hashing thread once a place is free; Busy at once when
    the queue is full, or after WAIT_S in it."""
    if not _admitted.acquire(blocking=False):
        raise _busy()
    try:
        with place_lent():  # no connection is held meanwhile: another request may use it
            if not _running.acquire(timeout=WAIT_S):
                raise _busy()
            try:
                return _hashers.submit(fn, *args).result()
            finally:
                _running.release()
    finally:
        _admitted.release()
