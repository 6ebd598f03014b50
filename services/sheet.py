"""A unit's sheet (phiếu chấm điểm): the edit gate, assignments, progress and snapshots.

The edit gate (ARCHITECTURE "The three gates", 1): a draft input, an appraisal score or an
explanation answer is a plain database write that checks, inside its own transaction, the
unit's projected state, the criterion's assignment or agency, and that ``now`` is before the
hard-lock instant — the clock of the request, not the workflow's timer, so an edit one second
after the lock is refused even if the lock activity has not run yet. ``lock_unit`` is the first
statement of every such transaction: it takes the unit's row lock (PostgreSQL) or the write lock
(SQLite) before anything is read, so a submission (which freezes the snapshot in the same kind
of transaction) and an edit can never interleave.

Scores are computed here with ``scoring.rules.evaluate`` from the entered facts; Decimal only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.framework import DerivedRule, Framework, Node, NotApplicablePolicy
from models.inputs import CriterionInput
from models.states import DRAFT_STATES
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    Evidence,
    ExplanationItem,
    ExplanationRequest,
    FrameworkRecord,
    RoleGrant,
    Unit,
    UnitState,
    User,
)
from scoring.aggregate import SheetScore, score_sheet
from scoring.rules import RuleInputError, RuleResult, evaluate
from services import audit
from services.labels import UNIT_STATE_VI

__all__ = [
    "DraftResult",
    "EditRefused",
    "Editor",
    "InvalidInput",
    "Progress",
    "SheetError",
    "SheetNotFound",
    "StaffProgress",
    "answer_explanation",
    "build_snapshot",
    "canonical_hash",
    "check_draft_gate",
    "expand_assignments",
    "framework_for",
    "leaf_results",
    "lock_unit",
    "progress",
    "replace_assignments",
    "save_appraisal",
    "save_draft",
    "score_entries",
]


# --- errors ----------------------------------------------------------------------------------


class SheetError(Exception):
    """A refused sheet operation with its reason in Vietnamese and English."""

    status = 409

    def __init__(self, type_: str, message_vi: str, message_en: str, field: str = "") -> None:
        super().__init__(f"{type_}: {message_en}")
        self.type = type_
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field


class EditRefused(SheetError):
    """The edit gate refuses (wrong state, after the lock, not assigned, wrong agency): 409."""


class SheetNotFound(SheetError):
    """No such unit in the cycle, or no such criterion in its framework: 404."""

    status = 404


class InvalidInput(SheetError):
    """The inputs do not fit the criterion's rule: 422, ``field`` names the input."""

    status = 422


# --- who edits -------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class DraftResult:
    """The saved entry and the score the rule computed, with its one-sentence explanation."""

    entry: Entry
    score: Decimal | None
    explanation: str


# --- loading ---------------------------------------------------------------------------------


# Published frameworks are immutable: (id, spec_hash) names one parsed tree for the process.
_FRAMEWORKS: dict[tuple[int, str], Framework] = {}
_FRAMEWORKS_MAX = 32


def framework_for(session: Session, cycle: Cycle) -> Framework:
    """The (published, immutable) framework of a cycle, parsed once per process.

    Only the hash is read on a cache hit: the spec JSON is loaded and parsed once.
    """
    spec_hash = session.exec(
        select(FrameworkRecord.spec_hash).where(FrameworkRecord.id == cycle.framework_id)
    ).first()
    if spec_hash is None:
        raise SheetNotFound(
            "framework_missing",
            f"Không tìm thấy bộ tiêu chí của kỳ đánh giá {cycle.id}.",
            f"The framework of cycle {cycle.id} is missing.",
        )
    key = (cycle.framework_id, spec_hash)
    cached = _FRAMEWORKS.get(key)
    if cached is None:
        record = session.get(FrameworkRecord, cycle.framework_id)
        assert record is not None
        cached = Framework.model_validate(record.spec)
        if len(_FRAMEWORKS) >= _FRAMEWORKS_MAX:
            _FRAMEWORKS.pop(next(iter(_FRAMEWORKS)))
        _FRAMEWORKS[key] = cached
    return cached


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
        raise SheetNotFound(
            "unit_not_in_cycle",
            f"Đơn vị {unit_code} không tham gia kỳ đánh giá {cycle_id}.",
            f"Unit {unit_code} is not part of cycle {cycle_id}.",
        )
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).one()
    cycle = session.exec(select(Cycle).where(Cycle.id == cycle_id)).one()
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit.id)
    ).one()
    session.refresh(cu)
    return cycle, unit, cu


def _leaf(framework: Framework, code: str) -> Node:
    try:
        node = framework.node(code)
    except KeyError:
        node = None
    if node is None or not node.is_leaf:
        raise SheetNotFound(
            "unknown_criterion",
            f"Không có tiêu chí {code} để chấm điểm trong bộ tiêu chí.",
            f"There is no leaf criterion {code} in the framework.",
        )
    return node


def _entry(session: Session, cycle_id: str, unit_id: int, code: str) -> Entry:
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


def _open_round(session: Session, cycle_id: str, unit_id: int) -> ExplanationRequest | None:
    return session.exec(
        select(ExplanationRequest).where(
            ExplanationRequest.cycle_id == cycle_id,
            ExplanationRequest.unit_id == unit_id,
            ExplanationRequest.state == "open",
        )
    ).first()


def _flagged_item(session: Session, request: ExplanationRequest, code: str) -> ExplanationItem:
    item = session.exec(
        select(ExplanationItem).where(
            ExplanationItem.request_id == request.id, ExplanationItem.criterion_code == code
        )
    ).first()
    if item is None:
        raise EditRefused(
            "not_flagged",
            f"Tiêu chí {code} không thuộc yêu cầu giải trình vòng {request.round_no}.",
            f"Criterion {code} is not flagged in explanation round {request.round_no}.",
        )
    return item


# --- the gate --------------------------------------------------------------------------------


def _refuse_state(cu: CycleUnit, what_vi: str, what_en: str) -> EditRefused:
    state = UnitState(cu.state)
    return EditRefused(
        "invalid_state",
        f"Không thể {what_vi} khi đơn vị ở trạng thái “{UNIT_STATE_VI[state]}”.",
        f"Cannot {what_en} while the unit is {state.value}.",
    )


def _check_draft(
    session: Session,
    cycle_id: str,
    unit_code: str,
    code: str,
    editor: Editor,
    now: datetime,
) -> tuple[Cycle, Unit, CycleUnit, Node, Entry]:
    cycle, unit, cu = lock_unit(session, cycle_id, unit_code)
    assert unit.id is not None
    node = _leaf(framework_for(session, cycle), code)
    state = UnitState(cu.state)
    if state not in DRAFT_STATES:
        raise _refuse_state(cu, "sửa phiếu tự chấm điểm", "edit the self-assessment")
    if isinstance(node.rule, DerivedRule):
        # Days late, rank and score against last year, a council decision: the system or the
        # council supplies these values, never the unit's own sheet.
        raise EditRefused(
            "system_value",
            f"Tiêu chí {code} do hệ thống hoặc hội đồng thẩm định xác định, đơn vị không tự chấm.",
            f"Criterion {code} is supplied by the system or the council, not self-scored.",
        )
    if state is not UnitState.explanation and now >= cu.hard_lock_at:
        raise EditRefused(
            "locked",
            "Phần mềm đã khóa: không nhận thay đổi sau thời điểm khóa.",
            "The sheet is locked: no change is accepted after the hard lock.",
        )
    entry = _entry(session, cycle_id, unit.id, code)
    assigned = editor.user_id is not None and editor.user_id in _assigned_user_ids(
        session, cycle_id, unit.id, code
    )
    if not (editor.office or assigned):
        raise EditRefused(
            "not_assigned",
            f"Tiêu chí {code} không được phân công cho {editor.username}.",
            f"Criterion {code} is not assigned to {editor.username}.",
        )
    if state is UnitState.unit_review and not editor.office and entry.status != "returned":
        raise EditRefused(
            "under_review",
            f"Đơn vị đang rà soát: chỉ sửa được tiêu chí được trả lại, tiêu chí {code} thì không.",
            f"The unit is under review: only returned criteria can be edited, not {code}.",
        )
    if state is UnitState.explanation:
        request = _open_round(session, cycle_id, unit.id)
        if request is None:
            raise _refuse_state(cu, "sửa phiếu tự chấm điểm", "edit the self-assessment")
        _flagged_item(session, request, code)
        if now >= request.deadline:
            raise EditRefused(
                "round_closed",
                f"Đã hết hạn giải trình vòng {request.round_no}.",
                f"Explanation round {request.round_no} has reached its deadline.",
            )
    return cycle, unit, cu, node, entry


def _check_agency(node: Node, editor: Editor) -> None:
    """Council members act only on the criteria routed to their agency (coordinators on all)."""
    if not editor.coordinator and (not node.agency or node.agency not in editor.agencies):
        raise EditRefused(
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
        raise SheetNotFound("unknown_cycle", f"Không có kỳ đánh giá {cycle_id}.", "No such cycle.")
    framework = framework_for(session, cycle)
    for code in codes:
        _check_agency(_leaf(framework, code), editor)


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
    return _check_draft(session, cycle_id, unit_code, criterion_code, editor, now)[4]


def _evaluate(node: Node, inputs: CriterionInput, framework: Framework) -> RuleResult:
    if inputs.score is not None and not (node.rule is None or node.rule.kind == "manual"):
        # A criterion that computes its own score refuses one typed in (issue 14).
        raise InvalidInput(
            "invalid_input",
            f"Tiêu chí {node.code} tự tính điểm từ số liệu: không nhận điểm nhập trực tiếp.",
            f"criterion {node.code} computes its score: 'score' is not an input it takes",
            field="score",
        )
    try:
        return evaluate(
            node, inputs, decimal_places=framework.decimal_places, rounding=framework.rounding
        )
    except RuleInputError as exc:
        raise InvalidInput(
            "invalid_input",
            exc.message_vi,
            str(exc),
            field=exc.field,
        ) from exc


def _entry_view(entry: Entry) -> dict[str, Any]:
    return {
        "inputs": entry.inputs,
        "self_score": None if entry.self_score is None else str(entry.self_score),
        "explanation": entry.explanation,
        "appraised_inputs": entry.appraised_inputs,
        "appraised_score": None if entry.appraised_score is None else str(entry.appraised_score),
        "appraisal_comment": entry.appraisal_comment,
    }


def save_draft(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    inputs: CriterionInput | None = None,
    explanation: str | None = None,
) -> DraftResult:
    """Saves a criterion's inputs and/or explanation; the rule computes the self score."""
    cycle, unit, _cu, node, entry = _check_draft(
        session, cycle_id, unit_code, criterion_code, editor, now
    )
    framework = framework_for(session, cycle)
    before = _entry_view(entry) if entry.id is not None else None
    result: RuleResult | None = None
    if inputs is not None:
        result = _evaluate(node, inputs, framework)
        entry.inputs = inputs.to_json_dict()
        entry.self_score = result.score
        entry.self_reason = result.explanation
    if explanation is not None:
        entry.explanation = explanation
    entry.updated_at = now
    entry.updated_by = editor.username
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=editor.username,
        entity="entry",
        action="draft",
        entity_key=criterion_code,
        cycle_id=cycle_id,
        unit_id=unit.id,
        before=before,
        after=_entry_view(entry),
    )
    return DraftResult(
        entry=entry,
        score=entry.self_score,
        explanation=result.explanation if result is not None else entry.self_reason,
    )


def save_appraisal(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    inputs: CriterionInput,
    comment: str = "",
) -> DraftResult:
    """The council's appraisal of one criterion: corrected inputs → appraised score, comment."""
    cycle, unit, cu = lock_unit(session, cycle_id, unit_code)
    assert unit.id is not None
    framework = framework_for(session, cycle)
    node = _leaf(framework, criterion_code)
    if UnitState(cu.state) is not UnitState.appraising:
        raise _refuse_state(cu, "chấm điểm thẩm định", "appraise")
    _check_agency(node, editor)
    result = _evaluate(node, inputs, framework)
    entry = _entry(session, cycle_id, unit.id, criterion_code)
    before = _entry_view(entry) if entry.id is not None else None
    entry.appraised_inputs = inputs.to_json_dict()
    entry.appraised_score = result.score
    entry.appraisal_comment = comment
    entry.updated_at = now
    entry.updated_by = editor.username
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=editor.username,
        entity="entry",
        action="appraise",
        entity_key=criterion_code,
        cycle_id=cycle_id,
        unit_id=unit.id,
        before=before,
        after=_entry_view(entry),
    )
    return DraftResult(entry=entry, score=result.score, explanation=result.explanation)


def answer_explanation(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    answer: str,
) -> ExplanationItem:
    """The unit's answer to a flagged criterion of the open round, before its deadline."""
    _cycle, unit, cu, _node, _entry = _check_draft(
        session, cycle_id, unit_code, criterion_code, editor, now
    )
    assert unit.id is not None
    if UnitState(cu.state) is not UnitState.explanation:
        raise _refuse_state(cu, "trả lời yêu cầu giải trình", "answer an explanation request")
    request = _open_round(session, cycle_id, unit.id)
    assert request is not None  # checked by the gate
    item = _flagged_item(session, request, criterion_code)
    before = {"answer": item.answer}
    item.answer = answer
    item.answered_at = now
    item.answered_by = editor.username
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=editor.username,
        entity="explanation",
        action="answer",
        entity_key=f"{request.round_no}/{criterion_code}",
        cycle_id=cycle_id,
        unit_id=unit.id,
        before=before,
        after={"answer": answer},
    )
    return item


# --- assignments -----------------------------------------------------------------------------


def _ancestors(framework: Framework) -> dict[str, list[str]]:
    """For each leaf, its codes from the top down to itself."""
    out: dict[str, list[str]] = {}

    def visit(node: Node, path: list[str]) -> None:
        here = [*path, node.code]
        if node.is_leaf:
            out[node.code] = here
        for child in node.children:
            visit(child, here)

    for top in framework.nodes:
        visit(top, [])
    return out


def expand_assignments(
    framework: Framework, specs: Sequence[tuple[Sequence[str], str, bool]]
) -> dict[str, list[tuple[str, bool]]]:
    """Leaf code → [(username, responsible)] from (codes, username, responsible) specs.

    A code on a parent covers every leaf under it, unless a more specific code (nearer the
    leaf) is assigned too: then the most specific assignment wins for the leaves under it
    (the Định Hóa table: "III: Lan" but "3.2: Cát, Nguyễn"). Every assigned leaf has exactly
    one responsible person: the one marked so, else the first listed; two is an error.
    """
    known = {n.code for n in framework.walk()}
    by_code: dict[str, list[tuple[str, bool]]] = {}
    for codes, username, responsible in specs:
        for code in codes:
            if code not in known:
                raise InvalidInput(
                    "unknown_criterion",
                    f"Không có tiêu chí {code} trong bộ tiêu chí.",
                    f"There is no criterion {code} in the framework.",
                    field="codes",
                )
            people = by_code.setdefault(code, [])
            if all(u != username for u, _ in people):
                people.append((username, responsible))
            elif responsible:
                people[:] = [(u, r or u == username) for u, r in people]
    out: dict[str, list[tuple[str, bool]]] = {}
    for leaf, path in _ancestors(framework).items():
        chosen = next((by_code[c] for c in reversed(path) if c in by_code), None)
        if not chosen:
            continue
        marked = [u for u, r in chosen if r]
        if len(marked) > 1:
            raise InvalidInput(
                "two_responsible",
                f"Tiêu chí {leaf} có hơn một người chịu trách nhiệm chính: {', '.join(marked)}.",
                f"Criterion {leaf} has more than one responsible person: {', '.join(marked)}.",
                field="assignments",
            )
        head = marked[0] if marked else chosen[0][0]
        out[leaf] = [(u, u == head) for u, _ in chosen]
    return out


def replace_assignments(
    session: Session,
    *,
    cycle: Cycle,
    unit: Unit,
    specs: Sequence[tuple[Sequence[str], str, bool]],
    actor: str,
    request_key: str | None = None,
) -> list[str]:
    """Replaces the unit's assignments; returns the staff whose list of criteria changed."""
    assert unit.id is not None
    framework = framework_for(session, cycle)
    wanted = expand_assignments(framework, specs)
    names = sorted({u for people in wanted.values() for u, _ in people})
    users = {
        u.username: u for u in session.exec(select(User).where(col(User.username).in_(names))).all()
    }
    missing = [n for n in names if n not in users]
    if missing:
        raise InvalidInput(
            "unknown_user",
            f"Không có tài khoản: {', '.join(missing)}.",
            f"No such user: {', '.join(missing)}.",
            field="username",
        )
    allowed = set(
        session.exec(
            select(RoleGrant.user_id).where(
                RoleGrant.unit_id == unit.id,
                col(RoleGrant.role).in_(["staff", "unit_office"]),
            )
        ).all()
    )
    outsiders = [n for n in names if users[n].id not in allowed]
    if outsiders:
        raise InvalidInput(
            "not_unit_staff",
            f"Không phải cán bộ của đơn vị {unit.code}: {', '.join(outsiders)}.",
            f"Not staff of unit {unit.code}: {', '.join(outsiders)}.",
            field="username",
        )
    existing = session.exec(
        select(Assignment).where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
    ).all()
    by_id = {u.id: u.username for u in users.values()}
    for row in existing:
        if row.user_id not in by_id:
            user = session.get(User, row.user_id)
            by_id[row.user_id] = user.username if user else str(row.user_id)
    before: dict[str, set[tuple[str, bool]]] = {}
    for row in existing:
        before.setdefault(by_id[row.user_id], set()).add((row.criterion_code, row.responsible))
    after: dict[str, set[tuple[str, bool]]] = {}
    for leaf, people in wanted.items():
        for username, responsible in people:
            after.setdefault(username, set()).add((leaf, responsible))
    for row in existing:
        session.delete(row)
    session.flush()
    for username, items in sorted(after.items()):
        for leaf, responsible in sorted(items):
            session.add(
                Assignment(
                    cycle_id=cycle.id,
                    unit_id=unit.id,
                    criterion_code=leaf,
                    user_id=_id(users[username].id),
                    responsible=responsible,
                )
            )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="assignment",
        action="replace",
        cycle_id=cycle.id,
        unit_id=unit.id,
        before={u: sorted(c for c, _ in v) for u, v in sorted(before.items())},
        after={u: sorted(c for c, _ in v) for u, v in sorted(after.items())},
        request_key=request_key,
    )
    return sorted(u for u in after if after[u] != before.get(u))


def _id(value: int | None) -> int:
    assert value is not None
    return value


# --- scores and progress ---------------------------------------------------------------------


def _result(
    node: Node, framework: Framework, inputs: Mapping[str, Any] | None, stored: Decimal | None
) -> RuleResult | Decimal | None:
    if inputs:
        try:
            return evaluate(
                node,
                CriterionInput.model_validate(inputs),
                decimal_places=framework.decimal_places,
                rounding=framework.rounding,
            )
        except (RuleInputError, ValidationError):
            return stored
    return stored


def leaf_results(
    framework: Framework, entries: Iterable[Entry], *, appraised: bool
) -> dict[str, RuleResult | Decimal | None]:
    """Each leaf's result from the self inputs, or (appraised) the council's where it gave one.

    A criterion the council did not touch keeps the unit's self assessment.
    """
    by_code = {e.criterion_code: e for e in entries}
    out: dict[str, RuleResult | Decimal | None] = {}
    for node in framework.leaves():
        e = by_code.get(node.code)
        if e is None:
            out[node.code] = None
        elif appraised and (e.appraised_inputs or e.appraised_score is not None):
            out[node.code] = _result(node, framework, e.appraised_inputs, e.appraised_score)
        else:
            out[node.code] = _result(node, framework, e.inputs, e.self_score)
    return out


def score_entries(framework: Framework, entries: Iterable[Entry], *, appraised: bool) -> SheetScore:
    """The whole sheet's score (self, or appraised)."""
    return score_sheet(framework, leaf_results(framework, entries, appraised=appraised))


def _finished(node: Node, entry: Entry | None) -> bool:
    if isinstance(node.rule, DerivedRule):
        return True  # nothing for the unit to do: the system or the council supplies it
    if entry is None or entry.self_score is None:
        return False
    na = bool(entry.inputs.get("not_applicable")) and node.na_policy is not (
        NotApplicablePolicy.forbidden
    )
    return na or not node.needs_explanation or bool(entry.explanation.strip())


@dataclass(frozen=True)
class StaffProgress:
    """One staff member's criteria and those not finished yet."""

    username: str
    full_name: str
    email: str
    criteria: tuple[tuple[str, str, bool], ...]  # (code, title, responsible)
    unfinished: tuple[tuple[str, str], ...]  # (code, title)


@dataclass(frozen=True)
class Progress:
    """A unit's sheet: how many leaves are finished, and who has work left."""

    total: int
    finished: int
    unassigned: tuple[tuple[str, str], ...]
    staff: tuple[StaffProgress, ...]

    @property
    def unfinished(self) -> int:
        """Leaves not finished yet."""
        return self.total - self.finished


def progress(session: Session, *, cycle: Cycle, unit: Unit) -> Progress:
    """Finished means scored and, where the criterion needs one, explained."""
    framework = framework_for(session, cycle)
    entries = {
        e.criterion_code: e
        for e in session.exec(
            select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
        ).all()
    }
    rows = session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
    ).all()
    per_user: dict[str, tuple[User, list[tuple[str, bool]]]] = {}
    assigned: set[str] = set()
    for a, u in rows:
        per_user.setdefault(u.username, (u, []))[1].append((a.criterion_code, a.responsible))
        assigned.add(a.criterion_code)
    leaves = framework.leaves()
    order = {n.code: i for i, n in enumerate(leaves)}
    titles = {n.code: n.title for n in leaves}
    done = {n.code for n in leaves if _finished(n, entries.get(n.code))}
    # What the unit scores itself; derived criteria are supplied by the system or the council.
    own = [n for n in leaves if not isinstance(n.rule, DerivedRule)]
    staff = []
    for username, (user, items) in sorted(per_user.items()):
        items.sort(key=lambda it: order.get(it[0], 0))
        staff.append(
            StaffProgress(
                username=username,
                full_name=user.full_name or username,
                email=user.email,
                criteria=tuple((c, titles.get(c, ""), r) for c, r in items),
                unfinished=tuple((c, titles.get(c, "")) for c, _ in items if c not in done),
            )
        )
    return Progress(
        total=len(own),
        finished=sum(1 for n in own if n.code in done),
        unassigned=tuple((n.code, n.title) for n in own if n.code not in assigned),
        staff=tuple(staff),
    )


# --- snapshots -------------------------------------------------------------------------------


def canonical_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dec(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def _ts(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat()


def build_snapshot(
    session: Session,
    *,
    cycle: Cycle,
    unit: Unit,
    cu: CycleUnit,
    kind: str,
    at: datetime,
) -> tuple[dict[str, Any], str]:
    """The sheet as it is now (scores, inputs, explanations, evidence hashes) and its hash."""
    framework = framework_for(session, cycle)
    entries = list(
        session.exec(
            select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
        ).all()
    )
    by_code = {e.criterion_code: e for e in entries}
    evidence: dict[str, list[dict[str, Any]]] = {}
    for ev in session.exec(
        select(Evidence)
        .where(
            Evidence.cycle_id == cycle.id,
            Evidence.unit_id == unit.id,
            col(Evidence.deleted_at).is_(None),
        )
        .order_by(col(Evidence.criterion_code), col(Evidence.sha256))
    ).all():
        evidence.setdefault(ev.criterion_code, []).append(
            {
                "sha256": ev.sha256,
                "filename": ev.filename,
                "size": ev.size,
                "doc_number": ev.doc_number,
                "doc_date": _ts(ev.doc_date),
                "issuer": ev.issuer,
                "signed": ev.signed,
            }
        )
    assigned: dict[str, list[str]] = {}
    for a, u in session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
        .order_by(col(Assignment.criterion_code), col(User.username))
    ).all():
        assigned.setdefault(a.criterion_code, []).append(
            u.username + (" (chính)" if a.responsible else "")
        )
    rows = []
    for node in framework.leaves():
        e = by_code.get(node.code)
        rows.append(
            {
                "code": node.code,
                "assigned": assigned.get(node.code, []),
                "inputs": e.inputs if e else {},
                "self_score": _dec(e.self_score) if e else None,
                "self_reason": e.self_reason if e else "",
                "explanation": e.explanation if e else "",
                "appraised_inputs": e.appraised_inputs if e else None,
                "appraised_score": _dec(e.appraised_score) if e else None,
                "appraisal_comment": e.appraisal_comment if e else "",
                "evidence": evidence.get(node.code, []),
            }
        )
    rounds = []
    for req in session.exec(
        select(ExplanationRequest)
        .where(ExplanationRequest.cycle_id == cycle.id, ExplanationRequest.unit_id == unit.id)
        .order_by(col(ExplanationRequest.round_no))
    ).all():
        items = session.exec(
            select(ExplanationItem)
            .where(ExplanationItem.request_id == req.id)
            .order_by(col(ExplanationItem.criterion_code))
        ).all()
        rounds.append(
            {
                "round_no": req.round_no,
                "deadline": _ts(req.deadline),
                "items": [
                    {
                        "code": it.criterion_code,
                        "question": it.question,
                        "answer": it.answer,
                        "answered_at": _ts(it.answered_at),
                        "answered_by": it.answered_by,
                    }
                    for it in items
                ],
            }
        )
    self_sheet = score_entries(framework, entries, appraised=False)
    appraised_sheet = score_entries(framework, entries, appraised=True)
    record = session.get(FrameworkRecord, cycle.framework_id)
    content: dict[str, Any] = {
        "cycle_id": cycle.id,
        "unit_code": unit.code,
        "unit_name": unit.name,
        "kind": kind,
        "taken_at": at.isoformat(),
        "framework": {"id": cycle.framework_id, "spec_hash": record.spec_hash if record else ""},
        "submitted_at": _ts(cu.submitted_at),
        "days_late": cu.days_late,
        "proposed_class": cu.proposed_class,
        "entries": rows,
        "explanation_rounds": rounds,
        "totals": {
            "self_total": str(self_sheet.total),
            "appraised_total": str(appraised_sheet.total),
            "max_total": str(self_sheet.max_total),
        },
    }
    return content, canonical_hash(content)
