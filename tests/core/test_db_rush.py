"""The HTTP path under a rush (issue 13): one pooled connection per request, SQLite writers
serialised with BEGIN IMMEDIATE and a bounded wait, a saturated database answered 503 with
Retry-After (never 500), and argon2 in a bounded executor."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, field_serializer
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

import core.db
import core.hashing
from api import access, errors
from api.deps import SessionDep
from api.errors import Problem
from api.routes import ROUTERS
from api.routing import TransactionRoute, commits_late
from core.db import Busy, FifoLock, admitted, make_engine, reading, write_session, writer
from models.tables import LoginThrottle, UnitState
from services.accounts import get_user, verify_password
from tests.api_support import (
    PASSWORD,
    assert_problem,
    build_world,
    client,
    make_app,
    make_settings,
)
from tests.api_support import set_unit_state as set_state
from web.errors import RefusalPageRoute


@pytest.fixture(scope="module")
def world(engine: Engine) -> Any:
    from core.db import session_scope
    from models.tables import Assignment

    w = build_world(engine, prefix="rush")
    with session_scope(engine) as session:
        session.add(
            Assignment(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="6.2",
                user_id=w.users["staff_a"],
                responsible=True,
            )
        )
    set_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@pytest.fixture
def peak(engine: Engine) -> Iterator[list[int]]:
    """[now, peak] connections checked out of the engine's pool while the test runs."""
    counter = [0, 0]
    lock = threading.Lock()

    def out(*_: Any) -> None:
        with lock:
            counter[0] += 1
            counter[1] = max(counter[1], counter[0])

    def back(*_: Any) -> None:
        with lock:
            counter[0] -= 1

    event.listen(engine, "checkout", out)
    event.listen(engine, "checkin", back)
    yield counter
    event.remove(engine, "checkout", out)
    event.remove(engine, "checkin", back)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'rush.db'}")
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0)"))
    yield eng
    eng.dispose()


# --- one connection per request ----------------------------------------------------------------


def test_a_wrong_password_login_holds_one_connection(
    engine: Engine, world: Any, tmp_path: Path, peak: list[int]
) -> None:
    http = client(make_app(engine, tmp_path))
    resp = http.post(
        "/api/auth/token", data={"username": "rush-staff-a", "password": "sai-mat-khau"}
    )
    assert_problem(resp, 401)
    assert peak[1] == 1  # before issue 13: two (the request's and the failure counter's)
    ok = http.post("/api/auth/token", data={"username": "rush-staff-a", "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    assert peak[1] == 1


def test_a_draft_save_holds_one_connection(
    engine: Engine, world: Any, tmp_path: Path, peak: list[int]
) -> None:
    http = client(make_app(engine, tmp_path))
    resp = http.put(
        f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/6.2/draft",
        json={"inputs": {"numerator": 80, "denominator": 87}},
        headers=world.auth("staff_a"),
    )
    assert resp.status_code == 200, resp.text
    assert peak[1] == 1
    assert peak[0] == 0  # and it went back to the pool


# --- SQLite: one writer, BEGIN IMMEDIATE, bounded wait -----------------------------------------


def test_sqlite_writers_queue_and_readers_do_not(sqlite_engine: Engine) -> None:
    order: list[str] = []
    first = write_session(sqlite_engine)
    first.execute(text("UPDATE t SET n = n + 1"))  # holds the write lock from BEGIN IMMEDIATE

    def second() -> None:
        with write_session(sqlite_engine) as s:
            s.execute(text("SELECT n FROM t"))  # BEGIN IMMEDIATE waits here, not at the UPDATE
            order.append("second began")
            s.execute(text("UPDATE t SET n = n + 1"))
            s.commit()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    with Session(sqlite_engine) as reader:  # a deferred reader is not held up by the writer
        assert reader.execute(text("SELECT n FROM t")).scalar_one() == 0
    order.append("first commits")
    first.commit()
    first.close()
    thread.join(5)
    assert order == ["first commits", "second began"]
    with Session(sqlite_engine) as s:
        assert s.execute(text("SELECT n FROM t")).scalar_one() == 2


def test_sqlite_writer_wait_is_bounded(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core.db, "BUSY_TIMEOUT_S", 0.2)
    with write_session(sqlite_engine) as holder:
        holder.execute(text("UPDATE t SET n = 5"))
        started = time.monotonic()
        with (
            pytest.raises(OperationalError, match="database is locked"),
            write_session(sqlite_engine) as s,
        ):
            s.execute(text("UPDATE t SET n = 6"))
        assert time.monotonic() - started < 2
        holder.commit()
    with write_session(sqlite_engine) as s:  # the lock was released with the failed session
        s.execute(text("UPDATE t SET n = 7"))
        s.commit()


def test_a_locked_database_answers_503_with_retry_after(
    engine: Engine, world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":  # the PostgreSQL case: a pool that cannot be had
        monkeypatch.setattr(core.db, "POOL_TIMEOUT_S", 0.2)
    monkeypatch.setattr(core.db, "BUSY_TIMEOUT_S", 0.2)
    app = make_app(engine, tmp_path)
    http = client(app)
    draft = f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/6.2/draft"
    with write_session(engine) as holder:
        holder.execute(text("UPDATE cycle_unit SET updated_at = updated_at"))
        if engine.dialect.name == "sqlite":
            resp = http.put(draft, json={"explanation": "x"}, headers=world.auth("staff_a"))
        else:  # no admission place at all (below the setting's minimum: a copy skips checks)
            settings = app.state.settings
            app.state.settings = settings.model_copy(update={"db_pool_size": 0})
            resp = http.put(draft, json={"explanation": "x"}, headers=world.auth("staff_a"))
            app.state.settings = settings
        holder.rollback()
    body = assert_problem(resp, 503)
    assert resp.headers["Retry-After"] == str(core.db.RETRY_AFTER_S)
    assert body["detail"] == "Hệ thống đang bận, vui lòng thử lại sau ít giây."
    ok = http.put(draft, json={"explanation": "sau"}, headers=world.auth("staff_a"))
    assert ok.status_code == 200, ok.text


async def test_admission_waits_without_a_thread_then_answers_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.db, "POOL_TIMEOUT_S", 0.2)
    got: list[str] = []
    async with admitted(1):
        with pytest.raises(Busy) as refused:
            async with admitted(1):
                got.append("second")
        assert refused.value.status == 503
        async with admitted(2):  # another pool size: places of its own
            got.append("other size")
    async with admitted(1):
        got.append("after")
    assert got == ["other size", "after"]


async def test_a_thread_lends_its_place_while_it_waits_and_takes_it_back() -> None:
    """A sync route's thread waiting for a hash (``place_lent``) lets another request in, then
    holds its place again; the place is given back once, at the end of the request."""
    got: list[str] = []

    async def other() -> None:
        async with admitted(1):
            got.append("other request")

    def route_thread() -> None:
        with core.db.place_lent():
            anyio.from_thread.run(other)  # would wait 10 s for the place, then Busy
            got.append("hashed")
        got.append("place back")

    async with admitted(1):
        await anyio.to_thread.run_sync(route_thread)
        with anyio.move_on_after(0.2) as waited:  # held again: nobody else gets in
            async with admitted(1):
                got.append("intruder")
        assert waited.cancelled_caught
    async with admitted(1):  # given back exactly once: one place, not zero and not two
        with anyio.move_on_after(0.2) as second:
            async with admitted(1):
                got.append("second place")
        assert second.cancelled_caught
    assert got == ["other request", "hashed", "place back"]


async def test_an_async_route_lends_its_place_while_it_awaits_the_workflow_server() -> None:
    got: list[str] = []
    async with admitted(1):
        async with core.db.place_lent_async(), admitted(1):
            got.append("other request")
        with anyio.move_on_after(0.2) as waited:
            async with admitted(1):
                got.append("intruder")
        assert waited.cancelled_caught
    assert got == ["other request"]


async def test_a_place_not_had_back_in_time_is_busy_and_never_given_back_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.db, "POOL_TIMEOUT_S", 0.2)
    taken = anyio.Event()
    done = anyio.Event()

    async def squatter() -> None:
        async with admitted(1):
            taken.set()
            await done.wait()

    async with anyio.create_task_group() as tg:
        with pytest.raises(Busy):
            async with admitted(1), core.db.place_lent_async():
                tg.start_soon(squatter)
                await taken.wait()
        done.set()
    async with admitted(1):  # one place still: the failed request did not give one back
        with anyio.move_on_after(0.2) as second:
            async with admitted(1):
                pass
        assert second.cancelled_caught


def test_outside_a_request_lending_is_a_no_op() -> None:
    with core.db.place_lent():  # the CLI, a test: no place, no event loop
        pass


# --- argon2 in a bounded executor --------------------------------------------------------------


def test_hashing_is_bounded_and_sheds_load_beyond_its_queue() -> None:
    gate = threading.Event()
    running: list[int] = []
    lock = threading.Lock()
    peak = [0]

    def slow() -> str:
        with lock:
            running.append(1)
            peak[0] = max(peak[0], len(running))
        gate.wait(5)
        with lock:
            running.pop()
        return "ok"

    places = core.hashing.CONCURRENCY + core.hashing.QUEUE
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(core.hashing.bounded(slow)))
        for _ in range(places)
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    with pytest.raises(Busy):  # the queue is full: refused at once, no thread parked
        core.hashing.bounded(slow)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == ["ok"] * places
    assert peak[0] == core.hashing.CONCURRENCY


def test_hashing_runs_below_the_requests_cpu_priority() -> None:
    """A login storm's argon2 yields the CPU to readers: its threads are niced (Linux)."""

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness()
    theirs = core.hashing.bounded(niceness)
    assert theirs == min(19, mine + core.hashing.NICE)
    assert niceness() == mine  # the caller's own thread keeps its priority


@pytest.fixture
def places(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.BoundedSemaphore]:
    """A hashing queue of one place; the test takes it to play a storm that fills the queue."""
    one = threading.BoundedSemaphore(1)
    monkeypatch.setattr(core.hashing, "_admitted", one)
    yield one


def test_a_hashing_place_is_taken_once_per_request_and_never_blocks(
    places: threading.BoundedSemaphore,
) -> None:
    with core.hashing.admitted():
        # a second hash of the same request (a password change: check, then hash) is inside it
        assert core.hashing.bounded(lambda: "again") == "again"
        seen: list[str] = []

        def other() -> None:  # another request (thread) finds the one place taken: at once
            try:
                with core.hashing.admitted():
                    seen.append("admitted")
            except Busy:
                seen.append("busy")

        t = threading.Thread(target=other)
        t.start()
        t.join(5)  # a waiting place would still be waiting here: nothing seen
        assert seen == ["busy"]
    assert core.hashing.bounded(lambda: "freed") == "freed"  # given back at the end


def _throttle_rows(engine: Engine) -> list[tuple[str, int]]:
    with Session(engine) as session:
        return sorted((r.key, r.failures) for r in session.exec(select(LoginThrottle)).all())


def test_a_login_storm_beyond_the_queue_is_refused_before_the_database(
    engine: Engine,
    world: Any,
    tmp_path: Path,
    places: threading.BoundedSemaphore,
    peak: list[int],
) -> None:
    """A login that finds the hashing queue full is answered 503 before its session: no
    admission place, no connection, no throttle try (the storm's refusals do not queue in front
    of the readers); with the place free again, the same login is checked (one place: the
    route's dependency and the hash inside it share it)."""
    http = client(make_app(engine, tmp_path))
    wrong = {"username": "rush-viewer", "password": "sai-mat-khau"}
    http.post("/api/auth/token", data=wrong)  # its throttle rows exist from here on
    before = _throttle_rows(engine)
    peak[:] = [0, 0]
    places.acquire()  # every place taken by logins already hashing
    try:
        resp = http.post("/api/auth/token", data=wrong)
    finally:
        places.release()
    body = assert_problem(resp, 503)
    assert resp.headers["Retry-After"] == str(core.db.RETRY_AFTER_S)
    assert body["detail"] == "Hệ thống đang bận, vui lòng thử lại sau ít giây."
    assert peak[1] == 0  # no connection was checked out
    assert _throttle_rows(engine) == before  # and no try was taken
    assert_problem(http.post("/api/auth/token", data=wrong), 401)  # the place is free again
    ok = http.post("/api/auth/token", data={"username": "rush-viewer", "password": PASSWORD})
    assert ok.status_code == 200, ok.text


def test_a_password_change_hashes_twice_in_one_place(
    engine: Engine, world: Any, tmp_path: Path, places: threading.BoundedSemaphore
) -> None:
    """The route's place covers both hashes (the current password checked, the new one hashed):
    with one place in the queue, the change goes through."""
    http = client(make_app(engine, tmp_path))
    resp = http.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "Rừng-thông-Định-Hóa-2026!"},
        headers=world.auth("council"),
    )
    assert resp.status_code == 204, resp.text
    with Session(engine) as session:
        user = get_user(session, username="rush-council")
        assert user is not None
        assert verify_password(user.password_hash, "Rừng-thông-Định-Hóa-2026!")


def test_the_sign_in_page_during_a_storm_is_a_vietnamese_page_not_json(
    engine: Engine, world: Any, tmp_path: Path, places: threading.BoundedSemaphore
) -> None:
    http = client(make_app(engine, tmp_path))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
    assert csrf
    places.acquire()
    try:
        resp = http.post(
            "/login",
            data={"username": "rush-viewer", "password": PASSWORD, "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
    finally:
        places.release()
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["Retry-After"] == str(core.db.RETRY_AFTER_S)
    assert "Hệ thống đang bận, vui lòng thử lại sau ít giây." in resp.text


def test_the_writer_lock_is_handed_over_in_arrival_order() -> None:
    lock = FifoLock()
    assert lock.acquire(1)
    order: list[int] = []

    def writer(i: int) -> None:
        assert lock.acquire(5)
        order.append(i)
        lock.release()

    threads = []
    for i in range(8):
        t = threading.Thread(target=writer, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # arrive one after another
    assert not lock.acquire(0.05)  # held, and the late comer gives up after its bound
    lock.release()
    for t in threads:
        t.join(5)
    assert order == list(range(8))


# --- a write ends in the route's own thread (api.routing.TransactionRoute) ---------------------


def _write_lock_free(path: Path) -> bool:
    """Whether another connection could take SQLite's write lock right now (no waiting)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()  # rolls the probe back
    return True


class _Probe(BaseModel):
    n: int
    db: str = Field(exclude=True)
    lock_free: bool = False

    @field_serializer("lock_free")
    def _look(self, _value: bool) -> bool:  # runs while FastAPI serialises, on the event loop
        return _write_lock_free(Path(self.db))


def _probe_app(engine: Engine, tmp_path: Path, route_class: type[APIRoute]) -> FastAPI:
    """An app with the project's request session and one writing route of ``route_class``
    whose answer, while FastAPI serialises it, looks at the write lock."""
    app = FastAPI()
    app.state.engine = engine
    app.state.settings = make_settings(tmp_path)
    errors.install(app)
    router = APIRouter(route_class=route_class)

    @router.put("/t/{n}", response_model=_Probe)
    def put_t(n: int, session: SessionDep) -> _Probe:
        session.execute(text("UPDATE t SET n = :n"), {"n": n})
        if n < 0:
            raise Problem(422, "Không hợp lệ.")
        return _Probe(n=n, db=str(engine.url.database))

    app.include_router(router)
    return app


@pytest.mark.parametrize(("route_class", "freed"), [(TransactionRoute, True), (APIRoute, False)])
def test_a_write_has_ended_before_its_answer_is_serialised(
    sqlite_engine: Engine, tmp_path: Path, route_class: type[APIRoute], freed: bool
) -> None:
    # With FastAPI's own route the session's exit commits only after the event loop has
    # serialised the answer, and the write lock is held meanwhile (before this change every
    # route was so, and under a rush each save queued behind others' serialisation).
    http = client(_probe_app(sqlite_engine, tmp_path, route_class))
    resp = http.put("/t/7")
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"n": 7, "lock_free": freed}
    with Session(sqlite_engine) as s:
        assert s.execute(text("SELECT n FROM t")).scalar_one() == 7
    refused = http.put("/t/-1")  # a refusal raised by the route still rolls its write back
    assert_problem(refused, 422)
    with Session(sqlite_engine) as s:
        assert s.execute(text("SELECT n FROM t")).scalar_one() == 7
    assert _write_lock_free(Path(str(sqlite_engine.url.database)))


def test_checks_that_fail_leave_no_read_open_for_a_later_write(sqlite_engine: Engine) -> None:
    # A caller may catch the failed check (an invalid cookie is "not signed in") and write
    # after it: that write must begin IMMEDIATE, not inside the check's deferred read.
    db = Path(str(sqlite_engine.url.database))
    with Session(writer(sqlite_engine), expire_on_commit=False) as session:
        with pytest.raises(LookupError), reading(session):
            session.execute(text("SELECT n FROM t"))
            raise LookupError
        assert not session.in_transaction()
        session.execute(text("SELECT n FROM t"))
        assert not _write_lock_free(db)  # the write session's own transaction holds the lock
        session.rollback()


def test_a_page_that_shows_a_refusal_still_rolls_the_write_back(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # A page route turns the refusal into a page, so the session's exit never sees it: the
    # route's thread rolls back (before this change the exit committed the half-done write).
    http = client(_probe_app(sqlite_engine, tmp_path, RefusalPageRoute))
    assert http.put("/t/5").status_code == 200
    refused = http.put("/t/-1")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert "Không hợp lệ." in refused.text
    with Session(sqlite_engine) as s:
        assert s.execute(text("SELECT n FROM t")).scalar_one() == 5


def test_the_app_refuses_a_writing_route_that_would_commit_late(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = APIRouter()  # FastAPI's own route class

    @late.post("/api/late")
    def post_late() -> dict[str, str]:
        return {}

    @late.get("/api/read")
    def get_read() -> dict[str, str]:
        return {}

    for key in ("POST /api/late", "GET /api/read"):  # rules, so that only the new check refuses
        monkeypatch.setitem(access.POLICY, key, access.POLICY["GET /api/units"])
    routes = [route for route in late.routes if isinstance(route, APIRoute)]
    assert [commits_late(r, sorted(r.methods or ())) for r in routes] == [True, False]
    monkeypatch.setattr("api.app.ROUTERS", (*ROUTERS, late))
    with pytest.raises(RuntimeError, match=r"no TransactionRoute: POST /api/late"):
        make_app(engine, tmp_path)
