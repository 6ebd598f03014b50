"""The built-in template for agencies under Nghị định 335/2025/NĐ-CP (issue 12, item 6): the
30 + 70 scale, the bands 90 / 70 / 50, the quota of 20% of the units rated "Hoàn thành tốt" per
group without a minimum of one, vetoes forcing "Không hoàn thành nhiệm vụ"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from frameworks.sheet_check import check_sheet
from frameworks.yaml_io import load_framework_yaml
from models.framework import BandBasis, ManualRule, QuotaBasis
from models.inputs import CriterionInput
from scoring.aggregate import score_sheet
from scoring.classification import UnitTotal, classify
from scoring.rules import evaluate, full_marks_inputs

D = Decimal
PATH = Path(__file__).resolve().parents[2] / "frameworks" / "builtin" / "agencies-nd335-2025.yaml"
FW = load_framework_yaml(PATH.read_text(encoding="utf-8"))


def test_general_criteria_30_and_task_results_70_nd335_2025() -> None:
    """Nghị định 335/2025/NĐ-CP, Điều 12 khoản 2 và 3 (docs/regulation.md [Q5]): tiêu chí chung
    tối đa 30 điểm, kết quả thực hiện nhiệm vụ tối đa 70."""
    assert [(n.code, n.title, n.max_points) for n in FW.nodes] == [
        ("I", "Tiêu chí chung", D(30)),
        ("II", "Kết quả thực hiện nhiệm vụ", D(70)),
    ]
    assert score_sheet(FW, {}).max_total == 100
    # the template's sub-criteria are the province's to set: typed scores, no step imposed
    assert all(
        isinstance(n.rule, ManualRule) and n.rule.step is None for n in FW.node("I").children
    )
    assert "điểm tạm của mẫu" in FW.node("5").guidance


def test_bands_90_70_50_and_the_quota_rule_nd335_2025() -> None:
    """Nghị định 335/2025/NĐ-CP, the article on the levels: khoản 1–3 and 4 điểm a (90 / 70 /
    50), khoản 5 điểm a (≤ 20% of those rated "Hoàn thành tốt", no minimum)."""
    scheme = FW.classification
    assert scheme is not None
    assert [(b.key, b.min_total) for b in scheme.bands] == [
        ("excellent", D(90)),
        ("good", D(70)),
        ("pass", D(50)),
        ("fail", D(0)),
    ]
    assert scheme.top_quota_percent == 20 and scheme.quota_basis is QuotaBasis.next_band
    assert scheme.min_top == 0 and scheme.band_basis is BandBasis.share
    assert scheme.source == "Nghị định 335/2025/NĐ-CP"


def test_full_marks_reach_100_and_the_check_is_clean() -> None:
    results = {leaf.code: evaluate(leaf, full_marks_inputs(leaf)) for leaf in FW.leaves()}
    assert score_sheet(FW, results).total == 100
    assert check_sheet(PATH.read_bytes()).inconsistencies == ()


def test_a_group_of_agencies_classified_under_nd335_2025() -> None:
    """Five departments: two above 90, two "tốt", one vetoed. 20% of the "tốt" count after the
    quota: 2 + 2 candidates → k = floor(20 × 4 / 120) = 0, so nobody stays "xuất sắc"."""
    node5 = FW.node("5")
    assert evaluate(node5, CriterionInput(numerator=38, denominator=40)).score == 38
    scheme = FW.classification
    assert scheme is not None
    units = [
        UnitTotal(unit_id="so-noi-vu", total=D(95), group="so"),
        UnitTotal(unit_id="so-tai-chinh", total=D(92), group="so"),
        UnitTotal(unit_id="so-xay-dung", total=D(85), group="so"),
        UnitTotal(unit_id="so-y-te", total=D(75), group="so"),
        UnitTotal(
            unit_id="so-cong-thuong",
            total=D(96),
            group="so",
            vetoes=("Người đứng đầu bị kỷ luật khiển trách",),
        ),
    ]
    out = {c.unit_id: c for c in classify(scheme, units)}
    assert out["so-noi-vu"].band_key == "good" and out["so-noi-vu"].quota_demoted
    assert out["so-tai-chinh"].band_key == "good"
    assert out["so-cong-thuong"].band_key == "fail" and out["so-cong-thuong"].vetoed
    with_exception = {
        c.unit_id: c.band_key
        for c in classify(scheme, units, exceptions={"so-noi-vu": "15/QĐ-UBND"})
    }
    assert with_exception["so-noi-vu"] == "excellent"
