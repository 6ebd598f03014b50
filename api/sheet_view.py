"""What the API and the pages show of a unit's sheet: the response models and their builder.

The sheet is read once, by ``services.sheet.load_sheet`` (the same reader as the snapshot), with
a fixed number of queries; only the view's own additions (evidence checks, the snapshot list)
are read here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.framework import Framework, Node
from models.labels import UNIT_STATE_VI
from models.tables import Cycle, CycleUnit, Entry, Snapshot, Unit, UnitState
from scoring.aggregate import NodeScore
from scoring.rules import input_fields
from services.evidence import EvidencePublic, evidence_public
from services.sheet import LoadedRound, load_sheet, score_both, sheet_progress

__all__ = [
    "Assignee",
    "ExplanationItemView",
    "ExplanationRoundView",
    "NodeView",
    "ProgressView",
    "SheetView",
    "SnapshotRef",
    "sheet_view",
]


class ProgressView(BaseModel):
    """How many leaf criteria are finished (scored and explained)."""

    total: int
    finished: int


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


def _static(node: Node) -> dict[str, Any]:
    """What a node's view takes from the framework alone (the same for every sheet)."""
    return {
        "code": node.code,
        "title": node.title,
        "kind": node.kind.value,
        "role": node.role.value,
        "max_points": node.max_points,
        "agency": node.agency,
        "guidance": node.guidance,
        "evidence_required": node.evidence_required,
        "needs_explanation": node.needs_explanation,
        "is_leaf": node.is_leaf,
        "rule": node.rule.model_dump(mode="json")
        if node.is_leaf and node.rule is not None
        else None,
        "input_fields": list(input_fields(node)) if node.is_leaf else [],
    }


# The framework part of every node view, per framework (published frameworks are immutable
# and parsed once per process, ``services.sheet.framework``): the framework object itself is
# kept with its entry, so its id cannot be reused while the entry exists.
_STATIC: dict[int, tuple[Framework, dict[str, dict[str, Any]]]] = {}
_STATIC_MAX = 32


def _statics(framework: Framework) -> dict[str, dict[str, Any]]:
    found = _STATIC.get(id(framework))
    if found is not None and found[0] is framework:
        return found[1]
    statics = {node.code: _static(node) for node in framework.walk()}
    if len(_STATIC) >= _STATIC_MAX:
        _STATIC.pop(next(iter(_STATIC)))
    _STATIC[id(framework)] = (framework, statics)
    return statics


def _node_view(
    static: dict[str, Any],
    self_score: NodeScore,
    appraised: NodeScore | None,
    e: Entry | None,
    evidence: list[EvidencePublic],
    assignees: list[Assignee],
) -> NodeView:
    return NodeView(
        **static,
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
    self_sheet, appraised_sheet = score_both(sheet.framework, entries.values())
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
    statics = _statics(sheet.framework)
    nodes = [
        _node_view(
            statics[node.code],
            self_sheet.node(node.code),
            appraised_sheet.node(node.code) if any_appraised else None,
            entries.get(node.code),
            evidence.get(node.code, []),
            assignees.get(node.code, []),
        )
        for node in sheet.framework.walk()
    ]
    # The references only: a snapshot's content (the whole frozen sheet) is not read here.
    snaps = session.exec(
        select(Snapshot.kind, Snapshot.content_hash, Snapshot.created_at)
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
            SnapshotRef(kind=kind, content_hash=content_hash, created_at=created_at)
            for kind, content_hash, created_at in snaps
        ],
        nodes=nodes,
        explanation_rounds=[_round_view(r) for r in sheet.rounds],
    )
