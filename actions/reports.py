"""Documents a person downloads: a unit's reports and a cycle's results, in a chosen format.

The caller's access rule has already let them see the unit (or the cycle); here only what the
document itself decides: an appraisal result is a draft ("DỰ THẢO") until the council has
finished, the analysis of lost points always is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, select

from actions.common import UnitRef
from core.db import utcnow
from core.errors import Invalid, NotFound
from models.states import APPRAISAL_DONE, UNDER_APPRAISAL, UnitState
from models.tables import Cycle, CycleUnit, Role, Unit
from reports.analysis import analysis_rows
from reports.data import UnitReport, unit_report
from reports.documents import analysis_docx, appraisal_docx, results_docx, self_docx
from reports.pdf import docx_to_pdf
from reports.printview import analysis_html, results_html, unit_html
from reports.results import cycle_results, only_units
from reports.workbook import results_xlsx, unit_report_xlsx
from services.accounts import Principal
from services.sheet import framework_for

__all__ = ["MEDIA", "ReportFile", "ReportFormat", "UnitReportKind", "cycle_report", "unit_file"]


class UnitReportKind(StrEnum):
    """The documents of one unit."""

    self = "self"  # báo cáo kết quả tự đánh giá, chấm điểm
    appraisal = "appraisal"  # kết quả thẩm định
    analysis = "analysis"  # dự thảo báo cáo phân tích tiêu chí bị trừ điểm (sau công bố)


class ReportFormat(StrEnum):
    """The formats a document is downloaded in (``html``: the print page)."""

    docx = "docx"
    xlsx = "xlsx"
    pdf = "pdf"
    html = "html"


MEDIA: dict[ReportFormat, str] = {
    ReportFormat.docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ReportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.pdf: "application/pdf",
    ReportFormat.html: "text/html; charset=utf-8",
}

_NAMES = {
    UnitReportKind.self: "bao-cao-tu-danh-gia",
    UnitReportKind.appraisal: "ket-qua-tham-dinh",
    UnitReportKind.analysis: "phan-tich-tieu-chi-bi-tru-diem",
}


@dataclass(frozen=True)
class ReportFile:
    """A generated document: its file name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


def _parse(value: str, enum: type[StrEnum], field: str) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise Invalid(
            "bad_report_option",
            f"Giá trị “{value}” không hợp lệ; chọn một trong: {choices}.",
            f"Unknown {field} {value!r}; one of: {choices}.",
            field=field,
        ) from None


def _load(session: Session, unit: UnitRef) -> tuple[Cycle, Unit, CycleUnit]:
    cycle = session.get(Cycle, unit.cycle_id)
    row = session.get(Unit, unit.unit_id)
    cu = session.exec(
        select(CycleUnit).where(
            CycleUnit.cycle_id == unit.cycle_id, CycleUnit.unit_id == unit.unit_id
        )
    ).first()
    if cycle is None or row is None or cu is None:
        raise NotFound("not_found", "Không tìm thấy đơn vị trong kỳ đánh giá.", "No such unit.")
    return cycle, row, cu


def _docx(kind: UnitReportKind, report: UnitReport, framework_name: str) -> bytes:
    if kind is UnitReportKind.self:
        return self_docx(report, framework_name=framework_name)
    return appraisal_docx(report)


def _analysis(
    session: Session,
    form: ReportFormat,
    cycle: Cycle,
    unit: Unit,
    cu: CycleUnit,
    report: UnitReport,
    back_url: str,
) -> bytes:
    rows = analysis_rows(session, cycle=cycle, unit=unit, cu=cu, report=report)
    if form is ReportFormat.html:
        return analysis_html(report, rows, back_url=back_url).encode("utf-8")
    if form is ReportFormat.xlsx:
        raise Invalid(
            "bad_report_option",
            "Báo cáo phân tích có bản DOCX, PDF hoặc bản in, không có bản XLSX.",
            "The analysis is available as docx, pdf or html.",
            field="format",
        )
    content = analysis_docx(report, rows)
    return docx_to_pdf(content) if form is ReportFormat.pdf else content


def unit_file(
    session: Session,
    *,
    unit: UnitRef,
    kind: str,
    fmt: str,
    back_url: str = "/",
    now: datetime | None = None,
) -> ReportFile:
    """A unit's self-assessment report or appraisal result as DOCX, XLSX, PDF or a print page."""
    which = UnitReportKind(_parse(kind, UnitReportKind, "kind"))
    form = ReportFormat(_parse(fmt, ReportFormat, "format"))
    cycle, row, cu = _load(session, unit)
    report = unit_report(session, cycle=cycle, unit=row, cu=cu, now=now or utcnow())
    if which is not UnitReportKind.self and UnitState(cu.state) not in APPRAISAL_DONE:
        # The council has not finished: its result is a draft (before the appraisal starts it
        # holds no appraised score at all, so nothing is shown before its time).
        report = replace(report, header=replace(report.header, draft=True))
    name = f"{_NAMES[which]}-{row.code}-{cycle.id}.{form.value}"
    if which is UnitReportKind.analysis:
        content = _analysis(session, form, cycle, row, cu, report, back_url)
    elif form is ReportFormat.xlsx:
        content = unit_report_xlsx(report, kind=which.value)
    elif form is ReportFormat.html:
        content = unit_html(report, kind=which.value, back_url=back_url).encode("utf-8")
    else:
        content = _docx(which, report, framework_for(session, cycle).name)
        if form is ReportFormat.pdf:
            content = docx_to_pdf(content)
    return ReportFile(filename=name, media_type=MEDIA[form], content=content)


# The council sees a unit once its sheet has been submitted (the sheet's own access rule).
_SUBMITTED = UNDER_APPRAISAL | APPRAISAL_DONE


def _visible(session: Session, principal: Principal, cycle_id: str) -> frozenset[int]:
    """The units whose lines of unpublished results the caller may see."""
    mine = set(principal.units())
    if principal.has(Role.council):
        rows = session.exec(select(CycleUnit).where(CycleUnit.cycle_id == cycle_id)).all()
        mine |= {cu.unit_id for cu in rows if UnitState(cu.state) in _SUBMITTED}
    return frozenset(mine)


def cycle_report(
    session: Session, *, principal: Principal, cycle_id: str, fmt: str, back_url: str = "/"
) -> ReportFile:
    """The cycle's results per group as XLSX, the DOCX annex (or its PDF), or a print page.

    Before publication a unit's people see only their own units' lines and the council the
    submitted units' (as on the results page).
    """
    form = ReportFormat(_parse(fmt, ReportFormat, "format"))
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("not_found", "Không tìm thấy kỳ đánh giá.", "No such cycle.")
    results = cycle_results(session, cycle)
    if not results.published and not principal.is_global:
        results = only_units(results, _visible(session, principal, cycle.id))
    name = f"ket-qua-xep-loai-{cycle.id}.{form.value}"
    if form is ReportFormat.xlsx:
        content = results_xlsx(results)
    elif form is ReportFormat.html:
        content = results_html(results, back_url=back_url).encode("utf-8")
    else:
        content = results_docx(results)
        if form is ReportFormat.pdf:
            content = docx_to_pdf(content)
    return ReportFile(filename=name, media_type=MEDIA[form], content=content)
