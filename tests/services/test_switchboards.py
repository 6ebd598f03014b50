"""The notice and transition tables (services/notices, services/transitions): every notice kind
and every unit command has exactly one registered function, every notice kind has its template,
and the dispatchers refuse a kind or command nobody registered before touching the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast, get_args

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

import notifications
from contracts.messages import (
    CancelCommand,
    ExtendCommand,
    NoticeKind,
    NoticeRequest,
    PublishCommand,
    TransitionArgs,
    UnitCommand,
)
from core.db import session_scope
from models.states import UnitCommand as UnitCommandName
from models.tables import AuditLog, CycleUnit, Unit
from services.notices import build_notices
from services.notices.registry import BUILDERS, CycleScope, Notice, builder_for, cycle_notice
from services.transitions import apply_transition, handler_for
from services.transitions.registry import HANDLERS, handles
from services.transitions.shared import Step
from tests.histories.scenario import Seeded, local, seed_cycle

YEAR = 2031
TEMPLATES = Path(notifications.__file__).parent / "templates"


def _unit_command_types() -> list[type[Any]]:
    """The command classes of the unit workflow (the members of the discriminated union)."""
    union = get_args(UnitCommand)[0]
    return list(get_args(union))


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    return seed_cycle(engine, year=YEAR, opens_at=local(YEAR, 11, 14, 8), cycle_id="2031-tables")


def test_every_notice_kind_has_one_builder_and_its_template() -> None:
    assert set(BUILDERS) == set(NoticeKind)
    for kind in NoticeKind:
        assert builder_for(kind) is BUILDERS[kind]
        # The builder's kind is its template's name (both the text and the HTML part).
        assert (TEMPLATES / f"{kind.value}.txt").is_file(), kind
        assert (TEMPLATES / f"{kind.value}.html").is_file(), kind


def test_every_unit_command_has_one_handler() -> None:
    commands = _unit_command_types()
    assert len(commands) == len(UnitCommandName)
    # The union's commands are exactly the state module's command names.
    kinds = {c.model_fields["kind"].default for c in commands}
    assert kinds == {c.value for c in UnitCommandName}
    assert set(HANDLERS) == {None, *commands}
    for command in commands:
        handler = HANDLERS[command]
        assert callable(handler)
        assert handler.__module__ == "services.transitions.handlers"
    # A move without a command (a timer's lock or round end) has its handler too.
    assert handler_for(None) is HANDLERS[None]
    assert handler_for(CancelCommand(actor="x", reason="r")) is HANDLERS[CancelCommand]


def test_a_second_registration_is_refused() -> None:
    def again(scope: CycleScope) -> list[Notice]:
        return []

    with pytest.raises(RuntimeError, match="two notice builders for 'missed'"):
        cycle_notice(NoticeKind.missed)(again)
    assert BUILDERS[NoticeKind.missed] is not again

    def twice(step: Step, cmd: CancelCommand) -> tuple[Any, dict[str, Any]]:
        raise AssertionError("never called")

    with pytest.raises(RuntimeError, match="two transition handlers"):
        handles(CancelCommand)(twice)
    assert HANDLERS[CancelCommand] is not twice


def test_the_transition_dispatcher_refuses_an_unknown_command(
    engine: Engine, seeded: Seeded
) -> None:
    unit = seeded.units[0]
    for command in (
        ExtendCommand(actor="coordinator", reason="a cycle command"),
        PublishCommand(actor="coordinator"),
    ):
        with pytest.raises(LookupError, match="no transition handler registered"):
            handler_for(command)
        # A cycle command cannot pass TransitionArgs' validation; built without it, it still
        # stops at the dispatcher, before any row is read or written.
        args = TransitionArgs.model_construct(
            cycle_id=seeded.cycle_id,
            unit_code=unit,
            request_key=f"tables-{command.kind}",
            at=local(YEAR, 11, 15, 9),
            actor="coordinator",
            command=cast(Any, command),  # what validation would refuse
            seq=0,
            to_state=None,
        )
        with session_scope(engine) as session:
            audits = session.exec(select(func.count()).select_from(AuditLog)).one()
            with pytest.raises(LookupError, match=type(command).__name__):
                apply_transition(session, args)
        with Session(engine) as session:
            assert session.exec(select(func.count()).select_from(AuditLog)).one() == audits
            cu = session.exec(
                select(CycleUnit)
                .join(Unit, col(Unit.id) == CycleUnit.unit_id)
                .where(CycleUnit.cycle_id == seeded.cycle_id, Unit.code == unit)
            ).one()
            assert cu.state == "assigning"


def test_the_notice_dispatcher_refuses_an_unregistered_kind(
    engine: Engine, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    req = NoticeRequest(
        kind=NoticeKind.cycle_opened,
        cycle_id=seeded.cycle_id,
        unit_code=seeded.units[0],
        key="open",
        at=local(YEAR, 11, 14, 8),
    )
    with Session(engine) as session:
        # Registered: the unit office is told (the seed gives every unit an office account).
        notices = build_notices(session, req, base_url="http://test")
        assert [n.template for n in notices] == ["cycle_opened"] * len(notices)
        assert notices and all(n.recipient.role == "office" for n in notices)
        # Not registered: a loud error, not an empty list that would silently send nothing.
        monkeypatch.delitem(BUILDERS, NoticeKind.cycle_opened)
        with pytest.raises(LookupError, match="no notice builder registered"):
            build_notices(session, req, base_url="http://test")
        with pytest.raises(LookupError, match="cycle_opened"):
            builder_for(NoticeKind.cycle_opened)
