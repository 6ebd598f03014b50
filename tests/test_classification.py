"""Classification bands, the top-band quota, vetoes and shared ranks, per group.

The bands are the issue's example (≥90 xuất sắc, ≥70 tốt, ≥50 hoàn thành, else không hoàn
thành); Hà Bắc's written total (94,5) is read from its seed report.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from core.vn import parse_vn_decimal
from models.framework import ClassBand, ClassificationScheme, Framework, Node, TieBreak
from scoring.aggregate import score_sheet
from scoring.classification import UnitTotal, classify, rank, rank_units, top_quota

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
D = Decimal

BANDS = (
    ClassBand(key="excellent", label="Hoàn thành xuất sắc nhiệm vụ", min_total=D(90)),
    ClassBand(key="good", label="Hoàn thành tốt nhiệm vụ", min_total=D(70)),
    ClassBand(key="pass", label="Hoàn thành nhiệm vụ", min_total=D(50)),
    ClassBand(key="fail", label="Không hoàn thành nhiệm vụ", min_total=D(0)),
)


def scheme(**kwargs: object) -> ClassificationScheme:
    return ClassificationScheme.model_validate({"bands": BANDS, **kwargs})


def unit(uid: str, total: str, group: str = "xa", **kwargs: object) -> UnitTotal:
    return UnitTotal.model_validate({"unit_id": uid, "total": total, "group": group, **kwargs})


def bands_of(results: list[UnitTotal], sch: ClassificationScheme) -> dict[str, str]:
    return {c.unit_id: c.band_key for c in classify(sch, results)}


def test_ha_bac_total_is_excellent() -> None:
    text = (SEEDS / "ha-bac-commune-2023-self-assessment-summary.txt").read_text(encoding="utf-8")
    (written,) = re.findall(r"Tổng điểm tự chấm ([0-9]+,[0-9]+) điểm", text)
    (result,) = classify(scheme(), [UnitTotal(unit_id="ha-bac", total=parse_vn_decimal(written))])
    assert result.band_key == "excellent" and result.rank == 1
    assert result.reasons == ("Tổng điểm 94,5 ≥ 90: “Hoàn thành xuất sắc nhiệm vụ”",)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        ("100", "excellent"),
        ("90", "excellent"),
        ("89.999", "good"),
        ("70", "good"),
        ("69.5", "pass"),
        ("50", "pass"),
        ("49.999", "fail"),
        ("0", "fail"),
    ],
)
def test_bands_on_the_total(total: str, band: str) -> None:
    assert bands_of([unit("a", total)], scheme()) == {"a": band}


def test_bands_are_sorted_whatever_their_order() -> None:
    shuffled = ClassificationScheme(bands=(BANDS[2], BANDS[0], BANDS[3], BANDS[1]))
    assert bands_of([unit("a", "75")], shuffled) == {"a": "good"}


def test_total_below_every_band_gets_the_lowest() -> None:
    three = ClassificationScheme(bands=BANDS[:3])
    (result,) = classify(three, [unit("a", "20")])
    assert result.band_key == "pass"
    assert result.reasons == ("Tổng điểm 20 dưới mọi mức: “Hoàn thành nhiệm vụ”",)


def test_top_quota_keeps_the_best_and_pushes_the_rest_down() -> None:
    totals = ["98", "97", "95", "93", "91", "85", "80", "72", "60", "40"]
    results = [unit(f"u{i}", t) for i, t in enumerate(totals)]
    out = classify(scheme(top_quota_percent=D(20)), results)  # 20% of 10 units = 2
    assert [c.band_key for c in out] == [
        "excellent",
        "excellent",
        "good",
        "good",
        "good",
        "good",
        "good",
        "good",
        "pass",
        "fail",
    ]
    pushed = out[2]
    assert pushed.quota_demoted and pushed.natural_band_key == "excellent"
    assert pushed.reasons[-1] == (
        "Vượt tỷ lệ 20% số đơn vị được xếp loại “Hoàn thành xuất sắc nhiệm vụ” của nhóm "
        "(tối đa 2/10 đơn vị): xếp loại “Hoàn thành tốt nhiệm vụ”"
    )
    assert not out[0].quota_demoted


def test_quota_ties_broken_by_critical_criteria_then_code() -> None:
    results = [
        unit("b", "95", unit_code="B", critical_total="10"),
        unit("a", "95", unit_code="A", critical_total="12"),
        unit("c", "95", unit_code="C", critical_total="12"),
        *(unit(f"x{i}", "60") for i in range(7)),
    ]
    # 20% of 10 = 2: equal totals, so the critical sum decides (a, c), then the code (a < c).
    got = bands_of(results, scheme(top_quota_percent=D(20)))
    assert (got["a"], got["c"], got["b"]) == ("excellent", "excellent", "good")
    one = bands_of(results, scheme(top_quota_percent=D(10)))
    assert (one["a"], one["c"], one["b"]) == ("excellent", "good", "good")


def test_quota_tie_break_by_code() -> None:
    results = [
        unit("b", "95", unit_code="B", critical_total="20"),
        unit("a", "95", unit_code="A", critical_total="1"),
        *(unit(f"x{i}", "60") for i in range(8)),
    ]
    got = bands_of(results, scheme(top_quota_percent=D(10), tie_break=TieBreak.total_then_code))
    assert (got["a"], got["b"]) == ("excellent", "good")


def test_quota_size() -> None:
    assert top_quota(D(20), 10) == 2
    assert top_quota(D(20), 14) == 2  # floor(2,8)
    assert top_quota(D(20), 3) == 1  # at least one unit while the percentage is above 0
    assert top_quota(D(20), 3, min_top=0) == 0  # the strict reading
    assert top_quota(D(0), 10) == 0
    assert top_quota(D(100), 4) == 4
    assert top_quota(D(20), 0) == 0


def test_small_group_and_zero_percent() -> None:
    results = [unit("a", "99"), unit("b", "95"), unit("c", "91")]
    assert bands_of(results, scheme(top_quota_percent=D(20))) == {
        "a": "excellent",
        "b": "good",
        "c": "good",
    }
    strict = {
        c.unit_id: c.band_key for c in classify(scheme(top_quota_percent=D(20)), results, min_top=0)
    }
    assert set(strict.values()) == {"good"}
    closed = bands_of(results, scheme(top_quota_percent=D(0)))
    assert set(closed.values()) == {"good"}


def test_quota_and_ranks_are_per_group() -> None:
    results = [
        unit("xa1", "96", "commune"),
        unit("xa2", "94", "commune"),
        unit("xa3", "80", "commune"),
        unit("xa4", "80", "commune"),
        unit("xa5", "70", "commune"),
        unit("p1", "92", "department"),
        unit("p2", "91", "department"),
        unit("p3", "50", "department"),
        unit("p4", "45", "department"),
        unit("p5", "30", "department"),
    ]
    out = {c.unit_id: c for c in classify(scheme(top_quota_percent=D(20)), results)}
    assert out["xa1"].band_key == "excellent" and out["xa2"].band_key == "good"
    assert out["p1"].band_key == "excellent" and out["p2"].band_key == "good"
    assert [out[u].rank for u in ("xa1", "xa2", "xa3", "xa4", "xa5")] == [1, 2, 3, 3, 5]
    assert [out[u].rank for u in ("p1", "p2", "p3", "p4", "p5")] == [1, 2, 3, 4, 5]


def test_veto_caps_the_band_and_takes_no_quota_place() -> None:
    results = [
        unit("a", "99", critical_zero=("3.5",)),
        unit("b", "95"),
        unit("c", "40", critical_zero=("3.5",)),
        *(unit(f"x{i}", "60") for i in range(2)),
    ]
    out = {
        c.unit_id: c
        for c in classify(scheme(top_quota_percent=D(20), veto_max_band="good"), results)
    }
    assert out["a"].band_key == "good" and out["a"].vetoed
    assert out["a"].reasons[-1] == (
        "Tiêu chí quyết định 3.5 đạt 0 điểm: xếp loại tối đa “Hoàn thành tốt nhiệm vụ”"
    )
    assert out["b"].band_key == "excellent"  # the quota place a vetoed unit did not take
    assert out["c"].band_key == "fail" and not out["c"].vetoed  # already below the cap
    assert out["a"].rank == 1  # the rank follows the total alone


def test_no_veto_without_a_veto_band() -> None:
    assert bands_of([unit("a", "99", critical_zero=("3.5",))], scheme()) == {"a": "excellent"}


def test_rank_shares_ties() -> None:
    assert rank([D(90), D(85), D(85), D(70)]) == [1, 2, 2, 4]
    assert rank([D(70), D(85), D(90), D(85)]) == [4, 2, 1, 2]
    assert rank([]) == []
    assert rank([D("94.5"), D("94.500")]) == [1, 1]


def test_rank_units_per_group() -> None:
    results = [unit("a", "80", "xa"), unit("b", "90", "phong"), unit("c", "85", "xa")]
    assert rank_units(results) == {"a": 2, "b": 1, "c": 1}


def test_unit_total_from_a_scored_sheet() -> None:
    fw = Framework(
        name="x",
        year=2024,
        nodes=(
            Node(code="1", title="a", max_points=D(95)),
            Node(code="2", title="b", max_points=D(5), critical=True),
        ),
    )
    sheet = score_sheet(fw, {"1": D(95), "2": D(0)})
    total = UnitTotal.from_sheet(sheet, unit_id="binh-thanh", group="commune")
    assert (total.total, total.critical_total, total.critical_zero) == (D(95), D(0), ("2",))
    (result,) = classify(scheme(veto_max_band="good"), [total])
    assert (result.natural_band_key, result.band_key, result.vetoed) == ("excellent", "good", True)


def test_scheme_errors() -> None:
    with pytest.raises(ValueError, match="veto_max_band"):
        classify(scheme(veto_max_band="gold"), [unit("a", "1")])
    with pytest.raises(ValueError, match="twice"):
        classify(scheme(), [unit("a", "1"), unit("a", "2")])
