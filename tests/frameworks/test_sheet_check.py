"""`sheet check`: totals bottom-up from the leaves, inconsistencies, the JSON shape, the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cli import sheet as cli_sheet
from frameworks.annex import MAX_BYTES, AnnexError, import_annex
from frameworks.sheet_check import check_sheet, detect_format
from frameworks.yaml_io import dump_framework_yaml

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
ANNEX = Path(__file__).parent.parent / "fixtures" / "annex"
DINH_HOA = SEEDS / "dinh-hoa-commune-2024-framework-and-assignment.txt"
QUANG_DIEN = SEEDS / "quang-dien-departments-2023-draft-framework.txt"
HA_BAC = SEEDS / "ha-bac-commune-2023-self-assessment-summary.txt"
FILLED = ANNEX / "filled-report.csv"


def test_dinh_hoa_annex_totals_100_with_every_row_placed() -> None:
    out = check_sheet(DINH_HOA.read_bytes()).to_json()
    assert set(out) == {
        "max_total",
        "score_total",
        "rows",
        "skipped",
        "rules",
        "nodes",
        "inconsistencies",
        "warnings",
    }
    assert out["rows"]["skipped"] == 0 and out["skipped"] == []
    assert all(r["why"] for r in out["rules"])
    assert out["max_total"] == "100"
    assert out["score_total"] == "0"  # the annex is blank: "XHH" notes are not scores
    assert _plain(out["inconsistencies"]) == []
    assert [w["line"] for w in out["warnings"]] == [3, 208, 214, 218, 444, 451]
    assert len(out["nodes"]) == 113
    assert all(set(n) == {"code", "title", "max", "stated", "computed"} for n in out["nodes"])
    assert out["nodes"][:3] == [
        {
            "code": "NỘI DUNG I",
            "title": "XÂY DỰNG TỔ CHỨC, XÂY DỰNG TẬP THỂ",
            "max": "77",
            "stated": None,
            "computed": None,
        },
        {
            "code": "I",
            "title": "Năng lực lãnh đạo, quản lý",
            "max": "20",
            "stated": None,
            "computed": None,
        },
        {
            "code": "1.1",
            "title": "Đổi mới sáng tạo trong thực hiện chức trách, nhiệm vụ",
            "max": "4",
            "stated": None,
            "computed": None,
        },
    ]
    assert {n["code"]: n["max"] for n in out["nodes"]}["II"] == "8.5"


def test_dinh_hoa_extracted_annex_alone_has_no_warning_about_skipping(tmp_path: Path) -> None:
    lines = DINH_HOA.read_text(encoding="utf-8").split("\n")
    annex = tmp_path / "phu-luc-ii.tsv"
    annex.write_text("\n".join(lines[91:449]) + "\n", encoding="utf-8")
    out = check_sheet(annex.read_bytes(), "tsv").to_json()
    assert out["max_total"] == "100"
    assert _plain(out["inconsistencies"]) == []
    assert [w["line"] for w in out["warnings"]] == [117, 123, 127, 353]  # the shifted cells


def test_quang_dien_leaves_total_100_and_two_written_maxima_disagree() -> None:
    out = check_sheet(QUANG_DIEN.read_bytes()).to_json()
    assert out["max_total"] == "100"  # = the total row "CỘNG ĐIỂM I + II+III: 100"
    assert _plain(out["inconsistencies"]) == [
        {"code": "II", "kind": "children_max_differs", "stated": "73", "computed": "76"},
        {"code": "II.6", "kind": "children_max_differs", "stated": "25", "computed": "23"},
        # the draft's best levels stay below the printed maxima (a perfect department: 97,5)
        {"code": "II.6.3", "kind": "max_unreachable", "stated": "1", "computed": "2"},
        {"code": "II.6.4", "kind": "max_unreachable", "stated": "1", "computed": "2"},
        {"code": "II.6.7.2", "kind": "max_unreachable", "stated": "0.5", "computed": "1"},
    ]
    assert out["inconsistencies"][2]["note"] == "II.6.3: cách chấm tốt nhất chỉ đạt 1/2 điểm"
    assert [w["line"] for w in out["warnings"]] == [1, 1667, 1901]


def test_filled_report_every_kind_of_inconsistency() -> None:
    out = check_sheet(FILLED.read_bytes()).to_json()
    assert out["max_total"] == "9.5"
    assert out["score_total"] == "5"
    assert _plain(out["inconsistencies"]) == [
        {"code": "I", "kind": "children_max_differs", "stated": "6", "computed": "5.5"},
        {"code": "I", "kind": "stated_score_differs", "stated": "5.5", "computed": "5"},
        {"code": "1.2", "kind": "score_exceeds_max", "stated": "2", "computed": "1.5"},
        {"code": "max_total", "kind": "total_differs", "stated": "10", "computed": "9.5"},
        {"code": "score_total", "kind": "total_differs", "stated": "8.5", "computed": "5"},
    ]
    nodes = {n["code"]: n for n in out["nodes"]}
    assert nodes["I"] == {
        "code": "I",
        "title": "Công tác chỉ đạo điều hành",
        "max": "6",
        "stated": "5.5",
        "computed": "5",
    }
    assert (nodes["2.1"]["stated"], nodes["2.1"]["computed"]) == (None, None)  # "XHH"
    assert (nodes["II"]["stated"], nodes["II"]["computed"]) == (None, None)


def test_parent_over_its_max_from_its_children() -> None:
    text = "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\n1\tA\t2\t\n1.1\tB\t2\t2\n1.2\tC\t1\t1\n"
    out = check_sheet(text.encode()).to_json()
    assert _plain(out["inconsistencies"]) == [
        {"code": "1", "kind": "children_max_differs", "stated": "2", "computed": "3"},
        {"code": "1", "kind": "score_exceeds_max", "stated": "3", "computed": "2"},
    ]
    assert (out["max_total"], out["score_total"]) == ("3", "3")


def test_yaml_framework_is_detected_and_checked() -> None:
    fw = import_annex(DINH_HOA.read_bytes()).framework(name="Định Hóa 2024", year=2024)
    data = dump_framework_yaml(fw).encode()
    assert detect_format(data) == "yaml"
    result = check_sheet(data)
    assert result.source_format == "yaml"
    assert result.to_json()["max_total"] == "100"
    assert result.inconsistencies == ()
    with pytest.raises(AnnexError) as err:
        check_sheet(b"name: x\nyear: 1800\nnodes: []\n", "yaml")
    assert "không hợp lệ" in err.value.message


def test_xlsx_is_detected_by_its_zip_magic(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in (
        ["Mã số", "Nội dung", "Điểm chuẩn", "Điểm tự chấm"],
        ["1", "Kế hoạch", 2, 1.5],
        ["2", "Báo cáo", 1.25, 1.25],
        ["Cộng tổng", None, 3.25, 2.75],
    ):
        ws.append(row)
    path = tmp_path / "bang.xlsx"
    wb.save(path)
    data = path.read_bytes()
    assert detect_format(data) == "xlsx"
    out = check_sheet(data).to_json()
    assert (out["max_total"], out["score_total"]) == ("3.25", "2.75")
    assert _plain(out["inconsistencies"]) == []
    assert check_sheet(data, "xlsx").to_json() == out


def test_unreadable_tables_raise() -> None:
    with pytest.raises(AnnexError):
        check_sheet(HA_BAC.read_bytes())
    with pytest.raises(AnnexError) as err:
        check_sheet(b"")
    assert err.value.message == "tệp rỗng / the file is empty"
    with pytest.raises(AnnexError):
        check_sheet(FILLED.read_bytes(), "tsv")  # a CSV read as TSV has no header


def _plain(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k != "note"} for i in found]


# --- CLI -------------------------------------------------------------------------------------


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_sheet.main(["sheet", "check", str(DINH_HOA), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["max_total"] == "100"
    assert _plain(out["inconsistencies"]) == []


def test_cli_summary_in_vietnamese(capsys: pytest.CaptureFixture[str]) -> None:
    # findings (numbers that disagree): exit 1, the summary still printed
    assert cli_sheet.main(["sheet", "check", str(FILLED), "--format", "csv"]) == 1
    text = capsys.readouterr().out
    assert "Định dạng: CSV, dòng tiêu đề 2" in text
    assert "Tổng điểm tối đa: 9,5 (dòng tổng ghi 10)" in text
    assert "Tổng điểm tự chấm: 5 (3 tiêu chí có điểm, dòng tổng ghi 8,5)" in text
    assert "  - 1.2: điểm 2 vượt điểm tối đa 1,5" in text
    assert "  - I: điểm ghi 5,5, tổng điểm các mục con 5" in text
    assert "  - dòng tổng ghi điểm tự chấm 8,5, cộng từ các tiêu chí được 5" in text
    assert "  - Bỏ qua dòng 13 sau dòng tổng" in text


def test_cli_summary_of_quang_dien(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_sheet.main(["sheet", "check", str(QUANG_DIEN)]) == 1
    text = capsys.readouterr().out
    assert "Định dạng: mỗi ô một dòng, dòng tiêu đề 35" in text
    assert "Tổng điểm tối đa: 100 (dòng tổng ghi 100)" in text
    assert "Cách chấm nhận ra: 34 chọn mức, 15 khung tỷ lệ, 2 trừ điểm, 1 danh sách mục" in text
    assert "  - II.6: điểm tối đa ghi 25, tổng điểm tối đa các mục con 23" in text
    assert "  - dòng 1667: Ô “0,5” không thuộc cột nào của bảng — bỏ qua" in text


def test_cli_exit_2_when_unreadable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_sheet.main(["sheet", "check", str(HA_BAC)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "không tìm thấy dòng tiêu đề của bảng" in captured.err
    broken = tmp_path / "hong.tsv"
    broken.write_text("STT\tNội dung\tĐiểm tối đa\n1\tA\tmột\n", encoding="utf-8")
    assert cli_sheet.main(["sheet", "check", str(broken), "--json"]) == 2
    captured = capsys.readouterr()
    assert "bỏ qua dòng 2: cột “Điểm tối đa” phải là số, gặp “một”" in captured.err
    error = json.loads(captured.out)["error"]  # --json always prints JSON
    assert error["line"] == 2 and "gặp “một”" in error["message"]
    assert cli_sheet.main(["sheet", "check", str(tmp_path / "khong-co.tsv")]) == 2
    assert "Không mở được tệp" in capsys.readouterr().err


def test_cli_refuses_a_50_mb_file_without_reading_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    huge = tmp_path / "qua-lon.tsv"
    with huge.open("wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing is written or read
    assert cli_sheet.main(["sheet", "check", str(huge), "--json"]) == 2
    captured = capsys.readouterr()
    assert "tệp quá lớn" in captured.err
    assert "tệp quá lớn" in json.loads(captured.out)["error"]["message"]


def test_cli_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "rong.csv"
    empty.write_bytes(b"")
    assert cli_sheet.main(["sheet", "check", str(empty)]) == 2
    assert "tệp rỗng / the file is empty" in capsys.readouterr().err


def test_register_into_another_parser() -> None:
    parser = argparse.ArgumentParser(prog="appraisal")
    cli_sheet.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sheet", "check", "bang.xlsx", "--format", "xlsx", "--json"])
    assert (args.file, args.format, args.json) == ("bang.xlsx", "xlsx", True)
    assert args.func is cli_sheet.run_check
    with pytest.raises(SystemExit):
        parser.parse_args(["sheet", "check", "x", "--format", "pdf"])


def test_cli_one_bad_row_is_reported_and_the_rest_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 12 item 1: a row whose text sat in the code column is skipped and reported; the
    JSON is printed and the exit code is 1 (a finding), not 2."""
    table = tmp_path / "mot-dong-hong.tsv"
    table.write_text(
        "STT\tNội dung\tĐiểm tối đa\n1\tA\t2\n1.1\tA1\t1\n1.2\tA2\t1\n"
        "Văn bản chỉ đạo của UBND\tghi nhầm cột\t\n2\tB\t3\n",
        encoding="utf-8",
    )
    assert cli_sheet.main(["sheet", "check", str(table), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == {"placed": 4, "guessed": 0, "skipped": 1}
    (row,) = out["skipped"]
    assert row["line"] == 5 and row["column"] == "STT"
    assert row["found"] == "Văn bản chỉ đạo của UBND"
    assert row["guess"] == "chữ nằm nhầm cột mã số: có lẽ là nội dung của mục 1.2"
    assert out["max_total"] == "5"
