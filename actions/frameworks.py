"""What a coordinator does to frameworks: check a file before saving it (the sheet check's rows,
inferred rules, inconsistencies), save it as a draft, publish it (immutable from then on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from core.errors import Conflict, Invalid, NotFound
from frameworks.sheet_check import SheetCheck, check_sheet
from models.framework import ClassBand, ClassificationScheme, Framework, FrameworkStatus, Node
from models.tables import FrameworkRecord
from services.accounts import Principal
from services.frameworks import (
    framework_of,
    get_framework,
    load_framework_bytes,
    publish_framework,
    store_framework,
)

__all__ = [
    "DEFAULT_BANDS",
    "RULE_VI",
    "Preview",
    "TreeRow",
    "load",
    "preview",
    "publish",
    "save",
    "set_classification",
    "tree",
]

# The four levels of the regulation, proposed when a file brings none (an annex table does not
# carry them): key, label, proposed minimum total.
DEFAULT_BANDS: tuple[tuple[str, str, Decimal], ...] = (
    ("excellent", "Hoàn thành xuất sắc nhiệm vụ", Decimal(90)),
    ("good", "Hoàn thành tốt nhiệm vụ", Decimal(70)),
    ("pass", "Hoàn thành nhiệm vụ", Decimal(50)),
    ("fail", "Không hoàn thành nhiệm vụ", Decimal(0)),
)

# The rule kinds as the coordinator reads them.
RULE_VI: dict[str, str] = {
    "levels": "Chấm theo mức",
    "proportional": "Tỷ lệ thuận theo kết quả",
    "bands": "Chấm theo khoảng tỷ lệ",
    "level_rate": "Mức nhân tỷ lệ",
    "deduction": "Trừ điểm theo lần vi phạm",
    "checklist": "Cộng điểm theo danh mục",
    "counted": "Cộng điểm theo số lượng",
    "survey": "Theo kết quả điều tra, khảo sát",
    "manual": "Hội đồng chấm trực tiếp",
    "derived": "Hệ thống hoặc hội đồng cung cấp",
}


@dataclass(frozen=True)
class TreeRow:
    """One node of a framework as a table row: depth, code, title, maximum, rule."""

    depth: int
    code: str
    title: str
    max_points: Decimal
    rule: str
    agency: str
    leaf: bool


@dataclass(frozen=True)
class Preview:
    """A framework file as it would be saved, and what the sheet check found in it."""

    framework: Framework
    rows: tuple[TreeRow, ...]
    warnings: tuple[str, ...]
    check: SheetCheck | None

    @property
    def leaves(self) -> int:
        """Criteria that are scored (leaves of the tree)."""
        return sum(1 for r in self.rows if r.leaf)


def tree(framework: Framework) -> tuple[TreeRow, ...]:
    """Every node in document order with its depth, maximum and rule in words."""
    out: list[TreeRow] = []

    def walk(node: Node, depth: int) -> None:
        kind = node.rule.kind if node.rule is not None else ""
        out.append(
            TreeRow(
                depth=depth,
                code=node.code,
                title=node.title,
                max_points=node.max_points,
                rule=RULE_VI.get(kind, kind),
                agency=node.agency,
                leaf=not node.children,
            )
        )
        for child in node.children:
            walk(child, depth + 1)

    for node in framework.nodes:
        walk(node, 0)
    return tuple(out)


def preview(*, data: bytes, filename: str, name: str | None, year: int | None) -> Preview:
    """Reads the file and checks its sheet; nothing is stored."""
    if not data:
        raise Invalid("empty_file", "Tệp rỗng.", "Empty file.", "file")
    loaded = load_framework_bytes(data, filename=filename, name=name, year=year)
    check = None
    suffix = Path(filename).suffix.lower()
    if suffix in (".tsv", ".csv", ".xlsx", ".txt"):
        try:
            check = check_sheet(data, "xlsx" if suffix == ".xlsx" else None)
        except ValueError:
            check = None  # the importer read it; the check of its totals has nothing to add
    return Preview(loaded.framework, tree(loaded.framework), loaded.warnings, check)


def save(
    *,
    session: Session,
    principal: Principal,
    data: bytes,
    filename: str,
    name: str | None,
    year: int | None,
) -> FrameworkRecord:
    """Stores the file's framework as a draft (the same content again: the stored version)."""
    loaded = preview(data=data, filename=filename, name=name, year=year)
    record, _changed = store_framework(
        session, framework=loaded.framework, actor=principal.username
    )
    return record


def load(*, session: Session, framework_id: int) -> FrameworkRecord:
    """One stored version, or NotFound."""
    record = get_framework(session, framework_id)
    if record is None:
        raise NotFound("not_found", "Không tìm thấy bộ tiêu chí.", "No such framework.")
    return record


def publish(*, session: Session, principal: Principal, framework_id: int) -> FrameworkRecord:
    """Publishes a draft; from then on it never changes (idempotent)."""
    load(session=session, framework_id=framework_id)
    return publish_framework(session, framework_id=framework_id, actor=principal.username)


def set_classification(
    *,
    session: Session,
    principal: Principal,
    framework_id: int,
    minima: Sequence[Decimal],
    top_quota_percent: Decimal | None,
) -> FrameworkRecord:
    """Sets the levels' minimum totals (highest first) on a draft; a published one is refused."""
    record = load(session=session, framework_id=framework_id)
    if record.status != FrameworkStatus.draft.value:
        raise Conflict(
            "framework_published",
            "Bộ tiêu chí đã ban hành, không sửa được.",
            "The framework is published.",
            "framework_id",
        )
    if len(minima) != len(DEFAULT_BANDS) or list(minima) != sorted(minima, reverse=True):
        raise Invalid(
            "invalid_bands",
            "Điểm tối thiểu của các mức phải giảm dần từ mức cao nhất.",
            "Band minima must decrease.",
            "min_total",
        )
    if any(m < 0 or m > record.max_total for m in minima):
        raise Invalid(
            "invalid_bands",
            f"Điểm tối thiểu mỗi mức từ 0 đến {record.max_total}.",
            "Band minimum out of range.",
            "min_total",
        )
    framework = framework_of(record)
    scheme = ClassificationScheme(
        bands=tuple(
            ClassBand(key=k, label=label, min_total=m)
            for (k, label, _), m in zip(DEFAULT_BANDS, minima, strict=True)
        ),
        top_quota_percent=top_quota_percent,
    )
    updated = Framework.model_validate(
        {**framework.model_dump(mode="json"), "classification": scheme.model_dump(mode="json")}
    )
    stored, _changed = store_framework(session, framework=updated, actor=principal.username)
    return stored
