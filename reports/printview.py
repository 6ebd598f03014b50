"""Print-friendly HTML of each report (A4 CSS), from the same data as the DOCX."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reports.analysis import AnalysisRow
from reports.data import UnitReport, num
from reports.results import CycleResults

__all__ = ["analysis_html", "results_html", "unit_html"]

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _num(value: Decimal | None) -> str:
    return num(value) or "—"


_env.filters["num"] = _num


def unit_html(report: UnitReport, *, kind: str, back_url: str) -> str:
    """The unit's self-assessment (``self``) or appraisal (``appraisal``) report as a page."""
    self_kind = kind == "self"
    title = (
        f"Kết quả tự đánh giá, chấm điểm mức độ hoàn thành nhiệm vụ năm {report.year} "
        f"của {report.unit_name}"
        if self_kind
        else f"Kết quả thẩm định mức độ hoàn thành nhiệm vụ năm {report.year} "
        f"của {report.unit_name}"
    )
    return _env.get_template("print_unit.html").render(
        r=report,
        kind="self" if self_kind else "appraisal",
        doc_title=title,
        orientation="portrait",
        back_url=back_url,
        heading="BÁO CÁO" if self_kind else "KẾT QUẢ THẨM ĐỊNH",
        title=title,
        issuer_parent="" if self_kind else report.recipient.upper(),
        issuer=report.header.issuing_body if self_kind else "HỘI ĐỒNG THẨM ĐỊNH",
        number=report.header.number if self_kind else "Số:       /KQ-HĐTĐ",
        recipient=report.recipient if self_kind else report.unit_name,
        signer=(
            "TM. " + report.unit_name.upper().replace("UBND", "ỦY BAN NHÂN DÂN")
            if self_kind
            else "TM. HỘI ĐỒNG THẨM ĐỊNH"
        ),
    )


def results_html(results: CycleResults, *, back_url: str) -> str:
    """The cycle's results per group as a page (A4 landscape)."""
    return _env.get_template("print_results.html").render(
        res=results,
        doc_title=f"Kết quả đánh giá, xếp loại năm {results.year}",
        orientation="landscape",
        back_url=back_url,
    )


def analysis_html(report: UnitReport, rows: list[AnalysisRow], *, back_url: str) -> str:
    """The draft analysis of the criteria that lost points as a page."""
    title = (
        "Phân tích tồn tại, hạn chế, tiêu chí bị trừ điểm trong kết quả đánh giá, xếp loại "
        f"mức độ hoàn thành nhiệm vụ năm {report.year}"
    )
    return _env.get_template("print_analysis.html").render(
        r=report, rows=rows, doc_title=title, title=title, orientation="portrait",
        back_url=back_url,
    )  # fmt: skip
