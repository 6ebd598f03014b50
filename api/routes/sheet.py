"""A unit's sheet in a cycle: read it, assign, draft, appraise, explain, and move its process.

Each route parses its input, runs its access rule (``api.deps.CurrentUser`` and ``unit_ref``)
and calls the action (``actions.sheet`` for the edits through the edit gate,
``actions.unit_commands`` for the workflow updates); the pages call the same actions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from actions import sheet as edits
from actions import unit_commands
from actions.common import UnitRef
from actions.inputs import (
    AnswerIn,
    AppraisalIn,
    AssignmentsIn,
    DraftIn,
    ExplanationRequestIn,
    FinaliseIn,
    ReopenIn,
    ReturnIn,
    SubmitIn,
)
from actions.unit_commands import SubmitAnswer
from api.access import visible_unit
from api.commands import IdempotencyKey
from api.deps import CurrentUser, DbId, SessionDep, TemporalDep
from api.errors import COMMON_RESPONSES, CONFLICT, not_found
from api.routing import TransactionRoute
from api.views import AuditRow, SheetView, audit_rows, sheet_view
from contracts.messages import UnitStatus
from core.db import reading, release
from models.tables import Cycle, CycleUnit, Unit
from services.accounts import Principal
from services.sheet import DraftResult

router = APIRouter(
    route_class=TransactionRoute,
    prefix="/api/cycles/{cycle_id}/units/{unit_id}",
    tags=["sheet"],
    responses={**COMMON_RESPONSES, **CONFLICT},
)


def load_unit(
    session: Session, principal: Principal, cycle_id: str, unit_id: int
) -> tuple[Cycle, CycleUnit, Unit]:
    """The cycle, projection and unit of the path (visibility already checked: 404 else)."""
    cu, unit = visible_unit(session, principal, cycle_id, unit_id)
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise not_found()
    return cycle, cu, unit


def unit_ref(session: Session, principal: Principal, cycle_id: str, unit_id: int) -> UnitRef:
    """The unit of the path as the actions take it (404 when the caller may not see it).

    Read in a transaction of its own, ended here: no connection held while a command awaits its
    workflow (issue 13), and an edit's write transaction (SQLite's write lock) starts after it.
    """
    with reading(session):  # the rule's check read both: no query
        _cu, unit = visible_unit(session, principal, cycle_id, unit_id)
    release(session)  # reading() ended it, unless the session was already in a transaction
    return UnitRef(cycle_id=cycle_id, unit_id=unit_id, unit_code=unit.code)


# --- responses -----------------------------------------------------------------------------


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


class AnswerOut(BaseModel):
    """A saved answer."""

    request_id: DbId
    criterion_code: str
    question: str
    answer: str
    answered_by: str
    answered_at: Any


def _entry_out(code: str, result: DraftResult, *, appraised: bool) -> EntryOut:
    e = result.entry
    return EntryOut(
        criterion_code=code,
        score=result.score,
        score_explanation=result.explanation,
        inputs=e.appraised_inputs if appraised else e.inputs,
        explanation=e.explanation,
        comment=e.appraisal_comment if appraised else "",
        updated_by=e.updated_by,
        updated_at=e.updated_at,
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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    result = edits.save_draft(
        session,
        principal=principal,
        unit=unit,
        code=code,
        inputs=body.inputs,
        not_applicable=body.not_applicable,
        score=body.score,
        explanation=body.explanation,
    )
    return _entry_out(code, result, appraised=False)


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    result = edits.save_appraisal(
        session,
        principal=principal,
        unit=unit,
        code=code,
        inputs=body.inputs,
        not_applicable=body.not_applicable,
        score=body.score,
        comment=body.comment,
    )
    return _entry_out(code, result, appraised=True)


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    item = edits.answer(
        session,
        principal=principal,
        unit=unit,
        request_id=request_id,
        code=code,
        text=body.answer,
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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.assign(
        client=client, principal=principal, unit=unit, assignments=body.assignments, key=key
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.start_review(client=client, principal=principal, unit=unit, key=key)


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.return_criteria(
        client=client,
        principal=principal,
        unit=unit,
        codes=body.codes,
        comment=body.comment,
        key=key,
    )


@router.post("/submit", response_model=SubmitAnswer, summary="Gửi kết quả")
async def post_submit(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    body: SubmitIn | None = None,
    key: IdempotencyKey = None,
) -> SubmitAnswer:
    """Submits the sheet: an immutable, hashed snapshot is frozen; late if after the deadline.

    The answer's ``check`` lists what the office was warned about (unfinished criteria,
    criteria without evidence, evidence warnings, the total and the class it earns)."""
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.submit(
        session,
        client=client,
        principal=principal,
        unit=unit,
        proposed_class=body.proposed_class if body else None,
        key=key,
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.reopen(
        client=client,
        principal=principal,
        unit=unit,
        reason=body.reason,
        submission_deadline=body.submission_deadline,
        hard_lock_at=body.hard_lock_at,
        key=key,
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.start_appraisal(
        client=client, principal=principal, unit=unit, key=key
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)  # 404 before any other answer
    return await unit_commands.request_explanation(
        session,
        client=client,
        principal=principal,
        unit=unit,
        items=body.items,
        deadline=body.deadline,
        key=key,
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.close_round(
        session, client=client, principal=principal, unit=unit, request_id=request_id, key=key
    )


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
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.followup_done(
        client=client, principal=principal, unit=unit, followup=followup, key=key
    )


@router.post("/finalise", response_model=UnitStatus, summary="Kết thúc thẩm định đơn vị")
async def post_finalise(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    client: TemporalDep,
    body: FinaliseIn | None = None,
    key: IdempotencyKey = None,
) -> UnitStatus:
    """The council finalises the unit: the appraised total is frozen in a final snapshot.

    Refused (409 ``agencies_unfinished``) while an appraising agency has criteria not
    appraised, unless ``override`` with a ``reason`` (written to the audit trail)."""
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return await unit_commands.finalise(
        session,
        client=client,
        principal=principal,
        unit=unit,
        override=body.override if body else False,
        reason=body.reason if body else "",
        key=key,
    )
