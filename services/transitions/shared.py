"""What the transition handlers share: the refusal, the step they work on, and the database
chores several of them do (snapshots, derived criteria, explanation rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from contracts.messages import TransitionArgs
from core.vn import VN_TZ, vn_decimal
from models.framework import DerivedRule, DerivedSource, Framework, Node
from models.inputs import CriterionInput
from models.states import CycleState
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    ExplanationRequest,
    FrameworkRecord,
    Snapshot,
    Unit,
    UnitState,
    User,
)
from scoring.rules import RuleInputError, evaluate
from services.sheet import build_snapshot, framework_for, score_entries

__all__ = [
    "Step",
    "close_open_round",
    "days_late",
    "fill_derived",
    "open_request",
    "outside_source",
    "previous_result",
    "responsible",
    "snapshot",
]


def days_late(deadline: datetime, at: datetime) -> int:
    """Calendar days (Asia/Ho_Chi_Minh) from the deadline's date to the submission's, ≥ 1 if late.

    On time → 0; 22/11 17:00 deadline: 22/11 18:00 → 1 (late the same day), 25/11 09:00 → 3.
    """
    if at <= deadline:
        return 0
    days = (at.astimezone(VN_TZ).date() - deadline.astimezone(VN_TZ).date()).days
    return max(1, days)


@dataclass
class Step:
    """One transition under way: the request, and the locked unit with its projection."""

    session: Session
    args: TransitionArgs
    cycle: Cycle
    unit: Unit
    unit_id: int
    cu: CycleUnit
    before: UnitState


def snapshot(step: Step, kind: str) -> Snapshot:
    """The unit's snapshot of ``kind``, built now from the sheet unless it already exists."""
    session, cycle, unit, cu = step.session, step.cycle, step.unit, step.cu
    existing = session.exec(
        select(Snapshot).where(
            Snapshot.cycle_id == cycle.id, Snapshot.unit_id == unit.id, Snapshot.kind == kind
        )
    ).first()
    if existing is not None:  # a snapshot is immutable: never rewritten
        return existing
    at = step.args.at
    content, digest = build_snapshot(session, cycle=cycle, unit=unit, cu=cu, kind=kind, at=at)
    snap = Snapshot(
        cycle_id=cycle.id,
        unit_id=step.unit_id,
        kind=kind,
        content=content,
        content_hash=digest,
        created_at=at,
    )
    session.add(snap)
    session.flush()
    return snap


# A derived criterion about an index measured outside this system (the province's CCHC index,
# the satisfaction index SIPAS) is the council's input with its source named, never this
# system's own rank or score (issue 11: "not this system's own rank").
_OUTSIDE_INDEX = ("chỉ số cchc", "chỉ số hài lòng", "par index", "sipas")


def outside_source(node: Node) -> str:
    """The outside index a derived criterion measures ("" when the system knows the value)."""
    text = f"{node.title}\n{node.guidance}".lower()
    found = [name for name in _OUTSIDE_INDEX if name in text]
    if not found:
        return ""
    return "Chỉ số CCHC, Chỉ số hài lòng của tỉnh (nguồn ngoài hệ thống; Hội đồng thẩm định nhập)"


def _lineage(record: FrameworkRecord) -> tuple[str, str]:
    return record.unit_kind, str((record.spec or {}).get("issuer", ""))


def previous_result(session: Session, cycle: Cycle, unit_id: int) -> tuple[Cycle, CycleUnit] | None:
    """The unit's result in the latest earlier published cycle of the same framework lineage
    (the same kind of unit and the same issuing body), if it took part and was classified."""
    this = session.get(FrameworkRecord, cycle.framework_id)
    if this is None:
        return None
    rows = session.exec(
        select(Cycle, CycleUnit, FrameworkRecord)
        .join(CycleUnit, col(CycleUnit.cycle_id) == Cycle.id)
        .join(FrameworkRecord, col(FrameworkRecord.id) == Cycle.framework_id)
        .where(
            CycleUnit.unit_id == unit_id,
            Cycle.year < cycle.year,
            Cycle.state == CycleState.published,
        )
        .order_by(col(Cycle.year).desc(), col(Cycle.published_at).desc())
    ).all()
    for before, cu, record in rows:
        if _lineage(record) == _lineage(this) and cu.final_total is not None:
            return before, cu
    return None


def _own_total(framework: Framework, entries: list[Entry], *, appraised: bool) -> Decimal:
    """A sheet's total without its derived criteria (they would compare themselves)."""
    derived = {n.code for n in framework.leaves() if isinstance(n.rule, DerivedRule)}
    kept = [e for e in entries if e.criterion_code not in derived]
    return score_entries(framework, kept, appraised=appraised).total


def _derived_value(step: Step, framework: Framework, node: Node, late: int) -> tuple[Decimal, str]:
    """The value of a derived criterion the system knows and the note added to its sentence;
    NaN when the council supplies it (an outside index, this year's rank, no earlier cycle)."""
    rule = node.rule
    assert isinstance(rule, DerivedRule)
    if rule.source is DerivedSource.submission_days_late:
        return Decimal(late), ""
    if rule.source is not DerivedSource.score_change or outside_source(node):
        return Decimal("NaN"), ""
    found = previous_result(step.session, step.cycle, step.unit_id)
    if found is None:
        return Decimal("NaN"), ""
    before, _cu = found
    session = step.session
    earlier = list(
        session.exec(
            select(Entry).where(Entry.cycle_id == before.id, Entry.unit_id == step.unit_id)
        ).all()
    )
    now = list(
        session.exec(
            select(Entry).where(Entry.cycle_id == step.cycle.id, Entry.unit_id == step.unit_id)
        ).all()
    )
    last = _own_total(framework_for(session, before), earlier, appraised=True)
    this = _own_total(framework, now, appraised=False)
    note = (
        f" (tự chấm năm nay {vn_decimal(this)} điểm; kỳ {before.id}: {vn_decimal(last)} điểm "
        "sau thẩm định, không tính tiêu chí tự động)"
    )
    return this - last, note


def fill_derived(step: Step, late: int) -> None:
    """Writes the value the system knows into derived criteria: days late of the submission,
    and the change of the unit's score against the previous cycle of the same framework
    lineage; an outside index or this year's rank is left to the council."""
    session, cycle = step.session, step.cycle
    framework = framework_for(session, cycle)
    for node in framework.leaves():
        if not isinstance(node.rule, DerivedRule):
            continue
        value, note = _derived_value(step, framework, node, late)
        if value.is_nan():
            continue
        inputs = CriterionInput(value=value)
        try:
            result = evaluate(
                node, inputs, decimal_places=framework.decimal_places, rounding=framework.rounding
            )
        except RuleInputError:
            continue
        entry = session.exec(
            select(Entry).where(
                Entry.cycle_id == cycle.id,
                Entry.unit_id == step.unit_id,
                Entry.criterion_code == node.code,
            )
        ).first() or Entry(cycle_id=cycle.id, unit_id=step.unit_id, criterion_code=node.code)
        entry.inputs = inputs.to_json_dict()
        entry.self_score = result.score
        entry.self_reason = result.explanation + note
        entry.updated_at = step.args.at
        entry.updated_by = "system"
        session.add(entry)
    session.flush()


def responsible(step: Step, codes: list[str]) -> list[str]:
    """The usernames assigned to any of ``codes`` in the unit, sorted."""
    rows = step.session.exec(
        select(User.username)
        .join(Assignment, col(Assignment.user_id) == User.id)
        .where(
            Assignment.cycle_id == step.cycle.id,
            Assignment.unit_id == step.unit_id,
            col(Assignment.criterion_code).in_(codes),
        )
    ).all()
    return sorted(set(rows))


def open_request(step: Step) -> ExplanationRequest | None:
    """The unit's open explanation round, if any."""
    return step.session.exec(
        select(ExplanationRequest).where(
            ExplanationRequest.cycle_id == step.cycle.id,
            ExplanationRequest.unit_id == step.unit_id,
            ExplanationRequest.state == "open",
        )
    ).first()


def close_open_round(step: Step) -> None:
    """Closes the open explanation round (snapshot ``round-N`` first); nothing when none."""
    request = open_request(step)
    if request is None:
        return
    snapshot(step, f"round-{request.round_no}")
    request.state = "closed"
    request.closed_at = step.args.at
    step.session.add(request)
    step.cu.explanation_deadline = None
    step.session.flush()
