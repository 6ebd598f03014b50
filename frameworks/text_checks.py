"""Checks of what a table writes, beyond its sums (issue 12, item 3).

- ``arithmetic_slips``: every fraction followed by a percentage in a text ("84/87 nhiệm vụ …
  95,6%") is recomputed; a percentage that is neither the true value rounded nor truncated at
  the precision written is a slip ("84/87 = 96,55%, ghi 95,6%"). Dates (22/11/2024) and
  document numbers (45/BC-UBND) are not fractions.
- ``unreachable_maxima``: the best possible answers to each leaf's rule must reach its max;
  every leaf where they do not is named with what they reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from core.vn import vn_decimal
from models.framework import Framework, Node
from scoring.rules import RuleInputError, evaluate, full_marks_inputs

__all__ = ["Slip", "arithmetic_slips", "reachable", "unreachable_maxima"]

# a/b not part of a date (a/b/c) nor of a document number (45/BC-UBND), then a percentage
# within the same sentence.
_FRACTION_PCT = re.compile(
    r"(?<![\d/.,])(\d{1,9})\s*/\s*(\d{1,9})(?![\d/]|\s*/)([^%\n;]{0,120}?)(\d{1,3}(?:[.,]\d{1,4})?)\s*%"
)


@dataclass(frozen=True)
class Slip:
    """A percentage written beside a fraction that does not match it."""

    fraction: str  # "84/87"
    written: Decimal  # 95.6
    true_value: Decimal  # 96.5517…
    text: str  # the Vietnamese finding: "84/87 = 96,55%, ghi 95,6%"


def arithmetic_slips(text: str) -> list[Slip]:
    """The fraction–percentage pairs of ``text`` whose percentage is wrong."""
    slips: list[Slip] = []
    for m in _FRACTION_PCT.finditer(text):
        num, den = int(m.group(1)), int(m.group(2))
        if den == 0 or num > den:
            continue
        written_text = m.group(4).replace(",", ".")
        written = Decimal(written_text)
        places = len(written_text.split(".")[1]) if "." in written_text else 0
        true_value = Decimal(num) * 100 / Decimal(den)
        step = Decimal(1).scaleb(-places)
        rounded = true_value.quantize(step, rounding=ROUND_HALF_UP)
        truncated = true_value.quantize(step, rounding=ROUND_DOWN)
        if written in (rounded, truncated):
            continue
        shown = true_value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
        slips.append(
            Slip(
                fraction=f"{num}/{den}",
                written=written,
                true_value=true_value,
                text=f"{num}/{den} = {vn_decimal(shown)}%, ghi {vn_decimal(written)}%",
            )
        )
    return slips


def reachable(node: Node, *, places: int = 3) -> Decimal:
    """The best score a node can earn: its leaves' best answers summed up, capped at each max."""
    if node.children:
        total = sum((reachable(c, places=places) for c in node.children), Decimal(0))
        return min(total, node.max_points)
    try:
        return evaluate(node, full_marks_inputs(node), decimal_places=places).score
    except RuleInputError:
        return node.max_points  # a rule the best inputs do not fit: nothing to say here


def unreachable_maxima(framework: Framework) -> list[tuple[str, Decimal, Decimal]]:
    """(code, best reachable, max) of every leaf whose best answers stay below its max."""
    out: list[tuple[str, Decimal, Decimal]] = []
    for leaf in framework.leaves():
        best = reachable(leaf, places=framework.decimal_places)
        if best < leaf.max_points:
            out.append((leaf.code, best, leaf.max_points))
    return out
