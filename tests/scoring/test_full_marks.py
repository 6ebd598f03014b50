"""full_marks_inputs: the inputs of a diligent unit earn every leaf its best points."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from frameworks.yaml_io import load_framework_yaml
from models.framework import Framework
from scoring.aggregate import score_sheet
from scoring.rules import evaluate, full_marks_inputs

BUILTIN = Path(__file__).resolve().parents[2] / "frameworks" / "builtin"


def _load(name: str) -> Framework:
    return load_framework_yaml((BUILTIN / name).read_text(encoding="utf-8"))


def test_dinh_hoa_full_marks_everywhere() -> None:
    fw = _load("dinh-hoa-commune-2024.yaml")
    results = {n.code: evaluate(n, full_marks_inputs(n)) for n in fw.leaves()}
    assert all(results[n.code].score == n.max_points for n in fw.leaves())
    assert score_sheet(fw, results).total == Decimal(100)


def test_quang_dien_full_marks_but_the_three_printed_gaps() -> None:
    fw = _load("quang-dien-departments-2023.yaml")
    short = {
        n.code: evaluate(n, full_marks_inputs(n)).score
        for n in fw.leaves()
        if evaluate(n, full_marks_inputs(n)).score != n.max_points
    }
    # the draft's best options of II.6.3, II.6.4 and II.6.7.2 stay below their printed maxima
    assert short == {"II.6.3": Decimal(1), "II.6.4": Decimal(1), "II.6.7.2": Decimal("0.5")}
