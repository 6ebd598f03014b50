"""The score of a whole sheet: leaves' results summed up the tree, capped, with bonus and penalty.

Rules of the sum (DOMAIN "Frameworks and their scoring rules"):
- a parent is the sum of its children, never above its max and never below 0;
- a leaf excluded as not applicable leaves both the score and the max: the parent's max drops by
  the max that left (``nominal − removed``); a node whose children are all excluded is excluded;
- a leaf without a result (not yet scored) earns 0 and still counts in the max;
- ``bonus`` nodes add their score (capped at their own max) and ``penalty`` nodes subtract theirs;
  neither counts in any max. The total never falls below 0;
- ``max_total`` is the sum of the (effective) maxima of the top-level normal nodes, and
  ``nominal_max_total`` the sum of their maxima as written (what classification scales to).
Every score is rounded with the framework's places and rounding mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from models.framework import Framework, Node, NodeRole, RoundingMode
from scoring.rules import RuleResult, quantize

__all__ = ["NodeScore", "SheetScore", "score_sheet"]

ZERO = Decimal(0)


class NodeScore(BaseModel):
    """One node of a scored sheet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    role: NodeRole = NodeRole.normal
    score: Decimal  # earned points; for a penalty node the points subtracted
    max_points: Decimal  # effective max after exclusions; 0 when excluded
    nominal_max: Decimal  # the framework's điểm tối đa
    excluded: bool = False
    missing: bool = False  # a leaf with no result yet, scored 0


class SheetScore(BaseModel):
    """A scored sheet: every node (document order) and the totals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nodes: tuple[NodeScore, ...]
    total: Decimal
    max_total: Decimal
    nominal_max_total: Decimal | None = None  # None: as max_total (sheets scored before)
    bonus: Decimal = ZERO
    penalty: Decimal = ZERO
    critical_total: Decimal = ZERO  # sum over the critical nodes (a tie-break of the quota)
    critical_zero: tuple[str, ...] = ()  # critical nodes scored 0 (vetoes)

    def node(self, code: str) -> NodeScore:
        """The score of node ``code``; KeyError if the framework has none."""
        for n in self.nodes:
            if n.code == code:
                return n
        raise KeyError(code)

    @property
    def by_code(self) -> dict[str, NodeScore]:
        """The node scores keyed by code."""
        return {n.code: n for n in self.nodes}


def score_sheet(
    framework: Framework, leaf_results: Mapping[str, RuleResult | Decimal | None]
) -> SheetScore:
    """Scores a whole sheet from its leaves' results (a RuleResult, a stated Decimal, or None)."""
    leaf_codes = {leaf.code for leaf in framework.leaves()}
    unknown = sorted(set(leaf_results) - leaf_codes)
    if unknown:
        raise ValueError(f"not leaves of framework {framework.name!r}: {', '.join(unknown)}")

    places, rounding = framework.decimal_places, framework.rounding
    scores: dict[str, NodeScore] = {}

    def rounded(value: Decimal, cap: Decimal) -> Decimal:
        final = quantize(min(max(value, ZERO), cap), places, rounding)
        # Rounding must not lift a score above its max (0,75 with one place is 0,7, not 0,8).
        return final if final <= cap else quantize(cap, places, RoundingMode.down)

    def visit(node: Node) -> NodeScore:
        if node.is_leaf:
            result = leaf_results.get(node.code)
            if isinstance(result, RuleResult) and not result.counts_in_max:
                ns = NodeScore(
                    code=node.code,
                    role=node.role,
                    score=quantize(ZERO, places, rounding),
                    max_points=ZERO,
                    nominal_max=node.max_points,
                    excluded=True,
                )
            else:
                value = result.score if isinstance(result, RuleResult) else result
                ns = NodeScore(
                    code=node.code,
                    role=node.role,
                    score=rounded(value if value is not None else ZERO, node.max_points),
                    max_points=node.max_points,
                    nominal_max=node.max_points,
                    missing=value is None,
                )
            scores[node.code] = ns
            return ns

        children = [visit(child) for child in node.children]
        counted = [c for c in children if not c.excluded]
        if not counted:
            ns = NodeScore(
                code=node.code,
                role=node.role,
                score=quantize(ZERO, places, rounding),
                max_points=ZERO,
                nominal_max=node.max_points,
                excluded=True,
            )
        else:
            raw = sum((_signed(c) for c in counted), ZERO)
            removed = sum(
                (c.nominal_max - c.max_points for c in children if c.role is NodeRole.normal),
                ZERO,
            )
            effective = node.max_points - min(removed, node.max_points)
            ns = NodeScore(
                code=node.code,
                role=node.role,
                score=rounded(raw, effective),
                max_points=effective,
                nominal_max=node.max_points,
            )
        scores[node.code] = ns
        return ns

    tops = [visit(top) for top in framework.nodes]
    counted_tops = [t for t in tops if not t.excluded]
    normal = sum((t.score for t in counted_tops if t.role is NodeRole.normal), ZERO)
    bonus = sum((t.score for t in counted_tops if t.role is NodeRole.bonus), ZERO)
    penalty = sum((t.score for t in counted_tops if t.role is NodeRole.penalty), ZERO)
    max_total = sum((t.max_points for t in counted_tops if t.role is NodeRole.normal), ZERO)
    total = quantize(max(normal + bonus - penalty, ZERO), places, rounding)

    critical = _outermost_critical(framework)
    critical_scores = [scores[c] for c in critical if not scores[c].excluded]
    return SheetScore(
        nodes=tuple(scores[n.code] for n in framework.walk()),
        total=total,
        max_total=max_total,
        nominal_max_total=sum((t.nominal_max for t in tops if t.role is NodeRole.normal), ZERO),
        bonus=bonus,
        penalty=penalty,
        critical_total=sum((s.score for s in critical_scores), ZERO),
        critical_zero=tuple(
            n.code
            for n in framework.walk()
            if n.critical and not scores[n.code].excluded and scores[n.code].score == 0
        ),
    )


def _signed(ns: NodeScore) -> Decimal:
    return -ns.score if ns.role is NodeRole.penalty else ns.score


def _outermost_critical(framework: Framework) -> list[str]:
    """Critical nodes not inside another critical node (so nothing is counted twice)."""
    out: list[str] = []

    def visit(node: Node) -> None:
        if node.critical:
            out.append(node.code)
            return
        for child in node.children:
            visit(child)

    for top in framework.nodes:
        visit(top)
    return out
