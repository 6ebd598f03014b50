"""Canonical YAML of a framework: exact decimals, exact round trips, the committed JSON Schema."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from frameworks.annex import import_annex
from frameworks.yaml_io import (
    SCHEMA_PATH,
    FrameworkYamlError,
    dump_framework_yaml,
    framework_json_schema,
    load_framework_yaml,
    schema_text,
)
from models.framework import (
    Band,
    BandsRule,
    ChecklistRule,
    ClassBand,
    ClassificationScheme,
    CountedRule,
    DeductionRule,
    DerivedRule,
    DerivedSource,
    Framework,
    LevelRateRule,
    LevelsRule,
    ManualRule,
    Node,
    NodeKind,
    NodeRole,
    NotApplicablePolicy,
    Option,
    ProportionalRule,
    SurveyRule,
)

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
D = Decimal

# Canonical text written by hand: what a person editing the file sees.
CANONICAL = """\
name: Bộ tiêu chí thử
issuer: UBND huyện Định Hóa
year: 2024
classification:
  bands:
  - key: excellent
    label: Hoàn thành xuất sắc nhiệm vụ
    min_total: 90
  - key: good
    label: Hoàn thành tốt nhiệm vụ
    min_total: 70
  top_quota_percent: 20
nodes:
- code: II
  title: Công tác tiếp công dân
  kind: area
  max_points: 8.5
  children:
  - code: '2.3'
    title: Thực hiện tiếp công dân và giải quyết đơn thư
    max_points: 4
    guidance: |-
      - 100% đơn thư được giải quyết đúng hạn = 1 điểm.
      - Có đơn thư quá hạn = 0,5 điểm.
    agency: Thanh tra huyện
    na_policy: fixed_points
    na_points: 1
    rule:
      kind: levels
      options:
      - key: '1'
        label: Đúng hạn
        points: 1
      - key: '2'
        label: Quá hạn
        points: 0.5
  - code: '2.4'
    title: Kết quả giải quyết nhiệm vụ được giao
    max_points: 3
    needs_explanation: false
    rule:
      kind: level_rate
      options:
      - key: hoan-thanh
        label: Hoàn thành
        points: 3
  - code: '2.5'
    title: Báo cáo định kỳ
    max_points: 3
    rule:
      kind: deduction
      per_item: 0.75
      item_label: báo cáo không đạt yêu cầu
  - code: '2.6'
    title: Điểm bình quân quy đổi
    max_points: 2.868
    rule:
      kind: manual
      step: 0.001
"""


def _every_rule_framework() -> Framework:
    def leaf(code: str, rule: object, **extra: object) -> Node:
        return Node.model_validate(
            {"code": code, "title": f"Tiêu chí {code}", "max_points": D(3), "rule": rule, **extra}
        )

    option = Option(key="a", label="Đạt", points=D("0.75"))
    leaves = [
        leaf("1.1", LevelsRule(options=(option, Option(key="b", label="Không", points=D(0))))),
        leaf("1.2", ProportionalRule(floor=D(80), unit_label="nhiệm vụ")),
        leaf(
            "1.3",
            BandsRule(
                measure="count",
                bands=(
                    Band(min=D(100), points=D(3), label="100%"),
                    Band(min=D("95"), max=D(100), points=D("2.5")),
                ),
            ),
        ),
        leaf("1.4", LevelRateRule(options=(Option(key="x", label="Mức", points=D(3)),))),
        leaf("1.5", DeductionRule(per_item=D("0.75"))),
        leaf("1.6", ChecklistRule(items=(option,))),
        leaf("1.7", CountedRule(items=(Option(key="t", label="Cấp tỉnh", points=D(2)),), cap=D(3))),
        leaf("1.8", SurveyRule(), na_policy=NotApplicablePolicy.exclude),
        leaf("1.9", ManualRule(step=D("0.5")), critical=True),
        leaf(
            "1.10",
            DerivedRule(
                source=DerivedSource.submission_days_late,
                bands=(
                    Band(max=D(0), max_inclusive=True, points=D(3)),
                    Band(min=D(3), points=D(0)),
                ),
            ),
        ),
    ]
    area = Node(
        code="I",
        title="Lĩnh vực",
        kind=NodeKind.area,
        max_points=D(30),
        children=tuple(leaves),
    )
    bonus = Node(code="T", title="Điểm thưởng", role=NodeRole.bonus, max_points=D(2))
    return Framework(
        name="Đủ mọi loại quy tắc",
        year=2024,
        classification=ClassificationScheme(
            bands=(ClassBand(key="pass", label="Hoàn thành nhiệm vụ", min_total=D("50.5")),)
        ),
        nodes=(area, bonus),
    )


def test_every_rule_kind_round_trips_exactly() -> None:
    fw = _every_rule_framework()
    text = dump_framework_yaml(fw)
    again = load_framework_yaml(text)
    assert again == fw
    assert dump_framework_yaml(again) == text


def test_canonical_text_round_trips_byte_for_byte() -> None:
    fw = load_framework_yaml(CANONICAL)
    assert dump_framework_yaml(fw) == CANONICAL
    assert fw.node("II").max_points == D("8.5")
    assert fw.node("2.6").max_points == D("2.868")
    assert fw.node("2.4").needs_explanation is False
    assert fw.node("2.3").na_points == D(1)


def test_decimals_never_pass_through_float() -> None:
    fw = load_framework_yaml(CANONICAL)
    rule = fw.node("2.5").rule
    assert isinstance(rule, DeductionRule)
    assert type(rule.per_item) is Decimal
    assert str(rule.per_item) == "0.75"
    # 0.1 + 0.2 is not 0.3 in binary floats; it is here.
    text = CANONICAL.replace("max_points: 2.868", "max_points: 0.1").replace(
        "step: 0.001", "step: 0.1"
    )
    small = load_framework_yaml(text).node("2.6")
    assert str(small.max_points) == "0.1"
    assert small.max_points + small.max_points + small.max_points == D("0.3")


def test_dump_writes_plain_numbers_field_order_no_defaults() -> None:
    text = dump_framework_yaml(_every_rule_framework())
    assert "per_item: 0.75\n" in text
    assert "min_total: 50.5\n" in text
    assert "'0.75'" not in text and "!!" not in text
    assert "needs_explanation" not in text  # default True is left out
    assert "critical: true" in text
    assert "kind: survey\n" in text  # a rule always keeps its kind, even a default-only one
    assert "kind: criterion" not in text  # a node's default kind is left out
    assert text.index("name:") < text.index("year:") < text.index("classification:")
    assert text.index("classification:") < text.index("nodes:")
    node_text = text[text.index("- code: '1.9'") :]
    assert node_text.index("title:") < node_text.index("max_points:") < node_text.index("rule:")


def test_seed_annexes_round_trip() -> None:
    for name in (
        "dinh-hoa-commune-2024-framework-and-assignment.txt",
        "quang-dien-departments-2023-draft-framework.txt",
    ):
        fw = import_annex((SEEDS / name).read_bytes()).framework(name="Khung", year=2024)
        text = dump_framework_yaml(fw)
        assert load_framework_yaml(text) == fw
        assert dump_framework_yaml(load_framework_yaml(text)) == text
    assert "guidance: |-\n" in text  # multi-line text is a literal block, not an escaped string


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == framework_json_schema()
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    schema = framework_json_schema()
    assert set(schema["required"]) == {"name", "year", "nodes"}
    assert "LevelsRule" in schema["$defs"]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("name: x\nyear: 2024\nnodes: [\n", 4, "YAML không hợp lệ"),
        ("- a\n- b\n", None, "phải là một bộ tiêu chí"),
        ("name: x\nyear: 2024\nnodes: []\n", None, "không hợp lệ tại nodes"),
        (
            "name: x\nyear: 2024\nnodes:\n- {code: '1', title: t, max_points: -1}\n",
            None,
            "nodes.0.max_points",
        ),
        (
            "name: x\nyear: 2024\nnodes:\n"
            "- {code: '1', title: t, max_points: 1, rule: {kind: magic}}\n",
            None,
            "nodes.0.rule",
        ),
        ("a: &x [1]\nb: *x\n", 2, "aliases are not allowed"),
    ],
)
def test_invalid_yaml_is_refused_clearly(text: str, line: int | None, fragment: str) -> None:
    with pytest.raises(FrameworkYamlError) as err:
        load_framework_yaml(text)
    assert err.value.line == line
    assert fragment in err.value.message
