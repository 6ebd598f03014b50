"""The facts entered for one criterion (số liệu chấm điểm), from which its rule computes the score.

Stored as JSON in the database and sent through the REST API, so every field is JSON-friendly:
Decimals travel as strings, survey answer values as object keys ("1".."5"). The model checks
only types; whether the values fit the criterion (a level that exists, a rate within 0–100, …)
is checked by ``scoring.rules.evaluate``, which can name the criterion in its error.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

# Every number from outside is bounded here, before any rule does arithmetic or formats it:
# a Decimal of at most 15 digits and 6 decimals ("1E+3000000000" has 3 000 000 001 digits and is
# refused without being expanded), an integer within ±10⁹, collections of at most 1 000 entries.
# The range a rule allows (a rate within 0–100, a count ≥ 0, …) is checked by the rule, which
# can name the criterion; these bounds only keep every value small enough to compute with.
MAX_INT = 1_000_000_000
BoundedDecimal = Annotated[Decimal, Field(max_digits=15, decimal_places=6, allow_inf_nan=False)]
BoundedInt = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
Key = Annotated[str, Field(min_length=1, max_length=200)]


class CriterionInput(BaseModel):
    """The structured inputs staff or the council enter for one leaf criterion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    not_applicable: bool = Field(default=False, description="Không phát sinh nhiệm vụ")
    level: Key | None = Field(default=None, description="Mức đạt được (khóa của mức)")
    rate: BoundedDecimal | None = Field(default=None, description="Tỷ lệ phần trăm (0–100)")
    numerator: BoundedInt | None = Field(default=None, description="Số đạt yêu cầu (tử số), vd. 84")
    denominator: BoundedInt | None = Field(default=None, description="Tổng số (mẫu số), vd. 87")
    count: BoundedInt | None = Field(default=None, description="Số lượng")
    failed: BoundedInt | None = Field(default=None, description="Số nội dung không đạt yêu cầu")
    checked: tuple[Key, ...] = Field(
        default=(), max_length=1000, description="Các nội dung đạt (khóa)"
    )
    counts: dict[Key, BoundedInt] = Field(
        default_factory=dict, max_length=1000, description="Số lượng theo từng loại"
    )
    answers: dict[BoundedInt, BoundedInt] = Field(
        default_factory=dict,
        max_length=1000,
        description="Phiếu điều tra: phương án trả lời → số người chọn",
    )
    score: BoundedDecimal | None = Field(default=None, description="Điểm chấm trực tiếp")
    value: BoundedDecimal | None = Field(default=None, description="Giá trị do hệ thống cung cấp")

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object to store: only the fields that were given, Decimals as strings."""
        return self.model_dump(mode="json", exclude_defaults=True)
