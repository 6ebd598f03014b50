"""Sheet totals: parents sum their children under caps, N/A exclusion, bonus and penalty.

Trees and maxima come from the seeds: Định Hóa area II (8,5 = 2.1 + 2.3 + 2.4), Định Hóa's
three contents (77 + 20 + 3 = 100) and Hà Bắc's 2023 self-assessment (94,5/100).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pytest

from core.vn import parse_vn_decimal
from models.framework import (
    DeductionRule,
    Framework,
    LevelsRule,
    Node,
    NodeKind,
    NodeRole,
    NotApplicablePolicy,
    Option,
)
from models.inputs import CriterionInput
from scoring.aggregate import score_sheet
from scoring.rules import RuleResult, evaluate

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
DH_RAW = (SEEDS / "dinh-hoa-commune-2024-framework-and-assignment.txt").read_text(encoding="utf-8")
HB = " ".join(
    (SEEDS / "ha-bac-commune-2023-self-assessment-summary.txt").read_text(encoding="utf-8").split()
)
D = Decimal


def dh_max(code: str) -> Decimal:
    """The 'Điểm tối đa' cell of a row of Định Hóa's annex II (code TAB title TAB max)."""
    found = re.findall(rf"^{re.escape(code)}\t[^\t]*\t([0-9]+(?:,[0-9]+)?)\t", DH_RAW, re.M)
    assert len(found) == 1, code
    return parse_vn_decimal(found[0])


def dh_content_max(roman: str) -> Decimal:
    found = re.findall(rf"^NỘI DUNG {roman}\. [^\t]*\t+([0-9]+)", DH_RAW, re.M)
    assert len(found) == 1, roman
    return parse_vn_decimal(found[0])


def leaf(code: str, **kwargs: object) -> Node:
    return Node.model_validate(
        {"code": code, "title": code, "max_points": dh_max(code), "kind": "sub_criterion", **kwargs}
    )


def parent(code: str, *children: Node, kind: NodeKind = NodeKind.criterion) -> Node:
    return Node(code=code, title=code, kind=kind, max_points=dh_max(code), children=children)


def area_ii(**leaf_options: Mapping[str, object]) -> Framework:
    """Định Hóa II 'Công tác tiếp công dân …' with its sub-criteria; options per leaf code."""

    def lf(code: str) -> Node:
        return leaf(code, **leaf_options.get(code, {}))

    tree = parent(
        "II",
        parent("2.1", lf("2.1.1"), lf("2.1.2"), lf("2.1.3")),
        parent("2.3", lf("2.3.1"), lf("2.3.2"), lf("2.3.3"), lf("2.3.4")),
        parent("2.4", lf("2.4.1"), lf("2.4.2")),
        kind=NodeKind.area,
    )
    return Framework(name="Định Hóa — lĩnh vực II", year=2024, nodes=(tree,))


LEAVES_II = ["2.1.1", "2.1.2", "2.1.3", "2.3.1", "2.3.2", "2.3.3", "2.3.4", "2.4.1", "2.4.2"]
EXCLUDE: Mapping[str, object] = {"na_policy": NotApplicablePolicy.exclude}
NA = CriterionInput(not_applicable=True)


def full_marks(framework: Framework) -> dict[str, RuleResult | Decimal | None]:
    return {n.code: n.max_points for n in framework.leaves()}


def test_children_maxima_of_the_seed_add_up() -> None:
    fw = area_ii()
    for node in fw.walk():
        if node.children:
            assert sum(c.max_points for c in node.children) == node.max_points, node.code
    assert fw.node("II").max_points == D("8.5")


def test_full_marks() -> None:
    fw = area_ii()
    sheet = score_sheet(fw, full_marks(fw))
    assert sheet.total == D("8.5") and sheet.max_total == D("8.5")
    assert sheet.node("2.4").score == D("1.5")
    assert [n.code for n in sheet.nodes][:3] == ["II", "2.1", "2.1.1"]


def test_missing_leaf_scores_zero_but_counts_in_max() -> None:
    fw = area_ii()
    results = full_marks(fw)
    del results["2.1.3"]
    results["2.3.2"] = None
    sheet = score_sheet(fw, results)
    assert sheet.node("2.1.3").missing and sheet.node("2.1.3").score == 0
    assert sheet.node("2.1").score == 2 and sheet.node("2.1").max_points == 3
    assert sheet.total == D("6.5") and sheet.max_total == D("8.5")


def test_excluded_leaf_leaves_score_and_max() -> None:
    fw = area_ii(**{"2.1.3": EXCLUDE})
    results = full_marks(fw)
    results["2.1.3"] = evaluate(fw.node("2.1.3"), NA)
    sheet = score_sheet(fw, results)
    assert sheet.node("2.1.3").excluded
    assert (sheet.node("2.1").score, sheet.node("2.1").max_points) == (D(2), D(2))
    assert sheet.node("II").max_points == D("7.5")
    assert sheet.total == D("7.5") and sheet.max_total == D("7.5")


def test_node_with_every_child_excluded_is_excluded() -> None:
    fw = area_ii(**{"2.4.1": EXCLUDE, "2.4.2": EXCLUDE})
    results = full_marks(fw)
    results["2.4.1"] = evaluate(fw.node("2.4.1"), NA)
    results["2.4.2"] = evaluate(fw.node("2.4.2"), NA)
    sheet = score_sheet(fw, results)
    assert sheet.node("2.4").excluded and sheet.node("2.4").max_points == 0
    assert sheet.max_total == 7 and sheet.total == 7


def test_whole_area_excluded_leaves_the_max_total() -> None:
    fw = area_ii(**{code: EXCLUDE for code in LEAVES_II})
    sheet = score_sheet(fw, {code: evaluate(fw.node(code), NA) for code in LEAVES_II})
    assert sheet.node("II").excluded
    assert sheet.total == 0 and sheet.max_total == 0


def test_fixed_points_not_applicable_counts_dinh_hoa_2_3_4_and_2_4_2() -> None:
    fw = area_ii(
        **{
            "2.3.4": {"na_policy": NotApplicablePolicy.fixed_points, "na_points": D(1)},
            "2.4.2": {"na_policy": NotApplicablePolicy.fixed_points, "na_points": D("0.5")},
        }
    )
    results = full_marks(fw)
    results["2.3.4"] = evaluate(fw.node("2.3.4"), NA)
    results["2.4.2"] = evaluate(fw.node("2.4.2"), NA)
    sheet = score_sheet(fw, results)
    assert sheet.node("2.3").score == 4
    assert sheet.node("2.4").score == 1 and sheet.node("2.4").max_points == D("1.5")
    assert sheet.total == 8 and sheet.max_total == D("8.5")


def test_stated_scores_are_capped_and_rounded() -> None:
    fw = area_ii()
    results = full_marks(fw)
    results["2.1.1"] = D("1.5")  # above its max of 1
    results["2.1.2"] = D("0.3333")
    results["2.1.3"] = D("-1")
    sheet = score_sheet(fw, results)
    assert sheet.node("2.1.1").score == 1
    assert sheet.node("2.1.2").score == D("0.333")
    assert sheet.node("2.1.3").score == 0
    assert sheet.node("2.1").score == D("1.333")


def test_parent_is_capped_at_its_max() -> None:
    over = Node(
        code="1",
        title="Cha",
        max_points=D(3),
        children=(
            Node(code="1.1", title="a", max_points=D(2)),
            Node(code="1.2", title="b", max_points=D(2)),
        ),
    )
    fw = Framework(name="x", year=2024, nodes=(over,))
    sheet = score_sheet(fw, {"1.1": D(2), "1.2": D(2)})
    assert sheet.node("1").score == 3 and sheet.total == 3 and sheet.max_total == 3


def test_bonus_adds_and_penalty_subtracts() -> None:
    bonus = Node(code="T", title="Điểm thưởng", role=NodeRole.bonus, max_points=D(2))
    penalty = Node(code="TR", title="Điểm trừ", role=NodeRole.penalty, max_points=D(5))
    fw = area_ii().model_copy(update={"nodes": (*area_ii().nodes, bonus, penalty)})
    results = full_marks(area_ii())
    sheet = score_sheet(fw, {**results, "T": D(3), "TR": D(1)})
    assert sheet.node("T").score == 2  # capped at its own max
    assert (sheet.bonus, sheet.penalty) == (D(2), D(1))
    assert sheet.total == D("9.5")  # 8,5 + 2 − 1
    assert sheet.max_total == D("8.5")  # bonus and penalty are not in the max
    zero = score_sheet(fw, {"TR": D(5)})
    assert zero.total == 0  # 0 − 5 never goes below 0


def test_penalty_inside_an_area_subtracts_there() -> None:
    area = Node(
        code="I",
        title="Lĩnh vực",
        max_points=D(3),
        children=(
            Node(code="1", title="a", max_points=D(3)),
            Node(code="1.x", title="trừ", role=NodeRole.penalty, max_points=D(1)),
        ),
    )
    fw = Framework(name="x", year=2024, nodes=(area,))
    sheet = score_sheet(fw, {"1": D(3), "1.x": D("0.75")})
    assert sheet.node("I").score == D("2.25") and sheet.node("I").max_points == 3


def test_dinh_hoa_contents_add_up_to_the_stated_total() -> None:
    (total,) = re.findall(r"^CỘNG TỔNG\t+([0-9]+)", DH_RAW, re.M)
    contents = tuple(
        Node(code=r, title=f"NỘI DUNG {r}", kind=NodeKind.section, max_points=dh_content_max(r))
        for r in ("I", "II", "III")
    )
    assert [c.max_points for c in contents] == [77, 20, 3]
    fw = Framework(name="Định Hóa 2024", year=2024, nodes=contents)
    sheet = score_sheet(fw, {})
    assert sheet.max_total == parse_vn_decimal(total) == 100
    assert sheet.total == 0


def test_ha_bac_self_assessment_total() -> None:
    areas = [
        m.groups()
        for m in re.finditer(
            r"(?<![0-9.])([1-7])\. ([^:]+?) ?: ?([0-9]+(?:[.,][0-9]+)?) ?/ ?([0-9]+) điểm", HB
        )
        if m.group(2).upper() == m.group(2)
    ]
    assert [a[0] for a in areas] == ["1", "2", "3", "4", "5", "6", "7"]
    items_7 = re.findall(r"(?<![0-9.])(7\.[1-7])\. ([^:]+?) ?: ?([0-9.,]+) ?/ ?([0-9.,]+) điểm", HB)
    children_7 = tuple(
        Node(code=code, title=title, max_points=parse_vn_decimal(mx))
        for code, title, _, mx in items_7
    )
    nodes = tuple(
        Node(
            code=code,
            title=title,
            kind=NodeKind.area,
            max_points=parse_vn_decimal(mx),
            children=children_7 if code == "7" else (),
        )
        for code, title, _, mx in areas
    )
    fw = Framework(name="Hà Bắc 2023", year=2023, nodes=nodes)
    stated: dict[str, RuleResult | Decimal | None] = {
        code: parse_vn_decimal(score) for code, _, score, _ in areas if code != "7"
    }
    stated.update({code: parse_vn_decimal(score) for code, _, score, _ in items_7})
    sheet = score_sheet(fw, stated)
    (written_total,) = re.findall(r"Tổng điểm tự chấm ([0-9]+,[0-9]+) điểm", HB)
    assert sheet.total == parse_vn_decimal(written_total) == D("94.5")
    assert sheet.max_total == 100
    assert sheet.node("7").score == parse_vn_decimal(areas[6][2]) == D("15.5")
    assert sheet.node("7").max_points == 17


def test_rule_results_flow_into_the_sheet() -> None:
    # Quảng Điền I.1.1 (levels 2/1/0) and I.2 (deduction 0,75 per failed report, max 3).
    levels = LevelsRule(
        options=(
            Option(key="dung_han", label="Trước và đúng thời gian quy định", points=D(2)),
            Option(key="cham", label="Chậm dưới 10 ngày", points=D(1)),
            Option(key="khong", label="Không ban hành", points=D(0)),
        )
    )
    area = Node(
        code="I",
        title="CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH CCHC",
        max_points=D(5),
        children=(
            Node(code="1.1", title="Ban hành kế hoạch", max_points=D(2), rule=levels),
            Node(
                code="2",
                title="Báo cáo CCHC",
                max_points=D(3),
                rule=DeductionRule(per_item=D("0.75")),
            ),
        ),
    )
    fw = Framework(name="Quảng Điền", year=2023, nodes=(area,))
    results: dict[str, RuleResult | Decimal | None] = {
        "1.1": evaluate(fw.node("1.1"), CriterionInput(level="cham")),
        "2": evaluate(fw.node("2"), CriterionInput(failed=1)),
    }
    sheet = score_sheet(fw, results)
    assert sheet.total == D("3.25") and sheet.max_total == 5


def test_critical_totals_and_zeros() -> None:
    fw = area_ii(**{"2.4.2": {"critical": True}, "2.3.4": {"critical": True}})
    results = full_marks(fw)
    results["2.4.2"] = D(0)
    sheet = score_sheet(fw, results)
    assert sheet.critical_zero == ("2.4.2",)
    assert sheet.critical_total == 1  # 2.3.4 (1) + 2.4.2 (0)


def test_unknown_codes_are_refused() -> None:
    fw = area_ii()
    with pytest.raises(ValueError, match=r"9\.9"):
        score_sheet(fw, {"9.9": D(1)})
    with pytest.raises(ValueError, match=r"2\.1"):
        score_sheet(fw, {"2.1": D(1)})  # a parent is computed, never given


def test_framework_rounding_applies_and_never_lifts_above_a_max() -> None:
    node = Node(code="2.4.1", title="Hội nghị đối thoại", max_points=dh_max("2.4.1"))
    fw = Framework(name="x", year=2024, decimal_places=0, nodes=(node,))
    # 0,5 with no decimal places rounds half-up to 1, above the max: it stays at 0.
    assert score_sheet(fw, {"2.4.1": D("0.5")}).total == 0
    one_place = fw.model_copy(update={"decimal_places": 1})
    assert score_sheet(one_place, {"2.4.1": D("0.46")}).total == D("0.5")
