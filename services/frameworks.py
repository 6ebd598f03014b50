"""Frameworks in the database (bộ tiêu chí): store, list, publish, export.

A framework is stored as one ``FrameworkRecord`` per version. A draft may be replaced by a newer
import of the same name and year; a published version never changes again — importing a changed
framework of the same name and year after publication makes the next version, as a draft.
``spec_hash`` is the SHA-256 of the canonical JSON of the tree without its version number, so
the same content always has the same hash.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from core.db import utcnow
from core.errors import Invalid, NotFound
from models.framework import Framework, FrameworkStatus
from models.tables import FrameworkRecord
from scoring.aggregate import score_sheet
from services import audit

__all__ = [
    "ExportFormat",
    "FrameworkPublic",
    "FrameworkSummary",
    "LoadedFramework",
    "export_framework",
    "framework_of",
    "framework_xlsx",
    "get_framework",
    "list_frameworks",
    "load_framework_bytes",
    "publish_framework",
    "spec_hash",
    "store_framework",
]

IMPORT_SUFFIXES = (".yaml", ".yml", ".tsv", ".csv", ".xlsx", ".txt")


class ExportFormat(StrEnum):
    """Formats a framework is exported to."""

    yaml = "yaml"
    xlsx = "xlsx"


# Fields added to the framework model after frameworks were stored and hashed (issue 12): left
# out of the canonical form while they hold their default, so a framework that does not use them
# keeps its hash (stored records, committed snapshots and re-imports stay identical).
_LATER_SCHEME_DEFAULTS: dict[str, Any] = {
    "band_basis": "share",
    "quota_basis": "next_band",
    "min_top": 0,
    "source": "",
}


def _drop_later_defaults(node: dict[str, Any]) -> None:
    rule = node.get("rule")
    if isinstance(rule, dict) and rule.get("kind") == "manual" and rule.get("step") is None:
        rule.pop("step", None)
    for child in node.get("children", ()):
        _drop_later_defaults(child)


def _canonical(framework: Framework) -> dict[str, Any]:
    data = framework.model_dump(mode="json")
    data.pop("version", None)
    scheme = data.get("classification")
    if isinstance(scheme, dict):
        for key, default in _LATER_SCHEME_DEFAULTS.items():
            if scheme.get(key) == default:
                scheme.pop(key)
    for node in data.get("nodes", ()):
        _drop_later_defaults(node)
    return data


def spec_hash(framework: Framework) -> str:
    """SHA-256 of the framework's canonical JSON, its version number left out."""
    text = json.dumps(_canonical(framework), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def framework_of(record: FrameworkRecord) -> Framework:
    """The framework model stored in a record."""
    return Framework.model_validate(record.spec)


def _max_total(framework: Framework) -> Decimal:
    return score_sheet(framework, {}).max_total


def get_framework(session: Session, framework_id: int) -> FrameworkRecord | None:
    """The framework version with this id, or None."""
    return session.get(FrameworkRecord, framework_id)


def list_frameworks(session: Session) -> list[FrameworkRecord]:
    """Every stored version, newest year first, then name and version."""
    return list(
        session.exec(
            select(FrameworkRecord).order_by(
                col(FrameworkRecord.year).desc(),
                col(FrameworkRecord.name),
                col(FrameworkRecord.version),
            )
        ).all()
    )


def store_framework(
    session: Session, *, framework: Framework, actor: str
) -> tuple[FrameworkRecord, bool]:
    """Stores a framework: (record, changed). Unchanged content returns the latest version."""
    digest = spec_hash(framework)
    latest = session.exec(
        select(FrameworkRecord)
        .where(FrameworkRecord.name == framework.name, FrameworkRecord.year == framework.year)
        .order_by(col(FrameworkRecord.version).desc())
    ).first()
    if latest is not None and latest.spec_hash == digest:
        return latest, False
    if latest is not None and latest.status == FrameworkStatus.draft.value:
        before = {"version": latest.version, "spec_hash": latest.spec_hash}
        latest.spec = framework.model_copy(update={"version": latest.version}).model_dump(
            mode="json"
        )
        latest.spec_hash = digest
        latest.unit_kind = framework.unit_kind.value
        latest.max_total = _max_total(framework)
        session.add(latest)
        session.flush()
        audit.record(
            session,
            actor=actor,
            entity="framework",
            action="replace_draft",
            entity_key=str(latest.id),
            before=before,
            after={"version": latest.version, "spec_hash": digest},
        )
        return latest, True
    version = 1 if latest is None else latest.version + 1
    record = FrameworkRecord(
        name=framework.name,
        year=framework.year,
        unit_kind=framework.unit_kind.value,
        version=version,
        status=FrameworkStatus.draft.value,
        spec=framework.model_copy(update={"version": version}).model_dump(mode="json"),
        spec_hash=digest,
        max_total=_max_total(framework),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="framework",
        action="import",
        entity_key=str(record.id),
        after={"name": record.name, "year": record.year, "version": version, "spec_hash": digest},
    )
    return record, True


def publish_framework(session: Session, *, framework_id: int, actor: str) -> FrameworkRecord:
    """Publishes a draft (idempotent); a published version is immutable from then on."""
    record = get_framework(session, framework_id)
    if record is None:
        raise NotFound(
            "unknown_framework",
            f"Không có bộ tiêu chí số {framework_id}.",
            f"No framework {framework_id}.",
            field="id",
        )
    if record.status == FrameworkStatus.published.value:
        return record
    record.status = FrameworkStatus.published.value
    record.published_at = utcnow()
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="framework",
        action="publish",
        entity_key=str(record.id),
        before={"status": FrameworkStatus.draft.value},
        after={"status": record.status, "spec_hash": record.spec_hash},
    )
    return record


# --- files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedFramework:
    """A framework read from a file, with the importer's warnings (line, message)."""

    framework: Framework
    warnings: tuple[str, ...] = ()
    rows_placed: int = 0  # annex tables: rows read into the tree
    rows_guessed: int = 0  # of those, rows placed on an assumption the warnings state
    rows_skipped: int = 0  # rows left out, each reported in the warnings with its line


def _suffix_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in IMPORT_SUFFIXES:
        raise Invalid(
            "unsupported_format",
            f"Định dạng '{suffix or filename}' không được hỗ trợ (YAML, TSV, CSV, XLSX).",
            f"The format '{suffix or filename}' is not supported (YAML, TSV, CSV, XLSX).",
            field="file",
        )
    return {".yml": "yaml", ".txt": "tsv"}.get(suffix, suffix[1:])


def load_framework_bytes(
    data: bytes,
    *,
    filename: str,
    name: str | None = None,
    year: int | None = None,
) -> LoadedFramework:
    """Parses a framework file by its suffix: YAML, or an annex table (TSV/TXT, CSV, XLSX).

    ``name`` and ``year`` are required for annex tables (which do not carry them) and override
    a YAML file's own. An ``Invalid`` refusal explains what is wrong, in Vietnamese (and English).
    """
    from frameworks.annex import AnnexWarning, import_annex

    fmt = _suffix_format(filename)
    try:
        if fmt == "yaml":
            from frameworks.yaml_io import load_framework_yaml

            framework = load_framework_yaml(data.decode("utf-8-sig"))
            update: dict[str, Any] = {}
            if name:
                update["name"] = name
            if year:
                update["year"] = year
            if update:
                framework = Framework.model_validate(
                    {**framework.model_dump(mode="json"), **update}
                )
            return LoadedFramework(framework)
        if not name or not year:
            raise Invalid(
                "annex_needs_name",
                "Bảng phụ lục cần tên (name) và năm (year) bộ tiêu chí.",
                "An annex table needs the framework's name and year.",
                field="name",
            )
        annex_fmt: Literal["tsv", "csv", "xlsx"] = (
            "xlsx" if fmt == "xlsx" else "csv" if fmt == "csv" else "tsv"
        )
        imported = import_annex(data, annex_fmt)
        warnings: tuple[AnnexWarning, ...] = imported.warnings
        return LoadedFramework(
            imported.framework(name=name, year=year),
            tuple(f"dòng {w.line}: {w.message}" if w.line else w.message for w in warnings),
            rows_placed=imported.rows_placed,
            rows_guessed=imported.rows_guessed,
            rows_skipped=len(imported.skipped),
        )
    except UnicodeDecodeError as exc:
        raise Invalid(
            "not_utf8", "Tệp không phải văn bản UTF-8.", "The file is not UTF-8 text.", field="file"
        ) from exc
    except ValueError as exc:  # the importers' errors and pydantic's ValidationError
        raise Invalid(
            "unreadable_framework",
            f"Không đọc được bộ tiêu chí: {exc}",
            f"The framework cannot be read: {exc}",
            field="file",
        ) from exc


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_HEADER = (
    "Mã số",
    "Nội dung tiêu chí, phương pháp chấm điểm",
    "Điểm tối đa",
    "Điểm tự chấm",
    "Điểm thẩm định",
    "Tài liệu kiểm chứng",
    "Cơ quan thẩm định",
)


def framework_xlsx(framework: Framework) -> bytes:
    """The framework as an annex table (XLSX) in the official column order; scores left blank."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Phụ lục"
    ws.append([framework.name])
    ws.append(list(XLSX_HEADER))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for node in framework.walk():
        text = node.title if not node.guidance else f"{node.title}\n{node.guidance}"
        ws.append(
            [node.code, text, node.max_points, None, None, node.evidence_required, node.agency]
        )
        row = ws.max_row
        ws.cell(row=row, column=3).number_format = "0.###"
        ws.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        if not node.is_leaf:
            ws.cell(row=row, column=1).font = Font(bold=True)
            ws.cell(row=row, column=2).font = Font(bold=True)
    ws.append(["", "Tổng cộng", score_sheet(framework, {}).max_total])
    for col_letter, width in zip("ABCDEFG", (10, 80, 12, 12, 12, 40, 28), strict=True):
        ws.column_dimensions[col_letter].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_framework(record: FrameworkRecord, fmt: ExportFormat) -> tuple[bytes, str, str]:
    """The framework as a file: (content, media type, file name)."""
    from frameworks.yaml_io import dump_framework_yaml

    framework = framework_of(record)
    stem = f"framework-{record.id}-v{record.version}"
    if fmt is ExportFormat.yaml:
        return dump_framework_yaml(framework).encode("utf-8"), "application/yaml", f"{stem}.yaml"
    return framework_xlsx(framework), XLSX_MEDIA_TYPE, f"{stem}.xlsx"


# --- views -----------------------------------------------------------------------------------


class FrameworkSummary(BaseModel):
    """A framework version in a list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "Bộ tiêu chí đánh giá CCHC xã",
                    "year": 2024,
                    "unit_kind": "commune",
                    "version": 1,
                    "status": "published",
                    "spec_hash": "3b1f0c…",
                    "max_total": "100.000",
                    "created_at": "2024-10-01T02:00:00Z",
                    "published_at": "2024-10-02T02:00:00Z",
                }
            ]
        }
    )

    id: int
    name: str
    year: int
    unit_kind: str
    version: int
    status: FrameworkStatus
    spec_hash: str
    max_total: Decimal
    created_at: datetime
    published_at: datetime | None


class FrameworkPublic(FrameworkSummary):
    """A framework version with its whole tree."""

    spec: dict[str, Any] = Field(description="Cây tiêu chí")


def summary(record: FrameworkRecord) -> FrameworkSummary:
    """The list view of a record."""
    assert record.id is not None
    return FrameworkSummary(
        id=record.id,
        name=record.name,
        year=record.year,
        unit_kind=record.unit_kind,
        version=record.version,
        status=FrameworkStatus(record.status),
        spec_hash=record.spec_hash,
        max_total=record.max_total,
        created_at=record.created_at,
        published_at=record.published_at,
    )


def public(record: FrameworkRecord) -> FrameworkPublic:
    """The full view of a record."""
    return FrameworkPublic(**summary(record).model_dump(), spec=record.spec)
