"""One handler per unit command: what each transition changes in the database.

Each is registered next to its command type with ``handles``; the commands that only move the
unit to the workflow's target state (and the timers' moves, which carry no command) share
``move_to_target``. ``tests/services/test_switchboards.py`` checks every command has one.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from contracts.messages import (
    ActivityResult,
    AssignCommand,
    CancelCommand,
    ClassifiedCommand,
    CloseAppraisalCommand,
    CloseRoundCommand,
    FinaliseCommand,
    FollowupDoneCommand,
    PublishUnitCommand,
    ReopenCommand,
    RequestExplanationCommand,
    ReturnCommand,
    SetDeadlinesCommand,
    StartAppraisalCommand,
    StartReviewCommand,
    SubmitCommand,
)
from core.errors import Conflict
from models.tables import Entry, ExplanationItem, ExplanationRequest, UnitState
from services.sheet import framework_for, replace_assignments, score_entries
from services.transitions.registry import Outcome, handles
from services.transitions.shared import (
    Step,
    close_open_round,
    days_late,
    fill_derived,
    open_request,
    responsible,
    snapshot,
)

__all__ = ["move_to_target"]


@handles(AssignCommand)
def assign(step: Step, cmd: AssignCommand) -> Outcome:
    """Replaces the assignments; the first assignment moves assigning → drafting."""
    cu = step.cu
    changed = replace_assignments(
        step.session,
        cycle=step.cycle,
        unit=step.unit,
        specs=[(a.codes, a.username, a.responsible) for a in cmd.assignments],
        actor=step.args.actor,
    )
    if step.before is UnitState.assigning:
        cu.state = UnitState.drafting
    return ActivityResult(state=UnitState(cu.state), usernames=tuple(changed)), {}


def _leaf_codes(step: Step) -> set[str]:
    return {n.code for n in framework_for(step.session, step.cycle).leaves()}


@handles(ReturnCommand)
def return_(step: Step, cmd: ReturnCommand) -> Outcome:
    """Marks the criteria returned to their staff with the office's comment."""
    session, cycle, args = step.session, step.cycle, step.args
    leaves = _leaf_codes(step)
    unknown = [c for c in cmd.codes if c not in leaves]
    if unknown:
        raise Conflict(
            "unknown_criterion",
            f"Không có tiêu chí {', '.join(unknown)} trong bộ tiêu chí.",
            f"No such leaf criterion: {', '.join(unknown)}.",
        )
    for code in cmd.codes:
        entry = session.exec(
            select(Entry).where(
                Entry.cycle_id == cycle.id,
                Entry.unit_id == step.unit_id,
                Entry.criterion_code == code,
            )
        ).first() or Entry(cycle_id=cycle.id, unit_id=step.unit_id, criterion_code=code)
        entry.status = "returned"
        entry.return_comment = cmd.comment
        entry.updated_at = args.at
        entry.updated_by = args.actor
        session.add(entry)
    session.flush()
    result = ActivityResult(
        state=UnitState(step.cu.state), usernames=tuple(responsible(step, list(cmd.codes)))
    )
    return result, {"codes": list(cmd.codes), "comment": cmd.comment}


@handles(SubmitCommand)
def submit(step: Step, cmd: SubmitCommand) -> Outcome:
    """Freezes the sheet: days late, derived criteria, self total and a hashed snapshot."""
    session, cycle, cu, args = step.session, step.cycle, step.cu, step.args
    late = days_late(cu.submission_deadline, args.at)
    cu.submitted_at = args.at
    cu.days_late = late
    cu.proposed_class = cmd.proposed_class
    fill_derived(step, late)
    entries = session.exec(
        select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == step.unit_id)
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
    snap = snapshot(step, kind)
    cu.snapshot_id = snap.id
    extra = {"snapshot": kind, "content_hash": snap.content_hash, "days_late": late}
    result = ActivityResult(
        state=UnitState.submitted, snapshot_hash=snap.content_hash, days_late=late
    )
    return result, extra


@handles(RequestExplanationCommand)
def request_explanation(step: Step, cmd: RequestExplanationCommand) -> Outcome:
    """Opens explanation round ``seq`` on the flagged criteria: appraising → explanation."""
    session, cu, args = step.session, step.cu, step.args
    leaves = _leaf_codes(step)
    codes = [it.code for it in cmd.items]
    unknown = [c for c in codes if c not in leaves]
    if unknown or len(set(codes)) != len(codes):
        raise Conflict(
            "unknown_criterion",
            f"Tiêu chí không hợp lệ hoặc bị lặp: {', '.join(unknown or codes)}.",
            f"Unknown or repeated criteria: {', '.join(unknown or codes)}.",
        )
    assert cmd.deadline is not None  # the workflow fills the default
    request = ExplanationRequest(
        cycle_id=step.cycle.id,
        unit_id=step.unit_id,
        round_no=args.seq,
        deadline=cmd.deadline,
        created_by=args.actor,
        created_at=args.at,
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    for it in cmd.items:
        session.add(
            ExplanationItem(request_id=request.id, criterion_code=it.code, question=it.question)
        )
    cu.round_no = args.seq
    cu.explanation_deadline = cmd.deadline
    cu.state = UnitState.explanation
    extra = {"round_no": args.seq, "codes": codes, "deadline": cmd.deadline.isoformat()}
    result = ActivityResult(
        state=UnitState.explanation,
        usernames=tuple(responsible(step, codes)),
        deadline=cmd.deadline,
        round_no=args.seq,
    )
    return result, extra


@handles(ReopenCommand)
def reopen(step: Step, cmd: ReopenCommand) -> Outcome:
    """Back to drafting: the open round closes, the submission is forgotten, deadlines move."""
    cu = step.cu
    close_open_round(step)
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
    return ActivityResult(state=UnitState.drafting), extra


@handles(SetDeadlinesCommand)
def set_deadlines(step: Step, cmd: SetDeadlinesCommand) -> Outcome:
    """Moves the unit's deadlines (the open round's too); the state stays."""
    cu = step.cu
    explanation = cu.explanation_deadline.isoformat() if cu.explanation_deadline else None
    extra: dict[str, Any] = {
        "before_deadlines": {
            "submission": cu.submission_deadline.isoformat(),
            "hard_lock": cu.hard_lock_at.isoformat(),
            "explanation": explanation,
        },
        "reason": cmd.reason,
    }
    if cmd.submission_deadline is not None:
        cu.submission_deadline = cmd.submission_deadline
    if cmd.hard_lock_at is not None:
        cu.hard_lock_at = cmd.hard_lock_at
    if cmd.explanation_deadline is not None:
        request = open_request(step)
        if request is not None:
            request.deadline = cmd.explanation_deadline
            step.session.add(request)
        cu.explanation_deadline = cmd.explanation_deadline
    return ActivityResult(state=UnitState(cu.state)), extra


@handles(FollowupDoneCommand)
def followup_done(step: Step, cmd: FollowupDoneCommand) -> Outcome:
    """Records the first time a follow-up document (analysis or plan) was reported done."""
    cu, at = step.cu, step.args.at
    if cmd.followup == "analysis":
        cu.analysis_done_at = cu.analysis_done_at or at
    else:
        cu.plan_done_at = cu.plan_done_at or at
    return ActivityResult(state=UnitState(cu.state)), {"followup": cmd.followup}


def _finalise(step: Step) -> dict[str, Any]:
    """The appraised total and the ``final`` snapshot (the open round closes first)."""
    session, cycle, cu = step.session, step.cycle, step.cu
    close_open_round(step)
    entries = session.exec(
        select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == step.unit_id)
    ).all()
    sheet = score_entries(framework_for(session, cycle), entries, appraised=True)
    cu.final_total = sheet.total
    snap = snapshot(step, "final")
    return {"final_total": str(sheet.total), "content_hash": snap.content_hash}


@handles(
    None,
    StartReviewCommand,
    StartAppraisalCommand,
    CloseRoundCommand,
    FinaliseCommand,
    CloseAppraisalCommand,
    ClassifiedCommand,
    CancelCommand,
)
def move_to_target(
    step: Step,
    cmd: StartReviewCommand
    | StartAppraisalCommand
    | CloseRoundCommand
    | FinaliseCommand
    | CloseAppraisalCommand
    | ClassifiedCommand
    | CancelCommand
    | None,
) -> Outcome:
    """Moves the unit to the workflow's ``to_state``, closing a round or finalising on the way."""
    target = step.args.to_state
    if target is None:
        raise ValueError(f"transition without a target state: {step.args}")
    extra: dict[str, Any] = {}
    if target is UnitState.appraising and step.before is UnitState.explanation:
        close_open_round(step)
    if target is UnitState.finalised:
        extra = _finalise(step)
    if target is UnitState.cancelled:
        close_open_round(step)
    step.cu.state = target
    return ActivityResult(state=target), extra


@handles(PublishUnitCommand)
def publish_unit(step: Step, cmd: PublishUnitCommand) -> Outcome:
    """Moves to the target state (published) and starts the follow-up deadlines."""
    result, extra = move_to_target(step, None)
    step.cu.analysis_due = cmd.analysis_due
    step.cu.plan_due = cmd.plan_due
    return result, extra
