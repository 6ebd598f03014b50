"""Import of the official annex tables: the seeds' own tables, every layout, every refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from frameworks.annex import (
    MAX_BYTES,
    AnnexError,
    AnnexImport,
    html_to_text,
    import_annex,
    import_annex_text,
    is_agency_name,
)
from models.framework import (
    BandsRule,
    ChecklistRule,
    DeductionRule,
    Framework,
    LevelsRule,
    Node,
    NodeKind,
    ProportionalRule,
    SurveyRule,
)

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
ANNEX = Path(__file__).parent.parent / "fixtures" / "annex"
DINH_HOA = SEEDS / "dinh-hoa-commune-2024-framework-and-assignment.txt"
QUANG_DIEN = SEEDS / "quang-dien-departments-2023-draft-framework.txt"
HA_BAC = SEEDS / "ha-bac-commune-2023-self-assessment-summary.txt"

D = Decimal


@pytest.fixture(scope="module")
def dinh_hoa() -> AnnexImport:
    return import_annex(DINH_HOA.read_bytes())


@pytest.fixture(scope="module")
def quang_dien() -> AnnexImport:
    return import_annex(QUANG_DIEN.read_bytes())


def _framework(imp: AnnexImport) -> Framework:
    return imp.framework(name="Khung thử", year=2024)


def _points(rule: object) -> list[Decimal]:
    if isinstance(rule, BandsRule):
        return [b.points for b in rule.bands]
    assert isinstance(rule, LevelsRule | ChecklistRule)
    options = rule.options if isinstance(rule, LevelsRule) else rule.items
    return [o.points for o in options]


# --- Định Hóa: the annex inside the whole instruction letter ---------------------------------


def test_dinh_hoa_table_is_found_inside_the_letter(dinh_hoa: AnnexImport) -> None:
    assert dinh_hoa.layout == "tsv"
    assert dinh_hoa.header_line == 92
    assert dinh_hoa.columns == {
        "code": "STT",
        "title": "Lĩnh vực/Tiêu chí/Tiêu chí thành phần và cách thức, phương pháp đánh giá, "
        "chấm điểm",
        "max": "Điểm tối đa",
        "self": "Điểm tự đánh giá",
        "appraised": "Điểm thẩm định",
        "evidence": "Tài liệu kiểm chứng",
        "agency": "Cơ quan thẩm định điểm tự đánh giá",
    }
    assert dinh_hoa.total is not None
    assert (dinh_hoa.total.line, dinh_hoa.total.label) == (93, "CỘNG TỔNG")
    assert dinh_hoa.stated_total == D(100)


def test_dinh_hoa_warnings_are_exactly_the_skipped_prose_and_the_shifted_cells(
    dinh_hoa: AnnexImport,
) -> None:
    got = [(w.line, w.message) for w in dinh_hoa.warnings]
    assert [line for line, _ in got] == [3, 208, 214, 218, 444, 451]
    assert got[0][1].startswith("Bỏ qua dòng 3–90 trước dòng tiêu đề bảng (bắt đầu: “Số: /UBND-VP”")
    assert got[-1][1].startswith(
        "Bỏ qua dòng 451–491 sau bảng (bắt đầu: “PHÂN CÔNG CHẤM ĐIỂM THỰC HIỆN NHIỆM VỤ CƠ QUAN"
    )
    # Evidence that slipped into the agency column on lines without a code: moved back to the
    # evidence, never taken as an agency, and flagged.
    for (_, message), code in zip(got[1:5], ["3.6.2", "3.7.1", "3.7.2", "IX"], strict=True):
        assert f"của {code} ghi “" in message
        assert "không phải tên cơ quan: chuyển sang cột “Tài liệu kiểm chứng”" in message


def _walk(nodes: Sequence[Node]) -> Iterator[Node]:
    for n in nodes:
        yield n
        yield from _walk(n.children)


def _agencies(nodes: Sequence[Node]) -> dict[str, str]:
    found: dict[str, str] = {}
    for n in nodes:
        if n.agency:
            found[n.code] = n.agency
        found.update(_agencies(n.children))
    return found


def test_dinh_hoa_every_imported_agency_is_a_clean_agency_name(dinh_hoa: AnnexImport) -> None:
    """The coordinator console lists these names: none carries evidence text that wrapped into
    the agency column ("Kế hoạch khắc phục hạn chế," under IX, line 444)."""
    agencies = _agencies(dinh_hoa.nodes)
    assert set(agencies.values()) == {
        "Phòng Nội vụ",
        "Phòng Nội vụ TH",  # as written on row I (line 95)
        "Phòng Tài chính - Kế hoạch",
        "Phòng Tư pháp",
        "Phòng Văn hóa và Thông tin",
        "Thanh tra huyện",
        "Văn phòng HĐND và UBND huyện",
        "Văn phòng HDND và UBND huyện",  # as written on 3.4 (line 185)
    }
    assert all(is_agency_name(a) and "\n" not in a for a in agencies.values())
    # The moved lines are kept with the evidence of the criterion they belong to.
    by_code = {n.code: n for n in _walk(dinh_hoa.nodes)}
    # IX's evidence, whose first line had wrapped one column over, reads whole again.
    assert by_code["IX"].evidence_required == "Kế hoạch khắc phục hạn chế,\nyếu kém của địa phương."
    assert "Văn bản triển khai, giới thiệu gương điển hình tiên tiến." in (
        by_code["3.7.2"].evidence_required
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phòng Nội vụ", True),
        ("Văn phòng HĐND và UBND huyện", True),
        ("Thanh tra huyện", True),
        ("Các phòng chuyên môn", True),
        ("Ban Chỉ huy Quân sự xã", True),
        ("Sở Nội vụ", True),
        ("Đài Truyền thanh huyện", True),
        ("Trạm Y tế xã", True),
        ("Huyện đoàn", True),
        ("Trường hợp không phát sinh", False),
        ("Bổ sung hồ sơ", False),
        ("Kế hoạch khắc phục hạn chế,", False),
        ("Văn bản triển khai, giới thiệu gương điển hình tiên tiến.", False),
        ("Ban hành kế hoạch CCHC", False),
        ("Quyết định công nhận phạm vi ảnh hưởng cấp tỉnh", False),
        ("", False),
    ],
)
def test_is_agency_name(text: str, expected: bool) -> None:
    assert is_agency_name(text) is expected


def test_dinh_hoa_every_table_row_is_placed(dinh_hoa: AnnexImport) -> None:
    fw = _framework(dinh_hoa)
    by_line = {e.line: e for e in dinh_hoa.entries}
    lines = DINH_HOA.read_text(encoding="utf-8").split("\n")
    current = None
    for number in range(94, 451):
        cells = lines[number - 1].split("\t")
        if not any(c.strip() for c in cells):
            continue
        assert len(cells) == 7, number
        if cells[0].strip():
            current = by_line[number]  # every coded row and section is a node
            written = html_to_text(cells[0]).rstrip(".")
            assert written == current.written_code or written.startswith(
                current.written_code + "."
            ), number
            continue
        assert current is not None
        node = fw.node(current.code)
        placed = "\n".join([node.guidance, node.evidence_required, node.agency])
        for cell in cells[1:]:
            text = html_to_text(cell)
            if text:
                assert text.split("\n")[0][:40] in placed, (number, text[:40])


def test_dinh_hoa_tree(dinh_hoa: AnnexImport) -> None:
    fw = _framework(dinh_hoa)
    assert [n.code for n in fw.nodes] == ["NỘI DUNG I", "NỘI DUNG II", "NỘI DUNG III"]
    assert [n.max_points for n in fw.nodes] == [D(77), D(20), D(3)]
    section = fw.nodes[0]
    assert section.kind is NodeKind.section
    assert section.title == "XÂY DỰNG TỔ CHỨC, XÂY DỰNG TẬP THỂ"
    assert [a.code for a in section.children] == ["I", "II", "III", "IV", "V"]
    assert [a.code for a in fw.nodes[2].children] == ["IX", "X"]
    assert fw.node("II").max_points == D("8.5")
    assert fw.node("II").kind is NodeKind.area
    assert [c.code for c in fw.node("II").children] == ["2.1", "2.3", "2.4"]
    assert fw.node("2.1").kind is NodeKind.criterion
    assert fw.node("2.1.1").kind is NodeKind.sub_criterion
    assert [c.code for c in fw.node("5.2.3").children] == ["5.2.3.1", "5.2.3.2"]
    assert fw.node("5.5.4.6").max_points == D("1.5")
    assert fw.node("I").agency == "Phòng Nội vụ TH"
    assert fw.node("2.1").agency == "Thanh tra huyện"
    assert fw.node("NỘI DUNG III").agency == "Phòng Nội vụ"
    assert len(fw.walk()) == len(dinh_hoa.entries) == 113
    assert sum(leaf.max_points for leaf in fw.leaves()) == D(100)


def test_dinh_hoa_every_leaf_has_the_agency_written_above_it(dinh_hoa: AnnexImport) -> None:
    """Định Hóa writes each agency once, on the area or criterion row ("Phòng Nội vụ" on 3.6,
    nothing on 3.6.1–3.6.2): every leaf is appraised by the nearest agency written above it, so
    none falls to the coordinator by layout alone — the built-in transcription agrees."""
    fw = _framework(dinh_hoa)
    assert all(leaf.agency for leaf in fw.leaves())
    assert fw.node("3.6.2").agency == "Phòng Nội vụ"
    assert fw.node("2.1.3").agency == "Thanh tra huyện"
    assert fw.node("3.2.6").agency == "Phòng Tài chính - Kế hoạch"
    assert fw.node("1.1").agency == "Phòng Nội vụ TH"  # as written on row I


def test_a_row_with_its_own_agency_keeps_it_and_its_children_inherit_it() -> None:
    imp = import_annex_text(
        "TT\tNội dung\tĐiểm tối đa\tCơ quan thẩm định\n"
        "I\tLĩnh vực\t3\tPhòng Nội vụ\n"
        "1.1\tA\t1\t\n"
        "1.2\tB\t2\tPhòng Tư pháp\n"
        "1.2.1\tB1\t1\t\n"
        "1.2.2\tB2\t1\t\n"
    )
    fw = _framework(imp)
    assert {leaf.code: leaf.agency for leaf in fw.leaves()} == {
        "1.1": "Phòng Nội vụ",
        "1.2.1": "Phòng Tư pháp",
        "1.2.2": "Phòng Tư pháp",
    }


def test_dinh_hoa_rules_recognised(dinh_hoa: AnnexImport) -> None:
    fw = _framework(dinh_hoa)
    kinds = [e.rule_kind for e in dinh_hoa.entries if e.rule_kind]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "levels": 65,
        "proportional": 6,  # "(Tỷ lệ % thực hiện kế hoạch x 5 điểm)/100", floor "dưới 80% = 0"
        "bands": 3,  # "Từ 85% … trở lên → 1; Dưới 85% → 0" (2.4.2), 5.5.3.4, 5.5.4.3
        "survey": 5,
        "checklist": 1,
    }
    floors = {c: fw.node(c).rule for c in ("5.5.1", "5.5.4.6", "6.2", "7.2", "7.3", "X")}
    assert {c: r.floor for c, r in floors.items() if isinstance(r, ProportionalRule)} == {
        "5.5.1": 80, "5.5.4.6": 90, "6.2": 80, "7.2": 70, "7.3": 80, "X": 80,
    }  # fmt: skip
    band = fw.node("2.4.2").rule
    assert isinstance(band, BandsRule)
    assert [(b.min, b.max, b.points) for b in band.bands] == [
        (D(85), None, D(1)),
        (None, D(85), D(0)),
    ]
    assert "Dưới 85%: 0 điểm" in dinh_hoa.entry("2.4.2").rule_source
    # The survey criteria carry "XHH" in the self-score column: a note, not an error.
    e11 = dinh_hoa.entry("1.1")
    assert (e11.stated_self, e11.self_note, e11.rule_kind) == (None, "XHH", "survey")
    assert isinstance(fw.node("1.1").rule, SurveyRule)
    # "= 0,5 điểm" inside <p> paragraphs of one cell.
    rule = fw.node("2.3.4").rule
    assert isinstance(rule, LevelsRule)
    assert [(o.label, o.points) for o in rule.options] == [
        (
            "100% đơn thư thuộc thẩm quyền (gồm đơn khiếu nại tố cáo, đơn kiến nghị, phản ánh) "
            "được giải quyết kịp thời, đúng hạn",
            D(1),
        ),
        ("Có đơn thư thuộc thẩm quyền giải quyết quá hạn", D("0.5")),
        ("Có đơn thư thuộc thẩm quyền không được giải quyết", D(0)),
    ]
    assert "không có đơn, thư khiếu nại, tố cáo thì chấm 1 điểm" in fw.node("2.3.4").guidance
    # A level split across two rows (a page break) keeps its whole text.
    rule82 = fw.node("8.2").rule
    assert isinstance(rule82, LevelsRule)
    assert rule82.options[0].label == (
        "Xây dựng Kế hoạch khắc phục hạn chế, yếu kém trong đánh giá, xếp loại mức độ hoàn "
        "thành nhiệm vụ"
    )
    assert _points(fw.node("7.1").rule) == [D(5), D(2), D(0)]
    assert _points(fw.node("5.2.4.1").rule) == [D(0), D("0.5"), D(1), D(2)]
    assert _points(fw.node("5.5.4.5").rule) == [D(1), D(0)]  # two levels on one line
    assert isinstance(fw.node("5.3.4").rule, ChecklistRule)
    # Proportional criteria: "(Tỷ lệ % thực hiện kế hoạch x 5 điểm)/100" with a floor line.
    assert isinstance(fw.node("5.5.1").rule, ProportionalRule)
    assert dinh_hoa.entry("6.2").rule_note == "tỷ lệ × điểm tối đa 5, dưới 80% được 0 điểm"
    assert "x 5 điểm)/100" in dinh_hoa.entry("6.2").rule_source
    assert dinh_hoa.entry("2.1.1").rule_note == (
        "chọn một mức: 1; 0 (mức cao nhất bằng điểm tối đa 1)"
    )


# --- Quảng Điền: one table cell per line -----------------------------------------------------


def test_quang_dien_cells_layout(quang_dien: AnnexImport) -> None:
    assert quang_dien.layout == "cells"
    assert quang_dien.header_line == 35
    assert quang_dien.columns == {
        "code": "TT",
        "title": "NỘI DUNG",
        "max": "Điểm chuẩn",
        "evidence": "Tài liệu kiểm chứng",
    }
    assert quang_dien.total is not None
    assert (quang_dien.total.line, quang_dien.total.max_points) == (1891, D(100))
    assert [(w.line, w.message) for w in quang_dien.warnings] == [
        (1, "Bỏ qua dòng 1–31 trước dòng tiêu đề bảng (bắt đầu: “Tìm kiếm tin tức”)"),
        (1667, "Ô “0,5” không thuộc cột nào của bảng — bỏ qua"),
        (
            1901,
            "Bỏ qua dòng 1901–1921 sau dòng tổng (bắt đầu: “* Ghi chú: Đối với các tiêu chí "
            "tiêu chí, tiêu chí thành ph…”)",
        ),
    ]


def test_quang_dien_tree_and_rules(quang_dien: AnnexImport) -> None:
    fw = _framework(quang_dien)
    assert [(n.code, n.max_points) for n in fw.nodes] == [
        ("I", D(22)),
        ("II", D(73)),
        ("III", D(2)),
    ]
    # Numbering restarts in every area: codes are qualified with the area's.
    assert [c.code for c in fw.node("I").children] == [f"I.{i}" for i in range(1, 8)]
    assert quang_dien.entry("II.1.1.1").written_code == "1.1.1"
    assert sum(leaf.max_points for leaf in fw.leaves()) == D(100)
    assert fw.node("II.6.6").max_points == D(8)  # written "8,0"
    assert _points(fw.node("I.1.1").rule) == [D(2), D(1), D(0)]
    assert fw.node("I.1.1").evidence_required == "Kế hoạch CCHC của cơ quan năm 2023"
    deduction = fw.node("I.2").rule
    assert isinstance(deduction, DeductionRule)
    assert deduction.per_item == D("0.75")
    assert quang_dien.entry("I.2").rule_note == "trừ 0,75 điểm mỗi mục không đạt từ 3"
    checklist = fw.node("II.6.6.3").rule
    assert isinstance(checklist, ChecklistRule)
    assert [i.points for i in checklist.items] == [D(1)] * 4
    assert _points(fw.node("II.6.2").rule) == [D(3), D(2), D("1.5"), D(1), D(0)]
    # levels 1; 0 under a max of 2: the levels as written, the gap flagged by the reachable check
    assert quang_dien.entry("II.6.3").rule_kind == "levels"
    assert "thấp hơn điểm tối đa 2" in quang_dien.entry("II.6.3").rule_note
    assert fw.node("II.1.2").evidence_required.split("\n") == [
        "- Báo cáo kết quả xử lý;",
        "- Kết luận của cấp có thẩm quyền;",
        "- VBQPPL được sửa đổi, bổ sung hoặc thay thế văn bản có kết luận sai sót.",
    ]
    assert any("II.1.1" in (n.message or "") for n in quang_dien.notes if n.line is None)


def test_cells_layout_without_blank_separators() -> None:
    text = "\n".join(
        [
            "Phụ lục",
            "STT",
            "Nội dung",
            "Điểm tối đa",
            "Tài liệu kiểm chứng",
            "1",
            "Kế hoạch CCHC",
            "2",
            "Kế hoạch năm",
            "",
            "Đúng hạn",
            "2",
            "",
            "",
            "Chậm",
            "1",
            "",
            "2",
            "Báo cáo",
            "1",
            "",
            "",
            "Tổng điểm",
            "3",
            "",
        ]
    )
    imp = import_annex_text(text)
    fw = _framework(imp)
    assert imp.layout == "cells"
    assert [(n.code, n.max_points) for n in fw.nodes] == [("1", D(2)), ("2", D(1))]
    assert _points(fw.node("1").rule) == [D(2), D(1)]
    assert fw.node("1").evidence_required == "Kế hoạch năm"
    assert imp.stated_total == D(3)


def test_ha_bac_summary_is_prose_and_refused() -> None:
    with pytest.raises(AnnexError) as err:
        import_annex(HA_BAC.read_bytes())
    assert "không tìm thấy dòng tiêu đề của bảng" in err.value.message
    assert "no table header found" in err.value.message


# --- small tables: every layout and row kind -------------------------------------------------


def test_sections_html_codes_repeated_header() -> None:
    imp = import_annex((ANNEX / "sections.tsv").read_bytes(), "tsv")
    fw = _framework(imp)
    assert [n.code for n in fw.walk()] == [
        "NỘI DUNG I",
        "I",
        "1.1",
        "1.2",
        "NỘI DUNG II",
        "II",
        "2.1",
        "2.2",
    ]
    assert imp.warnings == ()
    assert (imp.notes[0].line, imp.notes[0].message) == (
        12,
        "Dòng tiêu đề lặp lại (sang trang) — bỏ qua",
    )
    assert fw.node("NỘI DUNG II").max_points == D("3.5")
    assert _points(fw.node("1.1").rule) == [D(2), D(1), D(0)]
    assert fw.node("1.1").evidence_required == "Kế hoạch CCHC năm 2024;\nbáo cáo kết quả thực hiện"
    assert fw.node("1.1").guidance.startswith("Yêu cầu:\n- Ban hành đúng hạn = 2 điểm.")
    assert imp.entry("1.2").rule_note == "danh sách mục cộng dồn: 1 + 1 + 1 = 3 (bằng điểm tối đa)"
    # "- Dưới 80% = 0 điểm. - Từ 80% trở lên: (Tỷ lệ % giải ngân x 2 điểm)/100"
    proportional = fw.node("2.1").rule
    assert isinstance(proportional, ProportionalRule) and proportional.floor == 80
    assert imp.entry("2.1").rule_note == "tỷ lệ × điểm tối đa 2, dưới 80% được 0 điểm"
    assert fw.node("2.1").agency == "Phòng Tài chính - Kế hoạch"
    assert _points(fw.node("2.2").rule) == [D("1.5"), D(1), D("0.5")]
    assert isinstance(fw.node("2.2").rule, LevelsRule)
    assert imp.stated_total == D("8.5")


def test_csv_filled_report_with_decimal_commas() -> None:
    imp = import_annex((ANNEX / "filled-report.csv").read_bytes())
    assert imp.layout == "csv"
    assert imp.header_line == 2
    assert imp.entry("I").stated_self == D("5.5")
    assert imp.entry("1.2").stated_max == D("1.5")
    assert imp.entry("1.1").explanation == "Kế hoạch số 12/KH-UBND ngày 05/01/2024"
    assert imp.entry("2.1").self_note == "XHH"
    assert imp.total is not None
    assert (imp.total.max_points, imp.total.self_score) == (D(10), D("8.5"))
    assert [w.line for w in imp.warnings] == [1, 13]
    assert imp.warnings[1].message.startswith("Bỏ qua dòng 13 sau dòng tổng")


def test_csv_with_semicolons() -> None:
    text = "Mã số;Nội dung;Điểm tối đa;Điểm tự chấm\n1;Kế hoạch;2;1,5\n2;Báo cáo;1;1\n"
    imp = import_annex(text.encode(), "csv")
    assert [(e.code, e.stated_max, e.stated_self) for e in imp.entries] == [
        ("1", D(2), D("1.5")),
        ("2", D(1), D(1)),
    ]


def test_utf16_tab_text_from_excel() -> None:
    text = "STT\tTên tiêu chí\tĐiểm chuẩn\r\nI\tLĩnh vực\t3\r\n1.1\tTiêu chí\t3\r\n"
    imp = import_annex(text.encode("utf-16"))
    assert [e.code for e in imp.entries] == ["I", "1.1"]


def test_xlsx_generated(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["PHỤ LỤC: KẾT QUẢ THẨM ĐỊNH"])
    ws.append([])
    ws.append(
        ["STT", "Tên tiêu chí", "Điểm tối đa", "Điểm tự chấm", "Điểm thẩm định", "Ý kiến thẩm định"]
    )
    ws.append(["I", "Chỉ đạo điều hành", 3, 2.5, 2, None])
    ws.append(["1.1", "Kế hoạch", 2, 2, 1.5, "Ban hành chậm 3 ngày"])
    ws.append([None, "Đúng hạn", 2])
    ws.append([None, "Chậm", 1.5])
    ws.append([None, "Không ban hành", 0])
    ws.append([1.2, "Báo cáo", 1, 0.5, 0.5, None])  # a code Excel stored as a number
    ws.append(["Tổng điểm", None, 3, 2.5, 2])
    path = tmp_path / "ket-qua.xlsx"
    wb.save(path)
    imp = import_annex(path.read_bytes())
    assert imp.layout == "xlsx"
    assert imp.header_line == 3
    assert [(e.code, e.line) for e in imp.entries] == [("I", 4), ("1.1", 5), ("1.2", 9)]
    e11 = imp.entry("1.1")
    assert (e11.stated_self, e11.stated_appraised, e11.comment) == (
        D(2),
        D("1.5"),
        "Ban hành chậm 3 ngày",
    )
    assert imp.entry("1.2").stated_self == D("0.5")
    assert _points(_framework(imp).node("1.1").rule) == [D(2), D("1.5"), D(0)]
    assert imp.total is not None
    assert (imp.total.line, imp.total.appraised_score) == (10, D(2))
    assert [w.line for w in imp.warnings] == [1]
    assert imp.warnings[0].message.startswith("Bỏ qua dòng 1 trước dòng tiêu đề bảng")


def test_parent_without_max_takes_the_sum_and_says_so() -> None:
    imp = import_annex_text("TT\tNội dung\tĐiểm tối đa\nI\tLĩnh vực\t\n1.1\tA\t1\n1.2\tB\t0,5\n")
    assert _framework(imp).node("I").max_points == D("1.5")
    assert imp.entry("I").stated_max is None
    assert (imp.notes[-1].line, imp.notes[-1].message) == (
        2,
        "Mục I không ghi điểm tối đa: lấy tổng các mục con (1,5)",
    )


def test_unplaceable_rows_are_reported_with_their_lines() -> None:
    text = (
        "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n"
        "\tGhi chú trước mọi tiêu chí\t\t\n"
        "1\tKế hoạch\t2\t2\n"
        "\tĐúng hạn\t2\t2\n"
        "\t\t1\t\n"
        "2\t\t1\t\n"
    )
    imp = import_annex_text(text)
    assert [(w.line, w.message) for w in imp.warnings] == [
        (
            2,
            "Dòng không có mã và chưa có tiêu chí nào ở trên — bỏ qua: "
            "“Ghi chú trước mọi tiêu chí”",
        ),
        (5, "Điểm 1 không kèm nội dung (dưới 1) — bỏ qua"),
        (6, "Mục 2 không có tên"),
    ]
    # the score written again on the level's line agrees with the criterion's: a note, no noise
    assert (4, "Cột “Điểm tự chấm” ghi lại 2 trên dòng mức của 1: khớp điểm đã ghi") in [
        (n.line, n.message) for n in imp.notes
    ]


def test_levels_under_a_parent_are_not_used() -> None:
    text = "TT\tNội dung\tĐiểm tối đa\n1\tA\t2\n\tMức\t2\n1.1\tB\t2\n"
    imp = import_annex_text(text)
    assert [(w.line, w.message) for w in imp.warnings] == [
        (3, "Mức “Mức” nằm dưới mục 1 vốn có tiêu chí con — không dùng")
    ]


# --- refusals --------------------------------------------------------------------------------


def _refused(data: bytes, fmt: str | None = None) -> AnnexError:
    with pytest.raises(AnnexError) as err:
        import_annex(data, fmt)  # type: ignore[arg-type]
    return err.value


def test_empty_and_blank_files() -> None:
    assert _refused(b"").message == "tệp rỗng / the file is empty"
    assert _refused(b" \n\t\n").message == "tệp rỗng / the file is empty"


def test_a_file_over_the_limit_is_refused_before_parsing() -> None:
    error = _refused(b"x" * (MAX_BYTES + 1))
    assert error.message.startswith("tệp quá lớn (50,0 MB, tối đa 50 MB)")
    assert "too large" in error.message


def test_no_header() -> None:
    error = _refused("Mã\tTên\n1\tKế hoạch\n".encode())
    assert error.line is None
    assert error.message.startswith("không tìm thấy dòng tiêu đề của bảng")


@pytest.mark.parametrize(
    ("rows", "line", "fragment", "guess"),
    [
        ("1\tA\t1\n1..2\tB\t1\n", 3, "mã số “1..2” không hợp lệ", "có lẽ là mã “1.2”"),
        ("1\tA\t1\na)\tB\t1\n", 3, "mã số “a)” không hợp lệ", ""),
        (
            "1\tA\t1\nKiểm tra việc thực hiện\tB\t1\n",
            3,
            "mã số “Kiểm tra việc thực hiện” không hợp lệ",
            "chữ nằm nhầm cột mã số: có lẽ là nội dung của mục 1",
        ),
        (
            "1\tA\t1\n1.2.1\tB\t1\n",
            3,
            "mã “1.2.1” không có mục cha “1.2” ở trên",
            "có lẽ thuộc mục 1 (thiếu dòng 1.2)",
        ),
        ("1\tA\t1\n1.1\tB\t1\n1.1\tC\t1\n", 4, "mã “1.1” trùng với dòng 3", "gõ nhầm"),
        ("I\tA\t1\nI\tB\t1\n", 3, "mã “I” trùng với dòng 2", "gõ nhầm"),
    ],
)
def test_a_row_with_a_broken_code_is_skipped_and_reported(
    rows: str, line: int, fragment: str, guess: str
) -> None:
    """Issue 12 item 1: one unreadable row never refuses the whole table."""
    result = import_annex(("TT\tNội dung\tĐiểm tối đa\n" + rows).encode())
    (skipped,) = result.skipped
    assert skipped.line == line and fragment in skipped.message
    assert skipped.column == "TT" and skipped.expected
    assert guess in skipped.guess
    assert any(
        w.line == line and w.message.startswith(f"Bỏ qua dòng {line}: ") for w in result.warnings
    )
    assert line not in [e.line for e in result.entries]
    assert result.rows_placed == rows.count("\n") - 1


@pytest.mark.parametrize(
    ("row", "column", "fragment", "guess"),
    [
        ("1\tA\thai điểm\t\n", "Điểm tối đa", "phải là số, gặp “hai điểm”", ""),
        ("1\tA\ttối đa 2\t\n", "Điểm tối đa", "phải là số, gặp “tối đa 2”", "có lẽ là 2"),
        ("1\tA\t2\t1,5a\n", "Điểm tự chấm", "phải là số hoặc ghi chú chữ", "có lẽ là 1,5"),
        ("1\tA\t2\t0,1234\n", "Điểm tự chấm", "có quá 3 chữ số thập phân", "có lẽ là 0,123"),
    ],
)
def test_letters_in_number_columns_skip_the_row(
    row: str, column: str, fragment: str, guess: str
) -> None:
    data = "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n2\tB\t1\t\n" + row
    result = import_annex(data.encode())
    (skipped,) = result.skipped
    assert skipped.line == 3 and skipped.column == column
    assert fragment in skipped.message and skipped.guess == guess
    assert [e.code for e in result.entries] == ["2"]
    assert (result.rows_placed, len(result.skipped)) == (1, 1)


def test_children_of_a_skipped_row_are_reported_too_and_the_rest_is_read() -> None:
    data = "TT\tNội dung\tĐiểm tối đa\n1\tA\tba\n1.1\tB\t1\n2\tC\t2\n2.1\tD\t2\n"
    result = import_annex(data.encode())
    assert [r.line for r in result.skipped] == [2, 3]
    assert [e.code for e in result.entries] == ["2", "2.1"]


def test_a_table_whose_only_rows_are_unreadable_is_refused_with_their_lines() -> None:
    error = _refused("TT\tNội dung\tĐiểm tối đa\n1\tA\thai điểm\n".encode())
    assert error.line == 2
    assert "bỏ qua dòng 2: cột “Điểm tối đa” phải là số, gặp “hai điểm”" in error.message


def test_a_table_without_any_code_is_refused() -> None:
    error = _refused("TT\tNội dung\tĐiểm tối đa\n\tChỉ có ghi chú\t\n".encode())
    assert error.message == (
        "bảng không có dòng tiêu chí nào có mã số / the table has no row with a criterion code"
    )


def test_binary_and_broken_files() -> None:
    assert _refused(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe").message.startswith(
        "tệp không phải văn bản UTF-8"
    )
    assert _refused(b"PK\x03\x04 not really a zip").message.startswith("không đọc được tệp XLSX")
    assert _refused(b"text\x00with nul").message == "tệp không phải văn bản / the file is not text"


def test_html_to_text_keeps_comparison_signs() -> None:
    assert html_to_text("<p>Từ 95% - <100%</p><p><u>= 3</u> điểm</p>") == (
        "Từ 95% - <100%\n= 3 điểm"
    )
    assert re.fullmatch(r"[^<>]*", html_to_text("<b>1.1.</b>")) is not None


@pytest.mark.parametrize("seed", ["dinh-hoa", "quang-dien"])
def test_at_least_80_percent_of_leaves_get_a_structured_rule(
    seed: str, dinh_hoa: AnnexImport, quang_dien: AnnexImport
) -> None:
    """Issue 12: ≥ 80% of a real table's leaves get a structured rule (not "chấm tay"), each
    with the sentence saying why."""
    imported = dinh_hoa if seed == "dinh-hoa" else quang_dien
    leaves = [e for e in imported.entries if e.rule_kind]
    structured = [e for e in leaves if e.rule_kind != "manual"]
    assert len(structured) * 100 >= 80 * len(leaves)
    assert all(e.rule_note for e in leaves)
    assert all(e.rule_source for e in structured if e.rule_kind != "survey")
