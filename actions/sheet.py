"""Edits of a unit's sheet: save a draft, save an appraisal, answer an explanation request.

Each is a plain database write through the edit gate of ``services.sheet`` (state, assignment
or agency, the hard lock against ``now``: the clock of the request).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from actions.common import UnitRef, editor_for
from actions.inputs import merge_inputs
from core.db import utcnow
from core.errors import Conflict, Invalid, NotFound
from models.inputs import CriterionInput
from models.tables import ExplanationItem, ExplanationRequest
from services.accounts import Principal
from services.sheet import DraftResult, answer_explanation
from services.sheet import save_appraisal as gate_save_appraisal
from services.sheet import save_draft as gate_save_draft

__all__ = ["answer", "explanation_request", "save_appraisal", "save_draft"]


def save_draft(
    session: Session,
    *,
    principal: Principal,
    unit: UnitRef,
    code: str,
    inputs: CriterionInput | None,
    explanation: str | None,
    not_applicable: bool | None = None,
    score: Decimal | None = None,
    now: datetime | None = None,
) -> DraftResult:
    """Saves a criterion's inputs and/or explanation; the framework's rule scores it."""
    merged = merge_inputs(inputs, not_applicable, score)
    if merged is None and explanation is None:
        raise Invalid(
            "inputs_missing",
            "Cần số liệu (inputs) hoặc giải trình (explanation).",
            "Inputs or an explanation are required.",
            field="inputs",
        )
    return gate_save_draft(
        session,
        cycle_id=unit.cycle_id,
        unit_code=unit.unit_code,
        criterion_code=code,
        editor=editor_for(principal, unit.unit_id),
        now=now or utcnow(),
        inputs=merged,
        explanation=explanation,
    )


def save_appraisal(
    session: Session,
    *,
    principal: Principal,
    unit: UnitRef,
    code: str,
    inputs: CriterionInput | None,
    comment: str,
    not_applicable: bool | None = None,
    score: Decimal | None = None,
    now: datetime | None = None,
) -> DraftResult:
    """The council's appraisal of a criterion of its agency; the rule recomputes the score."""
    merged = merge_inputs(inputs, not_applicable, score)
    if merged is None:
        raise Invalid(
            "inputs_missing",
            "Cần số liệu thẩm định (inputs) hoặc điểm (score).",
            "Appraisal inputs or a score are required.",
            field="inputs",
        )
    return gate_save_appraisal(
        session,
        cycle_id=unit.cycle_id,
        unit_code=unit.unit_code,
        criterion_code=code,
        editor=editor_for(principal, unit.unit_id),
        now=now or utcnow(),
        inputs=merged,
        comment=comment,
    )


def explanation_request(session: Session, *, unit: UnitRef, request_id: int) -> ExplanationRequest:
    """The unit's explanation request ``request_id`` (404 for another unit's or none)."""
    request = session.get(ExplanationRequest, request_id)
    if request is None or request.cycle_id != unit.cycle_id or request.unit_id != unit.unit_id:
        raise NotFound(
            "not_found", "Không tìm thấy yêu cầu giải trình.", "No such explanation request."
        )
    return request


def answer(
    session: Session,
    *,
    principal: Principal,
    unit: UnitRef,
    request_id: int,
    code: str,
    text: str,
    now: datetime | None = None,
) -> ExplanationItem:
    """The unit's answer to a flagged criterion of the open round, before its deadline."""
    request = explanation_request(session, unit=unit, request_id=request_id)
    if request.state != "open":
        raise Conflict(
            "round_closed",
            f"Vòng giải trình {request.round_no} đã kết thúc.",
            f"Explanation round {request.round_no} is closed.",
        )
    return answer_explanation(
        session,
        cycle_id=unit.cycle_id,
        unit_code=unit.unit_code,
        criterion_code=code,
        editor=editor_for(principal, unit.unit_id),
        now=now or utcnow(),
        answer=text,
    )
