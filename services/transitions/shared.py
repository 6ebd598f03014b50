"""What the transition handlers share: the refusal, the step they work on, and the database
chores several of them do (snapshots, derived criteria, explanation rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from contracts.messages import TransitionArgs
from core.vn import VN_TZ
from models.framework import DerivedRule, DerivedSource
from models.inputs import CriterionInput
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    ExplanationRequest,
    Snapshot,
    Unit,
    UnitState,
    User,
)
from scoring.rules import RuleInputError, evaluate
from services.sheet import build_snapshot, framework_for

__all__ = [
    "Step",
    "close_open_round",
    "days_late",
    "fill_derived",
    "open_request",
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


def fill_derived(step: Step, late: int) -> None:
    """Writes the value the system knows into derived criteria (days late of the submission)."""
    session, cycle = step.session, step.cycle
    framework = framework_for(session, cycle)
    for node in framework.leaves():
        rule = node.rule
        if not isinstance(rule, DerivedRule) or rule.source is not (
            DerivedSource.submission_days_late
        ):
            continue
        inputs = CriterionInput(value=late)
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
        entry.self_reason = result.explanation
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
