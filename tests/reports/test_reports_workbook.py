"""The results workbook from given results: one sheet per group (names Excel accepts), ranks with
ties, the quota note, numbers as numbers and people's text never a formula; a unit's people
see only their own lines before publication."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook

from reports.results import CycleResults, GroupResults, ResultLine, only_units
from reports.workbook import results_xlsx, sheet_title

QUOTA = (
    "Vượt tỷ lệ 20% số đơn vị được xếp loại “Hoàn thành xuất sắc nhiệm vụ” của nhóm "
    "(tối đa 1/3 đơn vị): xếp loại “Hoàn thành tốt nhiệm vụ”"
)


def _line(unit_id: int, rank: int, code: str, total: str, note: str = "") -> ResultLine:
    return ResultLine(
        rank=rank,
        unit_id=unit_id,
        code=code,
        name=f'=HYPERLINK("http://x","{code}")' if code == "evil" else f"UBND xã {code}",
        area_scores=(Decimal(total) - 10, Decimal(10)),
        total=Decimal(total),
        classification="Hoàn thành tốt nhiệm vụ",
        note=note,
    )


def _results() -> CycleResults:
    return CycleResults(
        cycle_id="2024-x",
        title="Kỳ 2024",
        year=2024,
        issuer="UBND huyện X",
        published=False,
        published_at=None,
        area_codes=["I", "II"],
        area_titles=["Chỉ đạo", "Thể chế"],
        area_max=[Decimal(80), Decimal(20)],
        max_total=Decimal(100),
        groups=[
            GroupResults(
                key="commune",
                label="Xã, phường, thị trấn",
                lines=[
                    _line(1, 1, "a", "95.5"),
                    _line(2, 1, "b", "95.5", QUOTA),
                    _line(3, 3, "evil", "80.25"),
                ],
            ),
            GroupResults(
                key="dept/phòng",
                label="Phòng: chuyên môn [huyện]",
                lines=[_line(4, 1, "d", "70")],
            ),
        ],
    )


def test_one_sheet_per_group_ranks_with_ties_and_the_quota_note() -> None:
    wb = load_workbook(BytesIO(results_xlsx(_results())))
    assert wb.sheetnames == ["Xã, phường, thị trấn", "Phòng- chuyên môn -huyện-"]
    ws = wb["Xã, phường, thị trấn"]
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    # Numbers stay numbers (read back as floats): the ranks share 1 and skip to 3.
    assert [(r[0], r[1], r[5]) for r in rows] == [
        (1, "a", 95.5),
        (1, "b", 95.5),
        (3, "evil", 80.25),
    ]
    assert rows[1][7] == QUOTA and rows[0][7] in ("", None)
    evil = ws.cell(row=7, column=3)
    assert evil.data_type == "s" and evil.value.startswith("=HYPERLINK(")  # text, not a formula
    assert ws.cell(row=4, column=4).value == 80 and ws.cell(row=4, column=6).value == 100


def test_sheet_titles_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_title("a" * 40, taken) == "a" * 31
    assert sheet_title("a" * 40, taken) == "a" * 27 + " (2)"
    assert sheet_title("x?y*z", taken) == "x-y-z"


def test_unpublished_results_for_a_unit_show_only_its_lines() -> None:
    mine = only_units(_results(), frozenset({2}))
    assert [(g.key, [line.code for line in g.lines]) for g in mine.groups] == [("commune", ["b"])]


def test_libreoffice_shows_the_formula_text_and_does_not_run_it(tmp_path) -> None:
    source = tmp_path / "ket-qua.xlsx"
    source.write_bytes(results_xlsx(_results()))
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "csv", "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    csv = (tmp_path / "ket-qua.csv").read_text(encoding="utf-8", errors="replace")
    # Evaluated, the cell would read "evil" (the link's label); as text it keeps the formula.
    assert '=HYPERLINK(""http://x"",""evil"")' in csv
