"""Yearly cycles (kỳ đánh giá): creation, the inputs of their workflows, and cycle-wide changes.

The coordinator creates a cycle in the database (draft); starting it hands it to Temporal
(``workflows.commands.start_cycle``). Cycle-wide operations that touch every unit in one
transaction (classification, the missed-deadline digests, closing the appraisal) live here and
run in the cycle workflow's activities.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from contracts.ids import unit_workflow_id
from contracts.messages import CycleInput, DeadlineKind, ExtendCommand, UnitInput
from core.errors import Conflict, NotFound
from models.framework import FrameworkStatus
from models.states import BEFORE_SUBMISSION
from models.tables import (
    AuditLog,
    Cycle,
    CycleState,
    CycleUnit,
    FrameworkRecord,
    Unit,
    UnitState,
)
from services import audit

__all__ = [
    "DEFAULT_REMINDER_OFFSETS",
    "CycleSpec",
    "MissedUnit",
    "classify_cycle",
    "create_cycle",
    "cycle_input",
    "extend_cycle",
    "get_cycle",
    "missed_units",
    "pending_units",
    "set_cycle_state",
    "unit_inputs",
]

# 7, 3 and 1 days before each deadline, and 0 = the morning (07:00 local) of its day.
DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (168, 72, 24, 0)


@dataclass(frozen=True)
class CycleSpec:
    """What the coordinator sets when creating a cycle (times aware, any zone)."""

    cycle_id: str
    year: int
    title: str
    framework_id: int
    units: Sequence[str]
    opens_at: datetime
    data_cutoff_at: datetime
    submission_deadline: datetime
    hard_lock_at: datetime
    appraisal_deadline: datetime
    results_target: datetime
    explanation_round_days: int = 5
    max_explanation_rounds: int = 2
    reminder_offsets_hours: Sequence[int] = DEFAULT_REMINDER_OFFSETS
    followup_analysis_days: int = 10
    followup_plan_days: int = 20


def _err(code: str, vi: str, en: str, field: str = "") -> Conflict:
    """A refused cycle operation (409), with the input at fault in ``field``."""
    return Conflict(code, vi, en, field=field)


def create_cycle(session: Session, *, spec: CycleSpec, actor: str) -> Cycle:
    """Creates a draft cycle and one projection row per unit (audited); validates the timeline."""
    if session.get(Cycle, spec.cycle_id) is not None:
        raise _err(
            "cycle_exists",
            f"Đã có kỳ đánh giá {spec.cycle_id}.",
            f"Cycle {spec.cycle_id} exists.",
            "cycle_id",
        )
    record = session.get(FrameworkRecord, spec.framework_id)
    if record is None:
        raise _err(
            "unknown_framework",
            f"Không có bộ tiêu chí số {spec.framework_id}.",
            f"No framework {spec.framework_id}.",
            "framework_id",
        )
    if record.status != FrameworkStatus.published.value:
        raise _err(
            "framework_not_published",
            "Bộ tiêu chí chưa được ban hành.",
            "The framework is not published.",
            "framework_id",
        )
    times = [
        ("opens_at", spec.opens_at),
        ("submission_deadline", spec.submission_deadline),
        ("hard_lock_at", spec.hard_lock_at),
        ("appraisal_deadline", spec.appraisal_deadline),
        ("results_target", spec.results_target),
    ]
    for name, t in [*times, ("data_cutoff_at", spec.data_cutoff_at)]:
        if t.tzinfo is None:
            raise _err("naive_time", f"{name} thiếu múi giờ.", f"{name} has no zone.", name)
    for (a_name, a), (b_name, b) in itertools.pairwise(times):
        if b < a:
            raise _err(
                "invalid_timeline",
                f"Thời hạn không hợp lệ: {b_name} trước {a_name}.",
                f"Invalid timeline: {b_name} is before {a_name}.",
                b_name,
            )
    offsets = sorted({int(h) for h in spec.reminder_offsets_hours}, reverse=True)
    if any(h < 0 for h in offsets):
        raise _err(
            "invalid_offsets",
            "Thời điểm nhắc hạn phải ≥ 0 giờ.",
            "Reminder offsets must be ≥ 0 hours.",
            "reminder_offsets_hours",
        )
    if spec.max_explanation_rounds < 0 or spec.explanation_round_days < 1:
        raise _err(
            "invalid_rounds",
            "Số vòng giải trình ≥ 0 và số ngày mỗi vòng ≥ 1.",
            "Rounds must be ≥ 0 and days per round ≥ 1.",
            "max_explanation_rounds",
        )
    codes = list(dict.fromkeys(spec.units))
    if not codes:
        raise _err("no_units", "Chưa chọn đơn vị nào.", "No unit selected.", "units")
    units = {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(codes))).all()}
    missing = [c for c in codes if c not in units]
    if missing:
        raise _err(
            "unknown_unit",
            f"Không có đơn vị: {', '.join(missing)}.",
            f"No such unit: {', '.join(missing)}.",
            "units",
        )
    cycle = Cycle(
        id=spec.cycle_id,
        year=spec.year,
        title=spec.title,
        framework_id=spec.framework_id,
        state=CycleState.draft,
        opens_at=spec.opens_at,
        data_cutoff_at=spec.data_cutoff_at,
        submission_deadline=spec.submission_deadline,
        hard_lock_at=spec.hard_lock_at,
        appraisal_deadline=spec.appraisal_deadline,
        results_target=spec.results_target,
        explanation_round_days=spec.explanation_round_days,
        max_explanation_rounds=spec.max_explanation_rounds,
        reminder_offsets_hours=offsets,
        followup_analysis_days=spec.followup_analysis_days,
        followup_plan_days=spec.followup_plan_days,
        created_by=actor,
    )
    session.add(cycle)
    session.flush()
    for code in codes:
        unit = units[code]
        assert unit.id is not None
        session.add(
            CycleUnit(
                cycle_id=cycle.id,
                unit_id=unit.id,
                group=unit.group,
                state=UnitState.assigning,
                workflow_id=unit_workflow_id(cycle.id, code),
                submission_deadline=spec.submission_deadline,
                hard_lock_at=spec.hard_lock_at,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="cycle",
        action="create",
        entity_key=cycle.id,
        cycle_id=cycle.id,
        after={
            "title": spec.title,
            "framework_id": spec.framework_id,
            "units": codes,
            "submission_deadline": spec.submission_deadline.isoformat(),
            "hard_lock_at": spec.hard_lock_at.isoformat(),
        },
    )
    return cycle


def get_cycle(session: Session, cycle_id: str) -> Cycle:
    """The cycle, or NotFound (404)."""
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(
            "unknown_cycle", f"Không có kỳ đánh giá {cycle_id}.", f"No cycle {cycle_id}."
        )
    return cycle


def cycle_input(
    session: Session, cycle_id: str, *, task_queue: str, search_attributes: bool
) -> CycleInput:
    """The cycle workflow's input."""
    cycle = get_cycle(session, cycle_id)
    return CycleInput(
        cycle_id=cycle.id,
        year=cycle.year,
        submission_deadline=cycle.submission_deadline,
        hard_lock_at=cycle.hard_lock_at,
        followup_analysis_days=cycle.followup_analysis_days,
        followup_plan_days=cycle.followup_plan_days,
        unit_task_queue=task_queue,
        search_attributes=search_attributes,
        appraisal_deadline=cycle.appraisal_deadline,
        reminder_offsets_hours=tuple(cycle.reminder_offsets_hours),
    )


def cycle_units(session: Session, cycle_id: str) -> Sequence[tuple[CycleUnit, Unit]]:
    """The cycle's units with their projection rows, by unit code."""
    return session.exec(
        select(CycleUnit, Unit)
        .join(Unit, col(Unit.id) == CycleUnit.unit_id)
        .where(CycleUnit.cycle_id == cycle_id)
        .order_by(col(Unit.code))
    ).all()


def unit_inputs(session: Session, cycle_id: str, *, search_attributes: bool) -> list[UnitInput]:
    """Every unit workflow's input, in unit code order."""
    cycle = get_cycle(session, cycle_id)
    rows = cycle_units(session, cycle_id)
    out = []
    for cu, unit in rows:
        assert unit.id is not None
        out.append(
            UnitInput(
                cycle_id=cycle.id,
                year=cycle.year,
                unit_code=unit.code,
                unit_id=unit.id,
                unit_name=unit.name,
                opens_at=cycle.opens_at,
                submission_deadline=cu.submission_deadline,
                hard_lock_at=cu.hard_lock_at,
                appraisal_deadline=cycle.appraisal_deadline,
                reminder_offsets_hours=tuple(cycle.reminder_offsets_hours),
                explanation_round_days=cycle.explanation_round_days,
                max_explanation_rounds=cycle.max_explanation_rounds,
                followup_analysis_days=cycle.followup_analysis_days,
                followup_plan_days=cycle.followup_plan_days,
                search_attributes=search_attributes,
            )
        )
    return out


def _done(session: Session, key: str | None) -> AuditLog | None:
    if key is None:
        return None
    return session.exec(select(AuditLog).where(AuditLog.request_key == key)).first()


def set_cycle_state(
    session: Session,
    *,
    cycle_id: str,
    state: CycleState,
    actor: str,
    at: datetime,
    request_key: str | None = None,
    reason: str = "",
) -> Cycle:
    """Moves the cycle's own state (audited, idempotent by request_key)."""
    cycle = get_cycle(session, cycle_id)
    if _done(session, request_key) is not None:
        return cycle
    before = cycle.state
    cycle.state = state
    if state is CycleState.published and cycle.published_at is None:
        cycle.published_at = at
    session.add(cycle)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="cycle",
        action=f"state:{state.value}",
        entity_key=cycle_id,
        cycle_id=cycle_id,
        before={"state": str(before)},
        after={"state": state.value, **({"reason": reason} if reason else {})},
        request_key=request_key,
    )
    return cycle


def extend_cycle(
    session: Session, *, cycle_id: str, command: ExtendCommand, at: datetime, request_key: str
) -> list[str]:
    """Checks an extension against every unit it touches; moves the cycle's own deadlines.

    Returns the codes of the units to tell (their workflows move their own timers and write
    their own projection row). Refused: a deadline in the past, a lock before the submission
    deadline of a unit, an unknown unit.
    """
    cycle = get_cycle(session, cycle_id)
    for name, t in (
        ("submission_deadline", command.submission_deadline),
        ("hard_lock_at", command.hard_lock_at),
    ):
        if t is not None and t <= at:
            raise _err(
                "deadline_in_past",
                "Thời hạn mới đã qua.",
                "The new deadline is in the past.",
                name,
            )
    rows = cycle_units(session, cycle_id)
    if command.units is not None:
        known = {u.code for _, u in rows}
        unknown = [c for c in command.units if c not in known]
        if unknown:
            raise _err(
                "unit_not_in_cycle",
                f"Đơn vị không thuộc kỳ đánh giá: {', '.join(unknown)}.",
                f"Not in the cycle: {', '.join(unknown)}.",
                "units",
            )
        rows = [(cu, u) for cu, u in rows if u.code in command.units]
    targets = []
    for cu, unit in rows:
        if UnitState(cu.state) in (UnitState.cancelled, UnitState.published):
            continue
        sub = command.submission_deadline or cu.submission_deadline
        lock = command.hard_lock_at or cu.hard_lock_at
        if lock < sub:
            raise _err(
                "invalid_deadline",
                f"Đơn vị {unit.code}: thời điểm khóa trước hạn gửi kết quả.",
                f"Unit {unit.code}: the hard lock would fall before the submission deadline.",
                "hard_lock_at",
            )
        targets.append(unit.code)
    if command.units is None and _done(session, request_key) is None:
        before = {
            "submission_deadline": cycle.submission_deadline.isoformat(),
            "hard_lock_at": cycle.hard_lock_at.isoformat(),
        }
        if command.submission_deadline is not None:
            cycle.submission_deadline = command.submission_deadline
        if command.hard_lock_at is not None:
            cycle.hard_lock_at = command.hard_lock_at
        session.add(cycle)
        session.flush()
        audit.record(
            session,
            actor=command.actor,
            entity="deadline",
            action="extend",
            entity_key=cycle_id,
            cycle_id=cycle_id,
            before=before,
            after={
                "submission_deadline": cycle.submission_deadline.isoformat(),
                "hard_lock_at": cycle.hard_lock_at.isoformat(),
                "reason": command.reason,
            },
            request_key=request_key,
        )
    return targets


def pending_units(session: Session, *, cycle_id: str, at: datetime) -> list[str]:
    """Units still before submission whose hard lock is in the future (appraisal can't close)."""
    rows = cycle_units(session, cycle_id)
    return [
        u.code
        for cu, u in rows
        if UnitState(cu.state) in BEFORE_SUBMISSION and cu.hard_lock_at > at
    ]


@dataclass(frozen=True)
class MissedUnit:
    """A unit that missed a deadline, with what the coordinator needs to chase it."""

    code: str
    name: str
    state: UnitState
    email: str


def missed_units(
    session: Session, *, cycle_id: str, kind: DeadlineKind, deadline: datetime
) -> list[MissedUnit]:
    """The units whose own deadline of this kind is exactly ``deadline`` and that missed it.

    Submission: not submitted by then; hard lock: not submitted by then (so now not submitted);
    follow-ups: not reported done by then.
    """
    rows = cycle_units(session, cycle_id)
    out = []
    for cu, unit in rows:
        state = UnitState(cu.state)
        if state is UnitState.cancelled:
            continue
        missed = False
        if kind is DeadlineKind.submission:
            missed = cu.submission_deadline == deadline and (
                cu.submitted_at is None or cu.submitted_at > deadline
            )
        elif kind is DeadlineKind.hard_lock:
            missed = cu.hard_lock_at == deadline and (
                cu.submitted_at is None or cu.submitted_at >= deadline
            )
        elif kind is DeadlineKind.analysis:
            missed = cu.analysis_due == deadline and (
                cu.analysis_done_at is None or cu.analysis_done_at > deadline
            )
        elif kind is DeadlineKind.plan:
            missed = cu.plan_due == deadline and (
                cu.plan_done_at is None or cu.plan_done_at > deadline
            )
        if missed:
            out.append(MissedUnit(code=unit.code, name=unit.name, state=state, email=unit.email))
    return out


def classify_cycle(
    session: Session, *, cycle_id: str, actor: str, at: datetime, request_key: str
) -> dict[str, dict[str, Any]]:
    """Totals, bands, quota and ranks per group for every finalised or not-submitted unit,
    written to the projection with one audit row per unit (services.classification)."""
    # services.classification reads cycles through this module: imported here, not at the top.
    from services.classification import record_classification

    return record_classification(
        session, cycle_id=cycle_id, actor=actor, at=at, request_key=request_key
    )
