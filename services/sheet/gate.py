"""The edit gate (docs/workflows.md, "The edit gate"): may this person change this criterion now?

A draft input, an appraisal score or an explanation answer is a plain database write that
checks, inside its own transaction, the unit's projected state, the criterion's assignment or
agency, and that ``now`` is before the hard-lock instant — the clock of the request, not the
workflow's timer, so an edit one second after the lock is refused even if the lock activity has
not run yet. ``lock_unit`` is the first statement of every such transaction: it takes the unit's
row lock (PostgreSQL) or the write lock (SQLite) before anything is read, so a submission (which
freezes the snapshot in the same kind of transaction) and an edit can never interleave.

The states and the lock instant are judged by ``models.states`` (the one owner of both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.errors import Conflict, Forbidden, NotFound
from models.framework import DerivedRule, Node
from models.labels import UNIT_STATE_VI
from models.states import DRAFT_STATES, locked
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    ExplanationItem,
    ExplanationRequest,
    Unit,
    UnitState,
)
from services.sheet.framework import framework_for, leaf

__all__ = [
    "Editor",
    "check_agency",
    "check_answer",
    "check_appraisal",
    "check_council_codes",
    "check_draft",
    "check_draft_gate",
    "entry_row",
    "flagged_item",
    "lock_unit",
    "open_round",
    "refuse_state",
]


@dataclass(frozen=True)
class Editor:
    """The person behind an edit, as the API resolved their roles for this unit.

    ``office``: unit office of this unit (edits every criterion of its sheet while drafting);
    ``agencies``: the appraising agencies the person sits on the council for;
    ``coordinator``: the cycle's coordinator (appraises any criterion).
    """

    username: str
    user_id: int | None = None
    office: bool = False
    agencies: frozenset[str] = field(default_factory=frozenset)
    coordinator: bool = False


def lock_unit(session: Session, cycle_id: str, unit_code: str) -> tuple[Cycle, Unit, CycleUnit]:
    """Takes the unit's write lock first, then reads cycle, unit and projection (fresh)."""
    unit_id = select(Unit.id).where(Unit.code == unit_code).scalar_subquery()
    touched = session.execute(
        update(CycleUnit)
        .where(col(CycleUnit.cycle_id) == cycle_id, col(CycleUnit.unit_id) == unit_id)
        .values(updated_at=CycleUnit.updated_at)  # a no-op write: only the lock matters
        .execution_options(synchronize_session=False)
    )
    if getattr(touched, "rowcount", 0) == 0:
        raise NotFound(
            "unit_not_in_cycle",
            f"Đơn vị {unit_code} không tham gia kỳ đánh giá {cycle_id}.",
            f"Unit {unit_code} is not part of cycle {cycle_id}.",
        )
    # One fresh read of all three (populate_existing: objects an earlier transaction of the
    # session loaded are overwritten, not trusted), while the lock is held.
    cu, unit, cycle = session.exec(
        select(CycleUnit, Unit, Cycle)
        .join(Unit, col(Unit.id) == col(CycleUnit.unit_id))
        .join(Cycle, col(Cycle.id) == col(CycleUnit.cycle_id))
        .where(col(CycleUnit.cycle_id) == cycle_id, col(Unit.code) == unit_code)
        .execution_options(populate_existing=True)
    ).one()
    return cycle, unit, cu


def entry_row(session: Session, cycle_id: str, unit_id: int, code: str) -> Entry:
    """The criterion's entry, or a new (unsaved) one."""
    entry = session.exec(
        select(Entry).where(
            Entry.cycle_id == cycle_id, Entry.unit_id == unit_id, Entry.criterion_code == code
        )
    ).first()
    if entry is None:
        entry = Entry(cycle_id=cycle_id, unit_id=unit_id, criterion_code=code)
    return entry


def _assigned_user_ids(session: Session, cycle_id: str, unit_id: int, code: str) -> set[int]:
    rows = session.exec(
        select(Assignment.user_id).where(
            Assignment.cycle_id == cycle_id,
            Assignment.unit_id == unit_id,
            Assignment.criterion_code == code,
        )
    ).all()
    return set(rows)


def open_round(session: Session, cycle_id: str, unit_id: int) -> ExplanationRequest | None:
    """The unit's open explanation round, if any."""
    return session.exec(
        select(ExplanationRequest).where(
            ExplanationRequest.cycle_id == cycle_id,
            ExplanationRequest.unit_id == unit_id,
            ExplanationRequest.state == "open",
        )
    ).first()


def flagged_item(session: Session, request: ExplanationRequest, code: str) -> ExplanationItem:
    """The round's item for ``code``; refused if the round does not flag it."""
    item = session.exec(
        select(ExplanationItem).where(
            ExplanationItem.request_id == request.id, ExplanationItem.criterion_code == code
        )
    ).first()
    if item is None:
        raise Conflict(
            "not_flagged",
            f"Tiêu chí {code} không thuộc yêu cầu giải trình vòng {request.round_no}.",
            f"Criterion {code} is not flagged in explanation round {request.round_no}.",
        )
    return item


def refuse_state(cu: CycleUnit, what_vi: str, what_en: str) -> Conflict:
    """The refusal for an edit the unit's state does not take."""
    state = UnitState(cu.state)
    return Conflict(
        "invalid_state",
        f"Không thể {what_vi} khi đơn vị ở trạng thái “{UNIT_STATE_VI[state]}”.",
        f"Cannot {what_en} while the unit is {state.value}.",
    )


def _check_state(cu: CycleUnit, node: Node, now: datetime) -> UnitState:
    state = UnitState(cu.state)
    if state not in DRAFT_STATES:
        raise refuse_state(cu, "sửa phiếu tự chấm điểm", "edit the self-assessment")
    if isinstance(node.rule, DerivedRule):
        # Days late, rank and score against last year, a council decision: the system or the
        # council supplies these values, never the unit's own sheet.
        raise Conflict(
            "system_value",
            f"Tiêu chí {node.code} do hệ thống hoặc hội đồng thẩm định xác định, "
            "đơn vị không tự chấm.",
            f"Criterion {node.code} is supplied by the system or the council, not self-scored.",
        )
    # An explanation round runs after the lock: its own deadline bounds it (``_check_round``).
    if state is not UnitState.explanation and locked(now, cu.hard_lock_at):
        raise Conflict(
            "locked",
            "Phần mềm đã khóa: không nhận thay đổi sau thời điểm khóa.",
            "The sheet is locked: no change is accepted after the hard lock.",
        )
    return state


def _check_person(
    session: Session, state: UnitState, unit: Unit, entry: Entry, editor: Editor
) -> None:
    assert unit.id is not None
    code = entry.criterion_code
    # The unit office edits every criterion: its assignments need not be read.
    assigned = editor.office or (
        editor.user_id is not None
        and editor.user_id in _assigned_user_ids(session, entry.cycle_id, unit.id, code)
    )
    if not assigned:
        raise Forbidden(
            "not_assigned",
            f"Tiêu chí {code} không được phân công cho {editor.username}.",
            f"Criterion {code} is not assigned to {editor.username}.",
        )
    if state is UnitState.unit_review and not editor.office and entry.status != "returned":
        raise Conflict(
            "under_review",
            f"Đơn vị đang rà soát: chỉ sửa được tiêu chí được trả lại, tiêu chí {code} thì không.",
            f"The unit is under review: only returned criteria can be edited, not {code}.",
        )


def _check_round(session: Session, cu: CycleUnit, code: str, now: datetime) -> None:
    request = open_round(session, cu.cycle_id, cu.unit_id)
    if request is None:
        raise refuse_state(cu, "sửa phiếu tự chấm điểm", "edit the self-assessment")
    flagged_item(session, request, code)
    # The round's deadline closes it the way the hard lock closes drafting: to the second.
    if locked(now, request.deadline):
        raise Conflict(
            "round_closed",
            f"Đã hết hạn giải trình vòng {request.round_no}.",
            f"Explanation round {request.round_no} has reached its deadline.",
        )


def check_draft(
    session: Session,
    cycle_id: str,
    unit_code: str,
    code: str,
    editor: Editor,
    now: datetime,
) -> tuple[Cycle, Unit, CycleUnit, Node, Entry]:
    """The whole draft gate: lock, state, lock instant, assignment, review, explanation round."""
    cycle, unit, cu = lock_unit(session, cycle_id, unit_code)
    assert unit.id is not None
    node = leaf(framework_for(session, cycle), code)
    state = _check_state(cu, node, now)
    entry = entry_row(session, cycle_id, unit.id, code)
    _check_person(session, state, unit, entry, editor)
    if state is UnitState.explanation:
        _check_round(session, cu, code, now)
    return cycle, unit, cu, node, entry


def check_appraisal(
    session: Session, cycle_id: str, unit_code: str, code: str, editor: Editor
) -> tuple[Cycle, Unit, Node]:
    """The appraisal gate: lock, the unit under appraisal, the criterion routed to the editor."""
    cycle, unit, cu = lock_unit(session, cycle_id, unit_code)
    node = leaf(framework_for(session, cycle), code)
    if UnitState(cu.state) is not UnitState.appraising:
        raise refuse_state(cu, "chấm điểm thẩm định", "appraise")
    check_agency(node, editor)
    return cycle, unit, node


def check_answer(
    session: Session, cycle_id: str, unit_code: str, code: str, editor: Editor, now: datetime
) -> tuple[Unit, ExplanationRequest, ExplanationItem]:
    """The answer gate: the draft gate, then the open round's item for the criterion."""
    _cycle, unit, cu, _node, _entry = check_draft(session, cycle_id, unit_code, code, editor, now)
    assert unit.id is not None
    if UnitState(cu.state) is not UnitState.explanation:
        raise refuse_state(cu, "trả lời yêu cầu giải trình", "answer an explanation request")
    request = open_round(session, cycle_id, unit.id)
    assert request is not None  # checked by the draft gate
    return unit, request, flagged_item(session, request, code)


def check_agency(node: Node, editor: Editor) -> None:
    """Council members act only on the criteria routed to their agency (coordinators on all)."""
    if not editor.coordinator and (not node.agency or node.agency not in editor.agencies):
        raise Forbidden(
            "wrong_agency",
            f"Tiêu chí {node.code} do {node.agency or 'cơ quan thường trực'} thẩm định.",
            f"Criterion {node.code} is appraised by {node.agency or 'the coordinator'}.",
        )


def check_council_codes(
    session: Session, *, cycle_id: str, codes: Iterable[str], editor: Editor
) -> None:
    """Refuses criteria a council member may not flag or appraise (another agency's)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("unknown_cycle", f"Không có kỳ đánh giá {cycle_id}.", "No such cycle.")
    framework = framework_for(session, cycle)
    for code in codes:
        check_agency(leaf(framework, code), editor)


def check_draft_gate(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
) -> Entry:
    """The draft gate alone (evidence uploads and deletions call it in their transaction)."""
    return check_draft(session, cycle_id, unit_code, criterion_code, editor, now)[4]
