"""Database engine and sessions, and the column types that keep Decimals and UTC exact."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import anyio
from anyio import from_thread
from sqlalchemy import DateTime, Numeric, String, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from core.errors import Unavailable

T = TypeVar("T")


class DecimalType(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC(12,3) on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric(12, 3)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(12, 3, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"DecimalType takes Decimal, not {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC (outside workflows only)."""
    return datetime.now(UTC)


# --- sizing: one table of numbers chosen together (README, "Scale") ---------------------------
#
# Every API request holds at most one pooled connection, and only while it is admitted
# (``admitted``): at most ``Settings.db_pool_size`` requests use the database at once (the app
# passes it; POOL_SIZE is only the default of code that has no settings), the others wait
# without a thread. The API's thread pool has as many threads as there are slots, so an admitted
# request never waits for a thread held by a request that waits for a connection (the deadlock
# behind "QueuePool limit … reached" in issue 13). The overflow is for the rest of the process
# (readiness probe, cycle start, start-up).
POOL_SIZE = 20  # the default of Settings.db_pool_size (APPRAISAL_DB_POOL_SIZE)
POOL_OVERFLOW = 10
POOL_TIMEOUT_S = 10.0
# How long a SQLite writer waits for the write lock (in this process, then SQLite's own busy
# handler against other processes) before it gives up with "database is locked" → 503.
BUSY_TIMEOUT_S = 5.0
RETRY_AFTER_S = 2

# Execution option that picks how a SQLite transaction begins: IMMEDIATE takes the write lock
# at BEGIN (a write transaction never fails half-way on a stale snapshot); DEFERRED reads.
BEGIN = "appraisal_sqlite_begin"
# Execution option: how long (s) an IMMEDIATE transaction waits for this process's writer queue
# (default BUSY_TIMEOUT_S); a best-effort write (a session's last_seen) waits less.
WRITER_WAIT = "appraisal_writer_wait"
_WRITER_HELD = "appraisal_writer_held"


class Busy(Unavailable):
    """The database or a bounded resource is saturated for now: 503 with Retry-After."""

    def __init__(self, message_vi: str, message_en: str, retry_after: int = RETRY_AFTER_S):
        super().__init__("busy", message_vi, message_en)
        self.retry_after = retry_after


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, anyio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


class _Place:
    """The admission place a request holds (``admitted``), which it may lend out meanwhile."""

    def __init__(self, slots: anyio.Semaphore) -> None:
        self.slots = slots
        self.held = True


_PLACE: ContextVar[_Place | None] = ContextVar("appraisal_admission_place", default=None)


def _busy() -> Busy:
    return Busy(
        "Máy chủ đang quá tải, vui lòng thử lại sau ít giây.",
        "Too many requests are using the database; retry shortly.",
    )


async def _take(slots: anyio.Semaphore) -> None:
    try:
        with anyio.fail_after(POOL_TIMEOUT_S):
            await slots.acquire()
    except TimeoutError as exc:
        raise _busy() from exc


@asynccontextmanager
async def admitted(size: int = POOL_SIZE) -> AsyncIterator[None]:
    """One of ``size`` places for a request that uses the database; Busy after POOL_TIMEOUT_S.
    Waiting here costs no thread and no connection, unlike waiting on the pool inside a
    thread. A request lends its place out while it waits for something that needs no
    connection (``place_lent``)."""
    loop = asyncio.get_running_loop()
    by_size = _SLOTS.setdefault(loop, {})
    slots = by_size.get(size)
    if slots is None:
        slots = by_size[size] = anyio.Semaphore(max(size, 0))
    await _take(slots)
    place = _Place(slots)
    _PLACE.set(place)  # the request's context: its sync route's thread sees it (a copy)
    try:
        yield
    finally:
        if place.held:
            slots.release()


@asynccontextmanager
async def place_lent_async() -> AsyncIterator[None]:
    """``place_lent`` for an async route on the event loop: while it awaits the workflow
    server (its session released first), its place serves another request."""
    place = _PLACE.get()
    if place is None or not place.held:
        yield
        return
    place.slots.release()
    place.held = False
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):
            await _take(place.slots)
        place.held = True


@contextmanager
def place_lent() -> Iterator[None]:
    """Inside, the calling request's admission place serves another request; taken back at
    the end (Busy when none frees up within POOL_TIMEOUT_S). For a wait that holds no
    connection, such as a password hash (``core.hashing``): a login storm then cannot hold
    the places the readers need. Called from a sync route's thread; elsewhere a no-op."""
    place = _PLACE.get()
    if place is None or not place.held:
        yield
        return
    try:
        from_thread.run_sync(place.slots.release)
    except RuntimeError:  # not a worker thread of the request's event loop: keep the place
        yield
        return
    place.held = False
    try:
        yield
    finally:
        from_thread.run(_take, place.slots)
        place.held = True


class FifoLock:
    """A lock handed to its waiters in arrival order (threading.Lock is not fair: under a rush
    some writers would wait far longer than others and the p99 would show it)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        """True once held; False after ``timeout`` seconds in the queue."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait timed out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        """Hands the lock to the longest waiter, or frees it."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # stays held: ownership passes directly
            else:
                self._held = False


def _sqlite_engine(url: str, echo: bool, pool_size: int, max_overflow: int) -> Engine:
    path = url.split("///", 1)[-1] if "///" in url else ""
    pool: dict[str, Any] = {}
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pool = {
            "poolclass": QueuePool,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": POOL_TIMEOUT_S,
        }
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
        **pool,
    )
    # One writer at a time in this process, queued on a lock (woken at once, unlike SQLite's
    # busy handler that sleeps up to 100 ms between polls); held from BEGIN IMMEDIATE until the
    # connection goes back to the pool, so a write transaction never waits inside SQLite for
    # a writer of this process.
    writer = FifoLock()

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below), so the driver must not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(BEGIN, "DEFERRED") == "IMMEDIATE":
            info = conn.connection.info
            if not info.get(_WRITER_HELD):
                if not writer.acquire(options.get(WRITER_WAIT, BUSY_TIMEOUT_S)):
                    raise OperationalError(
                        "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                    )
                info[_WRITER_HELD] = True
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "checkin")
    def _release_writer(_dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop(_WRITER_HELD, False):
            writer.release()

    return engine


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = POOL_SIZE, max_overflow: int = POOL_OVERFLOW
) -> Engine:
    """An engine sized as above; SQLite gets WAL, foreign keys, a short busy timeout and
    explicit BEGIN (IMMEDIATE for write sessions, see ``write_session``)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo, pool_size, max_overflow)
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
    )


def writer(engine: Engine, *, wait: float | None = None) -> Engine:
    """The engine whose transactions take SQLite's write lock at BEGIN (no-op elsewhere);
    ``wait``: seconds in this process's writer queue before "database is locked"."""
    options: dict[str, Any] = {BEGIN: "IMMEDIATE"}
    if wait is not None:
        options[WRITER_WAIT] = wait
    return engine.execution_options(**options)


def reader(engine: Engine) -> Engine:
    """The engine whose transactions begin DEFERRED (a plain read on SQLite), whatever ``engine``
    was made with."""
    return engine.execution_options(**{BEGIN: "DEFERRED"})


@contextmanager
def reading(session: Session) -> Iterator[Session]:
    """Runs the statements inside in a read transaction of their own, ended (committed) at the
    exit, before the session's own writes begin.

    For a write request's checks (who is calling, may they, which unit): on SQLite they then
    neither wait for nor hold the write lock, so the serialised part of the request is its
    write transaction only. A session already in a transaction keeps it (its mode is set).
    """
    bind = session.bind
    if bind is None or session.in_transaction() or not isinstance(bind, Engine):
        yield session
        return
    session.bind = reader(bind)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()  # no read left open for a write that may follow in the request
        raise
    finally:
        session.bind = bind


def write_session(engine: Engine) -> Session:
    """A session for one short write transaction: BEGIN IMMEDIATE on SQLite."""
    return Session(writer(engine), expire_on_commit=False)


def release(session: Session) -> None:
    """Ends the session's transaction and returns its connection to the pool (loaded objects
    stay usable): call it before awaiting anything slow (a Temporal call, a file)."""
    session.commit()


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (``write``: BEGIN IMMEDIATE)."""
    with Session(writer(engine) if write else engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


async def write_apart(session: Session, work: Callable[[Session], T]) -> T:
    """For async code, which must never write, nor wait for the write lock, on the event loop:
    ends ``session``'s read (``release``), then runs ``work`` in a write transaction of its own
    on the same engine (BEGIN IMMEDIATE and this process's writer queue on SQLite), in a worker
    thread, committed there or rolled back if it raises. What it returns stays usable
    (``expire_on_commit=False``)."""
    release(session)  # a read transaction's end: no lock to wait for
    engine = session.get_bind()
    assert isinstance(engine, Engine)

    def run() -> T:
        with session_scope(engine, write=True) as own:
            return work(own)

    return await anyio.to_thread.run_sync(run)
