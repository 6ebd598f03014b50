"""Password hashing off the request path's critical resources: at most a few argon2 runs at
once, a short queue behind them, and a quick 503 beyond it.

argon2 is deliberately slow (tens of milliseconds of CPU and 64 MiB each): 50 wrong-password
logins at once would otherwise take every core and every API thread for seconds and freeze
the other requests (issue 13's login storm). The caller holds no database connection while
it waits or hashes (services.accounts.authenticate ends its read first).

A request that will hash takes its place in the queue (``admitted``) before anything else, its
database session included: a login of a storm that finds the queue full is answered 503 at
once, without waiting for an admission place, taking a throttle try or reading the account,
so the storm's refusals do not queue in front of the readers (issue 13).

The hashes run on threads of their own at a lower CPU priority (``NICE``; argon2's own worker
threads inherit it): one argon2 run with 4 lanes can take both cores of a small machine, and
while it does the readers' requests should get the CPU first (issue 13: readers' p99 during a
login storm). A login waits longer under load; the queue and its 503 bound that.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
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
# True while the current request (or thread) holds a place in the queue: a second hash of the
# same request (a password change checks the old one, then hashes the new one) takes no other.
_HOLDING: ContextVar[bool] = ContextVar("appraisal_hashing_place", default=False)


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


@contextmanager
def admitted() -> Iterator[None]:
    """A place in the hashing queue for what runs inside (Busy at once when the queue is full);
    inside a place already held, nothing more. Never blocks: an event loop may take it."""
    if _HOLDING.get():
        yield
        return
    if not _admitted.acquire(blocking=False):
        raise _busy()
    _HOLDING.set(True)
    try:
        yield
    finally:
        _HOLDING.set(False)
        _admitted.release()


def bounded(fn: Callable[..., _T], *args: object) -> _T:
    """``fn(*args)`` on a low-priority hashing thread once a place is free; Busy at once when
    the queue is full, or after WAIT_S in it."""
    with admitted(), place_lent():  # no connection is held meanwhile: another request may use it
        if not _running.acquire(timeout=WAIT_S):
            raise _busy()
        try:
            return _hashers.submit(fn, *args).result()
        finally:
            _running.release()
