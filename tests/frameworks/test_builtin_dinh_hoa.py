"""The built-in Định Hóa commune framework 2024 (annex II of the first seed) and its assignments.

Checks the transcription against the seed copy in tests/fixtures/seeds/: every node's max, the
sums, the titles and scoring texts, the agencies, and worked examples of every rule kind scored by
``scoring.rules``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

import frameworks
from frameworks.yaml_io import dump_framework_yaml, load_framework_yaml
from models.framework import (
    BandsRule,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelsRule,
    ManualRule,
    Node,
    NodeKind,
    NotApplicablePolicy,
    ProportionalRule,
    SurveyRule,
)
from models.inputs import CriterionInput
from scoring.rules import RuleInputError, evaluate_criterion

BUILTIN = Path(frameworks.__file__).parent / "builtin"
FRAMEWORK_FILE = BUILTIN / "dinh-hoa-commune-2024.yaml"
ASSIGNMENTS_FILE = BUILTIN / "dinh-hoa-commune-2024-assignments.yaml"
SEED = (
    Path(__file__).parent.parent
    / "fixtures"
    / "seeds"
    / "dinh-hoa-commune-2024-framework-and-assignment.txt"
)


def _load() -> Framework:
    return load_framework_yaml(FRAMEWORK_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fw() -> Framework:
    return _load()


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def D(s: str) -> Decimal:
    return Decimal(s)


# Every node's max, written from the table of annex II ("Điểm tối đa"), in document order.
# The table has no criterion 2.2: area II is 2.1 + 2.3 + 2.4 = 8,5 (checked below).
DOCUMENT_MAX: dict[str, str] = {
    "NỘI DUNG I": "77",
    "I": "20",
    "1.1": "4", "1.2": "4", "1.3": "4", "1.4": "4", "1.5": "4",
    "II": "8.5",
    "2.1": "3", "2.1.1": "1", "2.1.2": "1", "2.1.3": "1",
    "2.3": "4", "2.3.1": "1", "2.3.2": "1", "2.3.3": "1", "2.3.4": "1",
    "2.4": "1.5", "2.4.1": "0.5", "2.4.2": "1",
    "III": "21",
    "3.1": "1.5", "3.1.1": "0.5", "3.1.2": "1",
    "3.2": "3", "3.2.1": "0.5", "3.2.2": "0.5", "3.2.3": "0.5", "3.2.4": "0.5", "3.2.5": "0.5",
    "3.2.6": "0.5",
    "3.3": "1", "3.3.1": "0.5", "3.3.2": "0.5",
    "3.4": "1", "3.4.1": "0.5", "3.4.2": "0.5",
    "3.5": "1",
    "3.6": "2.5", "3.6.1": "0.5", "3.6.2": "2",
    "3.7": "1", "3.7.1": "0.5", "3.7.2": "0.5",
    "3.8": "2", "3.8.1": "0.5", "3.8.2": "1.5",
    "3.9": "8", "3.9.1": "2", "3.9.2": "2", "3.9.3": "2", "3.9.4": "2",
    "IV": "1.5", "4.1": "1", "4.2": "0.5",
    "V": "26",
    "5.1": "1.5", "5.1.1": "0.5", "5.1.2": "1",
    "5.2": "5.5", "5.2.1": "0.5", "5.2.2": "1",
    "5.2.3": "1", "5.2.3.1": "0.5", "5.2.3.2": "0.5",
    "5.2.4": "3", "5.2.4.1": "2", "5.2.4.2": "1",
    "5.3": "5", "5.3.1": "1", "5.3.2": "1", "5.3.3": "1", "5.3.4": "2",
    "5.4": "1", "5.4.1": "0.5", "5.4.2": "0.5",
    "5.5": "13", "5.5.1": "1", "5.5.2": "0.5",
    "5.5.3": "4", "5.5.3.1": "1", "5.5.3.2": "1", "5.5.3.3": "1", "5.5.3.4": "1",
    "5.5.4": "5", "5.5.4.1": "0.5", "5.5.4.2": "0.5", "5.5.4.3": "0.5", "5.5.4.4": "1",
    "5.5.4.5": "1", "5.5.4.6": "1.5",
    "5.5.5": "2.5", "5.5.5.1": "0.5", "5.5.5.2": "1", "5.5.5.3": "0.5", "5.5.5.4": "0.5",
    "NỘI DUNG II": "20",
    "VI": "6", "6.1": "1", "6.2": "5",
    "VII": "9", "7.1": "5", "7.2": "2", "7.3": "2",
    "VIII": "5", "8.1": "1", "8.2": "1", "8.3": "3", "8.3.1": "1", "8.3.2": "2",
    "NỘI DUNG III": "3",
    "IX": "1", "X": "2",
}  # fmt: skip

# The leaves whose rule is not "levels" (all other leaves pick one listed level).
NON_LEVEL_RULES: dict[str, str] = {
    "1.1": "survey", "1.2": "survey", "1.3": "survey", "1.4": "survey", "1.5": "survey",
    "2.4.1": "bands", "2.4.2": "bands", "5.5.3.1": "bands", "5.5.4.3": "bands",
    "5.5.1": "proportional", "5.5.4.6": "proportional", "6.2": "proportional",
    "7.2": "proportional", "7.3": "proportional", "X": "proportional",
    "8.1": "derived", "8.2": "derived", "8.3.1": "derived", "8.3.2": "derived",
}  # fmt: skip

# "không phát sinh" earns fixed points where the text says so.
NA_POINTS: dict[str, str] = {
    "2.3.4": "1",  # không có đơn, thư khiếu nại, tố cáo thì chấm 1 điểm
    "2.4.2": "0.5",  # người dân, doanh nghiệp không có kiến nghị, đề xuất thì chấm 0,5 điểm
    "5.5.5.1": "0.5",  # Không phát sinh nhiệm vụ ban hành văn bản QPPL = 0,5 điểm
    "5.5.5.4": "0.5",  # không có nội dung cần xử lý = 0,5 điểm
    "7.3": "0.5",  # không có kiến nghị thanh tra, kiểm toán phải khắc phục thì chấm 0,5 điểm
}


def _score(fw: Framework, code: str, **inputs: Any) -> Decimal:
    return evaluate_criterion(fw, code, CriterionInput(**inputs)).score


# --- structure ---------------------------------------------------------------------------------


def test_metadata(fw: Framework) -> None:
    assert fw.name == (
        "Khung tiêu chí đánh giá, xếp loại mức độ hoàn thành nhiệm vụ năm 2024 đối với UBND cấp xã"
    )
    assert fw.issuer == "UBND huyện Định Hóa"
    assert fw.year == 2024
    assert fw.unit_kind == "commune"
    assert [n.code for n in fw.nodes] == ["NỘI DUNG I", "NỘI DUNG II", "NỘI DUNG III"]
    assert all(n.kind is NodeKind.section for n in fw.nodes)
    assert fw.classification is not None
    bands = [(b.key, b.min_total) for b in fw.classification.bands]
    assert bands == [("excellent", D("90")), ("good", D("70")), ("pass", D("50")), ("fail", D("0"))]


def test_every_node_max_matches_the_document(fw: Framework) -> None:
    walked = fw.walk()
    assert [n.code for n in walked] == list(DOCUMENT_MAX)
    assert {n.code: n.max_points for n in walked} == {c: D(m) for c, m in DOCUMENT_MAX.items()}
    assert len(fw.leaves()) == 80


def test_reads_back_exactly(fw: Framework) -> None:
    assert load_framework_yaml(dump_framework_yaml(fw)) == fw
    assert fw.node("II").max_points == D("8.5")
    assert str(fw.node("5.5.4.6").max_points) == "1.5"


def test_max_total_is_100_and_children_add_up(fw: Framework) -> None:
    assert sum(n.max_points for n in fw.nodes) == 100
    assert [n.max_points for n in fw.nodes] == [77, 20, 3]
    for node in fw.walk():
        if node.children:
            total = sum(c.max_points for c in node.children)
            assert total == node.max_points, f"{node.code}: {total} ≠ {node.max_points}"
    # The document skips 2.2; its numbers still add up (3 + 4 + 1,5 = 8,5).
    assert [c.code for c in fw.node("II").children] == ["2.1", "2.3", "2.4"]


def test_kinds_follow_the_codes(fw: Framework) -> None:
    for node in fw.walk():
        if node.code.startswith("NỘI DUNG"):
            expected = NodeKind.section
        elif re.fullmatch(r"[IVX]+", node.code):
            expected = NodeKind.area
        elif node.code.count(".") == 1:
            expected = NodeKind.criterion
        else:
            expected = NodeKind.sub_criterion
        assert node.kind is expected, node.code


# --- rules -------------------------------------------------------------------------------------


def test_every_leaf_has_a_structured_rule_and_none_is_manual(fw: Framework) -> None:
    kinds = {leaf.code: leaf.rule.kind for leaf in fw.leaves() if leaf.rule is not None}
    assert len(kinds) == len(fw.leaves())
    assert not [c for c, k in kinds.items() if k == ManualRule().kind]
    assert {c: k for c, k in kinds.items() if k != "levels"} == NON_LEVEL_RULES
    assert all(node.rule is None for node in fw.walk() if node.children)


def _top_points(leaf: Node) -> Decimal | None:
    rule = leaf.rule
    if isinstance(rule, LevelsRule):
        return max(o.points for o in rule.options)
    if isinstance(rule, BandsRule | DerivedRule) and rule.bands:
        return max(b.points for b in rule.bands)
    return None


def test_rule_points_never_exceed_the_node_max(fw: Framework) -> None:
    for leaf in fw.leaves():
        top = _top_points(leaf)
        if top is not None:
            # In this document the best level/band is always exactly the max.
            assert top == leaf.max_points, leaf.code
        if isinstance(leaf.rule, LevelsRule):
            keys = [o.key for o in leaf.rule.options]
            assert len(set(keys)) == len(keys), leaf.code
            assert min(o.points for o in leaf.rule.options) == 0, leaf.code
        if leaf.na_points is not None:
            assert leaf.na_points <= leaf.max_points, leaf.code


def test_not_applicable_policies(fw: Framework) -> None:
    fixed = {
        leaf.code: leaf.na_points
        for leaf in fw.leaves()
        if leaf.na_policy is NotApplicablePolicy.fixed_points
    }
    assert fixed == {c: D(p) for c, p in NA_POINTS.items()}
    others = [
        leaf.code
        for leaf in fw.leaves()
        if leaf.code not in NA_POINTS and leaf.na_policy is not NotApplicablePolicy.forbidden
    ]
    assert others == []


def test_floors_and_sources(fw: Framework) -> None:
    floors = {
        leaf.code: leaf.rule.floor
        for leaf in fw.leaves()
        if isinstance(leaf.rule, ProportionalRule)
    }
    assert floors == {"5.5.1": 80, "5.5.4.6": 90, "6.2": 80, "7.2": 70, "7.3": 80, "X": 80}
    sources = {
        leaf.code: leaf.rule.source for leaf in fw.leaves() if isinstance(leaf.rule, DerivedRule)
    }
    assert sources == {
        "8.1": DerivedSource.council_override,
        "8.2": DerivedSource.council_override,
        "8.3.1": DerivedSource.rank_change,
        "8.3.2": DerivedSource.score_change,
    }
    assert all(
        isinstance(fw.node(c).rule, SurveyRule) and not fw.node(c).needs_explanation
        for c in ("1.1", "1.2", "1.3", "1.4", "1.5")
    )


# --- text against the seed ---------------------------------------------------------------------

# Extraction glitches of the seed that the framework corrects (and nothing else).
_GLITCHES = {
    "Bưu chính": "Bru chính",
    "Bưu điện": "Bru điện",
    "- Thực hiện đầy đủ, kịp thời": "- hực hiện đầy đủ, kịp thời",
    # 1.3 lost a word in the source ("chức trách, nhiệm vụ", as 1.1, 1.2 and 1.5 write it)
    "lợi ích chung trong thực hiện chức trách": "lợi ích chung trong thực hiện trách",
}


def _as_in_seed(text: str) -> str:
    for fixed, seed in _GLITCHES.items():
        text = text.replace(fixed, seed)
    return text


def _clean_seed(seed_text: str) -> str:
    text = re.sub(r"<[^>]+>", "", seed_text)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r" ([.;])", r"\1", text)


def test_titles_are_verbatim(fw: Framework, seed_text: str) -> None:
    lines = seed_text.splitlines()
    for node in fw.walk():
        if node.kind is NodeKind.section:
            expected = f"{node.code}. {node.title}"
            assert any(line.startswith(expected + "\t") for line in lines), node.code
        else:
            row = f"{node.code}\t{_as_in_seed(node.title)}\t"
            assert any(line.startswith(row) for line in lines), node.code


def test_guidance_comes_from_the_scoring_column(fw: Framework, seed_text: str) -> None:
    clean = _clean_seed(seed_text)
    for node in fw.walk():
        for line in node.guidance.splitlines():
            assert _as_in_seed(line) in clean, (node.code, line)
    assert "Bưu điện trực tiếp nhận hồ sơ" in fw.node("5.5.3.3").guidance
    assert fw.node("2.3.4").guidance.endswith(
        "* Ghi chú: nếu trong năm đánh giá không có đơn, thư khiếu nại, tố cáo thì chấm 1 điểm"
        " với tiêu chí này."
    )
    assert "<" not in "".join(n.guidance + n.evidence_required for n in fw.walk())


def test_evidence_and_agencies(fw: Framework) -> None:
    assert fw.node("1.3").evidence_required == "03 Phiếu đánh giá của Lãnh đạo UBND huyện"
    # A cell split by a page break is joined again.
    assert fw.node("5.5.1").evidence_required.startswith(
        "Lập Biểu thống kê các nhiệm vụ đã hoàn thành, chưa hoàn thành theo kế hoạch đề ra"
    )
    # Evidence written in the agency column of the table.
    assert fw.node("3.6.2").evidence_required.startswith("Quyết định công nhận phạm vi ảnh hưởng")
    assert fw.node("IX").evidence_required == "Kế hoạch khắc phục hạn chế, yếu kém của địa phương."
    for leaf in fw.leaves():
        assert leaf.agency, leaf.code
    agencies = {leaf.code: leaf.agency for leaf in fw.leaves()}
    assert agencies["1.1"] == "Phòng Nội vụ"  # "Phòng Nội vụ TH" on area I
    assert agencies["2.1.3"] == agencies["2.3.4"] == "Thanh tra huyện"
    assert agencies["3.2.6"] == agencies["6.2"] == agencies["7.3"] == "Phòng Tài chính - Kế hoạch"
    office = "Văn phòng HĐND và UBND huyện"
    assert agencies["3.4.1"] == agencies["5.5.3.4"] == agencies["7.1"] == office
    assert agencies["5.5.4.6"] == "Phòng Văn hóa và Thông tin"
    assert agencies["5.5.5.4"] == "Phòng Tư pháp"
    assert agencies["IX"] == agencies["X"] == "Phòng Nội vụ"  # stated on NỘI DUNG III
    assert set(agencies.values()) == {
        "Phòng Nội vụ",
        "Thanh tra huyện",
        "Phòng Tài chính - Kế hoạch",
        "Văn phòng HĐND và UBND huyện",
        "Phòng Văn hóa và Thông tin",
        "Phòng Tư pháp",
    }


# --- worked examples, per rule kind ------------------------------------------------------------


def test_survey_examples(fw: Framework) -> None:
    # (c x 1) + (d x 2) + (e x 3) + (g x 4) + (h x 5)/B over the 03 forms of the district leaders.
    assert _score(fw, "1.1", answers={5: 3}) == D("4.000")
    assert _score(fw, "1.2", answers={5: 2, 4: 1}) == D("3.733")  # 14/3 × 4 / 5
    assert _score(fw, "1.5", answers={3: 3}) == D("2.400")
    with pytest.raises(RuleInputError):
        _score(fw, "1.1", answers={6: 1})


def test_levels_examples(fw: Framework) -> None:
    # The seed's own example: 2.1.1, "đơn vị chấm 1 điểm".
    assert _score(fw, "2.1.1", level="full") == 1
    assert _score(fw, "2.1.1", level="not_full") == 0
    assert _score(fw, "2.3.1", level="partial_posting") == D("0.5")
    assert _score(fw, "2.3.4", level="some_overdue") == D("0.5")
    levels_5241 = {"fail": "0", "pass": "0.5", "good": "1", "excellent": "2"}
    for key, points in levels_5241.items():
        assert _score(fw, "5.2.4.1", level=key) == D(points)
    assert _score(fw, "5.2.4.2", level="some_pass") == D("0.5")
    assert _score(fw, "3.6.2", level="district") == 1
    assert _score(fw, "5.5.3.4", level="one_overdue") == D("0.5")
    assert _score(fw, "7.1", level="up_to_5_late") == 2
    assert _score(fw, "7.1", level="all_on_time") == 5
    assert _score(fw, "3.8.2", level="done") == D("1.5")
    with pytest.raises(RuleInputError) as err:
        _score(fw, "7.1", level="late")
    assert err.value.code == "7.1"
    assert err.value.field == "level"


def test_proportional_examples(fw: Framework) -> None:
    # The seed's example for the CCHC plan: "21/21 nhiệm vụ ... đạt 100% kế hoạch".
    result = evaluate_criterion(fw, "5.5.1", CriterionInput(numerator=21, denominator=21))
    assert result.score == 1
    assert "21/21" in result.explanation
    assert _score(fw, "5.5.1", rate=D("80")) == D("0.8")  # (80 × 1 điểm)/100
    assert _score(fw, "5.5.1", rate=D("79.99")) == 0  # "Hoàn thành dưới 80% kế hoạch = 0 điểm"
    assert _score(fw, "6.2", numerator=84, denominator=87) == D("4.828")  # 96,55% × 5
    assert _score(fw, "5.5.4.6", rate=D("90")) == D("1.35")  # (90 × 1,5 điểm)/100
    assert _score(fw, "5.5.4.6", rate=D("89.9")) == 0
    assert _score(fw, "7.2", rate=D("70")) == D("1.4")  # the 70% floor of 7.2
    assert _score(fw, "7.2", rate=D("69.9")) == 0
    assert _score(fw, "7.3", numerator=4, denominator=5) == D("1.6")
    assert _score(fw, "X", numerator=9, denominator=10) == D("1.8")
    assert _score(fw, "X", numerator=7, denominator=10) == 0
    with pytest.raises(RuleInputError) as err:
        _score(fw, "6.2", rate=D("101"))
    assert err.value.field == "rate"


def test_bands_examples(fw: Framework) -> None:
    assert _score(fw, "2.4.1", count=2) == D("0.5")  # từ 02 hội nghị trở lên
    assert _score(fw, "2.4.1", count=0) == 0  # không tổ chức hội nghị
    assert _score(fw, "2.4.1", count=1) == 0
    assert _score(fw, "2.4.2", numerator=17, denominator=20) == 1  # 85%
    assert _score(fw, "2.4.2", rate=D("84.9")) == 0
    assert _score(fw, "5.5.3.1", rate=D("100")) == 1
    assert _score(fw, "5.5.3.1", rate=D("99.5")) == 0
    assert _score(fw, "5.5.4.3", rate=D("90")) == D("0.5")
    assert _score(fw, "5.5.4.3", rate=D("89")) == 0


def test_not_applicable_examples(fw: Framework) -> None:
    for code, points in NA_POINTS.items():
        result = evaluate_criterion(fw, code, CriterionInput(not_applicable=True))
        assert result.score == D(points), code
        assert result.not_applicable and result.counts_in_max
    with pytest.raises(RuleInputError):
        _score(fw, "2.1.1", not_applicable=True)


def test_derived_examples(fw: Framework) -> None:
    # 2024, first year: the council gives full marks to 8.1 and 8.2.
    assert _score(fw, "8.1", value=D("1")) == 1
    assert _score(fw, "8.2", value=D("1")) == 1
    # 8.3.1: rank against last year (last year's rank − this year's).
    assert _score(fw, "8.3.1", value=D("3")) == 1
    assert _score(fw, "8.3.1", value=D("0")) == D("0.5")
    assert _score(fw, "8.3.1", value=D("-2")) == 0
    # 8.3.2: score against last year.
    assert _score(fw, "8.3.2", value=D("0.25")) == 2
    assert _score(fw, "8.3.2", value=D("0.001")) == 2
    assert _score(fw, "8.3.2", value=D("0")) == 1
    assert _score(fw, "8.3.2", value=D("-1.5")) == 0


def test_a_whole_sheet_reaches_100(fw: Framework) -> None:
    best: dict[str, CriterionInput] = {}
    for leaf in fw.leaves():
        rule = leaf.rule
        if isinstance(rule, LevelsRule):
            top = max(rule.options, key=lambda o: o.points)
            best[leaf.code] = CriterionInput(level=top.key)
        elif isinstance(rule, ProportionalRule):
            best[leaf.code] = CriterionInput(rate=D("100"))
        elif isinstance(rule, BandsRule):
            best[leaf.code] = (
                CriterionInput(rate=D("100")) if rule.measure == "rate" else CriterionInput(count=2)
            )
        elif isinstance(rule, SurveyRule):
            best[leaf.code] = CriterionInput(answers={5: 3})
        elif isinstance(rule, DerivedRule):
            value = leaf.max_points if rule.source is DerivedSource.council_override else D("1")
            best[leaf.code] = CriterionInput(value=value)
    scores = {code: evaluate_criterion(fw, code, inp).score for code, inp in best.items()}
    assert len(scores) == 80
    assert sum(scores.values()) == 100


# --- the assignment table ----------------------------------------------------------------------


def _assignments() -> list[dict[str, Any]]:
    with ASSIGNMENTS_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, list)
    return data


def _seed_assignment_rows(seed_text: str) -> list[tuple[str, str]]:
    """(row label, staff cell) of the seed's assignment table, rows that name someone."""
    table = seed_text.split("PHÂN CÔNG CHẤM ĐIỂM THỰC HIỆN NHIỆM VỤ CƠ QUAN", 1)[1]
    rows = []
    for line in table.splitlines():
        if "\t" not in line or line.startswith(("Tiêu chí", "NỘI DUNG")):
            continue
        label, staff = line.split("\t", 1)
        if staff.strip():
            rows.append((label.strip(), staff.strip()))
    return rows


def test_assignments_follow_the_seed_table(fw: Framework, seed_text: str) -> None:
    entries = _assignments()
    assert all(set(e) == {"codes", "staff", "responsible"} for e in entries)
    known = {n.code for n in fw.walk()}
    for entry in entries:
        assert entry["codes"] and set(entry["codes"]) <= known, entry
    # Group the entries back into rows: each row starts with its responsible person.
    rows: list[tuple[list[str], list[str]]] = []
    for entry in entries:
        if entry["responsible"]:
            rows.append((entry["codes"], [entry["staff"]]))
        else:
            assert rows and rows[-1][0] == entry["codes"], entry
            rows[-1][1].append(entry["staff"])
    seed_rows = _seed_assignment_rows(seed_text)
    assert len(rows) == len(seed_rows) == 30
    special = {  # cells that are not a plain list of names
        "3.9 Thực hiện dân chủ ở cơ quan nhà nước": ["Dung", "bộ phận liên quan", "đoàn thể"],
    }
    for (codes, staff), (label, cell) in zip(rows, seed_rows, strict=True):
        expected = special.get(label)
        if expected is None:
            cell = cell.replace(" Các bộ phận", ", Các bộ phận")
            expected = [s.strip() for s in cell.split(",")]
            if expected[-1] == "thanh tra":  # "Các bộ phận được kiểm tra, thanh tra" is one group
                expected = [*expected[:-2], f"{expected[-2]}, {expected[-1]}"]
        assert staff == expected, label
        # The row's own number matches its code, except the two rows the table renumbers.
        number = label.split(" ", 1)[0].rstrip(".")
        renumbered = {"2.2": "2.3", "2.3": "2.4"}
        romans = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
        code = romans[int(number) - 1] if number.isdigit() else renumbered.get(number, number)
        assert codes == [code], label
        title = label.split(" ", 1)[1]
        assert fw.node(code).title.replace("hằng năm", "hàng năm") == title, label
