"""Builds the docxtpl templates of the reports once (``python -m reports.templates.build``).

The generated .docx files are committed and may then be edited in Word or LibreOffice: only
the ``{{ … }}`` / ``{%p … %}`` / ``{%tr … %}`` tags must stay. Layout of Nghị định
30/2020/NĐ-CP, Phụ lục I: A4, margins top/bottom 20 mm, left 30 mm, right 20 mm; Times New
Roman; the national motto block 13/14 pt bold; body text 13 pt; "Nơi nhận" 12/11 pt.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent
FONT = "Times New Roman"
CENTER = WD_ALIGN_PARAGRAPH.CENTER
RIGHT = WD_ALIGN_PARAGRAPH.RIGHT
JUSTIFY = WD_ALIGN_PARAGRAPH.JUSTIFY
TABLE_PT = 13  # tables too: the decree's 13–14 pt for the text of a document and its annexes


def _new() -> DocxDocument:
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(13)
    # The East Asian and complex-script slots too, so Vietnamese never falls back to another font.
    rfonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), FONT)
    normal.paragraph_format.space_after = Pt(3)
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.left_margin, section.right_margin = Cm(3.0), Cm(2.0)
    return doc


def _para(
    where: DocxDocument | _Cell,
    text: str = "",
    *,
    bold: bool = False,
    italic: bool = False,
    size: float = 13,
    align: WD_ALIGN_PARAGRAPH | None = None,
) -> Paragraph:
    p = where.add_paragraph()
    if text:
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        run.font.size = Pt(size)
    if align is not None:
        p.alignment = align
    p.paragraph_format.space_after = Pt(2)
    return p


def _cell(cell: _Cell, text: str, **kw: object) -> None:
    cell.paragraphs[0].text = ""
    first = cell.paragraphs[0]
    run = first.add_run(text)
    run.bold = bool(kw.get("bold", False))
    run.italic = bool(kw.get("italic", False))
    run.font.size = Pt(float(kw.get("size", 13)))  # type: ignore[arg-type]
    if kw.get("align") is not None:
        first.alignment = kw["align"]


def _no_borders(table: Table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = tbl_pr.makeelement(qn("w:tblBorders"), {})
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = borders.makeelement(qn(f"w:{edge}"), {qn("w:val"): "nil"})
        borders.append(el)
    tbl_pr.append(borders)


def _widths(table: Table, widths: list[float]) -> None:
    """Fixed column widths (the grid and every cell: LibreOffice reads the grid, Word the cells)."""
    table.autofit = False
    for i, width in enumerate(widths):
        table.columns[i].width = Cm(width)
        for row in table.rows:
            row.cells[i].width = Cm(width)


def _page_mark(doc: DocxDocument) -> None:
    """The page header: "DỰ THẢO" for an unfinished sheet, else the submission's hash and time."""
    header = doc.sections[0].header
    p = header.paragraphs[0]
    p.add_run("{{r mark }}")
    p.alignment = RIGHT


def _motto_block(doc: DocxDocument, *, parent: str, body: str, number: str) -> None:
    """Cơ quan ban hành, số và ký hiệu | Quốc hiệu, tiêu ngữ, địa danh và thời gian."""
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, [6.0, 10.0])
    left, right = table.rows[0].cells
    _cell(left, parent, size=13, align=CENTER)
    _para(left, body, bold=True, size=13, align=CENTER)
    _para(left, number, size=13, align=CENTER)
    _cell(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=13, align=CENTER)
    _para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=14, align=CENTER)
    _para(right, "{{ header.place_date }}", italic=True, size=14, align=CENTER)


def _signature(doc: DocxDocument, *, office: str, title: str) -> None:
    table = doc.add_table(rows=1, cols=2)
    _no_borders(table)
    _widths(table, [7.5, 8.5])
    left, right = table.rows[0].cells
    _cell(left, "Nơi nhận:", bold=True, italic=True, size=12)
    _para(left, "- Như trên;", size=11)
    _para(left, "- Lưu: VT, VP.", size=11)
    _cell(right, office, bold=True, size=13, align=CENTER)
    _para(right, title, bold=True, size=13, align=CENTER)
    _para(right, "(Ký, ghi rõ họ tên, đóng dấu)", italic=True, size=13, align=CENTER)


def _landscape(doc: DocxDocument) -> None:
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.left_margin, section.right_margin = Cm(2.0), Cm(2.0)


def _grid(
    doc: DocxDocument,
    heads: list[tuple[str, float]],
    cells: list[str],
    *,
    shaded: bool = False,
    loop: str = "r in rows",
) -> Table:
    """A bordered table: the heading row, then one row repeated per item (docxtpl ``tr``)."""
    table: Table = doc.add_table(rows=4, cols=len(heads))
    table.style = "Table Grid"
    _widths(table, [w for _, w in heads])
    for i, (text, _width) in enumerate(heads):
        _cell(table.rows[0].cells[i], text, bold=True, size=TABLE_PT, align=CENTER)
    table.rows[1].cells[0].text = "{%tr for " + loop + " %}"
    for i, text in enumerate(cells):
        prefix = "{% cellbg r.bg %}" if shaded else ""
        _cell(table.rows[2].cells[i], prefix + text, size=TABLE_PT)
    table.rows[3].cells[0].text = "{%tr endfor %}"
    return table


def _opening(heading: str) -> DocxDocument:
    """A new official letter: page number, motto block, then heading, title and recipient."""
    doc = _new()
    _page_mark(doc)
    _motto_block(
        doc, parent="{{ header.parent_body }}", body="{{ header.issuing_body }}",
        number="{{ header.number }}",
    )  # fmt: skip
    _para(doc)
    _para(doc, heading, bold=True, size=14, align=CENTER)
    _para(doc, "{{ title }}", bold=True, size=14, align=CENTER)
    _para(doc, "Kính gửi: {{ recipient }}.", size=14, align=CENTER)
    return doc


def build_self(path: Path) -> None:
    """The unit's self-assessment report (báo cáo kết quả tự đánh giá, chấm điểm)."""
    doc = _opening("BÁO CÁO")
    _para(doc, "{{ basis }}", align=JUSTIFY)
    _para(doc, "{{ intro }}", align=JUSTIFY)
    _para(doc, "{%p for a in areas %}")
    _para(doc, "{{r a.text }}", align=JUSTIFY)
    _para(doc, "{%p endfor %}")
    _para(doc, "Tổng điểm tự chấm: {{ self_total }}/{{ max_total }} điểm.", bold=True)
    _para(doc, "Đề xuất xếp loại: {{ proposed_class }}.", bold=True)
    _para(doc, "{{ closing }}", align=JUSTIFY)
    _signature(doc, office="TM. {{ office }}", title="CHỦ TỊCH")
    _landscape(doc)
    _para(doc, "PHỤ LỤC", bold=True, size=14, align=CENTER)
    _para(doc, "BẢNG TỰ CHẤM ĐIỂM CHI TIẾT", bold=True, size=13, align=CENTER)
    _para(doc, "(Kèm theo Báo cáo của {{ unit_name }})", italic=True, align=CENTER)
    _grid(
        doc,
        [
            ("Mã", 2.2), ("Tiêu chí", 5.4), ("Điểm tối đa", 1.7), ("Điểm tự chấm", 1.7),
            ("Cách tính điểm", 5.0), ("Giải trình", 4.5), ("Tài liệu kiểm chứng", 5.0),
        ],
        [
            "{{r r.code }}", "{{r r.title }}", "{{ r.max }}", "{{r r.self_score }}",
            "{{ r.reason }}", "{{r r.explanation }}", "{{ r.evidence }}",
        ],
    )  # fmt: skip
    _para(doc, "Tổng điểm tự chấm: {{ self_total }}/{{ max_total }} điểm.", bold=True)
    doc.save(str(path))


def build_appraisal(path: Path) -> None:
    """The council's appraisal result of one unit (kết quả thẩm định)."""
    doc = _opening("KẾT QUẢ THẨM ĐỊNH")
    _para(doc, "{{ intro }}", align=JUSTIFY)
    _para(doc, "- Tổng điểm tự chấm: {{ self_total }}/{{ max_total }} điểm.")
    _para(doc, "- Tổng điểm thẩm định: {{ appraised_total }}/{{ max_total }} điểm.", bold=True)
    _para(doc, "- Số tiêu chí Hội đồng điều chỉnh điểm: {{ changed_count }}.")
    _para(doc, "- Xếp loại: {{ final_class }}.", bold=True)
    _para(doc, "{{ closing }}", align=JUSTIFY)
    _signature(doc, office="TM. HỘI ĐỒNG THẨM ĐỊNH", title="CHỦ TỊCH")
    _landscape(doc)
    _para(doc, "PHỤ LỤC", bold=True, size=14, align=CENTER)
    _para(doc, "ĐIỂM THẨM ĐỊNH SO VỚI ĐIỂM TỰ CHẤM", bold=True, align=CENTER)
    _para(doc, "(Các dòng tô màu là tiêu chí Hội đồng điều chỉnh điểm)", italic=True, align=CENTER)
    _grid(
        doc,
        [
            ("Mã", 2.2), ("Tiêu chí", 6.4), ("Điểm tối đa", 1.7), ("Điểm tự chấm", 1.8),
            ("Điểm thẩm định", 1.8), ("Ý kiến thẩm định", 6.5), ("Cơ quan thẩm định", 5.0),
        ],
        [
            "{{r r.code }}", "{{r r.title }}", "{{ r.max }}", "{{r r.self_score }}",
            "{{r r.appraised }}", "{{ r.comment }}", "{{ r.agency }}",
        ],
        shaded=True,
    )  # fmt: skip
    _para(doc, "Tổng điểm thẩm định: {{ appraised_total }}/{{ max_total }} điểm.", bold=True)
    _para(doc)
    _para(doc, "CÁC VÒNG GIẢI TRÌNH, BỔ SUNG TÀI LIỆU KIỂM CHỨNG", bold=True, align=CENTER)
    _para(doc, "{{ rounds_note }}", italic=True, align=CENTER)
    _grid(
        doc,
        [("Vòng", 1.5), ("Mã", 1.6), ("Yêu cầu giải trình", 7.5), ("Nội dung giải trình", 8.0),
         ("Kết quả", 6.5)],
        ["{{ q.round_no }}", "{{ q.code }}", "{{ q.question }}", "{{ q.answer }}",
         "{{ q.decision }}"],
        loop="q in rounds",
    )  # fmt: skip
    doc.save(str(path))


def build_analysis(path: Path) -> None:
    """The unit's draft analysis of the criteria that lost points (after publication)."""
    doc = _opening("BÁO CÁO")
    _para(doc, "{{ intro }}", align=JUSTIFY)
    _para(doc, "I. KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI", bold=True)
    _para(doc, "Tổng điểm sau thẩm định: {{ appraised_total }}/{{ max_total }} điểm; "
          "xếp loại: {{ final_class }}.")  # fmt: skip
    _para(doc, "II. CÁC TIÊU CHÍ BỊ TRỪ ĐIỂM", bold=True)
    _grid(
        doc,
        [
            ("Mã", 1.4), ("Tiêu chí", 3.4), ("Tối đa", 1.5), ("Tự chấm", 1.5),
            ("Thẩm định", 1.5), ("Bị trừ", 1.5), ("Ý kiến của Hội đồng", 3.0),
            ("So với năm trước", 2.3),
        ],
        [
            "{{ r.code }}", "{{ r.title }}", "{{ r.max }}", "{{ r.self_score }}",
            "{{ r.appraised }}", "{{ r.lost }}", "{{ r.comment }}", "{{ r.last_year }}",
        ],
    )  # fmt: skip
    _para(doc, "III. NGUYÊN NHÂN CỦA TỒN TẠI, HẠN CHẾ", bold=True)
    _para(doc, "(Đơn vị bổ sung nguyên nhân chủ quan, khách quan của từng tiêu chí bị trừ điểm.)",
          italic=True)  # fmt: skip
    _para(doc, "IV. GIẢI PHÁP KHẮC PHỤC TRONG NĂM TIẾP THEO", bold=True)
    _para(doc, "(Đơn vị bổ sung giải pháp, thời hạn và người chịu trách nhiệm.)", italic=True)
    _signature(doc, office="TM. {{ office }}", title="CHỦ TỊCH")
    doc.save(str(path))


def build_results(path: Path) -> None:
    """The cycle's results as the annex of the announcing decision (phụ lục kèm quyết định)."""
    doc = _new()
    _page_mark(doc)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.left_margin, section.right_margin = Cm(2.0), Cm(2.0)
    _para(doc, "PHỤ LỤC", bold=True, size=14, align=CENTER)
    _para(doc, "{{ title }}", bold=True, size=14, align=CENTER)
    _para(doc, "{{ attached }}", italic=True, size=13, align=CENTER)
    _para(doc, "{%p for g in groups %}")
    _para(doc, "{{ g.heading }}", bold=True)
    _grid(
        doc,
        [
            ("Xếp hạng", 1.8), ("Mã", 2.5), ("Đơn vị", 5.0), ("Điểm theo lĩnh vực", 7.0),
            ("Tổng điểm", 2.0), ("Xếp loại", 4.0), ("Ghi chú", 3.4),
        ],
        [
            "{{ r.rank }}", "{{ r.code }}", "{{ r.name }}", "{{ r.areas }}", "{{ r.total }}",
            "{{ r.classification }}", "{{ r.note }}",
        ],
        loop="r in g.rows",
    )  # fmt: skip
    _para(doc, "{%p endfor %}")
    _para(doc, "{{ max_note }}", italic=True)
    doc.save(str(path))


def main() -> None:
    """Writes the .docx templates next to this script."""
    build_self(HERE / "self.docx")
    build_appraisal(HERE / "appraisal.docx")
    build_results(HERE / "results.docx")
    build_analysis(HERE / "analysis.docx")


if __name__ == "__main__":
    main()
