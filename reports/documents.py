"""DOCX documents from the docxtpl templates kept in ``reports/templates`` (editable in Word).

The context is plain text (autoescaped); a parent row of the table is bold and a criterion the
council changed is shaded and its appraised score bold, through ``RichText`` and ``cellbg``.
"""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate, RichText

from core.vn import vn_date
from reports.analysis import AnalysisRow
from reports.data import ReportRow, UnitReport, date_line, num, place_of
from reports.results import CycleResults

__all__ = ["CHANGED_FILL", "analysis_docx", "appraisal_docx", "results_docx", "self_docx"]

TEMPLATES = Path(__file__).parent / "templates"
CHANGED_FILL = "FFF2CC"  # light yellow: a criterion whose score the council changed
PLAIN_FILL = "FFFFFF"
FONT = "Times New Roman"


def _rt(text: str, *, bold: bool = False, size: int = 13) -> RichText:
    # RichText keeps line breaks of multi-line explanations (a plain variable would join them).
    return RichText(text, bold=bold, font=FONT, size=size * 2)


def _render(name: str, context: dict[str, Any]) -> bytes:
    template = DocxTemplate(str(TEMPLATES / name))
    template.render(context, autoescape=True)
    out = BytesIO()
    template.save(out)
    return out.getvalue()


def _mark_text(draft: bool, stamp: str) -> RichText:
    if draft:
        return RichText("DỰ THẢO", bold=True, font=FONT, size=28)
    return RichText(stamp, italic=True, font=FONT, size=18)


def _mark(report: UnitReport) -> RichText:
    return _mark_text(report.header.draft, report.header.stamp)


def _row(r: ReportRow) -> dict[str, Any]:
    parent = not r.leaf
    return {
        "code": _rt(r.code, bold=parent),
        "title": _rt(r.title, bold=parent),
        "max": r.max,
        "self_score": _rt(r.self_score, bold=parent),
        "reason": r.reason,
        "explanation": _rt(r.explanation),
        "evidence": r.evidence,
        "appraised": _rt(r.appraised, bold=parent or r.changed),
        "comment": r.comment,
        "agency": r.agency,
        "bg": CHANGED_FILL if r.changed else PLAIN_FILL,
    }


def _area_text(report: UnitReport) -> list[dict[str, Any]]:
    out = []
    for a in report.areas:
        if a.level == 0:
            tail = ", gồm:" if a.parent else "."
            text = f"{a.code}. {a.title.upper()}: {a.score}/{a.max} điểm{tail}"
            out.append({"text": _rt(text, bold=True, size=13)})
        else:
            out.append({"text": _rt(f"- {a.code}. {a.title}: {a.score}/{a.max} điểm.", size=13)})
    return out


def self_docx(report: UnitReport, *, framework_name: str) -> bytes:
    """The unit's self-assessment report (Nghị định 30/2020/NĐ-CP layout)."""
    context = {
        "mark": _mark(report),
        "header": report.header,
        "title": (
            "Kết quả tự đánh giá, chấm điểm mức độ hoàn thành nhiệm vụ "
            f"năm {report.year} của {report.unit_name}"
        ),
        "recipient": report.recipient,
        "basis": f"Căn cứ {framework_name};",
        "intro": (
            f"{report.unit_name} báo cáo kết quả tự đánh giá, chấm điểm mức độ hoàn thành "
            f"nhiệm vụ năm {report.year} như sau:"
        ),
        "areas": _area_text(report),
        "self_total": report.self_total,
        "max_total": report.max_total,
        "proposed_class": report.proposed_class or "—",
        "closing": (
            f"Trên đây là báo cáo kết quả tự đánh giá, chấm điểm năm {report.year} của "
            f"{report.unit_name}, kính đề nghị {report.recipient} xem xét, thẩm định./."
        ),
        "office": report.unit_name.upper().replace("UBND", "ỦY BAN NHÂN DÂN"),
        "unit_name": report.unit_name,
        "rows": [_row(r) for r in report.rows],
    }
    return _render("self.docx", context)


def appraisal_docx(report: UnitReport) -> bytes:
    """The council's appraisal result of one unit, changes shaded, with the explanation rounds."""
    header = report.header
    council = type(header)(
        parent_body=report.recipient.upper(),
        issuing_body="HỘI ĐỒNG THẨM ĐỊNH",
        number="Số:       /KQ-HĐTĐ",
        place_date=header.place_date,
        draft=header.draft,
        stamp=header.stamp,
    )
    context = {
        "mark": _mark(report),
        "header": council,
        "title": (
            f"Kết quả thẩm định mức độ hoàn thành nhiệm vụ năm {report.year} của {report.unit_name}"
        ),
        "recipient": report.unit_name,
        "intro": (
            f"Hội đồng thẩm định thông báo kết quả thẩm định kết quả tự đánh giá, chấm điểm "
            f"năm {report.year} của {report.unit_name} như sau:"
        ),
        "self_total": report.self_total,
        "appraised_total": report.appraised_total,
        "max_total": report.max_total,
        "changed_count": report.changed_count,
        "final_class": report.final_class or "—",
        "closing": "Chi tiết điểm thẩm định từng tiêu chí tại Phụ lục kèm theo./.",
        "rows": [_row(r) for r in report.rows],
        "rounds": report.rounds,
        "rounds_note": (
            f"{len({q.round_no for q in report.rounds})} vòng, {len(report.rounds)} tiêu chí"
            if report.rounds
            else "Không có yêu cầu giải trình"
        ),
    }
    return _render("appraisal.docx", context)


def results_docx(results: CycleResults) -> bytes:
    """The cycle's results as the annex of the announcing decision."""
    decided = vn_date(results.published_at) if results.published_at else "     /     /"
    areas = ", ".join(
        f"{code} (tối đa {num(m)})"
        for code, m in zip(results.area_codes, results.area_max, strict=True)
    )
    context = {
        "mark": _mark_text(not results.published, ""),
        "title": (f"KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI MỨC ĐỘ HOÀN THÀNH NHIỆM VỤ NĂM {results.year}"),
        "attached": (
            f"(Kèm theo Quyết định số       /QĐ-UBND ngày {decided} của {results.issuer})"
            if results.issuer
            else f"(Kèm theo Quyết định số       /QĐ ngày {decided})"
        ),
        "groups": [
            {
                "heading": f"Nhóm: {g.label}",
                "rows": [
                    {
                        "rank": line.rank,
                        "code": line.code,
                        "name": line.name,
                        "areas": line.areas_text,
                        "total": num(line.total),
                        "classification": line.classification or "—",
                        "note": line.note,
                    }
                    for line in g.lines
                ],
            }
            for g in results.groups
        ],
        "max_note": f"Điểm theo lĩnh vực lần lượt: {areas}. Tổng điểm tối đa: "
        f"{num(results.max_total)} điểm.",
    }
    return _render("results.docx", context)


def analysis_docx(report: UnitReport, rows: list[AnalysisRow]) -> bytes:
    """The unit's draft analysis of the criteria that lost points (always "DỰ THẢO")."""
    context = {
        "mark": _mark_text(True, ""),
        # Written after publication and dated when signed: the day is left blank.
        "header": replace(report.header, place_date=date_line(place_of(report.unit_name), None)),
        "title": (
            "Phân tích tồn tại, hạn chế, tiêu chí bị trừ điểm trong kết quả đánh giá, xếp loại "
            f"mức độ hoàn thành nhiệm vụ năm {report.year}"
        ),
        "recipient": report.recipient,
        "intro": (
            f"Căn cứ kết quả đánh giá, xếp loại mức độ hoàn thành nhiệm vụ năm {report.year} đã "
            f"được công bố, {report.unit_name} phân tích các tiêu chí bị trừ điểm như sau:"
        ),
        "appraised_total": report.appraised_total,
        "max_total": report.max_total,
        "final_class": report.final_class or "—",
        "rows": rows,
        "office": report.unit_name.upper().replace("UBND", "ỦY BAN NHÂN DÂN"),
    }
    return _render("analysis.docx", context)
