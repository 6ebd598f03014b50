"""XLSX of a cycle's results: one sheet per ranking group, one row per unit.

Scores are written as numbers (Decimal, shown with three decimals at most by the cell format;
Excel and LibreOffice show the decimal comma of a Vietnamese locale). Text from people (unit
names, notes) is written as a string cell, kept exactly as typed: a cell typed as a string is
never evaluated, so a leading = + - @ (formula injection) stays text.
"""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.data import UnitReport
from reports.results import CycleResults

__all__ = [
    "HEAD_FILL",
    "results_xlsx",
    "sheet_title",
    "unit_report_xlsx",
]

HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(name="Times New Roman", bold=True, size=12)
PLAIN = Font(name="Times New Roman", size=12)
SCORE_FORMAT = "0.###"


def sheet_title(label: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, unique."""
    cleaned = "".join("-" if c in "[]:*?/\\" else c for c in label)[:31] or "Nhóm"
    title, n = cleaned, 2
    while title in taken:
        suffix = f" ({n})"
        title, n = cleaned[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


def _text_cell(ws: Worksheet, row: int, col: int, value: str) -> None:
    cell = ws.cell(row=row, column=col, value=value)
    cell.data_type = "s"  # a string even if it starts with = + - @: never a formula
    cell.font = PLAIN
    cell.alignment = Alignment(wrap_text=True, vertical="top")


def results_xlsx(results: CycleResults) -> bytes:
    """The workbook: per group rank, code, unit, every area's score, total, class, quota note."""
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    taken: set[str] = set()
    heads = ["Xếp hạng", "Mã đơn vị", "Đơn vị"]
    heads += [
        f"{code}. {title}"
        for code, title in zip(results.area_codes, results.area_titles, strict=True)
    ]
    heads += ["Tổng điểm", "Xếp loại", "Ghi chú (tỷ lệ, tiêu chí quyết định)"]
    for group in results.groups or []:
        ws = wb.create_sheet(sheet_title(group.label, taken))
        title = f"KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI NĂM {results.year} — NHÓM: {group.label.upper()}"
        _text_cell(ws, 1, 1, title)
        ws.cell(row=1, column=1).font = BOLD
        for col, head in enumerate(heads, start=1):
            _text_cell(ws, 3, col, head)
            ws.cell(row=3, column=col).font = BOLD
            ws.cell(row=3, column=col).fill = HEAD_FILL
        _text_cell(ws, 4, 3, "Điểm tối đa")
        for i, maximum in enumerate(results.area_max):
            ws.cell(row=4, column=4 + i, value=maximum).number_format = SCORE_FORMAT
        total_col = 4 + len(results.area_codes)
        ws.cell(row=4, column=total_col, value=results.max_total).number_format = SCORE_FORMAT
        for r, line in enumerate(group.lines, start=5):
            ws.cell(row=r, column=1, value=line.rank)
            _text_cell(ws, r, 2, line.code)
            _text_cell(ws, r, 3, line.name)
            for i, score in enumerate(line.area_scores):
                ws.cell(row=r, column=4 + i, value=score).number_format = SCORE_FORMAT
            ws.cell(row=r, column=total_col, value=line.total).number_format = SCORE_FORMAT
            _text_cell(ws, r, total_col + 1, line.classification)
            _text_cell(ws, r, total_col + 2, line.note)
        widths = [9, 16, 30] + [11] * len(results.area_codes) + [11, 26, 40]
        for col, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(col)].width = width
        ws.freeze_panes = "D5"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
    if not wb.sheetnames:
        _text_cell(wb.create_sheet("Kết quả"), 1, 1, "Chưa có đơn vị nào.")
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


CHANGED = PatternFill("solid", fgColor="FFF2CC")


def unit_report_xlsx(report: UnitReport, *, kind: str) -> bytes:
    """A unit's report table as a workbook (self: reasons and evidence; appraisal: changes)."""
    wb = Workbook()
    ws = wb.worksheets[0]
    ws.title = "Tự chấm điểm" if kind == "self" else "Thẩm định"
    mark = "DỰ THẢO" if report.header.draft else report.header.stamp
    _text_cell(ws, 1, 1, f"{report.unit_name} — năm {report.year}")
    ws.cell(row=1, column=1).font = BOLD
    _text_cell(ws, 2, 1, mark)
    if kind == "self":
        heads = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm", "Cách tính điểm", "Giải trình"]
        heads.append("Tài liệu kiểm chứng")
    else:
        heads = ["Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm", "Điểm thẩm định"]
        heads += ["Ý kiến thẩm định", "Cơ quan thẩm định"]
    for col, head in enumerate(heads, start=1):
        _text_cell(ws, 4, col, head)
        ws.cell(row=4, column=col).font = BOLD
        ws.cell(row=4, column=col).fill = HEAD_FILL
    for r, row in enumerate(report.rows, start=5):
        values = [row.code, row.title, row.max, row.self_score]
        if kind == "self":
            values += [row.reason, row.explanation, row.evidence]
        else:
            values += [row.appraised, row.comment, row.agency]
        for col, value in enumerate(values, start=1):
            if col in (3, 4, 5) and (kind != "self" or col != 5) and value:
                cell = ws.cell(row=r, column=col, value=Decimal(value.replace(",", ".")))
                cell.number_format = SCORE_FORMAT
            else:
                _text_cell(ws, r, col, value)
            if not row.leaf:
                ws.cell(row=r, column=col).font = BOLD
            if row.changed:
                ws.cell(row=r, column=col).fill = CHANGED
    for col, width in enumerate([10, 50, 10, 10, 40, 40, 40], start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "C5"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
