"""The unit page draws exactly the commands the state module allows (issue 8, item 1).

Every (UnitState × UnitCommand) pair, before and after the hard lock: a command's button is
drawn iff ``models.states.allowed`` is true and the person holds a role the command's API rule
lets act. Checked on the view model for every role alone and every role at once, and on the
rendered page of a person holding every role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlmodel import select

from api.access import POLICY
from core.db import session_scope
from models.states import UnitCommand, UnitState, allowed
from models.tables import Assignment, CycleUnit, ExplanationRequest, Role, RoleGrant, User
from tests.api_support import AGENCY, World, build_world, make_app, password_hash
from tests.web.test_web_pages import login
from web.unit_commands import COMMANDS
from web.unit_page import BUTTONS, Facts, buttons

NOW = datetime(2024, 11, 25, 9, 0, tzinfo=UTC)
BEFORE_LOCK = NOW + timedelta(days=1)  # the hard lock is still ahead
AFTER_LOCK = NOW - timedelta(seconds=1)  # the hard lock has passed
LOCKS = {"before the lock": BEFORE_LOCK, "after the lock": AFTER_LOCK}
# Every fact besides the state holds: a round is open, rounds are left, criteria are routed.
READY = Facts(open_round=True, rounds_left=1, routed=True)
# Commands the page never offers: the API assigns; the cycle's workflow sends the others.
NOT_ON_THE_PAGE = {
    UnitCommand.assign,
    UnitCommand.set_deadlines,
    UnitCommand.close_appraisal,
    UnitCommand.classified,
    UnitCommand.publish_unit,
    UnitCommand.followup_done,
    UnitCommand.cancel,
}
BY_COMMAND = {b.command: b for b in BUTTONS}


def test_the_page_offers_every_person_command_and_only_those() -> None:
    assert set(BY_COMMAND) == set(UnitCommand) - NOT_ON_THE_PAGE
    assert [c.button for c in COMMANDS] and {c.button for c in COMMANDS} == {
        b.name for b in BUTTONS
    }
    assert all(b.rule in POLICY for b in BUTTONS)


@pytest.mark.parametrize("lock", LOCKS.values(), ids=list(LOCKS))
@pytest.mark.parametrize("state", list(UnitState))
def test_every_role_at_once_sees_exactly_the_allowed_commands(state, lock) -> None:
    drawn = buttons(lambda rule: True, state, NOW, lock, READY)
    for command in UnitCommand:
        button = BY_COMMAND.get(command)
        if button is None:
            assert command.value not in drawn
            continue
        assert drawn[button.name] is allowed(command, state, NOW, lock), (command, state)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("lock", LOCKS.values(), ids=list(LOCKS))
@pytest.mark.parametrize("state", list(UnitState))
def test_each_role_sees_the_allowed_commands_its_rule_lets_it_send(state, lock, role) -> None:
    drawn = buttons(lambda rule: role in POLICY[rule].roles, state, NOW, lock, READY)
    for button in BUTTONS:
        expected = role in POLICY[button.rule].roles and allowed(button.command, state, NOW, lock)
        assert drawn[button.name] is expected, (button.name, state, role)


def test_facts_besides_the_state_only_take_buttons_away() -> None:
    nothing = Facts(open_round=False, rounds_left=0, routed=False)
    state = UnitState.explanation
    assert buttons(lambda rule: True, state, NOW, BEFORE_LOCK, READY)["close_round"]
    assert not buttons(lambda rule: True, state, NOW, BEFORE_LOCK, nothing)["close_round"]
    state = UnitState.appraising
    assert buttons(lambda rule: True, state, NOW, BEFORE_LOCK, READY)["request"]
    assert not buttons(lambda rule: True, state, NOW, BEFORE_LOCK, nothing)["request"]


# --- the rendered page -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="wb")
    with session_scope(engine) as session:
        user = User(
            username="wb-all-roles",
            full_name="Mọi vai trò",
            email="wb-all-roles@example.vn",
            password_hash=password_hash(),
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        for role, unit_id, agency in (
            (Role.coordinator, None, None),
            (Role.viewer, None, None),
            (Role.unit_office, w.unit_a, None),
            (Role.staff, w.unit_a, None),
            (Role.council, None, AGENCY),
        ):
            session.add(RoleGrant(user_id=user.id, role=role, unit_id=unit_id, agency=agency))
        session.add(
            Assignment(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.1.1",
                user_id=user.id,
                responsible=True,
            )
        )
        # An open round, so closing it is a fact of the page in every state.
        session.add(
            ExplanationRequest(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                round_no=1,
                deadline=datetime.now(UTC) + timedelta(days=5),
            )
        )
    return w


@pytest.fixture(scope="module")
def app(engine, world, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"))


def _set(engine, world: World, state: UnitState, hard_lock_at: datetime) -> None:
    with session_scope(engine) as session:
        cu = session.exec(
            select(CycleUnit).where(
                CycleUnit.cycle_id == world.cycle_id, CycleUnit.unit_id == world.unit_a
            )
        ).one()
        cu.state = state
        cu.hard_lock_at = hard_lock_at
        session.add(cu)


@pytest.mark.parametrize("locked_out", [False, True], ids=["before the lock", "after the lock"])
def test_the_rendered_page_draws_exactly_the_allowed_commands(
    app, engine, world, locked_out
) -> None:
    http, _csrf = login(app, "wb-all-roles")
    page_url = f"/cycles/{world.cycle_id}/units/wb-unit-a"
    seen: set[str] = set()
    for state in UnitState:
        now = datetime.now(UTC)
        lock = now - timedelta(hours=1) if locked_out else now + timedelta(days=8)
        _set(engine, world, state, lock)
        page = http.get(page_url)
        assert page.status_code == 200, (state, page.text)
        for form in COMMANDS:
            button = next(b for b in BUTTONS if b.name == form.button)
            drawn = f'action="{page_url}/{form.path}"' in page.text
            assert drawn is allowed(button.command, state, now, lock), (form.button, state)
            if drawn:
                seen.add(form.button)
    # Every button shows in some state before the lock; after it, none of the lock-bound ones.
    lock_bound = {"start_review", "return", "submit"}
    assert seen == ({b.name for b in BUTTONS} - (lock_bound if locked_out else set()))
