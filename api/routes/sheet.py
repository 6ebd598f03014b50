"""A unit's sheet in a cycle: read it, assign, draft, appraise, explain, and move its process.

Edits (draft, appraisal, explanation answer, evidence) are plain database writes through the
edit gate of ``services.sheet`` (state, assignment or agency, and the hard lock against the
clock of the request). Transitions (assign, return, submit, reopen, request explanations,
finalise) are updates of the unit's workflow.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api import commands
from api.access import unit_visible
from api.commands import IdempotencyKey
from api.deps import CurrentUser, DbId, SessionDep, TemporalDep
from api.errors import COMMON_RESPONSES, CONFLICT, Problem, field_problem, not_found
from api.routes.cycles import LocalTime
from api.views import AuditRow, SheetView, audit_rows, sheet_view
from core.db import release, utcnow
from models.inputs import CriterionInput
from models.tables import Cycle, CycleUnit, ExplanationRequest, Role, Unit
from services.accounts import Principal
from services.messages import (
    AssignCommand,
    AssignmentSpec,
    CloseRoundCommand,
    ExplanationItemSpec,
    FinaliseCommand,
    FollowupDoneCommand,
    ReopenCommand,
    RequestExplanationCommand,
    ReturnCommand,
    StartAppraisalCommand,
    StartReviewCommand,
    SubmitCommand,
    UnitCommand,
    UnitStatus,
)
from services.sheet import (
    Editor,
    answer_explanation,
    check_council_codes,
    save_appraisal,
    save_draft,
)

router = APIRouter(
    prefix="/api/cycles/{cycle_id}/units/{unit_id}",
    tags=["sheet"],
    responses={**COMMON_RESPONSES, **CONFLICT},
)


def load_unit(
    session: Session, principal: Principal, cycle_id: str, unit_id: int
) -> tuple[Cycle, CycleUnit, Unit]:
    """The cycle, projection and unit of the path (visibility already checked: 404 else)."""
    cu = unit_visible(session, principal, cycle_id, unit_id)
    cycle = session.get(Cycle, cycle_id)
    unit = session.get(Unit, unit_id)
    if cycle is None or unit is None:
        raise not_found()
    return cycle, cu, unit


def editor_for(principal: Principal, unit_id: int) -> Editor:
    """The caller as the edit gate sees them for this unit."""
    return Editor(
        username=principal.username,
        user_id=principal.user_id,
        office=principal.has_for_unit(Role.unit_office, unit_id),
        agencies=principal.agencies,
        coordinator=principal.has(Role.coordinator),
    )


# --- bodies ----------------------------------------------------------------------------------


class DraftIn(BaseModel):
    """A draft edit of one criterion: the facts the rule needs, and/or the explanation.

    ``not_applicable`` and ``score`` (manual rules) may be given here or inside ``inputs``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inputs": {"level": "on_time", "numerator": 84, "denominator": 87},
                    "explanation": "Quyết định số 12/QĐ-UBND ngày 15/01/2024, mục II.",
                },
                {"not_applicable": True, "explanation": "Năm 2024 không phát sinh đơn thư."},
                {"score": "1.5", "explanation": "Chấm theo hướng dẫn tại mục 3."},
            ]
        },
    )

    inputs: CriterionInput | None = Field(default=None, description="Số liệu chấm điểm")
    not_applicable: bool | None = Field(default=None, description="Không phát sinh")
    score: Decimal | None = Field(default=None, ge=0, le=1000, description="Điểm (quy tắc tự chấm)")
    explanation: str | None = Field(default=None, max_length=20000, description="Giải trình")


class EntryOut(BaseModel):
    """A saved criterion: the score the rule computed and its one-sentence explanation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "criterion_code": "2.3",
                    "score": "2.897",
                    "score_explanation": "84/87 nhiệm vụ đúng hạn (96,55%) × 3 điểm = 2,897 điểm.",
                    "inputs": {"level": "on_time", "numerator": 84, "denominator": 87},
                    "explanation": "Quyết định số 12/QĐ-UBND ngày 15/01/2024, mục II.",
                    "comment": "",
                    "updated_by": "nguyenvana",
                    "updated_at": "2024-11-20T03:12:45Z",
                }
            ]
        }
    )

    criterion_code: str
    score: Decimal | None
    score_explanation: str
    inputs: dict[str, Any] | None
    explanation: str = ""
    comment: str = ""
    updated_by: str
    updated_at: Any


class AppraisalIn(BaseModel):
    """The council's appraisal of one criterion: corrected inputs (or a score) and a comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inputs": {"level": "on_time", "numerator": 80, "denominator": 87},
                    "comment": "Số liệu tự chấm chưa khớp báo cáo; tính lại 80/87.",
                }
            ]
        },
    )

    inputs: CriterionInput | None = None
    not_applicable: bool | None = None
    score: Decimal | None = Field(default=None, ge=0, le=1000)
    comment: str = Field(default="", max_length=20000, description="Ý kiến thẩm định")


class AssignmentsIn(BaseModel):
    """The unit's assignments (replacing the previous ones): codes or whole groups per person."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "assignments": [
                        {"codes": ["I"], "username": "nguyenvana", "responsible": True},
                        {"codes": ["2.1", "2.2"], "username": "tranthib", "responsible": True},
                    ]
                }
            ]
        },
    )

    assignments: list[AssignmentSpec] = Field(min_length=1, max_length=2000)


class ReturnIn(BaseModel):
    """Criteria sent back to their staff with a comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"codes": ["1.2"], "comment": "Bổ sung số, ngày của kế hoạch."}]
        },
    )

    codes: list[str] = Field(min_length=1, max_length=2000)
    comment: str = Field(min_length=1, max_length=20000, description="Ý kiến trả lại")


class SubmitIn(BaseModel):
    """Submission of the sheet, with the office's proposed classification."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"proposed_class": "good"}]}
    )

    proposed_class: str | None = Field(default=None, max_length=32, description="Đề xuất xếp loại")


class ReopenIn(BaseModel):
    """Reopening a submitted (or locked out) unit, with a reason and new deadlines if needed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Đơn vị đề nghị bổ sung tài liệu kiểm chứng tiêu chí 3.2",
                    "submission_deadline": "2024-11-28T17:00:00",
                    "hard_lock_at": "2024-11-29T17:00:00",
                }
            ]
        },
    )

    reason: str = Field(min_length=1, max_length=2000, description="Lý do mở lại")
    submission_deadline: LocalTime | None = None
    hard_lock_at: LocalTime | None = None


class ExplanationRequestIn(BaseModel):
    """An explanation round: the flagged criteria with a question each, and a deadline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "3.2",
                            "question": "Tài liệu kiểm chứng ghi 'số a, b': bổ sung văn bản.",
                        }
                    ],
                    "deadline": "2024-12-05T17:00:00",
                }
            ]
        },
    )

    items: list[ExplanationItemSpec] = Field(min_length=1, max_length=2000)
    deadline: LocalTime | None = Field(
        default=None, description="Hạn giải trình; mặc định theo số ngày mỗi vòng của kỳ"
    )


class AnswerIn(BaseModel):
    """The unit's answer to one flagged criterion."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer": "Đã bổ sung Quyết định số 45/QĐ-UBND."}]},
    )

    answer: str = Field(min_length=1, max_length=20000, description="Nội dung giải trình")


class AnswerOut(BaseModel):
    """A saved answer."""

    request_id: DbId
    criterion_code: str
    question: str
    answer: str
    answered_by: str
    answered_at: Any


def _merge(
    inputs: CriterionInput | None, not_applicable: bool | None, score: Decimal | None
) -> CriterionInput | None:
    update: dict[str, Any] = {}
    if not_applicable is not None:
        update["not_applicable"] = not_applicable
    if score is not None:
        update["score"] = score
    if not update:
        return inputs
    return CriterionInput.model_validate(
        {**(inputs.model_dump() if inputs is not None else {}), **update}
    )


# --- reads -----------------------------------------------------------------------------------


@router.get("", response_model=SheetView, summary="Phiếu chấm điểm của đơn vị")
def get_sheet(
    cycle_id: str, unit_id: DbId, principal: CurrentUser, session: SessionDep
) -> SheetView:
    """State, deadlines and every node: rule, inputs, self and appraised scores, explanation,
    evidence (with its checks), assignment; the explanation rounds and the snapshots."""
    cycle, cu, unit = load_unit(session, principal, cycle_id, unit_id)
    return sheet_view(session, cycle, cu, unit)


@router.get("/audit", response_model=list[AuditRow], summary="Nhật ký thay đổi")
def get_audit(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditRow]:
    """The unit's append-only audit trail: who, when (UTC), what, before and after."""
    load_unit(session, principal, cycle_id, unit_id)
    return audit_rows(session, cycle_id=cycle_id, unit_id=unit_id, limit=limit, offset=offset)


# --- edits -----------------------------------------------------------------------------------


@router.put("/criteria/{code}/draft", response_model=EntryOut, summary="Tự chấm điểm tiêu chí")
def put_draft(
    cycle_id: str,
    unit_id: DbId,
    code: str,
    body: DraftIn,
    principal: CurrentUser,
    session: SessionDep,
) -> EntryOut:
    """Saves the inputs and/or explanation of one criterion; the server computes the score.

    Only the assigned staff (or the unit office) may edit, while the unit is drafting (or the
    criterion is returned / flagged), and never at or after the hard lock (409), whether or not
    the lock has been applied by the workflow yet.
    """
    _cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    inputs = _merge(body.inputs, body.not_applicable, body.score)
    if inputs is None and body.explanation is None:
        raise field_problem(422, "inputs", "Cần số liệu (inputs) hoặc giải trình (explanation).")
    result = save_draft(
        session,
        cycle_id=cycle_id,
        unit_code=unit.code,
        criterion_code=code,
        editor=editor_for(principal, unit_id),
        now=utcnow(),
        inputs=inputs,
        explanation=body.explanation,
    )
    e = result.entry
    return EntryOut(
        criterion_code=code,
        score=result.score,
        score_explanation=result.explanation,
        inputs=e.inputs,
        explanation=e.explanation,
        updated_by=e.updated_by,
        updated_at=e.updated_at,
    )


@router.put("/criteria/{code}/appraisal", response_model=EntryOut, summary="Thẩm định tiêu chí")
def put_appraisal(
    cycle_id: str,
    unit_id: DbId,
    code: str,
    body: AppraisalIn,
    principal: CurrentUser,
    session: SessionDep,
) -> EntryOut:
    """The appraised score of a criterion routed to the caller's agency, from corrected inputs
    (the framework's rule recomputes it), with the council's comment."""
    _cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    inputs = _merge(body.inputs, body.not_applicable, body.score)
    if inputs is None:
        raise field_problem(422, "inputs", "Cần số liệu thẩm định (inputs) hoặc điểm (score).")
    result = save_appraisal(
        session,
        cycle_id=cycle_id,
        unit_code=unit.code,
        criterion_code=code,
        editor=editor_for(principal, unit_id),
        now=utcnow(),
        inputs=inputs,
        comment=body.comment,
    )
    e = result.entry
    return EntryOut(
        criterion_code=code,
        score=result.score,
        score_explanation=result.explanation,
        inputs=e.appraised_inputs,
        explanation=e.explanation,
        comment=e.appraisal_comment,
        updated_by=e.updated_by,
        updated_at=e.updated_at,
    )


@router.put(
    "/explanation-requests/{request_id}/criteria/{code}",
    response_model=AnswerOut,
    summary="Giải trình tiêu chí",
)
def put_answer(
    cycle_id: str,
    unit_id: DbId,
    request_id: DbId,
    code: str,
    body: AnswerIn,
    principal: CurrentUser,
    session: SessionDep,
) -> AnswerOut:
    """The unit's answer to a flagged criterion of the open round, before its deadline."""
    _cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    request = session.get(ExplanationRequest, request_id)
    if request is None or request.cycle_id != cycle_id or request.unit_id != unit_id:
        raise not_found("Không tìm thấy yêu cầu giải trình.")
    if request.state != "open":
        raise Problem(
            409,
            f"Vòng giải trình {request.round_no} đã kết thúc.",
            slug="command-refused",
            code="round_closed",
            detail_en=f"Explanation round {request.round_no} is closed.",
        )
    item = answer_explanation(
        session,
        cycle_id=cycle_id,
        unit_code=unit.code,
        criterion_code=code,
        editor=editor_for(principal, unit_id),
        now=utcnow(),
        answer=body.answer,
    )
    return AnswerOut(
        request_id=request_id,
        criterion_code=code,
        question=item.question,
        answer=item.answer,
        answered_by=item.answered_by,
        answered_at=item.answered_at,
    )


# --- transitions (workflow updates) ----------------------------------------------------------


async def _send(
    session: Session,
    principal: Principal,
    client: TemporalDep,
    cycle_id: str,
    unit_id: int,
    command: UnitCommand,
    key: str | None,
) -> UnitStatus:
    _cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    release(session)  # no connection held while the workflow (and its activity) works
    return await commands.unit_command(client, cycle_id, unit.code, command, key)


@router.put("/assignments", response_model=UnitStatus, summary="Phân công")
async def put_assignments(
    cycle_id: str,
    unit_id: DbId,
    body: AssignmentsIn,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Replaces the unit's assignments: criteria or whole groups, one responsible each.

    The first assignment moves the unit from assigning to drafting; each staff member whose
    criteria changed gets one message listing them with the deadlines.
    """
    command = AssignCommand(actor=principal.username, assignments=tuple(body.assignments))
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/start-review", response_model=UnitStatus, summary="Bắt đầu rà soát")
async def post_review(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """The unit office starts its review: drafting → unit_review (staff edit only returned
    criteria from then on)."""
    command = StartReviewCommand(actor=principal.username)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/return", response_model=UnitStatus, summary="Trả lại tiêu chí")
async def post_return(
    cycle_id: str,
    unit_id: DbId,
    body: ReturnIn,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Returns criteria to their staff with a comment (back to drafting for those only)."""
    command = ReturnCommand(actor=principal.username, codes=tuple(body.codes), comment=body.comment)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/submit", response_model=UnitStatus, summary="Gửi kết quả")
async def post_submit(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    body: SubmitIn | None = None,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Submits the sheet: an immutable, hashed snapshot is frozen; late if after the deadline."""
    command = SubmitCommand(
        actor=principal.username, proposed_class=body.proposed_class if body else None
    )
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/reopen", response_model=UnitStatus, summary="Mở lại")
async def post_reopen(
    cycle_id: str,
    unit_id: DbId,
    body: ReopenIn,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Reopens a submitted unit with a reason (a new hard lock if the old one has passed)."""
    command = ReopenCommand(
        actor=principal.username,
        reason=body.reason,
        submission_deadline=body.submission_deadline,
        hard_lock_at=body.hard_lock_at,
    )
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/start-appraisal", response_model=UnitStatus, summary="Bắt đầu thẩm định")
async def post_start_appraisal(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """The council starts appraising a submitted unit before the hard lock."""
    command = StartAppraisalCommand(actor=principal.username)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post(
    "/explanation-requests",
    response_model=UnitStatus,
    status_code=status.HTTP_201_CREATED,
    summary="Yêu cầu giải trình",
)
async def post_explanation_request(
    cycle_id: str,
    unit_id: DbId,
    body: ExplanationRequestIn,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Opens an explanation round: only the flagged criteria reopen for the unit."""
    load_unit(session, principal, cycle_id, unit_id)  # 404 before any other answer
    check_council_codes(
        session,
        cycle_id=cycle_id,
        codes=[item.code for item in body.items],
        editor=editor_for(principal, unit_id),
    )
    command = RequestExplanationCommand(
        actor=principal.username, items=tuple(body.items), deadline=body.deadline
    )
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post(
    "/explanation-requests/{request_id}/close",
    response_model=UnitStatus,
    summary="Kết thúc vòng giải trình",
)
async def post_close_round(
    cycle_id: str,
    unit_id: DbId,
    request_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """Closes the open round before its deadline with whatever has arrived (→ appraising)."""
    request = session.get(ExplanationRequest, request_id)
    if request is None or request.cycle_id != cycle_id or request.unit_id != unit_id:
        raise not_found("Không tìm thấy yêu cầu giải trình.")
    command = CloseRoundCommand(actor=principal.username)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post(
    "/followups/{followup}/done", response_model=UnitStatus, summary="Báo cáo đã hoàn thành"
)
async def post_followup_done(
    cycle_id: str,
    unit_id: DbId,
    followup: Literal["analysis", "plan"],
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """After publication: the analysis report (10 days) or the remediation plan (20 days) is
    done; its reminders stop."""
    command = FollowupDoneCommand(actor=principal.username, followup=followup)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)


@router.post("/finalise", response_model=UnitStatus, summary="Kết thúc thẩm định đơn vị")
async def post_finalise(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """The council finalises the unit: the appraised total is frozen in a final snapshot."""
    command = FinaliseCommand(actor=principal.username)
    return await _send(session, principal, client, cycle_id, unit_id, command, key)
