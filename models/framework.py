"""A criteria framework (bộ tiêu chí) as data: the node tree and the structured scoring rules.

Pure domain, no I/O. The same models are the canonical YAML format (see frameworks/yaml_io.py),
the JSON stored in the database and the values passed into workflows.
Every number of points is a ``Decimal``; a float never enters a framework.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Spec(BaseModel):
    """Base of every framework model: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeKind(StrEnum):
    """The level of a node in the tree."""

    section = "section"  # nội dung (a heading above areas, with its own max)
    area = "area"  # lĩnh vực (roman numerals)
    criterion = "criterion"  # tiêu chí
    sub_criterion = "sub_criterion"  # tiêu chí thành phần


class NodeRole(StrEnum):
    """How a node's score enters the total."""

    normal = "normal"
    bonus = "bonus"  # điểm thưởng: added on top, may exceed nothing but its own max
    penalty = "penalty"  # điểm trừ: its score is subtracted from the total


class NotApplicablePolicy(StrEnum):
    """What 'không phát sinh' (not applicable) does to a node."""

    forbidden = "forbidden"  # the node is always applicable
    exclude = "exclude"  # leaves the total and the max total
    fixed_points = "fixed_points"  # earns ``na_points`` ("không có đơn thư thì chấm 1 điểm")


class UnitKind(StrEnum):
    """The kind of unit a framework applies to."""

    commune = "commune"  # UBND cấp xã
    district_department = "district_department"  # phòng chuyên môn cấp huyện
    province_department = "province_department"  # sở, ban, ngành
    other = "other"


class FrameworkStatus(StrEnum):
    """Draft frameworks can change; published ones are immutable."""

    draft = "draft"
    published = "published"


# --- rules -----------------------------------------------------------------------------------

Points = Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=3)]
Percent = Annotated[Decimal, Field(ge=0, le=100)]


class Option(Spec):
    """One listed level / checklist item / counted kind, with its points."""

    key: str = Field(min_length=1, description="Stable key used in inputs")
    label: str = Field(description="Vietnamese text of the option (mức)")
    points: Points


class Band(Spec):
    """A range of a measured value [min, max) that earns ``points``; ``None`` is unbounded.

    ``min_inclusive=False`` opens the lower end, (min, …: "trên 80%" next to "từ 70% đến 80%".
    """

    min: Decimal | None = None
    max: Decimal | None = None
    max_inclusive: bool = False
    points: Points
    label: str = ""
    min_inclusive: bool = True


class LevelsRule(Spec):
    """Pick one listed level ("Trước và đúng thời gian quy định = 2; Chậm dưới 10 ngày = 1")."""

    kind: Literal["levels"] = "levels"
    options: tuple[Option, ...] = Field(min_length=1)


class ProportionalRule(Spec):
    """rate ≥ floor → rate × max / 100, else 0 (Định Hóa 5.5.1, 6.2; 7.2 with a 70% floor)."""

    kind: Literal["proportional"] = "proportional"
    floor: Percent = Decimal(0)
    unit_label: str = Field(default="", description="What is counted, for the explanation")


class BandsRule(Spec):
    """A rate (percent) or a count falls in a band ("100% → 4; 95–<100% → 3; …")."""

    kind: Literal["bands"] = "bands"
    measure: Literal["rate", "count"] = "rate"
    bands: tuple[Band, ...] = Field(min_length=1)
    unit_label: str = ""


class LevelRateRule(Spec):
    """The points of the level reached × the on-time rate (84/87 on time of 3 points = 2,897)."""

    kind: Literal["level_rate"] = "level_rate"
    options: tuple[Option, ...] = Field(min_length=1)
    unit_label: str = ""


class DeductionRule(Spec):
    """Start at max, subtract ``per_item`` per failed item, never below 0."""

    kind: Literal["deduction"] = "deduction"
    per_item: Points
    item_label: str = ""


class ChecklistRule(Spec):
    """Independent items, each worth points, summed (capped at the node's max)."""

    kind: Literal["checklist"] = "checklist"
    items: tuple[Option, ...] = Field(min_length=1)


class CountedRule(Spec):
    """Points per counted item of each kind, summed, capped ("01 sáng kiến cấp tỉnh = 02 điểm")."""

    kind: Literal["counted"] = "counted"
    items: tuple[Option, ...] = Field(min_length=1, description="points are per item")
    cap: Points | None = Field(default=None, description="None: the node's max")


class SurveyRule(Spec):
    """Answers on a 1–5 scale: mean = Σ(answer × count) / B, score = mean × max / scale."""

    kind: Literal["survey"] = "survey"
    scale: int = Field(default=5, ge=2, le=10)


class ManualRule(Spec):
    """A score typed by a person, 0..max; in steps of ``step`` when the framework sets one,
    otherwise any value with up to three decimals (a written 2,868 or 0,1)."""

    kind: Literal["manual"] = "manual"
    step: Points | None = None


class DerivedSource(StrEnum):
    """Where the system finds the value of a derived criterion."""

    submission_days_late = "submission_days_late"
    rank_change = "rank_change"  # last year's rank − this year's rank (positive: better)
    score_change = "score_change"  # this year's total − last year's
    council_override = "council_override"  # a council decision gives the points directly


class DerivedRule(Spec):
    """A value the system knows, mapped to points through bands (or taken as points)."""

    kind: Literal["derived"] = "derived"
    source: DerivedSource
    bands: tuple[Band, ...] = ()


Rule = Annotated[
    LevelsRule
    | ProportionalRule
    | BandsRule
    | LevelRateRule
    | DeductionRule
    | ChecklistRule
    | CountedRule
    | SurveyRule
    | ManualRule
    | DerivedRule,
    Field(discriminator="kind"),
]


# --- tree ------------------------------------------------------------------------------------


class Node(Spec):
    """One area / criterion / sub-criterion. A leaf has a rule; a parent sums its children."""

    code: str = Field(min_length=1, description="Mã số: I, 1, 1.2, 5.2.3.1")
    title: str = Field(description="Tên lĩnh vực / tiêu chí")
    kind: NodeKind = NodeKind.criterion
    role: NodeRole = NodeRole.normal
    max_points: Points = Field(description="Điểm tối đa / điểm chuẩn")
    guidance: str = Field(default="", description="Cách thức, phương pháp chấm điểm")
    evidence_required: str = Field(default="", description="Tài liệu kiểm chứng yêu cầu")
    agency: str = Field(default="", description="Cơ quan thẩm định")
    needs_explanation: bool = Field(default=True, description="Bắt buộc giải trình")
    critical: bool = Field(default=False, description="Tiêu chí quyết định xếp loại")
    na_policy: NotApplicablePolicy = NotApplicablePolicy.forbidden
    na_points: Points | None = Field(default=None, description="Điểm khi không phát sinh")
    rule: Rule | None = None
    children: tuple[Node, ...] = ()

    @property
    def is_leaf(self) -> bool:
        """True for a node without children (it carries the rule)."""
        return not self.children


class ClassBand(Spec):
    """One level of the classification: the final total ≥ ``min_total`` earns it."""

    key: str = Field(description="excellent | good | pass | fail, or the regulation's own")
    label: str = Field(description="hoàn thành xuất sắc nhiệm vụ, …")
    min_total: Decimal


class TieBreak(StrEnum):
    """How ties in the total are broken for a quota."""

    total_then_critical = "total_then_critical"  # then the sum over critical criteria
    total_then_code = "total_then_code"  # then the unit code (stable, stated rule)


class BandBasis(StrEnum):
    """What the classification bands are compared with."""

    # The share of the applicable maximum, on the framework's scale: total × nominal max /
    # applicable max. A criterion "không phát sinh" that leaves the max no longer costs a band
    # (89,5 of 92 applicable points is 97,28 on a 100 scale, not 89,5).
    share = "share"
    total = "total"  # the raw total, only when the framework says so explicitly


class QuotaBasis(StrEnum):
    """What the top-band quota is a percentage of."""

    # The number rated in the next band ("Hoàn thành tốt nhiệm vụ") of the same group:
    # Nghị định 90/2020/NĐ-CP Điều 20 as amended by Nghị định 48/2023/NĐ-CP, and Nghị định
    # 335/2025/NĐ-CP ("không vượt quá 20% tổng số … được xếp loại 'Hoàn thành tốt nhiệm vụ'
    # trong phạm vi cùng một cơ quan … và trong từng nhóm … có nhiệm vụ tương đồng").
    next_band = "next_band"
    group = "group"  # all units of the group (older local rules that say so)


class ClassificationScheme(Spec):
    """Bands (highest first), an optional quota on the top band and vetoes."""

    bands: tuple[ClassBand, ...] = Field(min_length=1)
    band_basis: BandBasis = Field(
        default=BandBasis.share,
        description="share: bands on total × nominal max / applicable max; total: the raw total",
    )
    top_quota_percent: Percent | None = Field(
        default=None, description="At most this percentage (of quota_basis) reaches the top band"
    )
    quota_basis: QuotaBasis = QuotaBasis.next_band
    min_top: int = Field(
        default=0,
        ge=0,
        description="Units of a group that may keep the top band whatever the quota",
    )
    tie_break: TieBreak = TieBreak.total_then_critical
    veto_max_band: str | None = Field(
        default=None,
        description="A critical criterion scored 0 caps the unit at this band key",
    )
    source: str = Field(
        default="", description="The regulation the bands and quota come from, cited in reasons"
    )


class RoundingMode(StrEnum):
    """Rounding of computed scores."""

    half_up = "half_up"
    half_even = "half_even"
    down = "down"


class _Index:
    """A tree's nodes depth first in document order, and by code (the first of each code)."""

    def __init__(self, nodes: tuple[Node, ...]) -> None:
        self.nodes = nodes
        walked: list[Node] = []

        def visit(node: Node) -> None:
            walked.append(node)
            for child in node.children:
                visit(child)

        for top in nodes:
            visit(top)
        self.walked = tuple(walked)
        self.by_code: dict[str, Node] = {}
        for n in self.walked:
            self.by_code.setdefault(n.code, n)


class Framework(Spec):
    """A whole framework: metadata, the tree and the classification scheme."""

    name: str = Field(min_length=1)
    issuer: str = Field(default="", description="Cơ quan ban hành")
    year: int = Field(ge=2000, le=2100)
    unit_kind: UnitKind = UnitKind.commune
    version: int = Field(default=1, ge=1)
    decimal_places: int = Field(default=3, ge=0, le=6)
    rounding: RoundingMode = RoundingMode.half_up
    classification: ClassificationScheme | None = None
    nodes: tuple[Node, ...] = Field(min_length=1)

    # A framework is immutable (frozen): its walk and its index by code are computed once per
    # instance (a published framework is parsed once per process). ``model_copy`` copies the
    # cache along: it is rebuilt when the copy has other nodes.
    @cached_property
    def _index_cache(self) -> _Index:
        return _Index(self.nodes)

    def _index(self) -> _Index:
        index = self._index_cache
        if index.nodes is not self.nodes:
            index = self.__dict__["_index_cache"] = _Index(self.nodes)
        return index

    def walk(self) -> list[Node]:
        """All nodes, depth first, in document order."""
        return list(self._index().walked)

    def node(self, code: str) -> Node:
        """The node with this code; KeyError if there is none."""
        return self._index().by_code[code]

    def leaves(self) -> list[Node]:
        """The nodes that carry a rule."""
        return [n for n in self._index().walked if n.is_leaf]
