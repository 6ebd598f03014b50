"""`appraisal sheet score` (issue 12, item 7): a filled table's inputs entered, the engine's score
beside the written one for every row and for the total; --json for machines."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cli import sheet as cli_sheet
from frameworks.annex import import_annex
from frameworks.sheet_score import score_table

D = Decimal
BUILTIN = Path(__file__).resolve().parents[2] / "frameworks" / "builtin"

FILLED = (
    "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\tGiải trình\n"
    "1\tBan hành kế hoạch CCHC\t2\t2\tKế hoạch số 12/KH-UBND ngày 05/01/2024\n"
    "\tĐúng hạn\t2\t\t\n"
    "\tChậm dưới 10 ngày\t1\t\t\n"
    "2\tNhiệm vụ hoàn thành đúng hạn\t3\t2,868\t84/87 nhiệm vụ hoàn thành đúng hạn\n"
    "\t- Dưới 80% = 0 điểm. - Từ 80% trở lên: (Tỷ lệ % hoàn thành x 3 điểm)/100\t\t\t\n"
    "3\tChế độ báo cáo\t2\t1\tChậm 2 báo cáo\n"
    "\tMỗi báo cáo chậm trừ 0,5 điểm\t\t\t\n"
    "\tTổng cộng\t7\t5,868\t\n"
)


def test_engine_scores_beside_the_written_ones() -> None:
    imported = import_annex(FILLED.encode())
    report = score_table(imported.framework(name="x", year=2024), imported)
    rows = {r.code: r for r in report.rows}
    assert (rows["1"].written, rows["1"].engine, rows["1"].inputs) == (D(2), D(2), {"level": "1"})
    # 84/87 × 3 = 2,897: the table's 2,868 came from a wrong 95,6%
    assert rows["2"].inputs == {"numerator": 84, "denominator": 87}
    assert (rows["2"].written, rows["2"].engine) == (D("2.868"), D("2.897")) and rows["2"].differs
    assert rows["3"].inputs == {"failed": 2} and rows["3"].engine == 1
    assert (report.written_total, report.engine_total, report.max_total) == (
        D("5.868"),
        D("5.897"),
        D(7),
    )
    assert report.differences == 2


def test_cli_json_and_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "da-cham.tsv"
    path.write_text(FILLED, encoding="utf-8")
    assert cli_sheet.main(["sheet", "score", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == {"written": "5.868", "engine": "5.897"}
    assert [r["code"] for r in out["rows"]] == ["1", "2", "3"]
    assert out["rows"][1]["note"] == "tỷ lệ 84/87 đọc từ giải trình"
    assert cli_sheet.main(["sheet", "score", str(path)]) == 1
    text = capsys.readouterr().out
    assert "2\t2,868\t2,897 ≠\ttỷ lệ 84/87 đọc từ giải trình" in text
    assert "Tổng điểm: ghi 5,868, hệ thống 5,897 / 7" in text


def test_cli_with_a_framework_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "dinh-hoa.tsv"
    path.write_text(
        "TT\tNội dung\tĐiểm tối đa\tĐiểm tự chấm\tGiải trình\n"
        "6\tPhát triển kinh tế - xã hội\t10\t\t\n"
        "6.2\tThực hiện kế hoạch phát triển kinh tế - xã hội\t5\t4,828\t84/87 nhiệm vụ\n",
        encoding="utf-8",
    )
    yaml = BUILTIN / "dinh-hoa-commune-2024.yaml"
    code = cli_sheet.main(["sheet", "score", str(path), "--framework", str(yaml), "--json"])
    out = json.loads(capsys.readouterr().out)
    (row,) = [r for r in out["rows"] if r["code"] == "6.2"]
    assert (row["written"], row["engine"]) == ("4.828", "4.828")
    assert any(r["note"] == "không có dòng này trong bảng" for r in out["rows"])
    assert code == 0  # no row and no total of the table disagrees with the engine
