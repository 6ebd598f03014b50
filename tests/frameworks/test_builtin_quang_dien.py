"""The built-in Quảng Điền 2023 department framework (draft) against the document it transcribes.

Every expected number below was read from
tests/fixtures/seeds/quang-dien-departments-2023-draft-framework.txt (annex of Công văn số
1632/UBND ngày 26/7/2023, UBND huyện Quảng Điền). The draft contradicts itself in a few places;
the YAML keeps its numbers and these tests pin each contradiction down explicitly.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from frameworks.yaml_io import dump_framework_yaml, load_framework_yaml
from models.framework import (
    BandsRule,
    ChecklistRule,
    CountedRule,
    DeductionRule,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelsRule,
    Node,
    NodeKind,
    NotApplicablePolicy,
    UnitKind,
)
from models.inputs import CriterionInput
from scoring.rules import RuleInputError, RuleResult, evaluate

ROOT = Path(__file__).resolve().parents[2]
YAML_PATH = ROOT / "frameworks" / "builtin" / "quang-dien-departments-2023.yaml"
SEED_PATH = (
    ROOT / "tests" / "fixtures" / "seeds" / "quang-dien-departments-2023-draft-framework.txt"
)

D = Decimal


def _load() -> Framework:
    return load_framework_yaml(YAML_PATH.read_text(encoding="utf-8"))


FW = _load()


def _seed_text() -> str:
    """The seed with non-breaking spaces as spaces and each line stripped."""
    text = SEED_PATH.read_text(encoding="utf-8").replace("\xa0", " ")
    return "\n".join(line.strip() for line in text.splitlines())


SEED = _seed_text()


def _score(code: str, **inputs: object) -> RuleResult:
    return evaluate(
        FW.node(code),
        CriterionInput.model_validate(inputs),
        decimal_places=FW.decimal_places,
        rounding=FW.rounding,
    )


# --- the tree -------------------------------------------------------------------------------

# Code → điểm chuẩn, every row of the document. Codes carry their section's roman numeral
# because the document restarts 1, 1.1, … under I and under II (see the YAML header).
EXPECTED_MAX: dict[str, str] = {
    "I": "22", "I.1": "5", "I.1.1": "2", "I.1.2": "1", "I.1.3": "2", "I.2": "3", "I.3": "2",
    "I.3.1": "1", "I.3.2": "1", "I.4": "3", "I.4.1": "2", "I.4.2": "1", "I.5": "1", "I.6": "3",
    "I.7": "5", "II": "76", "II.1": "6", "II.1.1": "4", "II.1.1.1": "2", "II.1.1.2": "2",
    "II.1.2": "2", "II.2": "21", "II.2.1": "3", "II.2.1.1": "1", "II.2.1.2": "2", "II.2.2": "2",
    "II.2.2.1": "1", "II.2.2.2": "1", "II.2.3": "4", "II.2.3.1": "2", "II.2.3.2": "2",
    "II.2.4": "4", "II.2.5": "3", "II.2.6": "2", "II.2.7": "1", "II.2.8": "2", "II.3": "4",
    "II.3.1": "2", "II.3.2": "1", "II.3.3": "1", "II.4": "12", "II.4.1": "2", "II.4.2": "2",
    "II.4.3": "2", "II.4.4": "3", "II.4.5": "3", "II.5": "10", "II.5.1": "3", "II.5.1.1": "2",
    "II.5.1.2": "1", "II.5.2": "2", "II.5.3": "2", "II.5.4": "3", "II.5.4.1": "1",
    "II.5.4.2": "2", "II.6": "23", "II.6.1": "3", "II.6.1.1": "2", "II.6.1.2": "1", "II.6.2": "3",
    "II.6.3": "2", "II.6.4": "2", "II.6.5": "3", "II.6.5.1": "1.5", "II.6.5.2": "1.5",
    "II.6.6": "8", "II.6.6.1": "2", "II.6.6.2": "2", "II.6.6.3": "4", "II.6.7": "2",
    "II.6.7.1": "1", "II.6.7.2": "1", "III": "2",
}  # fmt: skip

# Two printed maxima are slips of the draft (its sections would add up to 97 while its total row
# and its criteria say 100); the built-in framework corrects them: code -> (printed, corrected).
PRINTED_SLIPS: dict[str, tuple[str, str]] = {
    "II": ("73", "76"),  # 6 + 21 + 4 + 12 + 10 + 23
    "II.6": ("25", "23"),  # 3 + 3 + 2 + 2 + 3 + 8 + 2
}

# Leaves whose best listed outcome is below their stated max, as printed.
BEST_BELOW_MAX: dict[str, str] = {"II.6.3": "1", "II.6.4": "1", "II.6.7.2": "0.5"}

EXPECTED_RULE_KIND: dict[str, str] = {
    "I.1.1": "levels", "I.1.2": "levels", "I.1.3": "bands", "I.2": "deduction",
    "I.3.1": "levels", "I.3.2": "bands", "I.4.1": "levels", "I.4.2": "bands", "I.5": "levels",
    "I.6": "counted", "I.7": "levels",
    "II.1.1.1": "levels", "II.1.1.2": "levels", "II.1.2": "bands",
    "II.2.1.1": "levels", "II.2.1.2": "deduction", "II.2.2.1": "levels", "II.2.2.2": "bands",
    "II.2.3.1": "bands", "II.2.3.2": "levels", "II.2.4": "bands", "II.2.5": "bands",
    "II.2.6": "bands", "II.2.7": "bands", "II.2.8": "levels",
    "II.3.1": "levels", "II.3.2": "levels", "II.3.3": "levels",
    "II.4.1": "levels", "II.4.2": "bands", "II.4.3": "levels", "II.4.4": "levels",
    "II.4.5": "bands",
    "II.5.1.1": "levels", "II.5.1.2": "levels", "II.5.2": "levels", "II.5.3": "levels",
    "II.5.4.1": "levels", "II.5.4.2": "levels",
    "II.6.1.1": "levels", "II.6.1.2": "levels", "II.6.2": "bands", "II.6.3": "levels",
    "II.6.4": "levels", "II.6.5.1": "bands", "II.6.5.2": "bands", "II.6.6.1": "levels",
    "II.6.6.2": "levels", "II.6.6.3": "checklist", "II.6.7.1": "levels", "II.6.7.2": "levels",
    "III": "derived",
}  # fmt: skip


def _children_sum(node: Node) -> Decimal:
    return sum((c.max_points for c in node.children), D(0))


def _best(node: Node) -> Decimal:
    """The most a leaf's rule can award before the node's cap."""
    rule = node.rule
    if isinstance(rule, LevelsRule):
        return max(o.points for o in rule.options)
    if isinstance(rule, BandsRule | DerivedRule):
        return max(b.points for b in rule.bands)
    if isinstance(rule, DeductionRule):
        return node.max_points
    if isinstance(rule, ChecklistRule):
        return sum((i.points for i in rule.items), D(0))
    if isinstance(rule, CountedRule):
        assert rule.cap is not None
        return rule.cap
    raise AssertionError(f"{node.code}: unexpected rule {rule!r}")


def test_file_is_the_canonical_dump_plus_comments() -> None:
    text = YAML_PATH.read_text(encoding="utf-8")
    without_comments = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert "\n".join(without_comments) + "\n" == dump_framework_yaml(FW)


def test_metadata() -> None:
    assert FW.name == (
        "Bộ tiêu chí chấm điểm chỉ số CCHC đối với cơ quan chuyên môn trực thuộc UBND huyện "
        "năm 2023 (dự thảo)"
    )
    assert FW.issuer == "UBND huyện Quảng Điền"
    assert FW.year == 2023
    assert FW.unit_kind is UnitKind.district_department
    # The draft states no classification bands.
    assert FW.classification is None


def test_every_node_max_matches_the_document() -> None:
    got = {n.code: n.max_points for n in FW.walk()}
    assert got == {code: D(v) for code, v in EXPECTED_MAX.items()}
    assert [n.code for n in FW.walk()] == list(EXPECTED_MAX)  # document order


def test_codes_are_unique() -> None:
    codes = [n.code for n in FW.walk()]
    assert len(codes) == len(set(codes)) == 73


def test_total_is_100_after_correcting_the_two_printed_slips() -> None:
    # The document's total row: "CỘNG ĐIỂM I + II+III" with 100.
    assert "CỘNG ĐIỂM I + II+III\n\n100\n" in SEED
    # The document prints II = 73 and II.6 = 25 (so its sections would give 22 + 73 + 2 = 97) …
    assert "KẾT QUẢ THỰC HIỆN CÁC NỘI DUNG CỤ THỂ CỦA CÔNG TÁC CCHC\n\n73\n" in SEED
    assert "Xây dựng và phát triển chính quyền điện tử, chính quyền số\n\n25\n" in SEED
    # … while its criteria add up to 100: the framework carries the corrected maxima.
    assert sum((n.max_points for n in FW.leaves()), D(0)) == D(100)
    assert [n.max_points for n in FW.nodes] == [D(22), D(76), D(2)]
    assert sum((n.max_points for n in FW.nodes), D(0)) == D(100)
    for code, (_printed, corrected) in PRINTED_SLIPS.items():
        assert FW.node(code).max_points == D(corrected)


def test_children_maxima_add_up_everywhere() -> None:
    mismatches: dict[str, tuple[str, str]] = {}
    for node in FW.walk():
        if node.children and _children_sum(node) != node.max_points:
            mismatches[node.code] = (str(node.max_points), str(_children_sum(node)))
    assert mismatches == {}


def test_node_kinds() -> None:
    assert FW.node("I").kind is NodeKind.area
    assert FW.node("II").kind is NodeKind.section
    assert FW.node("III").kind is NodeKind.area
    assert {FW.node(c).kind for c in ("I.1", "I.6", "II.1.1", "II.2.4")} == {NodeKind.criterion}
    assert {FW.node(c).kind for c in ("I.1.1", "II.1.1.1", "II.6.6.3")} == {NodeKind.sub_criterion}
    assert {a.kind for a in FW.node("II").children} == {NodeKind.area}


def test_every_leaf_has_its_stated_rule_and_none_is_manual() -> None:
    kinds = {n.code: n.rule.kind for n in FW.leaves() if n.rule is not None}
    assert kinds == EXPECTED_RULE_KIND
    assert all(not n.children or n.rule is None for n in FW.walk())


def test_best_outcome_never_exceeds_max() -> None:
    below: dict[str, str] = {}
    for leaf in FW.leaves():
        best = _best(leaf)
        assert best <= leaf.max_points, leaf.code
        if best < leaf.max_points:
            below[leaf.code] = str(best)
    assert below == BEST_BELOW_MAX


def test_not_applicable_policy_from_the_note() -> None:
    # "* Ghi chú: Đối với các tiêu chí tiêu chí, tiêu chí thành phần không phát sinh nhiệm vụ
    # thì không chấm điểm" covers every leaf, except those whose own lines score "nothing this
    # year" as 0 (I.6 sáng kiến, II.2.8 đề xuất đơn giản hóa TTHC) and III, which is derived.
    assert "không phát sinh nhiệm vụ thì không chấm điểm" in SEED
    assert "\nTrong năm không có sáng kiến được công nhận\n\n0\n" in SEED
    assert "\nTrong năm không có đề xuất đơn giản hóa TTHC\n\n0\n" in SEED
    always_scored = {"I.6", "II.2.8", "III"}
    for leaf in FW.leaves():
        expected = (
            NotApplicablePolicy.forbidden
            if leaf.code in always_scored
            else NotApplicablePolicy.exclude
        )
        assert leaf.na_policy is expected, leaf.code
        assert leaf.na_points is None


def test_texts_are_verbatim_from_the_document() -> None:
    for node in FW.walk():
        assert f"\n{node.title}\n" in SEED, node.code
        for line in node.evidence_required.splitlines():
            assert f"{line}" in SEED, (node.code, line)
        rule = node.rule
        labels: list[str] = []
        if isinstance(rule, LevelsRule):
            labels = [o.label for o in rule.options]
        elif isinstance(rule, BandsRule | DerivedRule):
            labels = [b.label for b in rule.bands]
        elif isinstance(rule, CountedRule):
            labels = [i.label for i in rule.items]
        for label in labels:
            assert f"\n{label}\n" in SEED, (node.code, label)


def test_guidance_lists_the_option_lines() -> None:
    assert FW.node("I.1.1").guidance == (
        "Trước và đúng thời gian quy định: 2 điểm\n"
        "Chậm dưới 10 ngày so với thời gian quy định: 1 điểm\n"
        "Không ban hành hoặc ban hành chậm từ 10 ngày trở lên: 0 điểm"
    )
    assert FW.node("I.2").guidance == (
        "Nội dung và thời gian báo cáo đảm bảo theo quy định "
        "(Mỗi tiêu chí không đạt yêu cầu trừ 0,75 điểm): 3 điểm"
    )
    for leaf in FW.leaves():
        assert leaf.guidance, leaf.code


def test_evidence_and_agencies() -> None:
    # An evidence cell in an option row belongs to the criterion above it.
    assert FW.node("I.2").evidence_required == (
        "Báo cáo CCHC chính Quý I, 6 tháng, Quý III năm 2023 và báo cáo CCHC năm 2022\n"
        "Báo cáo Quý 1 trước 07/3, Qúy II trước 07/6, Qúy III trước 07/9, năm 2022 trước 07/12/2022"
    )
    assert FW.node("II.6.3").evidence_required == (
        "Kết quả theo dõi của Văn phòng HĐND và UBND huyện."
    )
    assert FW.node("II.6.6").evidence_required == ""  # the cell holds a stray "0,5"
    agencies = {n.code: n.agency for n in FW.walk() if n.agency}
    assert agencies["I.3.2"] == "Phòng Văn hóa và Thông tin"
    assert agencies["I.7"] == "Văn phòng HĐND và UBND huyện"
    assert agencies["II.4.4"] == "Phòng Nội vụ"
    assert agencies["II.5.3"] == "Phòng Tài chính - Kế hoạch"
    assert set(agencies.values()) == {
        "Phòng Văn hóa và Thông tin",
        "Văn phòng HĐND và UBND huyện",
        "Phòng Nội vụ",
        "Phòng Tài chính - Kế hoạch",
    }
    assert len(agencies) == 20


# --- worked examples, scored by the engine --------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level", "expected"),
    [
        ("I.1.1", "dung_han", "2"),  # Trước và đúng thời gian quy định
        ("I.1.1", "cham_duoi_10_ngay", "1"),
        ("I.1.1", "khong_ban_hanh", "0"),
        ("I.1.2", "chua_day_du", "0.5"),
        ("I.4.1", "tu_20_den_30", "1.5"),
        ("I.7", "du_100_co_muon", "4"),
        ("II.4.4", "vi_pham_khong_xu_ly", "1"),
        ("II.6.3", "day_du_kip_thoi", "1"),  # stated max 2, best level 1
        ("II.6.7.2", "da_lap", "0.5"),
    ],
)
def test_levels(code: str, level: str, expected: str) -> None:
    assert _score(code, level=level).score == D(expected)


def test_levels_unknown_level_names_the_criterion() -> None:
    with pytest.raises(RuleInputError) as err:
        _score("I.1.1", level="cham_15_ngay")
    assert err.value.code == "I.1.1"
    assert err.value.field == "level"


@pytest.mark.parametrize(
    ("code", "rate", "expected"),
    [
        # I.1.3: "trên 80%" 2 / "từ 70% đến 80%" 1 / "từ 50% đến dưới 70%" 0
        ("I.1.3", "100", "2"),
        ("I.1.3", "80.5", "2"),
        ("I.1.3", "80", "1"),  # exactly 80% is "từ 70% đến 80%", not "trên 80%"
        ("I.1.3", "70", "1"),
        ("I.1.3", "69.99", "0"),
        # I.3.2: "từ 80% trở lên" 1 / "từ 60% đến dưới 80%" 0,5 / "dưới 60%" 0
        ("I.3.2", "80", "1"),
        ("I.3.2", "79.9", "0.5"),
        ("I.3.2", "60", "0.5"),
        ("I.3.2", "59", "0"),
        # I.4.2: "100%" 1 / "từ 80% đến dưới 100%" 0,5 / "dưới 80%" 0
        ("I.4.2", "100", "1"),
        ("I.4.2", "99", "0.5"),
        ("I.4.2", "79", "0"),
        # II.2.2.2: the top line "từ 90% đến dưới 100%" also takes 100%
        ("II.2.2.2", "100", "1"),
        ("II.2.2.2", "90", "1"),
        ("II.2.2.2", "89", "0.5"),
        ("II.2.2.2", "60", "0"),  # below 70%: not stated
        # II.2.4: 100 → 4; 95–<100 → 3; 90–<95 → 2; 85–<90 → 1; < 85 → 0
        ("II.2.4", "100", "4"),
        ("II.2.4", "95", "3"),
        ("II.2.4", "94.99", "2"),
        ("II.2.4", "85", "1"),
        ("II.2.4", "84.9", "0"),
        # II.2.7: 100% 1 / "Từ 90% - dưới 100%" 0
        ("II.2.7", "100", "1"),
        ("II.2.7", "95", "0"),
        # II.6.2: ≥ 50 → 3; "từ 40% trở lên" 2; 30–<40 1,5; 20–<30 1; < 10 → 0; 10–<20 unstated
        ("II.6.2", "50", "3"),
        ("II.6.2", "45", "2"),
        ("II.6.2", "30", "1.5"),
        ("II.6.2", "20", "1"),
        ("II.6.2", "15", "0"),
        ("II.6.2", "5", "0"),
        # II.6.5.1: 100% 1,5 / "Từ 90% đến 100%" 1 / "Dưới 90%" 0
        ("II.6.5.1", "100", "1.5"),
        ("II.6.5.1", "90", "1"),
        ("II.6.5.1", "89", "0"),
    ],
)
def test_bands(code: str, rate: str, expected: str) -> None:
    assert _score(code, rate=D(rate)).score == D(expected)


def test_bands_from_counts_explain_in_vietnamese() -> None:
    # 84 of 87 files on time = 96,55%: "Từ 95% - dưới 100%" → 3 điểm.
    result = _score("II.2.4", numerator=84, denominator=87)
    assert result.score == D(3)
    assert "84/87 hồ sơ TTHC được giải quyết đúng hạn và trước hạn (96,55%)" in result.explanation
    assert "3 điểm" in result.explanation


def test_bands_reject_a_rate_above_100() -> None:
    with pytest.raises(RuleInputError) as err:
        _score("II.4.5", rate=D("101"))
    assert (err.value.code, err.value.field) == ("II.4.5", "rate")


@pytest.mark.parametrize(
    ("code", "failed", "expected"),
    [
        ("I.2", 0, "3"),
        ("I.2", 1, "2.25"),  # "Mỗi tiêu chí không đạt yêu cầu trừ 0,75 điểm"
        ("I.2", 3, "0.75"),
        ("I.2", 4, "0"),
        ("II.2.1.2", 1, "1.5"),  # "trừ 0,5 điểm"
        ("II.2.1.2", 5, "0"),  # never below 0
    ],
)
def test_deduction(code: str, failed: int, expected: str) -> None:
    assert _score(code, failed=failed).score == D(expected)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, "0"),  # "Trong năm không có sáng kiến được công nhận"
        ({"cap_huyen": 1}, "1"),  # 01 sáng kiến = 01 điểm
        ({"cap_huyen": 2}, "2"),
        ({"cap_tinh": 1}, "2"),  # 01 sáng kiến = 02 điểm
        ({"cap_tinh": 1, "cap_huyen": 1}, "3"),
        ({"cap_tinh": 2}, "3"),  # 4 points, at most 3
    ],
)
def test_counted_initiatives(counts: dict[str, int], expected: str) -> None:
    assert _score("I.6", counts=counts).score == D(expected)


def test_checklist_quality_management_report() -> None:
    everything = ("bao_cao", "bao_cao_dam_bao", "muc_tieu_chat_luong", "ra_soat_cap_nhat")
    assert _score("II.6.6.3", checked=(*everything, "hop_xem_xet_lanh_dao")).score == D(4)
    # The report misses its deadline: "không đảm bảo trừ 0,5điểm".
    late = ("bao_cao", "muc_tieu_chat_luong", "ra_soat_cap_nhat", "hop_xem_xet_lanh_dao")
    assert _score("II.6.6.3", checked=late).score == D("3.5")
    assert _score("II.6.6.3", checked=()).score == D(0)


@pytest.mark.parametrize(
    ("days_late", "expected"),
    [
        ("0", "2"),  # "Theo đúng thời gian yêu cầu"
        ("1", "1"),  # "Quá từ 01 đến 03 ngày so với thời gian yêu cầu"
        ("3", "1"),
        ("4", "0"),  # "Quá 03 ngày so với thời gian yêu cầu"
        ("10", "0"),
    ],
)
def test_late_self_assessment_report(days_late: str, expected: str) -> None:
    rule = FW.node("III").rule
    assert isinstance(rule, DerivedRule)
    assert rule.source is DerivedSource.submission_days_late
    assert _score("III", value=D(days_late)).score == D(expected)


def test_not_applicable_leaves_the_total() -> None:
    # II.2.5 (apologies for late files) when no file was late.
    result = _score("II.2.5", not_applicable=True)
    assert result.not_applicable
    assert not result.counts_in_max
    assert result.score == D(0)
    for code in ("III", "I.6"):
        with pytest.raises(RuleInputError) as err:
            _score(code, not_applicable=True)
        assert (err.value.code, err.value.field) == (code, "not_applicable")
