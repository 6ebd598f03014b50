"""Importer wordings met in the real tables of tests/fixtures/real (issue 12, item 2): a table
copied from part-way through, levels "label: points" without "điểm", levels numbered like
sub-criteria, lettered sub-criteria, a column-numbering row, the scoring wording in its own
column, levels worth "Điểm tối đa" or a share of it, headers that lost their spaces."""

from __future__ import annotations

from decimal import Decimal

from frameworks.annex import import_annex
from frameworks.sheet_check import check_sheet
from models.framework import LevelsRule, ProportionalRule

D = Decimal
HEAD = "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n"


def test_a_table_starting_at_1_1_keeps_its_rows_as_top_level_nodes() -> None:
    result = import_annex((HEAD + "1.1\tA\t2\t\n1.2\tB\t1\t\n1.2.1\tC\t1\t\n").encode())
    assert [(e.code, e.parent_code) for e in result.entries] == [
        ("1.1", None),
        ("1.2", None),
        ("1.2.1", "1.2"),
    ]
    assert result.skipped == () and result.rows_guessed == 1
    assert any("Bảng bắt đầu giữa chừng ở mục 1.1" in n.message for n in result.notes)


def test_a_missing_parent_after_the_first_rows_is_still_a_broken_row() -> None:
    result = import_annex((HEAD + "1.1\tA\t2\t\n2.1\tB\t1\t\n").encode())
    (skipped,) = result.skipped  # "1" was absent at the start, "2" is a genuine gap
    assert skipped.line == 3 and "không có mục cha “2”" in skipped.message
    after_a_skip = import_annex((HEAD + "1\tA\tba\t\n1.1\tB\t1\t\n2\tC\t1\t\n").encode(), "tsv")
    assert [r.line for r in after_a_skip.skipped] == [2, 3]  # 1.1's parent was left out
    assert [e.code for e in after_a_skip.entries] == ["2"]


def test_levels_written_label_colon_points_without_the_word_diem() -> None:
    result = import_annex(
        (
            HEAD + "1\tBan hành kế hoạch\t1\t\n\tBan hành kịp thời: 1\t\t\n"
            "\tBan hành không kịp thời: 0,5\t\t\n\tKhông ban hành: 0\t\t\n"
            "2\tBáo cáo\t1\t\n\tSố hiệu văn bản: 12\t\t\n"
        ).encode()
    )
    first = result.nodes[0]
    assert isinstance(first.rule, LevelsRule)
    assert [(o.label, o.points) for o in first.rule.options] == [
        ("Ban hành kịp thời", D(1)),
        ("Ban hành không kịp thời", D("0.5")),
        ("Không ban hành", D(0)),
    ]
    # a number above the criterion's max is not a level: kept as guidance, scored by hand
    assert result.entry("2").rule_kind == "manual"
    assert "Số hiệu văn bản: 12" in result.nodes[1].guidance
    reference = import_annex((HEAD + "1\tKế hoạch\t5\t\n\tKế hoạch số: 2\t\t\n").encode())
    assert reference.entry("1").rule_kind == "manual"  # "số: 2" names a document, not a level
    files = import_annex(
        (HEAD + "1\tHồ sơ\t1\t\n\tĐủ hồ sơ: 1\t\t\n\tThiếu hồ sơ: 0\t\t\n").encode()
    )
    assert files.entry("1").rule_kind == "levels"  # "hồ sơ" is not "số"


def test_levels_numbered_like_sub_criteria_fold_into_their_criterion() -> None:
    result = import_annex(
        (
            HEAD + "1\tThời gian giải quyết\t2\t\n1.1\tNgắn hơn quy định: 2 điểm\t2\t\n"
            "1.2\tBằng quy định: 1 điểm\t1\t1\n1.3\tDài hơn quy định: 0 điểm\t0\t\n"
        ).encode()
    )
    assert [e.code for e in result.entries] == ["1"]
    entry = result.entry("1")
    assert entry.rule_kind == "levels" and entry.stated_self == D(1)  # scored on its level
    assert result.rows_guessed == 1


def test_real_sub_criteria_whose_points_add_up_are_not_folded() -> None:
    result = import_annex(
        (
            HEAD + "1\tKế hoạch\t3\t\n1.1\tBan hành: 2 điểm\t2\t\n1.2\tBáo cáo: 1 điểm\t1\t\n"
        ).encode()
    )
    assert [e.code for e in result.entries] == ["1", "1.1", "1.2"]  # 2 + 1 = 3: a sum


def test_lettered_sub_criteria_under_a_numbered_one() -> None:
    data = (
        "Số TT\tTiêu chí\tĐiểm chuẩn\tĐiểm chấm\n3\tGửi nhận văn bản\t3\t\n"
        "a\tTỷ lệ gửi\t1.5\t1.50\nb\tTỷ lệ nhận\t1.5\t1\na\tTrùng\t1\t\n"
    ).encode()
    result = import_annex(data)
    assert [(e.code, e.written_code, e.parent_code) for e in result.entries] == [
        ("3", "3", None),
        ("3.a", "a", "3"),
        ("3.b", "b", "3"),
    ]
    (skipped,) = result.skipped
    assert skipped.line == 5 and "trùng với dòng 3" in skipped.message
    out = check_sheet(data).to_json()
    assert (out["max_total"], out["score_total"]) == ("3", "2.5")


def test_a_column_numbering_row_under_the_header_is_not_a_criterion() -> None:
    result = import_annex((HEAD + "1\t2\t3\t4\n1\tA\t2\t\n").encode())
    assert [(e.code, e.title, e.stated_max) for e in result.entries] == [("1", "A", D(2))]
    assert any(n.line == 2 and "đánh số cột" in n.message for n in result.notes)
    letters = import_annex((HEAD + "a\tb\tc\td\n1\tA\t2\t\n").encode())
    assert letters.skipped == () and [e.code for e in letters.entries] == ["1"]


def test_the_scoring_wording_in_its_own_column_and_levels_worth_the_max() -> None:
    data = (
        "STT\tChỉsố/Chỉsốthànhphần\tĐiểmtốiđa\tCáchxácđịnhvàtínhđiểm\n"
        '1\tTrưởng ban chỉ đạo\t20\t"- Là Chủ tịch (cấp Trưởng): Điểm tối đa.\n'
        '- Là Phó Chủ tịch (cấp Phó):1/2*Điểmtốiđa.\n- Chưa có:0điểm."\n'
        "2\tCuộc họp có Chủ tịch chủ trì\t10\ta = Số cuộc họp có Chủ tịch chủ trì;\n"
        "\t\t\t- Điểm = Tỷ lệ*Điểm tối đa\n"
        "3\tSai mẫu số\t4\t- Có: 1/0*Điểm tối đa\n"
    ).encode()
    result = import_annex(data)
    assert result.columns["method"] == "Cáchxácđịnhvàtínhđiểm"
    first, second, third = result.nodes
    assert isinstance(first.rule, LevelsRule)
    assert [o.points for o in first.rule.options] == [D(20), D(10), D(0)]
    assert "Điểm tối đa" in first.guidance  # the wording itself is kept as written
    assert isinstance(second.rule, ProportionalRule)
    assert third.rule is not None and result.entry("3").rule_kind == "manual"  # 1/0: not read
