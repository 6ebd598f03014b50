"""A unit's sheet through Excel: download the person's criteria, upload the filled-in file.

The upload is read and checked whole first (``reports.sheet_xlsx.parse_sheet``); then each
changed criterion goes through the SAME edit gate as a form (``actions.sheet.save_draft`` or
``save_appraisal``: state, assignment or agency, the hard lock, one audit row per change). If
any row is invalid, or the gate refuses any criterion (the sheet is locked, …), the session is
rolled back and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from actions import sheet as edits
from actions.common import UnitRef
from actions.reports import MEDIA, ReportFile, ReportFormat
from core.db import utcnow
from core.errors import Invalid, NotFound, Refusal
from models.framework import DerivedRule
from models.inputs import CriterionInput
from models.tables import Cycle, Role, Unit
from reports.sheet_xlsx import CellError, parse_sheet, sheet_workbook
from scoring.rules import RuleResult
from services.accounts import Principal
from services.sheet import LoadedSheet, leaf_results, load_sheet

__all__ = ["SheetUploadInvalid", "UploadResult", "download", "mode_for", "upload"]


class SheetUploadInvalid(Invalid):
    """The uploaded sheet has invalid rows (or the gate refused one): nothing was written."""

    def __init__(self, errors: list[CellError]) -> None:
        lines = [e.message() for e in errors]
        super().__init__(
            "sheet_upload_invalid",
            f"Tệp có {len(errors)} lỗi, chưa lưu nội dung nào:\n" + "\n".join(lines),
            f"The file has {len(errors)} error(s); nothing was saved.",
            field="file",
        )
        self.errors = errors


@dataclass(frozen=True)
class UploadResult:
    """What an accepted upload changed."""

    changed: list[str]
    mode: str


def mode_for(principal: Principal, unit_id: int, requested: str | None) -> str:
    """``self`` (the unit's people) or ``appraisal`` (the council), unless asked for."""
    if requested in ("self", "appraisal"):
        return requested
    if requested:
        raise Invalid(
            "bad_mode",
            f"Giá trị “{requested}” không hợp lệ; chọn self hoặc appraisal.",
            f"Unknown mode {requested!r}.",
            field="mode",
        )
    unit_people = principal.has_for_unit(Role.unit_office, unit_id) or principal.has_for_unit(
        Role.staff, unit_id
    )
    return "appraisal" if principal.has(Role.council) and not unit_people else "self"


def _sheet(session: Session, unit: UnitRef) -> LoadedSheet:
    cycle = session.get(Cycle, unit.cycle_id)
    row = session.get(Unit, unit.unit_id)
    if cycle is None or row is None:
        raise NotFound("not_found", "Không tìm thấy đơn vị trong kỳ đánh giá.", "No such unit.")
    return load_sheet(session, cycle=cycle, unit=row)


def _scope(sheet: LoadedSheet, principal: Principal, mode: str) -> tuple[list[str], frozenset[str]]:
    """The rows the person gets and the criteria they may change (the gate decides in the end)."""
    leaves = sheet.framework.leaves()
    unit_id = sheet.unit.id or 0
    if mode == "appraisal":
        every = principal.has(Role.coordinator)
        mine = {n.code for n in leaves if every or n.agency in principal.agencies}
        return [n.code for n in leaves], frozenset(mine)
    self_scored = [n for n in leaves if not isinstance(n.rule, DerivedRule)]
    if principal.has_for_unit(Role.unit_office, unit_id):
        codes = [n.code for n in self_scored]
        return codes, frozenset(codes)
    assigned = {a.criterion_code for a, u in sheet.assignments if u.id == principal.user_id}
    codes = [n.code for n in self_scored if n.code in assigned]
    if principal.is_global or principal.has(Role.council):  # readers: the whole sheet, no edits
        return [n.code for n in self_scored], frozenset()
    return codes, frozenset(codes)


def download(
    session: Session, *, principal: Principal, unit: UnitRef, mode: str | None = None
) -> ReportFile:
    """The person's criteria (the office: the whole sheet) with unlocked cells where they edit."""
    sheet = _sheet(session, unit)
    which = mode_for(principal, unit.unit_id, mode)
    rows, editable = _scope(sheet, principal, which)
    results = leaf_results(sheet.framework, sheet.entries.values(), appraised=which == "appraisal")
    scores: dict[str, tuple[Decimal | None, str]] = {}
    for code, result in results.items():
        if isinstance(result, RuleResult):
            scores[code] = (result.score, result.explanation)
        else:
            scores[code] = (result, "")
    content = sheet_workbook(sheet, mode=which, rows=rows, editable=editable, scores=scores)
    name = f"phieu-{'tu-cham' if which == 'self' else 'tham-dinh'}-{unit.unit_code}.xlsx"
    return ReportFile(filename=name, media_type=MEDIA[ReportFormat.xlsx], content=content)


def upload(
    session: Session,
    *,
    principal: Principal,
    unit: UnitRef,
    data: bytes,
    mode: str | None = None,
    now: datetime | None = None,
) -> UploadResult:
    """Applies a filled-in sheet through the edit gate, all rows or none."""
    sheet = _sheet(session, unit)
    which = mode_for(principal, unit.unit_id, mode)
    _rows, editable = _scope(sheet, principal, which)
    parsed = parse_sheet(data, sheet, mode=which, editable=editable)
    if parsed.errors:
        raise SheetUploadInvalid(parsed.errors)
    at = now or utcnow()
    title = "Tự chấm điểm" if which == "self" else "Thẩm định"
    for change in parsed.changes:
        try:
            if which == "self":
                edits.save_draft(
                    session,
                    principal=principal,
                    unit=unit,
                    code=change.code,
                    inputs=change.inputs,
                    explanation=change.text,
                    now=at,
                )
            else:
                entry = sheet.entries.get(change.code)
                stored = entry.appraised_inputs if entry else None
                inputs = change.inputs
                if inputs is None and stored:  # only the comment changed: keep the inputs
                    inputs = CriterionInput.model_validate(stored)
                comment = change.text if change.text is not None else ""
                if change.text is None and entry is not None:
                    comment = entry.appraisal_comment
                edits.save_appraisal(
                    session,
                    principal=principal,
                    unit=unit,
                    code=change.code,
                    inputs=inputs,
                    comment=comment,
                    now=at,
                )
        except Refusal as exc:  # the edit gate's: locked, not assigned, wrong state, …
            session.rollback()  # what earlier rows wrote in this transaction goes too
            error = CellError(title, change.row, "A", "Mã", exc.message_vi)
            raise SheetUploadInvalid([error]) from exc
    return UploadResult(changed=[c.code for c in parsed.changes], mode=which)
