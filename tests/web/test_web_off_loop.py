"""A page never writes, nor waits for SQLite's write lock, on the event loop (issue 13).

The event loop serves every request of the process: a write there (or a wait for the writer
queue) stalls them all. A sync form's checks read in a transaction of their own and its write
begins in the route's thread; the session's last_seen touch goes to a worker thread; an async
form that writes (a list import, a new account, a new cycle) does so through
``core.db.write_apart``. Checked here on real page posts, statement by statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope, utcnow
from models.tables import AuthSession, Entry, Unit, UnitState
from services.sessions import TOUCH_EVERY
from tests.api_support import World, assign_staff_a, build_world, make_app, set_unit_state
from tests.web.test_web_pages import login

WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture(scope="module")
def world(engine: Engine) -> World:
    w = build_world(engine, prefix="ol")
    with session_scope(engine) as session:
        assign_staff_a(session, w, ["6.2"])
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement the engine runs inside: (its text, whether it ran on an event loop)."""
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append((" ".join(statement.split()), _on_loop()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(seen: list[tuple[str, bool]], *, on_loop: bool) -> list[str]:
    """The writes (and SQLite write-lock waits) among ``seen``, on an event loop or off it."""
    return [s for s, loop in seen if loop is on_loop and s.upper().startswith(WRITES)]


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement the engine runs while the test does."""
    with recorded(engine) as seen:
        yield seen


def _age_sessions(engine: Engine) -> None:
    """Makes every session due its last_seen touch on its next request."""
    with session_scope(engine) as session:
        session.execute(update(AuthSession).values(last_seen_at=utcnow() - TOUCH_EVERY * 2))


def _signed_in(
    engine: Engine,
    tmp_path: Any,
    username: str,
    statements: list[tuple[str, bool]],
    next_url: str = "/",
) -> tuple[TestClient, str]:
    """A client of a fresh app signed in as ``username``; the statements recorded from here."""
    http, csrf = login(make_app(engine, tmp_path), username, next_url=next_url)
    statements.clear()
    return http, csrf


def test_a_draft_form_writes_in_the_routes_thread(
    engine: Engine, world: World, tmp_path: Any, statements: list[tuple[str, bool]]
) -> None:
    http, csrf = _signed_in(engine, tmp_path, "ol-staff-a", statements)
    _age_sessions(engine)
    resp = http.post(
        f"/cycles/{world.cycle_id}/units/ol-unit-a/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.numerator": "80", "in.denominator": "87"},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    assert writes(statements, on_loop=True) == []
    written = " ".join(writes(statements, on_loop=False))
    assert "UPDATE auth_session" in written  # the touch, off the loop too
    assert "INSERT INTO entry" in written and "INSERT INTO audit_log" in written
    with Session(engine) as s:
        entry = s.exec(
            select(Entry).where(Entry.cycle_id == world.cycle_id, Entry.criterion_code == "6.2")
        ).one()
        assert entry.inputs == {"numerator": 80, "denominator": 87}


def test_an_async_form_writes_through_a_worker_thread(
    engine: Engine, world: World, tmp_path: Any, statements: list[tuple[str, bool]]
) -> None:
    http, csrf = _signed_in(engine, tmp_path, "ol-coordinator", statements, next_url="/units")
    resp = http.post(
        "/units/import",
        data={"csrf_token": csrf, "kind": "units"},
        files={"file": ("don-vi.csv", "Mã đơn vị,Tên đơn vị\nol-moi,UBND xã Mới\n".encode())},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    assert writes(statements, on_loop=True) == []
    assert "INSERT INTO unit" in " ".join(writes(statements, on_loop=False))
    refused = http.post(  # a refused list: rolled back in that thread, the page says why
        "/units/import",
        data={"csrf_token": csrf, "kind": "units"},
        files={"file": ("don-vi.csv", "Mã đơn vị,Tên đơn vị\nol-sai,\n".encode())},
    )
    assert refused.status_code == 422
    assert writes(statements, on_loop=True) == []
    with Session(engine) as s:
        codes = set(s.exec(select(Unit.code).where(Unit.code.startswith("ol-"))).all())
    assert "ol-moi" in codes and "ol-sai" not in codes


def test_a_refused_form_is_drawn_again_without_the_write_lock(
    engine: Engine, world: World, tmp_path: Any, statements: list[tuple[str, bool]]
) -> None:
    http, csrf = _signed_in(engine, tmp_path, "ol-staff-a", statements)
    refused = http.post(  # more reports on time than reports: refused by the rule, 422
        f"/cycles/{world.cycle_id}/units/ol-unit-a/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.numerator": "90", "in.denominator": "87"},
    )
    assert refused.status_code == 422
    assert 'value="90"' in refused.text  # the page again, with what was typed
    assert writes(statements, on_loop=True) == []
    if engine.dialect.name == "sqlite":  # the refused write's lock only, not the page's reads
        immediate = [s for s, _ in statements if s.upper() == "BEGIN IMMEDIATE"]
        assert len(immediate) == 1, statements
    assert not any(s.upper().startswith(("INSERT", "UPDATE entry")) for s, _ in statements)
