"""The facts entered for one criterion (số liệu chấm điểm), from which its rule computes the score.

Stored as JSON in the database and sent through the REST API, so every field is JSON-friendly:
Decimals travel as strings, survey answer values as object keys ("1".."5"). The model checks
only types; whether the values fit the criterion (a level that exists, a rate within 0–100, …)
is checked by ``scoring.rules.evaluate``, which can name the criterion in its error.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CriterionInput(BaseModel):
    """The structured inputs staff or the council enter for one leaf criterion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    not_applicable: bool = Field(default=False, description="Không phát sinh nhiệm vụ")
    level: str | None = Field(default=None, description="Mức đạt được (khóa của mức)")
    rate: Decimal | None = Field(default=None, description="Tỷ lệ phần trăm (0–100)")
    numerator: int | None = Field(default=None, description="Số đạt yêu cầu (tử số), vd. 84")
    denominator: int | None = Field(default=None, description="Tổng số (mẫu số), vd. 87")
    count: int | None = Field(default=None, description="Số lượng")
    failed: int | None = Field(default=None, description="Số nội dung không đạt yêu cầu")
    checked: tuple[str, ...] = Field(default=(), description="Các nội dung đạt (khóa)")
    counts: dict[str, int] = Field(default_factory=dict, description="Số lượng theo từng loại")
    answers: dict[int, int] = Field(
        default_factory=dict, description="Phiếu điều tra: phương án trả lời → số người chọn"
    )
    score: Decimal | None = Field(default=None, description="Điểm chấm trực tiếp")
    value: Decimal | None = Field(default=None, description="Giá trị do hệ thống cung cấp")

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object to store: only the fields that were given, Decimals as strings."""
        return self.model_dump(mode="json", exclude_defaults=True)
