"""``score_both`` (the sheet view's one pass) gives exactly the self and appraised scores of two
``score_entries`` calls: with no council input, with some, and with inputs the rule refuses."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import frameworks
from frameworks.yaml_io import load_framework_yaml
from models.framework import DerivedRule, Framework
from models.tables import Entry
from scoring.rules import full_marks_inputs
from services.sheet import score_both, score_entries

FILE = Path(frameworks.__file__).parent / "builtin" / "dinh-hoa-commune-2024.yaml"


def _framework() -> Framework:
    return load_framework_yaml(FILE.read_text(encoding="utf-8"))


def _entries(framework: Framework) -> list[Entry]:
    out = []
    for leaf in framework.leaves():
        if isinstance(leaf.rule, DerivedRule):
            out.append(Entry(cycle_id="c", unit_id=1, criterion_code=leaf.code, self_score=None))
            continue
        inputs = full_marks_inputs(leaf).model_dump(mode="json", exclude_none=True)
        out.append(Entry(cycle_id="c", unit_id=1, criterion_code=leaf.code, inputs=inputs))
    return out


def _same(framework: Framework, entries: list[Entry]) -> None:
    own, appraised = score_both(framework, entries)
    want_own = score_entries(framework, entries, appraised=False)
    want_appraised = score_entries(framework, entries, appraised=True)
    assert own.total == want_own.total and own.max_total == want_own.max_total
    assert appraised.total == want_appraised.total
    for node in framework.walk():
        assert own.node(node.code) == want_own.node(node.code), node.code
        assert appraised.node(node.code) == want_appraised.node(node.code), node.code


def test_no_council_input_gives_the_self_score_twice() -> None:
    framework = _framework()
    entries = _entries(framework)
    _same(framework, entries)
    own, appraised = score_both(framework, entries)
    assert own.total == appraised.total > 0


def test_council_scores_and_inputs_change_only_their_leaves() -> None:
    framework = _framework()
    entries = _entries(framework)
    scored = [e for e in entries if e.inputs]
    scored[0].appraised_score = Decimal("0.000")  # a council score without inputs
    scored[1].appraised_inputs = dict(scored[1].inputs or {})  # the same inputs again
    scored[2].appraised_inputs = {"not": "an input the rule takes"}  # refused: stored score
    scored[2].appraised_score = Decimal("0.500")
    _same(framework, entries)
    own, appraised = score_both(framework, entries)
    assert appraised.total < own.total
