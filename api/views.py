"""What the API shows of cycles, results and audit: response models and the builders.

Reads only the database (the projection the activities keep current), never Temporal. A
unit's sheet is in ``api.sheet_view``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from api.access import COUNCIL_VISIBLE
from api.sheet_view import (
    Assignee,
    ExplanationItemView,
    ExplanationRoundView,
    NodeView,
    ProgressView,
    SheetView,
    SnapshotRef,
    sheet_view,
)
from core.vn import vn_datetime
from models.labels import CYCLE_STATE_VI, UNIT_STATE_VI
from models.tables import AuditLog, Cycle, CycleState, CycleUnit, Unit, UnitState
from services.accounts import Principal
from services.cycles import cycle_units
from services.sheet import framework_for, progress, score_entries

# The sheet's models and builder live in ``api.sheet_view``; named here for existing callers.
__all__ = [
    "Assignee",
    "AuditRow",
    "CycleSummary",
    "CycleUnitView",
    "CycleView",
    "ExplanationItemView",
    "ExplanationRoundView",
    "NodeView",
    "ProgressView",
    "ResultRow",
    "ResultsView",
    "SheetView",
    "SnapshotRef",
    "TimelineItem",
    "audit_rows",
    "cycle_summary",
    "cycle_view",
    "results_view",
    "sheet_view",
    "visible_units",
]

# --- cycles ----------------------------------------------------------------------------------

TIMELINE_VI: dict[str, str] = {
    "opens_at": "Mở kỳ đánh giá",
    "data_cutoff_at": "Thời điểm chốt số liệu",
    "submission_deadline": "Hạn gửi kết quả tự chấm điểm",
    "hard_lock_at": "Phần mềm tự động khóa",
    "appraisal_deadline": "Hạn thẩm định",
    "results_target": "Dự kiến công bố kết quả",
}


class TimelineItem(BaseModel):
    """One instant of the cycle's timeline, in UTC and as Vietnamese local time."""

    key: str
    label: str
    at: datetime
    at_local: str = Field(description='Giờ Việt Nam: "17:00 ngày 25/11/2024"')


class CycleUnitView(BaseModel):
    """One unit in a cycle: its projected state, deadlines, progress and results."""

    unit_id: int
    code: str
    name: str
    group: str
    state: UnitState
    state_label: str
    submission_deadline: datetime
    hard_lock_at: datetime
    submitted_at: datetime | None
    days_late: int
    round_no: int
    explanation_deadline: datetime | None
    proposed_class: str | None
    self_total: Decimal | None
    final_total: Decimal | None
    classification: str | None
    rank: int | None
    progress: ProgressView | None


class CycleView(BaseModel):
    """A cycle: timeline, state and each visible unit."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2024-dinh-hoa",
                    "year": 2024,
                    "title": "Đánh giá CCHC năm 2024 các xã huyện Định Hóa",
                    "framework_id": 1,
                    "state": "running",
                    "state_label": "Đang thực hiện",
                    "timeline": [
                        {
                            "key": "hard_lock_at",
                            "label": "Phần mềm tự động khóa",
                            "at": "2024-11-25T10:00:00Z",
                            "at_local": "17:00 ngày 25/11/2024",
                        }
                    ],
                    "explanation_round_days": 5,
                    "max_explanation_rounds": 2,
                    "reminder_offsets_hours": [168, 72, 24, 0],
                    "units": [],
                }
            ]
        }
    )

    id: str
    year: int
    title: str
    framework_id: int
    state: CycleState
    state_label: str
    timeline: list[TimelineItem]
    explanation_round_days: int
    max_explanation_rounds: int
    reminder_offsets_hours: list[int]
    followup_analysis_days: int
    followup_plan_days: int
    created_by: str
    published_at: datetime | None
    units: list[CycleUnitView]


class CycleSummary(BaseModel):
    """A cycle in a list."""

    id: str
    year: int
    title: str
    state: CycleState
    state_label: str
    submission_deadline: datetime
    hard_lock_at: datetime


def visible_units(
    session: Session, principal: Principal, cycle_id: str
) -> list[tuple[CycleUnit, Unit]]:
    """The cycle's units the caller may see, by unit code."""
    rows = cycle_units(session, cycle_id)
    if principal.is_global:
        return list(rows)
    mine = principal.units()
    council = bool(principal.agencies)
    return [
        (cu, u)
        for cu, u in rows
        if cu.unit_id in mine or (council and UnitState(cu.state) in COUNCIL_VISIBLE)
    ]


def cycle_summary(cycle: Cycle) -> CycleSummary:
    """The list view of a cycle."""
    return CycleSummary(
        id=cycle.id,
        year=cycle.year,
        title=cycle.title,
        state=CycleState(cycle.state),
        state_label=CYCLE_STATE_VI[CycleState(cycle.state)],
        submission_deadline=cycle.submission_deadline,
        hard_lock_at=cycle.hard_lock_at,
    )


def cycle_view(
    session: Session, cycle: Cycle, principal: Principal, *, with_progress: bool = True
) -> CycleView:
    """The cycle with the units the caller may see."""
    timeline = [
        TimelineItem(key=k, label=v, at=getattr(cycle, k), at_local=vn_datetime(getattr(cycle, k)))
        for k, v in TIMELINE_VI.items()
    ]
    units = []
    for cu, unit in visible_units(session, principal, cycle.id):
        assert unit.id is not None
        prog = None
        if with_progress:
            p = progress(session, cycle=cycle, unit=unit)
            prog = ProgressView(total=p.total, finished=p.finished)
        units.append(
            CycleUnitView(
                unit_id=unit.id,
                code=unit.code,
                name=unit.name,
                group=cu.group,
                state=UnitState(cu.state),
                state_label=UNIT_STATE_VI[UnitState(cu.state)],
                submission_deadline=cu.submission_deadline,
                hard_lock_at=cu.hard_lock_at,
                submitted_at=cu.submitted_at,
                days_late=cu.days_late,
                round_no=cu.round_no,
                explanation_deadline=cu.explanation_deadline,
                proposed_class=cu.proposed_class,
                self_total=cu.self_total,
                final_total=cu.final_total,
                classification=cu.classification,
                rank=cu.rank,
                progress=prog,
            )
        )
    return CycleView(
        id=cycle.id,
        year=cycle.year,
        title=cycle.title,
        framework_id=cycle.framework_id,
        state=CycleState(cycle.state),
        state_label=CYCLE_STATE_VI[CycleState(cycle.state)],
        timeline=timeline,
        explanation_round_days=cycle.explanation_round_days,
        max_explanation_rounds=cycle.max_explanation_rounds,
        reminder_offsets_hours=list(cycle.reminder_offsets_hours),
        followup_analysis_days=cycle.followup_analysis_days,
        followup_plan_days=cycle.followup_plan_days,
        created_by=cycle.created_by,
        published_at=cycle.published_at,
        units=units,
    )


class ResultRow(BaseModel):
    """One unit's result: final total, classification and rank in its group."""

    unit_id: int
    code: str
    name: str
    group: str
    state: UnitState
    final_total: Decimal | None
    classification: str | None
    classification_label: str | None
    rank: int | None


class ResultsView(BaseModel):
    """The results of a cycle, by group then rank."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cycle_id": "2024-dinh-hoa",
                    "state": "published",
                    "published": True,
                    "published_at": "2024-12-20T03:00:00Z",
                    "max_total": "100.000",
                    "units": [
                        {
                            "unit_id": 3,
                            "code": "binh-thanh",
                            "name": "UBND xã Bình Thành",
                            "group": "commune",
                            "state": "published",
                            "final_total": "94.500",
                            "classification": "excellent",
                            "classification_label": "Hoàn thành xuất sắc nhiệm vụ",
                            "rank": 1,
                        }
                    ],
                }
            ]
        }
    )

    cycle_id: str
    state: CycleState
    published: bool
    published_at: datetime | None
    max_total: Decimal
    units: list[ResultRow]


def results_view(session: Session, cycle: Cycle, principal: Principal) -> ResultsView:
    """Everyone's results once published; before that the units the caller may see."""
    framework = framework_for(session, cycle)
    labels = {}
    if framework.classification is not None:
        labels = {b.key: b.label for b in framework.classification.bands}
    published = CycleState(cycle.state) is CycleState.published
    rows = (
        cycle_units(session, cycle.id) if published else visible_units(session, principal, cycle.id)
    )
    out = []
    for cu, unit in rows:
        assert unit.id is not None
        out.append(
            ResultRow(
                unit_id=unit.id,
                code=unit.code,
                name=unit.name,
                group=cu.group,
                state=UnitState(cu.state),
                final_total=cu.final_total,
                classification=cu.classification,
                classification_label=labels.get(cu.classification or ""),
                rank=cu.rank,
            )
        )
    out.sort(key=lambda r: (r.group, r.rank if r.rank is not None else 10**9, r.code))
    return ResultsView(
        cycle_id=cycle.id,
        state=CycleState(cycle.state),
        published=published,
        published_at=cycle.published_at,
        max_total=score_entries(framework, [], appraised=False).max_total,
        units=out,
    )


# --- audit -----------------------------------------------------------------------------------


class AuditRow(BaseModel):
    """One append-only audit row: who, when (UTC), what, before and after."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "at": "2024-11-20T03:12:45Z",
                    "actor": "nguyenvana",
                    "entity": "entry",
                    "entity_key": "1.1",
                    "action": "draft",
                    "before": {"self_score": None},
                    "after": {"self_score": "2.897"},
                }
            ]
        }
    )

    id: int
    at: datetime
    actor: str
    entity: str
    entity_key: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit_rows(
    session: Session, *, cycle_id: str, unit_id: int, limit: int, offset: int
) -> list[AuditRow]:
    """The unit's audit trail in the order it was written."""
    rows = session.exec(
        select(AuditLog)
        .where(AuditLog.cycle_id == cycle_id, AuditLog.unit_id == unit_id)
        .order_by(col(AuditLog.id))
        .offset(offset)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        assert r.id is not None
        out.append(
            AuditRow(
                id=r.id,
                at=r.at,
                actor=r.actor,
                entity=r.entity,
                entity_key=r.entity_key,
                action=r.action,
                before=r.before,
                after=r.after,
            )
        )
    return out
