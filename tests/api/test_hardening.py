"""Regressions of a security and correctness review: each test fails without its fix."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.mail import MailActivities
from contracts.messages import (
    DeadlineKind,
    NoticeKind,
    NoticeRequest,
    ReturnCommand,
    SubmitCommand,
    TransitionArgs,
)
from core.db import session_scope
from core.errors import Conflict
from core.settings import Settings
from models.inputs import CriterionInput
from models.tables import AuditLog, Entry, OutboxMessage, Unit, UnitState
from notifications.mailer import SmtpMailer
from notifications.sink import MailSink
from services import audit
from services.sheet import Editor, save_draft
from services.transitions import apply_transition
from tests.api_support import (
    AGENCY,
    assert_problem,
    build_world,
    client,
    make_app,
    set_unit_state,
)


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="hd", cycle_id="hd-2024")


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def _unit_code(engine: Engine, unit_id: int) -> str:
    with Session(engine) as s:
        unit = s.get(Unit, unit_id)
        assert unit is not None
        return unit.code


def test_non_ascii_token_or_csrf_is_refused_not_a_server_error(http, world) -> None:
    bad = {"Authorization": "Bearer abc.éé".encode()}
    assert_problem(http.get("/api/units", headers=bad), 401)
    page = http.get("/login")
    resp = http.post(
        "/login",
        data={"username": "hd-viewer", "password": "x", "csrf_token": "é"},
    )
    assert resp.status_code == 403 and page.status_code == 200


async def test_council_cannot_flag_criteria_of_another_agency(
    engine, world, temporal_dev: WorkflowEnvironment, tmp_path: Path
) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.appraising)
    # 8.1 is appraised by Phòng Nội vụ, not by the council persona's agency
    assert AGENCY != "Phòng Nội vụ"
    app = make_app(engine, tmp_path, temporal=temporal_dev.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        resp = await http.post(
            f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/explanation-requests",
            json={
                "items": [{"code": "8.1", "question": "Đề nghị giải trình"}],
                "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            },
            headers=world.auth("council"),
        )
    body = assert_problem(resp, 403)
    assert "8.1" in body["detail"]


def test_derived_criteria_are_not_self_scored(engine, world) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)
    with session_scope(engine) as s, pytest.raises(Conflict) as refused:
        save_draft(
            s,
            cycle_id=world.cycle_id,
            unit_code=_unit_code(engine, world.unit_a),
            criterion_code="8.1",
            editor=Editor(username="hd-office-a", office=True),
            now=datetime.now(UTC),
            inputs=CriterionInput(value=Decimal(1)),
            explanation="",
        )
    assert refused.value.code == "system_value"


def test_returned_criteria_close_again_at_submission(engine, world) -> None:
    code = _unit_code(engine, world.unit_b)
    set_unit_state(engine, world.cycle_id, world.unit_b, UnitState.unit_review)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        apply_transition(
            s,
            TransitionArgs(
                cycle_id=world.cycle_id, unit_code=code, request_key="hd-return", at=now,
                actor="hd-office-b", command=ReturnCommand(actor="hd-office-b", codes=("1.2",),
                comment="Bổ sung số liệu"),
            ),
        )  # fmt: skip
    with Session(engine) as s:
        entry = s.exec(select(Entry).where(Entry.unit_id == world.unit_b)).one()
        assert (entry.status, entry.return_comment) == ("returned", "Bổ sung số liệu")
    with session_scope(engine) as s:
        apply_transition(
            s,
            TransitionArgs(
                cycle_id=world.cycle_id, unit_code=code, request_key="hd-submit", at=now,
                actor="hd-office-b", command=SubmitCommand(actor="hd-office-b"), seq=1,
                to_state=UnitState.submitted,
            ),
        )  # fmt: skip
    with Session(engine) as s:
        entry = s.exec(select(Entry).where(Entry.unit_id == world.unit_b)).one()
        assert (entry.status, entry.return_comment) == ("open", "")


def test_long_idempotency_keys_fit_the_audit_column(engine) -> None:
    key = "classify/" + "k" * 250
    with session_scope(engine) as s:
        first = audit.record(s, actor="t", entity="x", action="y", request_key=key)
    with session_scope(engine) as s:
        again = audit.record(s, actor="t", entity="x", action="y", request_key=key)
        assert again.id == first.id  # found by the same bounded key: acts once
        assert first.request_key is not None and len(first.request_key) <= 200
        assert s.exec(select(AuditLog).where(AuditLog.id == first.id)).one()


async def test_a_reminder_is_dropped_when_the_deadline_passed_before_the_attempt_ran(
    engine: Engine, world, smtp: tuple[int, MailSink], tmp_path: Path
) -> None:
    """The attempt was scheduled before the deadline but runs after it: nothing is sent."""
    port, sink = smtp
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)
    settings = Settings(_env_file=None, smtp_port=port, data_dir=tmp_path)
    acts = MailActivities(engine, settings, SmtpMailer(settings))
    wall = datetime.now(UTC)
    deadline = wall - timedelta(minutes=1)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, current_attempt_scheduled_time=wall - timedelta(hours=1)
    )
    result = await env.run(
        acts.notify,
        NoticeRequest(
            kind=NoticeKind.reminder,
            cycle_id=world.cycle_id,
            unit_code=_unit_code(engine, world.unit_a),
            key="hd-late-reminder",
            at=wall - timedelta(hours=1),
            expires_at=deadline,
            deadline_kind=DeadlineKind.submission,
            deadline=deadline,
            offset="1h",
        ),
    )
    assert result.sent == 0 and result.dropped >= 1
    assert sink.messages == []
    with Session(engine) as s:
        rows = s.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(world.cycle_id))
        ).all()
        assert rows and {r.status for r in rows} == {"dropped"}
