"""Entry writes behind the edit gate: drafts, the council's appraisal, explanation answers.

Each write runs the gate (``services.sheet.gate``) first in the same transaction, computes the
score with the criterion's rule (Decimal only) and records an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from core.errors import Invalid
from models.framework import Framework, Node
from models.inputs import CriterionInput
from models.tables import Entry, ExplanationItem
from scoring.rules import RuleInputError, RuleResult, evaluate
from services import audit
from services.sheet.framework import framework_for
from services.sheet.gate import Editor, check_answer, check_appraisal, check_draft, entry_row

__all__ = ["DraftResult", "answer_explanation", "save_appraisal", "save_draft"]


@dataclass(frozen=True)
class DraftResult:
    """The saved entry and the score the rule computed, with its one-sentence explanation."""

    entry: Entry
    score: Decimal | None
    explanation: str


def _evaluate(node: Node, inputs: CriterionInput, framework: Framework) -> RuleResult:
    try:
        return evaluate(
            node, inputs, decimal_places=framework.decimal_places, rounding=framework.rounding
        )
    except RuleInputError as exc:
        raise Invalid(
            "invalid_input",
            exc.message_vi,
            str(exc),
            field=exc.field,
        ) from exc


def _entry_view(entry: Entry) -> dict[str, Any]:
    return {
        "inputs": entry.inputs,
        "self_score": None if entry.self_score is None else str(entry.self_score),
        "explanation": entry.explanation,
        "appraised_inputs": entry.appraised_inputs,
        "appraised_score": None if entry.appraised_score is None else str(entry.appraised_score),
        "appraisal_comment": entry.appraisal_comment,
    }


def _stamp_and_audit(
    session: Session,
    entry: Entry,
    *,
    editor: Editor,
    now: datetime,
    action: str,
    before: dict[str, Any] | None,
) -> None:
    """Marks who changed the entry and when, writes it, and audits before → after."""
    entry.updated_at = now
    entry.updated_by = editor.username
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor=editor.username,
        entity="entry",
        action=action,
        entity_key=entry.criterion_code,
        cycle_id=entry.cycle_id,
        unit_id=entry.unit_id,
        before=before,
        after=_entry_view(entry),
    )


def save_draft(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    inputs: CriterionInput | None = None,
    explanation: str | None = None,
) -> DraftResult:
    """Saves a criterion's inputs and/or explanation; the rule computes the self score."""
    cycle, _unit, _cu, node, entry = check_draft(
        session, cycle_id, unit_code, criterion_code, editor, now
    )
    framework = framework_for(session, cycle)
    before = _entry_view(entry) if entry.id is not None else None
    result: RuleResult | None = None
    if inputs is not None:
        result = _evaluate(node, inputs, framework)
        entry.inputs = inputs.to_json_dict()
        entry.self_score = result.score
        entry.self_reason = result.explanation
    if explanation is not None:
        entry.explanation = explanation
    _stamp_and_audit(session, entry, editor=editor, now=now, action="draft", before=before)
    return DraftResult(
        entry=entry,
        score=entry.self_score,
        explanation=result.explanation if result is not None else entry.self_reason,
    )


def save_appraisal(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    inputs: CriterionInput,
    comment: str = "",
) -> DraftResult:
    """The council's appraisal of one criterion: corrected inputs → appraised score, comment."""
    cycle, unit, node = check_appraisal(session, cycle_id, unit_code, criterion_code, editor)
    assert unit.id is not None
    result = _evaluate(node, inputs, framework_for(session, cycle))
    entry = entry_row(session, cycle_id, unit.id, criterion_code)
    before = _entry_view(entry) if entry.id is not None else None
    entry.appraised_inputs = inputs.to_json_dict()
    entry.appraised_score = result.score
    entry.appraisal_comment = comment
    _stamp_and_audit(session, entry, editor=editor, now=now, action="appraise", before=before)
    return DraftResult(entry=entry, score=result.score, explanation=result.explanation)


def answer_explanation(
    session: Session,
    *,
    cycle_id: str,
    unit_code: str,
    criterion_code: str,
    editor: Editor,
    now: datetime,
    answer: str,
) -> ExplanationItem:
    """The unit's answer to a flagged criterion of the open round, before its deadline."""
    unit, request, item = check_answer(session, cycle_id, unit_code, criterion_code, editor, now)
    before = {"answer": item.answer}
    item.answer = answer
    item.answered_at = now
    item.answered_by = editor.username
    session.add(item)
    session.flush()
    audit.record(
        session,
        actor=editor.username,
        entity="explanation",
        action="answer",
        entity_key=f"{request.round_no}/{criterion_code}",
        cycle_id=cycle_id,
        unit_id=unit.id,
        before=before,
        after={"answer": answer},
    )
    return item
