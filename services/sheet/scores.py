"""Scores of a sheet from its entries: each leaf's rule result, and the whole sheet's total.

Computed with ``scoring.rules.evaluate`` from the entered facts; Decimal only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from models.framework import Framework, Node
from models.inputs import CriterionInput
from models.tables import Entry
from scoring.aggregate import SheetScore, score_sheet
from scoring.rules import RuleInputError, RuleResult, evaluate

__all__ = ["leaf_results", "score_both", "score_entries"]


def _result(
    node: Node, framework: Framework, inputs: Mapping[str, Any] | None, stored: Decimal | None
) -> RuleResult | Decimal | None:
    if inputs:
        try:
            return evaluate(
                node,
                CriterionInput.model_validate(inputs),
                decimal_places=framework.decimal_places,
                rounding=framework.rounding,
            )
        except (RuleInputError, ValidationError):
            return stored
    return stored


def leaf_results(
    framework: Framework, entries: Iterable[Entry], *, appraised: bool
) -> dict[str, RuleResult | Decimal | None]:
    """Each leaf's result from the self inputs, or (appraised) the council's where it gave one.

    A criterion the council did not touch keeps the unit's self assessment.
    """
    by_code = {e.criterion_code: e for e in entries}
    out: dict[str, RuleResult | Decimal | None] = {}
    for node in framework.leaves():
        e = by_code.get(node.code)
        if e is None:
            out[node.code] = None
        elif appraised and (e.appraised_inputs or e.appraised_score is not None):
            out[node.code] = _result(node, framework, e.appraised_inputs, e.appraised_score)
        else:
            out[node.code] = _result(node, framework, e.inputs, e.self_score)
    return out


def score_entries(framework: Framework, entries: Iterable[Entry], *, appraised: bool) -> SheetScore:
    """The whole sheet's score (self, or appraised)."""
    return score_sheet(framework, leaf_results(framework, entries, appraised=appraised))


def _appraised(e: Entry) -> bool:
    return bool(e.appraised_inputs) or e.appraised_score is not None


def score_both(framework: Framework, entries: Iterable[Entry]) -> tuple[SheetScore, SheetScore]:
    """The self and the appraised score of a sheet, each leaf's rule run once: the appraised
    sheet differs only where the council gave inputs or a score (the same results as two
    ``score_entries`` calls, at the cost of about one)."""
    rows = list(entries)
    own = leaf_results(framework, rows, appraised=False)
    own_sheet = score_sheet(framework, own)
    council = [e for e in rows if _appraised(e)]
    if not council:
        return own_sheet, own_sheet
    nodes = {node.code: node for node in framework.leaves()}
    appraised = dict(own)
    for e in council:
        node = nodes.get(e.criterion_code)
        if node is not None:
            appraised[node.code] = _result(node, framework, e.appraised_inputs, e.appraised_score)
    return own_sheet, score_sheet(framework, appraised)
