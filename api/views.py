"""What the API shows of cycles and sheets: response models and the builders that read them.

Reads only the database (the projection the activities keep current), never Temporal.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from api.access import COUNCIL_VISIBLE
from core.vn import vn_datetime
from models.framework import Node
from models.tables import AuditLog, Cycle, CycleState, CycleUnit, Entry, Snapshot, Unit, UnitState
from scoring.aggregate import NodeScore
from services.accounts import Principal
from services.cycles import cycle_units
from services.evidence import EvidencePublic, evidence_public
from services.labels import CYCLE_STATE_VI, UNIT_STATE_VI
from services.sheet import (
    LoadedRound,
    framework_for,
    load_sheet,
    progress,
    score_entries,
    sheet_progress,
)

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


class ProgressView(BaseModel):
    """How many leaf criteria are finished (scored and explained)."""

    total: int
    finished: int


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


# --- the sheet -------------------------------------------------------------------------------


class Assignee(BaseModel):
    """A staff member on a criterion."""

    username: str
    full_name: str
    responsible: bool


class NodeView(BaseModel):
    """One node of the sheet: the framework's node, its scores, and for a leaf what was entered."""

    code: str
    title: str
    kind: str
    role: str
    max_points: Decimal
    agency: str
    guidance: str
    evidence_required: str
    needs_explanation: bool
    is_leaf: bool
    rule: dict[str, Any] | None = Field(description="The scoring rule (a leaf)")
    input_fields: list[str] = Field(default_factory=list, description="Inputs the rule reads")
    self_score: Decimal | None = Field(description="Điểm tự chấm (a parent: the sum)")
    appraised_score: Decimal | None = Field(description="Điểm thẩm định (a parent: the sum)")
    excluded: bool = Field(default=False, description="Không phát sinh: leaves the total")
    status: str | None = None
    return_comment: str = ""
    inputs: dict[str, Any] | None = None
    self_reason: str = Field(default="", description="One sentence: how the rule scored it")
    explanation: str = Field(default="", description="Giải trình")
    appraised_inputs: dict[str, Any] | None = None
    appraisal_comment: str = ""
    updated_by: str = ""
    updated_at: datetime | None = None
    evidence: list[EvidencePublic] = Field(default_factory=list)
    assignees: list[Assignee] = Field(default_factory=list)


class ExplanationItemView(BaseModel):
    """One flagged criterion of a round."""

    code: str
    question: str
    answer: str
    answered_at: datetime | None
    answered_by: str


class ExplanationRoundView(BaseModel):
    """An explanation round (vòng giải trình)."""

    id: int
    round_no: int
    deadline: datetime
    state: str
    created_by: str
    items: list[ExplanationItemView]


class SnapshotRef(BaseModel):
    """A frozen copy of the sheet (at submission, …, final)."""

    kind: str
    content_hash: str
    created_at: datetime


class SheetView(BaseModel):
    """A unit's sheet: state, deadlines, every node with its rule and scores, rounds."""

    cycle_id: str
    unit_id: int
    unit_code: str
    unit_name: str
    state: UnitState
    state_label: str
    submission_deadline: datetime
    hard_lock_at: datetime
    data_cutoff_at: datetime
    explanation_deadline: datetime | None
    submitted_at: datetime | None
    days_late: int
    round_no: int
    proposed_class: str | None
    self_total: Decimal
    appraised_total: Decimal
    max_total: Decimal
    progress: ProgressView
    snapshots: list[SnapshotRef]
    nodes: list[NodeView]
    explanation_rounds: list[ExplanationRoundView]


def _rule_json(node: Node) -> dict[str, Any] | None:
    return node.rule.model_dump(mode="json") if node.rule is not None else None


def _node_view(
    node: Node,
    self_score: NodeScore,
    appraised: NodeScore | None,
    e: Entry | None,
    evidence: list[EvidencePublic],
    assignees: list[Assignee],
) -> NodeView:
    from scoring.rules import input_fields

    return NodeView(
        code=node.code,
        title=node.title,
        kind=node.kind.value,
        role=node.role.value,
        max_points=node.max_points,
        agency=node.agency,
        guidance=node.guidance,
        evidence_required=node.evidence_required,
        needs_explanation=node.needs_explanation,
        is_leaf=node.is_leaf,
        rule=_rule_json(node) if node.is_leaf else None,
        input_fields=list(input_fields(node)) if node.is_leaf else [],
        self_score=None if self_score.missing else self_score.score,
        appraised_score=appraised.score if appraised and not appraised.missing else None,
        excluded=self_score.excluded,
        status=e.status if e else None,
        return_comment=e.return_comment if e else "",
        inputs=e.inputs if e else None,
        self_reason=e.self_reason if e else "",
        explanation=e.explanation if e else "",
        appraised_inputs=e.appraised_inputs if e else None,
        appraisal_comment=e.appraisal_comment if e else "",
        updated_by=e.updated_by if e else "",
        updated_at=e.updated_at if e else None,
        evidence=evidence,
        assignees=assignees,
    )


def _round_view(r: LoadedRound) -> ExplanationRoundView:
    req = r.request
    assert req.id is not None
    return ExplanationRoundView(
        id=req.id,
        round_no=req.round_no,
        deadline=req.deadline,
        state=req.state,
        created_by=req.created_by,
        items=[
            ExplanationItemView(
                code=it.criterion_code,
                question=it.question,
                answer=it.answer,
                answered_at=it.answered_at,
                answered_by=it.answered_by,
            )
            for it in r.items
        ],
    )


def sheet_view(session: Session, cycle: Cycle, cu: CycleUnit, unit: Unit) -> SheetView:
    """The whole sheet of one unit (read once by ``services.sheet.load_sheet``)."""
    assert unit.id is not None
    sheet = load_sheet(session, cycle=cycle, unit=unit, cu=cu)
    entries = sheet.entries
    self_sheet = score_entries(sheet.framework, entries.values(), appraised=False)
    appraised_sheet = score_entries(sheet.framework, entries.values(), appraised=True)
    any_appraised = any(
        e.appraised_inputs or e.appraised_score is not None for e in entries.values()
    )
    evidence = {
        code: [evidence_public(session, ev, data_cutoff_at=cycle.data_cutoff_at) for ev in rows]
        for code, rows in sheet.evidence.items()
    }
    assignees = {
        code: [
            Assignee(username=u.username, full_name=u.full_name, responsible=a.responsible)
            for a, u in rows
        ]
        for code, rows in sheet.assignments_by_code().items()
    }
    nodes = [
        _node_view(
            node,
            self_sheet.node(node.code),
            appraised_sheet.node(node.code) if any_appraised else None,
            entries.get(node.code),
            evidence.get(node.code, []),
            assignees.get(node.code, []),
        )
        for node in sheet.framework.walk()
    ]
    snaps = session.exec(
        select(Snapshot)
        .where(Snapshot.cycle_id == cycle.id, Snapshot.unit_id == unit.id)
        .order_by(col(Snapshot.id))
    ).all()
    p = sheet_progress(sheet)
    return SheetView(
        cycle_id=cycle.id,
        unit_id=unit.id,
        unit_code=unit.code,
        unit_name=unit.name,
        state=UnitState(cu.state),
        state_label=UNIT_STATE_VI[UnitState(cu.state)],
        submission_deadline=cu.submission_deadline,
        hard_lock_at=cu.hard_lock_at,
        data_cutoff_at=cycle.data_cutoff_at,
        explanation_deadline=cu.explanation_deadline,
        submitted_at=cu.submitted_at,
        days_late=cu.days_late,
        round_no=cu.round_no,
        proposed_class=cu.proposed_class,
        self_total=self_sheet.total,
        appraised_total=appraised_sheet.total,
        max_total=self_sheet.max_total,
        progress=ProgressView(total=p.total, finished=p.finished),
        snapshots=[
            SnapshotRef(kind=s.kind, content_hash=s.content_hash, created_at=s.created_at)
            for s in snaps
        ],
        nodes=nodes,
        explanation_rounds=[_round_view(r) for r in sheet.rounds],
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
