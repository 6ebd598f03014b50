"""The documents of a cycle opened back with python-docx and openpyxl: the Nghị định 30/2020/NĐ-CP
header blocks, the summary by area, every row, totals with decimal commas, the council's changes
shaded, the results per group; each DOCX converted to PDF by LibreOffice and its first page
rendered to PNG under test-artefacts/reports/ (git-ignored) to look at."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from docx import Document
from docx.shared import Pt
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.db import session_scope, utcnow
from core.errors import Unavailable
from models.tables import Cycle, Snapshot, Unit
from reports.data import UnitReport, unit_report
from reports.documents import CHANGED_FILL, appraisal_docx, results_docx, self_docx
from reports.pdf import docx_to_pdf, office_to_pdf
from reports.printview import results_html, unit_html
from reports.results import CycleResults, cycle_results
from reports.workbook import results_xlsx
from services.sheet import framework_for
from tests.histories.scenario import dinh_hoa
from tests.reports_support import ReportCycle, render_first_page, seed_report_cycle


@pytest.fixture(scope="module")
def rc(engine: Engine) -> ReportCycle:
    return seed_report_cycle(engine, "2024-reports")


def _report(engine: Engine, rc: ReportCycle, unit_code: str) -> UnitReport:
    with session_scope(engine) as s:
        cycle = s.get(Cycle, rc.cycle_id)
        unit = s.exec(select(Unit).where(Unit.code == unit_code)).one()
        assert cycle is not None
        return unit_report(s, cycle=cycle, unit=unit, now=utcnow())


def _results(engine: Engine, rc: ReportCycle) -> CycleResults:
    with session_scope(engine) as s:
        cycle = s.get(Cycle, rc.cycle_id)
        assert cycle is not None
        return cycle_results(s, cycle)


def _texts(doc) -> list[str]:
    """Every paragraph of the body, its tables (nested cells included) and headers."""
    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                out.extend(p.text for p in cell.paragraphs)
    for section in doc.sections:
        out.extend(p.text for p in section.header.paragraphs)
    return out


def _grid_rows(doc, first_head: str) -> list[list[str]]:
    for table in doc.tables:
        if table.rows[0].cells[0].text == first_head and len(table.columns) > 2:
            return [[c.text for c in row.cells] for row in table.rows[1:]]
    raise AssertionError(f"no table headed {first_head!r}")


def test_self_report_has_the_decree_layout_every_row_and_the_snapshot(engine, rc) -> None:
    report = _report(engine, rc, "binh-thanh")
    blob = self_docx(report, framework_name=dinh_hoa().name)
    doc = Document(BytesIO(blob))
    texts = _texts(doc)
    for line in (
        "UBND XÃ BÌNH THÀNH",
        "Số:       /BC-UBND",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Bình Thành, ngày 23 tháng 11 năm 2024",
        "BÁO CÁO",
        "Kính gửi: UBND huyện Định Hóa.",
        "I. NĂNG LỰC LÃNH ĐẠO, QUẢN LÝ: 20/20 điểm, gồm:",
        "- 1.1. Đổi mới sáng tạo trong thực hiện chức trách, nhiệm vụ: 4/4 điểm.",
        "- 2.4. Tổ chức đối thoại người dân, doanh nghiệp: 1,5/1,5 điểm.",
        "Tổng điểm tự chấm: 95/100 điểm.",
        "Đề xuất xếp loại: Hoàn thành xuất sắc nhiệm vụ.",
        "Nơi nhận:",
        "- Như trên;",
        "TM. ỦY BAN NHÂN DÂN XÃ BÌNH THÀNH",
        "CHỦ TỊCH",
    ):
        assert line in texts, line
    # An area scored as a whole (IX has no criteria under it) ends its line, no "gồm:".
    assert any(t.startswith("IX. XÂY DỰNG KẾ HOẠCH") and t.endswith(": 1/1 điểm.") for t in texts)
    with session_scope(engine) as s:
        snap = s.exec(
            select(Snapshot).where(
                Snapshot.cycle_id == rc.cycle_id,
                Snapshot.unit_id == rc.unit_ids["binh-thanh"],
                Snapshot.kind == "submission",
            )
        ).one()
    header = doc.sections[0].header.paragraphs[0].text
    assert snap.content_hash in header and "09:00 ngày 23/11/2024" in header
    assert "DỰ THẢO" not in "\n".join(texts)
    rows = _grid_rows(doc, "Mã")
    assert [r[0] for r in rows] == [n.code for n in dinh_hoa().walk()]  # every node, in order
    by_code = {r[0]: r for r in rows}
    assert by_code["2.4"][2:4] == ["1,5", "1,5"]  # decimal commas
    assert "12/KH-UBND ngày 15/01/2024 của UBND xã Bình Thành" in by_code["1.2"][6]
    assert by_code["1.1"][5].startswith("Năm 2024, đơn vị đã thực hiện đầy đủ")
    assert by_code["1.1"][4]  # the rule's one-sentence reason
    assert not any("." in r[3] for r in rows if r[3])  # no decimal point anywhere
    normal = doc.styles["Normal"].font
    assert normal.name == "Times New Roman" and normal.size == Pt(13)
    first, last = doc.sections[0], doc.sections[-1]
    assert first.page_width and first.page_height and first.left_margin
    assert (round(first.page_width.cm, 1), round(first.page_height.cm, 1)) == (21.0, 29.7)
    assert last.page_width and last.page_height
    assert last.page_width > last.page_height  # the table in landscape
    assert round(first.left_margin.cm, 1) == 3.0
    render_first_page(blob, "self-binh-thanh")


def test_unfinished_sheet_is_a_draft(engine, rc) -> None:
    report = _report(engine, rc, "dinh-bien")
    blob = self_docx(report, framework_name=dinh_hoa().name)
    doc = Document(BytesIO(blob))
    assert doc.sections[0].header.paragraphs[0].text == "DỰ THẢO"
    render_first_page(blob, "self-dinh-bien-draft")
    assert report.header.stamp == ""
    rows = {r[0]: r for r in _grid_rows(doc, "Mã")}
    assert rows["1.1"][3] != "" and rows["1.2"][3] == ""  # drafted / not yet scored
    assert rows["8.3.1"][4].startswith("Hội đồng thẩm định nhập; nguồn: Chỉ số CCHC")


def test_appraisal_result_highlights_every_change_with_comment_and_rounds(engine, rc) -> None:
    report = _report(engine, rc, "binh-thanh")
    blob = appraisal_docx(report)
    doc = Document(BytesIO(blob))
    texts = _texts(doc)
    assert "HỘI ĐỒNG THẨM ĐỊNH" in texts and "KẾT QUẢ THẨM ĐỊNH" in texts
    assert f"- Tổng điểm thẩm định: {report.appraised_total}/100 điểm." in texts
    assert "," in report.appraised_total  # 98,4
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mã")
    shaded: dict[str, bool] = {}
    for row in table.rows[1:]:
        xml = row.cells[0]._tc.xml
        shaded[row.cells[0].text] = f'w:fill="{CHANGED_FILL}"' in xml
    changed = {r.code for r in report.rows if r.changed}
    assert "1.1" in changed and report.changed_count == len(changed)
    assert {code for code, on in shaded.items() if on} == changed
    row = next(r for r in table.rows if r.cells[0].text == "1.1")
    cells = [c.text for c in row.cells]
    assert cells[3] == "4" and cells[4] == "2,4"
    assert cells[5] == "Phiếu đánh giá chỉ đạt mức trung bình." and cells[6] == "Phòng Nội vụ"
    rounds = _grid_rows(doc, "Vòng")
    assert rounds == [
        [
            "1",
            "1.2",
            "Bổ sung Kế hoạch CCHC năm 2024.",
            "Đã bổ sung Kế hoạch số 12/KH-UBND ngày 15/01/2024.",
            "Giữ nguyên điểm tự chấm",
        ]
    ]
    render_first_page(blob, "appraisal-binh-thanh")


def test_cycle_results_workbook_one_sheet_per_group_with_ranks_and_areas(engine, rc) -> None:
    results = _results(engine, rc)
    wb = load_workbook(BytesIO(results_xlsx(results)))
    assert wb.sheetnames == ["Xã, phường, thị trấn"]
    ws = wb["Xã, phường, thị trấn"]
    heads = [c.value for c in ws[3]]
    areas = [n for n in dinh_hoa().walk() if n.kind == "area"]
    assert heads[:3] == ["Xếp hạng", "Mã đơn vị", "Đơn vị"]
    assert heads[3 : 3 + len(areas)] == [f"{a.code}. {a.title}" for a in areas]
    assert heads[-3:-1] == ["Tổng điểm", "Xếp loại"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5)]
    assert [r[:3] for r in rows] == [
        [1, "binh-thanh", "UBND xã Bình Thành"],
        [2, "phuong-tien", "UBND xã Phượng Tiến"],
        [3, "dinh-bien", "UBND xã Định Biên"],
    ]
    total_col = 3 + len(areas)
    assert str(rows[0][total_col]) == "98.4" and rows[0][total_col + 1] == (
        "Hoàn thành xuất sắc nhiệm vụ"
    )
    assert sum(rows[0][3:total_col]) == rows[0][total_col]  # the areas add up to the total
    assert rows[2][3] is None and rows[2][total_col] == 0  # nothing submitted
    assert ws.cell(row=4, column=total_col + 1).value == 100
    assert not any(isinstance(v, str) and v.startswith("=") for r in rows for v in r)
    # LibreOffice opens the workbook as it is (no repair): it prints it to a PDF.
    assert office_to_pdf(results_xlsx(results), suffix=".xlsx").startswith(b"%PDF")


def test_cycle_results_annex_docx_and_print_pages(engine, rc) -> None:
    results = _results(engine, rc)
    blob = results_docx(results)
    doc = Document(BytesIO(blob))
    texts = _texts(doc)
    assert "KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI MỨC ĐỘ HOÀN THÀNH NHIỆM VỤ NĂM 2024" in texts
    assert (
        "(Kèm theo Quyết định số       /QĐ-UBND ngày 20/12/2024 của UBND huyện Định Hóa)" in texts
    )
    assert "Nhóm: Xã, phường, thị trấn" in texts
    rows = _grid_rows(doc, "Xếp hạng")
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        ("1", "binh-thanh", "98,4", "Hoàn thành xuất sắc nhiệm vụ"),
        ("2", "phuong-tien", "8", "Không hoàn thành nhiệm vụ"),
        ("3", "dinh-bien", "0", "Không hoàn thành nhiệm vụ"),
    ]
    assert rows[0][3].startswith("18,4; 8,5; 21;")  # appraised: 1.1 lost 1,6
    render_first_page(blob, "results-annex")
    page = results_html(results, back_url="/cycles/x/results")
    assert '<td class="num">98,4</td>' in page and "@page { size: A4 landscape" in page
    report = _report(engine, rc, "binh-thanh")
    page = unit_html(report, kind="appraisal", back_url="/")
    assert 'class=" changed"' in page and "Phiếu đánh giá chỉ đạt mức trung bình." in page
    page = unit_html(_report(engine, rc, "dinh-bien"), kind="self", back_url="/")
    assert "DỰ THẢO" in page and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in page


def test_pdf_without_libreoffice_is_a_clear_503(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no soffice on this "server"
    monkeypatch.delenv("APPRAISAL_SOFFICE", raising=False)
    with pytest.raises(Unavailable) as exc:
        docx_to_pdf(b"PK")
    assert exc.value.status == 503 and "LibreOffice" in exc.value.message_vi


def test_framework_name_reaches_the_basis(engine, rc) -> None:
    with session_scope(engine) as s:
        cycle = s.get(Cycle, rc.cycle_id)
        assert cycle is not None
        name = framework_for(s, cycle).name
    doc = Document(BytesIO(self_docx(_report(engine, rc, "phuong-tien"), framework_name=name)))
    assert f"Căn cứ {name};" in _texts(doc)


def test_analysis_of_lost_points_renders(engine, rc) -> None:
    from actions.common import UnitRef
    from actions.reports import unit_file

    ref = UnitRef(cycle_id=rc.cycle_id, unit_id=rc.unit_ids["binh-thanh"], unit_code="binh-thanh")
    with session_scope(engine) as s:
        blob = unit_file(s, unit=ref, kind="analysis", fmt="docx").content
        page = unit_file(s, unit=ref, kind="analysis", fmt="html").content.decode()
    doc = Document(BytesIO(blob))
    rows = _grid_rows(doc, "Mã")
    assert rows[0][:6] == ["1.1", "Đổi mới sáng tạo trong thực hiện chức trách, nhiệm vụ", "4", "4",
                           "2,4", "1,6"]  # fmt: skip
    assert rows[0][6] == "Phiếu đánh giá chỉ đạt mức trung bình."
    assert rows[0][7] == "Chưa có kỳ đánh giá trước"
    assert "Không có tiêu chí nào bị trừ điểm" not in page and "1,6" in page
    render_first_page(blob, "analysis-binh-thanh")
