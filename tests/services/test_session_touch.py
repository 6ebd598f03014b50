"""A session's last_seen under load (issue 13): written at most once a minute, in a short write
transaction of its own after the request's checks, never inside a read; skipped (not failed)
when the database's writer is busy; the idle timeout still ends a session left unused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from api.deps import SESSION_COOKIE
from core.db import session_scope, write_session
from models.tables import AuthSession, UnitState, User
from services.sessions import TOUCH_EVERY, start_session, touch_session
from tests.api_support import SECRET, assert_problem, build_world, client, make_app
from tests.api_support import set_unit_state as set_state


@pytest.fixture(scope="module")
def world(engine: Engine) -> Any:
    from models.tables import Assignment

    w = build_world(engine, prefix="touch")
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


@pytest.fixture(scope="module")
def app(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_app(engine, tmp_path_factory.mktemp("data"))


def _session(
    engine: Engine, world: Any, who: str, seen_ago: timedelta, kind: str = "api"
) -> tuple[str, str]:
    """A new session of ``who`` last seen ``seen_ago``: (bearer token or, for ``kind``
    "session", the pages' cookie; session id)."""
    with session_scope(engine) as session:
        user = session.get(User, world.users[who])
        assert user is not None
        token, _, row = start_session(
            session,
            user,
            secret_key=SECRET,
            minutes=8 * 60,
            kind=kind,
            extra={"csrf": "c" * 32} if kind == "session" else None,
            now=datetime.now(UTC) - seen_ago,
        )
        return token, row.id


def _seen(engine: Engine, sid: str) -> datetime:
    with session_scope(engine) as session:
        row = session.get(AuthSession, sid)
        assert row is not None
        return row.last_seen_at


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_session_seen_lately_is_not_written(engine: Engine, app: Any, world: Any) -> None:
    token, sid = _session(engine, world, "viewer", timedelta(seconds=20))
    before = _seen(engine, sid)
    writes: list[str] = []

    def spy(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE AUTH_SESSION"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    try:
        assert client(app).get("/api/auth/me", headers=_bearer(token)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert writes == []
    assert _seen(engine, sid) == before


def test_a_read_request_due_a_touch_writes_it_outside_its_read(
    engine: Engine, app: Any, world: Any
) -> None:
    token, sid = _session(engine, world, "viewer", TOUCH_EVERY + timedelta(seconds=5))
    resp = client(app).get(
        f"/api/cycles/{world.cycle_id}/units/{world.unit_a}", headers=_bearer(token)
    )
    assert resp.status_code == 200, resp.text
    assert datetime.now(UTC) - _seen(engine, sid) < timedelta(seconds=30)


def test_a_write_request_due_a_touch_is_touched_and_saved(
    engine: Engine, app: Any, world: Any
) -> None:
    token, sid = _session(engine, world, "staff_a", timedelta(minutes=59))
    draft = f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/6.2/draft"
    resp = client(app).put(draft, json={"explanation": "đã chạm"}, headers=_bearer(token))
    assert resp.status_code == 200, resp.text
    assert resp.json()["explanation"] == "đã chạm"
    assert datetime.now(UTC) - _seen(engine, sid) < timedelta(seconds=30)


def test_a_busy_writer_skips_the_touch_and_the_request_still_answers(
    engine: Engine, app: Any, world: Any
) -> None:
    token, sid = _session(engine, world, "viewer", timedelta(minutes=5))
    before = _seen(engine, sid)
    http = client(app)
    # Another transaction holds the write lock (SQLite) or the session's row (PostgreSQL).
    with write_session(engine) as holder:
        holder.execute(
            text("UPDATE auth_session SET user_agent = user_agent WHERE id = :i"), {"i": sid}
        )
        started = time.monotonic()
        resp = http.get("/api/auth/me", headers=_bearer(token))
        waited = time.monotonic() - started
        holder.rollback()
    assert resp.status_code == 200, resp.text
    assert waited < 5  # the request's own timeout (BUSY_TIMEOUT_S) was not reached
    assert _seen(engine, sid) == before  # skipped, not failed
    # The writer is free again: the session's next request makes the touch.
    assert http.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    assert _seen(engine, sid) > before


def test_a_page_due_a_touch_never_writes_inside_its_read(
    engine: Engine, app: Any, world: Any
) -> None:
    """The pages read their cookie session as the API does: a busy writer skips the touch and
    the page still answers (before, the touch was written inside the page's read and a busy
    SQLite writer turned the page into "database is locked")."""
    cookie, sid = _session(engine, world, "viewer", timedelta(minutes=5), kind="session")
    before = _seen(engine, sid)
    http = client(app)
    http.cookies.set(SESSION_COOKIE, cookie)
    with write_session(engine) as holder:
        holder.execute(
            text("UPDATE auth_session SET user_agent = user_agent WHERE id = :i"), {"i": sid}
        )
        resp = http.get("/cycles")
        holder.rollback()
    assert resp.status_code == 200, resp.text
    assert "Đăng xuất" in resp.text  # signed in, not sent to the sign-in page
    assert _seen(engine, sid) == before
    assert http.get("/cycles").status_code == 200
    assert _seen(engine, sid) > before


def test_touch_is_once_per_interval_whoever_races(engine: Engine, world: Any) -> None:
    _token, sid = _session(engine, world, "viewer", timedelta(minutes=3))
    now = datetime.now(UTC)
    assert touch_session(engine, sid, now)
    assert _seen(engine, sid) == now
    # A second request of the same minute (it read the old value before the first wrote).
    assert touch_session(engine, sid, now + timedelta(seconds=10))
    assert _seen(engine, sid) == now


def test_an_unused_session_still_ends_at_its_idle_limit(
    engine: Engine, app: Any, world: Any
) -> None:
    # Used 59 minutes after sign-in (touched), then left: alive until 60 minutes after that use.
    token, sid = _session(engine, world, "viewer", timedelta(minutes=59))
    http = client(app)
    assert http.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    touched = _seen(engine, sid)
    assert datetime.now(UTC) - touched < timedelta(seconds=30)
    with session_scope(engine) as session:  # as if that use was 61 minutes ago
        row = session.get(AuthSession, sid)
        assert row is not None
        row.last_seen_at = touched - timedelta(minutes=61)
        session.add(row)
    body = assert_problem(http.get("/api/auth/me", headers=_bearer(token)), 401)
    assert "hết hạn" in body["detail"]


def test_a_draft_save_takes_the_sqlite_write_lock_once(tmp_path: Any) -> None:
    """The checks before the save (caller, session, access, unit) read outside the write lock:
    one BEGIN IMMEDIATE per save, the edit's own (on SQLite, whatever TEST_DATABASE_URL says)."""
    from core.db import make_engine
    from core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'once.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        w = build_world(engine, prefix="once")
        set_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
        begins: list[str] = []

        def spy(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if statement.startswith("BEGIN"):
                begins.append(statement)

        http = client(make_app(engine, tmp_path))
        draft = f"/api/cycles/{w.cycle_id}/units/{w.unit_a}/criteria/6.2/draft"
        event.listen(engine, "before_cursor_execute", spy)
        try:
            resp = http.put(draft, json={"explanation": "một lần"}, headers=w.auth("office_a"))
        finally:
            event.remove(engine, "before_cursor_execute", spy)
        assert resp.status_code == 200, resp.text
        assert begins.count("BEGIN IMMEDIATE") == 1, begins
    finally:
        engine.dispose()
