"""The inputs of the sheet's acts as the API and the pages both parse them (pydantic models).

The REST routes take them as request bodies (their names are the OpenAPI schema names); the
pages build the same models from a form, so a value the API refuses is refused on the page
with the same field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from actions.common import LocalTime
from contracts.messages import AssignmentSpec, ExplanationItemSpec
from models.inputs import CriterionInput

__all__ = [
    "AnswerIn",
    "AppraisalIn",
    "AssignmentsIn",
    "DraftIn",
    "ExplanationRequestIn",
    "FinaliseIn",
    "ReopenIn",
    "ReturnIn",
    "SubmitIn",
    "merge_inputs",
]


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


class FinaliseIn(BaseModel):
    """Finalising a unit's appraisal; ``override`` (with a reason) while agencies are missing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"override": True, "reason": "Hết hạn thẩm định, cơ quan đã báo cáo."}]
        },
    )

    override: bool = Field(
        default=False, description="Kết thúc dù còn cơ quan chưa thẩm định xong (ghi nhật ký)"
    )
    reason: str = Field(default="", max_length=2000, description="Lý do (bắt buộc khi override)")


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


def merge_inputs(
    inputs: CriterionInput | None, not_applicable: bool | None, score: Decimal | None
) -> CriterionInput | None:
    """The inputs with ``not_applicable`` and ``score`` given beside them folded in."""
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
