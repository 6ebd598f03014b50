"""Inputs the rule does not take, and control characters in text, are refused with 422 naming
the field, and nothing is stored (issue 14: a score for a computed criterion was ignored with
200; a NUL byte was stored on SQLite and a server error on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from api.text_guard import first_control
from core.db import session_scope
from models.tables import Assignment, Entry, Unit, UnitState
from tests.api_support import assert_problem, build_world, client, make_app, set_unit_state


@pytest.fixture(scope="module")
def world(engine):
    w = build_world(engine, prefix="inr")
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
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def _draft_url(world) -> str:
    return f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/6.2/draft"


def test_a_score_sent_for_a_computed_criterion_is_refused(engine, http, world) -> None:
    body = assert_problem(
        http.put(
            _draft_url(world),
            json={"inputs": {"numerator": 84, "denominator": 87, "score": "5"}},
            headers=world.auth("staff_a"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "score"
    assert body["detail"].startswith("Tiêu chí 6.2")
    with Session(engine) as session:
        saved = session.exec(
            select(Entry).where(Entry.cycle_id == world.cycle_id, Entry.criterion_code == "6.2")
        ).first()
    assert saved is None or saved.self_score is None  # nothing stored
    # without the score the same inputs are taken
    ok = http.put(
        _draft_url(world),
        json={"inputs": {"numerator": 84, "denominator": 87}},
        headers=world.auth("staff_a"),
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f"])
def test_control_characters_in_json_text_are_refused(engine, http, world, bad: str) -> None:
    unit = {"code": "inr-ctl-unit", "name": f"UBND xã{bad}Kiểm Thử"}
    body = assert_problem(
        http.post("/api/units", json=unit, headers=world.auth("coordinator")), 422
    )
    assert body["errors"] == [
        {"field": "name", "in": "body", "reason": body["errors"][0]["reason"]}
    ]
    assert "ký tự điều khiển" in body["detail"]
    with Session(engine) as session:
        assert session.exec(select(Unit).where(Unit.code == "inr-ctl-unit")).first() is None


def test_nested_text_names_its_path(http, world) -> None:
    body = assert_problem(
        http.put(
            _draft_url(world),
            json={"inputs": {"numerator": 1, "denominator": 2}, "explanation": "Báo cáo\x00"},
            headers=world.auth("staff_a"),
        ),
        422,
    )
    assert body["errors"][0]["field"] == "explanation"


def test_control_characters_in_a_form_are_refused_on_the_page(http) -> None:
    resp = http.post("/login", data={"username": "ai\x00do", "password": "x", "csrf_token": "y"})
    assert resp.status_code == 422 and "text/html" in resp.headers["content-type"]
    assert "ký tự điều khiển" in resp.text and "username" in resp.text


def test_tabs_and_line_breaks_are_ordinary_text() -> None:
    assert first_control({"explanation": "Dòng 1\r\nDòng 2\tcột"}) is None
    assert first_control({"a": [{"b": "x\x00"}]}) == "a.0.b"
    assert first_control({"k\x01": "v"}) == "k\x01"
