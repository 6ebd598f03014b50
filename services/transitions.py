"""The database side of each unit transition, run by the unit workflow's activities.

Each function commits one change of the process in one transaction: the projection
(``CycleUnit``), what goes with it (a snapshot, an explanation round, assignments…) and an audit
row whose ``request_key`` is the workflow's idempotency key. A retried activity finds that row
and returns the same result without changing anything again.

Business refusals raise ``TransitionRefused`` (the activity turns it into a non-retryable
ApplicationError whose type and messages reach the API as a 409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from contracts.messages import (
    ActivityResult,
    AssignCommand,
    FollowupDoneCommand,
    PublishUnitCommand,
    ReopenCommand,
    RequestExplanationCommand,
    ReturnCommand,
    SetDeadlinesCommand,
    SubmitCommand,
    TransitionArgs,
)
from core.vn import VN_TZ
from models.framework import DerivedRule, DerivedSource
from models.inputs import CriterionInput
from models.labels import UNIT_STATE_VI
from models.tables import (
    Assignment,
    AuditLog,
    Cycle,
    CycleUnit,
    Entry,
    ExplanationItem,
    ExplanationRequest,
    Snapshot,
    Unit,
    UnitState,
    User,
)
from scoring.rules import RuleInputError, evaluate
from services import audit
from services.sheet import (
    SheetError,
    build_snapshot,
    framework_for,
    lock_unit,
    replace_assignments,
    score_entries,
)

__all__ = ["TransitionRefused", "apply_transition", "days_late"]


class TransitionRefused(SheetError):
    """The database refuses a transition the workflow allowed (e.g. an unknown criterion)."""


def days_late(deadline: datetime, at: datetime) -> int:
    """Calendar days (Asia/Ho_Chi_Minh) from the deadline's date to the submission's, ≥ 1 if late.

    On time → 0; 22/11 17:00 deadline: 22/11 18:00 → 1 (late the same day), 25/11 09:00 → 3.
    """
    if at <= deadline:
        return 0
    days = (at.astimezone(VN_TZ).date() - deadline.astimezone(VN_TZ).date()).days
    return max(1, days)


def _id(value: int | None) -> int:
    assert value is not None
    return value


def _done(session: Session, key: str) -> ActivityResult | None:
    row = session.exec(select(AuditLog).where(AuditLog.request_key == key)).first()
    if row is None or row.after is None or "result" not in row.after:
        return None
    return ActivityResult.model_validate(row.after["result"])


def _finish(
    session: Session,
    args: TransitionArgs,
    unit: Unit,
    cu: CycleUnit,
    before_state: UnitState,
    result: ActivityResult,
    extra: dict[str, Any] | None = None,
) -> ActivityResult:
    cu.updated_at = args.at
    session.add(cu)
    session.flush()
    action = args.command.kind if args.command is not None else (args.to_state or "state")
    audit.record(
        session,
        actor=args.actor,
        entity="state",
        action=str(action),
        entity_key=unit.code,
        cycle_id=args.cycle_id,
        unit_id=unit.id,
        before={"state": before_state.value},
        after={"state": cu.state, **(extra or {}), "result": result.model_dump(mode="json")},
        request_key=args.request_key,
    )
    return result


def _snapshot(
    session: Session, cycle: Cycle, unit: Unit, cu: CycleUnit, kind: str, at: datetime
) -> Snapshot:
    existing = session.exec(
        select(Snapshot).where(
            Snapshot.cycle_id == cycle.id, Snapshot.unit_id == unit.id, Snapshot.kind == kind
        )
    ).first()
    if existing is not None:  # a snapshot is immutable: never rewritten
        return existing
    content, digest = build_snapshot(session, cycle=cycle, unit=unit, cu=cu, kind=kind, at=at)
    snap = Snapshot(
        cycle_id=cycle.id,
        unit_id=_id(unit.id),
        kind=kind,
        content=content,
        content_hash=digest,
        created_at=at,
    )
    session.add(snap)
    session.flush()
    return snap


def _fill_derived(session: Session, cycle: Cycle, unit: Unit, late: int, at: datetime) -> None:
    """Writes the value the system knows into derived criteria (days late of the submission)."""
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
                Entry.unit_id == unit.id,
                Entry.criterion_code == node.code,
            )
        ).first() or Entry(cycle_id=cycle.id, unit_id=_id(unit.id), criterion_code=node.code)
        entry.inputs = inputs.to_json_dict()
        entry.self_score = result.score
        entry.self_reason = result.explanation
        entry.updated_at = at
        entry.updated_by = "system"
        session.add(entry)
    session.flush()


def _responsible(session: Session, cycle_id: str, unit_id: int, codes: list[str]) -> list[str]:
    rows = session.exec(
        select(User.username)
        .join(Assignment, col(Assignment.user_id) == User.id)
        .where(
            Assignment.cycle_id == cycle_id,
            Assignment.unit_id == unit_id,
            col(Assignment.criterion_code).in_(codes),
        )
    ).all()
    return sorted(set(rows))


def _open_request(session: Session, cycle_id: str, unit_id: int) -> ExplanationRequest | None:
    return session.exec(
        select(ExplanationRequest).where(
            ExplanationRequest.cycle_id == cycle_id,
            ExplanationRequest.unit_id == unit_id,
            ExplanationRequest.state == "open",
        )
    ).first()


def _close_open_round(
    session: Session, cycle: Cycle, unit: Unit, cu: CycleUnit, at: datetime
) -> None:
    assert unit.id is not None
    request = _open_request(session, cycle.id, unit.id)
    if request is None:
        return
    _snapshot(session, cycle, unit, cu, f"round-{request.round_no}", at)
    request.state = "closed"
    request.closed_at = at
    session.add(request)
    cu.explanation_deadline = None
    session.flush()


def apply_transition(session: Session, args: TransitionArgs) -> ActivityResult:
    """Commits one unit transition (idempotent by ``args.request_key``)."""
    previous = _done(session, args.request_key)
    if previous is not None:
        return previous
    cycle, unit, cu = lock_unit(session, args.cycle_id, args.unit_code)
    assert unit.id is not None
    previous = _done(session, args.request_key)  # another attempt may have won the lock
    if previous is not None:
        return previous
    before = UnitState(cu.state)
    cmd = args.command
    extra: dict[str, Any] = {}
    result: ActivityResult

    if isinstance(cmd, AssignCommand):
        changed = replace_assignments(
            session,
            cycle=cycle,
            unit=unit,
            specs=[(a.codes, a.username, a.responsible) for a in cmd.assignments],
            actor=args.actor,
        )
        if before is UnitState.assigning:
            cu.state = UnitState.drafting
        result = ActivityResult(state=UnitState(cu.state), usernames=tuple(changed))

    elif isinstance(cmd, ReturnCommand):
        framework = framework_for(session, cycle)
        leaves = {n.code for n in framework.leaves()}
        unknown = [c for c in cmd.codes if c not in leaves]
        if unknown:
            raise TransitionRefused(
                "unknown_criterion",
                f"Không có tiêu chí {', '.join(unknown)} trong bộ tiêu chí.",
                f"No such leaf criterion: {', '.join(unknown)}.",
            )
        for code in cmd.codes:
            entry = session.exec(
                select(Entry).where(
                    Entry.cycle_id == cycle.id,
                    Entry.unit_id == unit.id,
                    Entry.criterion_code == code,
                )
            ).first() or Entry(cycle_id=cycle.id, unit_id=unit.id, criterion_code=code)
            entry.status = "returned"
            entry.return_comment = cmd.comment
            entry.updated_at = args.at
            entry.updated_by = args.actor
            session.add(entry)
        session.flush()
        extra = {"codes": list(cmd.codes), "comment": cmd.comment}
        result = ActivityResult(
            state=UnitState(cu.state),
            usernames=tuple(_responsible(session, cycle.id, unit.id, list(cmd.codes))),
        )

    elif isinstance(cmd, SubmitCommand):
        late = days_late(cu.submission_deadline, args.at)
        cu.submitted_at = args.at
        cu.days_late = late
        cu.proposed_class = cmd.proposed_class
        _fill_derived(session, cycle, unit, late, args.at)
        entries = session.exec(
            select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
        ).all()
        for entry in entries:
            # Returned criteria are answered by this submission: after a reopen and a new
            # review they are closed to staff again until the office returns them anew.
            if entry.status == "returned":
                entry.status = "open"
                entry.return_comment = ""
                session.add(entry)
        cu.self_total = score_entries(framework_for(session, cycle), entries, appraised=False).total
        cu.state = UnitState.submitted
        kind = "submission" if args.seq <= 1 else f"submission-{args.seq}"
        snap = _snapshot(session, cycle, unit, cu, kind, args.at)
        cu.snapshot_id = snap.id
        extra = {"snapshot": kind, "content_hash": snap.content_hash, "days_late": late}
        result = ActivityResult(
            state=UnitState.submitted, snapshot_hash=snap.content_hash, days_late=late
        )

    elif isinstance(cmd, RequestExplanationCommand):
        framework = framework_for(session, cycle)
        leaves = {n.code for n in framework.leaves()}
        codes = [it.code for it in cmd.items]
        unknown = [c for c in codes if c not in leaves]
        if unknown or len(set(codes)) != len(codes):
            raise TransitionRefused(
                "unknown_criterion",
                f"Tiêu chí không hợp lệ hoặc bị lặp: {', '.join(unknown or codes)}.",
                f"Unknown or repeated criteria: {', '.join(unknown or codes)}.",
            )
        assert cmd.deadline is not None  # the workflow fills the default
        request = ExplanationRequest(
            cycle_id=cycle.id,
            unit_id=unit.id,
            round_no=args.seq,
            deadline=cmd.deadline,
            created_by=args.actor,
            created_at=args.at,
        )
        session.add(request)
        session.flush()
        for it in cmd.items:
            session.add(
                ExplanationItem(
                    request_id=_id(request.id), criterion_code=it.code, question=it.question
                )
            )
        cu.round_no = args.seq
        cu.explanation_deadline = cmd.deadline
        cu.state = UnitState.explanation
        extra = {"round_no": args.seq, "codes": codes, "deadline": cmd.deadline.isoformat()}
        result = ActivityResult(
            state=UnitState.explanation,
            usernames=tuple(_responsible(session, cycle.id, unit.id, codes)),
            deadline=cmd.deadline,
            round_no=args.seq,
        )

    elif isinstance(cmd, ReopenCommand):
        _close_open_round(session, cycle, unit, cu, args.at)
        extra = {
            "reason": cmd.reason,
            "before_deadlines": [cu.submission_deadline.isoformat(), cu.hard_lock_at.isoformat()],
        }
        if cmd.submission_deadline is not None:
            cu.submission_deadline = cmd.submission_deadline
        if cmd.hard_lock_at is not None:
            cu.hard_lock_at = cmd.hard_lock_at
        cu.submitted_at = None
        cu.days_late = 0
        cu.state = UnitState.drafting
        result = ActivityResult(state=UnitState.drafting)

    elif isinstance(cmd, SetDeadlinesCommand):
        extra = {
            "before_deadlines": {
                "submission": cu.submission_deadline.isoformat(),
                "hard_lock": cu.hard_lock_at.isoformat(),
                "explanation": cu.explanation_deadline.isoformat()
                if cu.explanation_deadline
                else None,
            },
            "reason": cmd.reason,
        }
        if cmd.submission_deadline is not None:
            cu.submission_deadline = cmd.submission_deadline
        if cmd.hard_lock_at is not None:
            cu.hard_lock_at = cmd.hard_lock_at
        if cmd.explanation_deadline is not None:
            open_request = _open_request(session, cycle.id, unit.id)
            if open_request is not None:
                open_request.deadline = cmd.explanation_deadline
                session.add(open_request)
            cu.explanation_deadline = cmd.explanation_deadline
        result = ActivityResult(state=UnitState(cu.state))

    elif isinstance(cmd, FollowupDoneCommand):
        if cmd.followup == "analysis":
            cu.analysis_done_at = cu.analysis_done_at or args.at
        else:
            cu.plan_done_at = cu.plan_done_at or args.at
        extra = {"followup": cmd.followup}
        result = ActivityResult(state=UnitState(cu.state))

    else:
        target = args.to_state
        if target is None:
            raise ValueError(f"transition without a target state: {args}")
        if target is UnitState.appraising and before is UnitState.explanation:
            _close_open_round(session, cycle, unit, cu, args.at)
        if target is UnitState.finalised:
            _close_open_round(session, cycle, unit, cu, args.at)
            entries = session.exec(
                select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
            ).all()
            sheet = score_entries(framework_for(session, cycle), entries, appraised=True)
            cu.final_total = sheet.total
            snap = _snapshot(session, cycle, unit, cu, "final", args.at)
            extra = {"final_total": str(sheet.total), "content_hash": snap.content_hash}
        if isinstance(cmd, PublishUnitCommand):
            cu.analysis_due = cmd.analysis_due
            cu.plan_due = cmd.plan_due
        if target is UnitState.cancelled:
            _close_open_round(session, cycle, unit, cu, args.at)
        cu.state = target
        result = ActivityResult(state=target)

    extra.setdefault("state_vi", UNIT_STATE_VI[UnitState(cu.state)])
    return _finish(session, args, unit, cu, before, result, extra)
