"""Checks a scoring table (a framework annex, possibly a filled-in self-assessment report).

The tree is built from the table's codes and the totals are computed bottom-up from the leaves:
a parent's max is the sum of its children's, a parent's score the sum of its children's stated
scores. Every place where the document's own numbers disagree is an inconsistency:

- ``children_max_differs``: a parent's written max ≠ the sum of its children's maxima
  (``stated`` = written max, ``computed`` = the sum);
- ``stated_score_differs``: a parent's written score ≠ the sum of its children's scores;
- ``score_exceeds_max``: a score above the node's max (``stated`` = the score — written, or the
  computed sum when the parent has none — and ``computed`` = the max it exceeds);
- ``total_differs``: the written total row disagrees with the computed total (code
  ``max_total`` for the max column, ``score_total`` for the self-score column); a written max
  that is the criteria plus the bonus sections (a document whose total is "tiêu chí + điểm
  thưởng") is the document's own definition, not a difference;
- ``arithmetic_slip``: a percentage written beside a fraction in an explanation or a score cell
  that is not that fraction ("84/87 = 96,55%, ghi 95,6%"; ``stated`` = written, ``computed`` =
  true, ``note`` = the sentence);
- ``max_unreachable``: a leaf whose best possible answers stay below its max (``stated`` = the
  best reachable, ``computed`` = the max).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from core.vn import vn_decimal
from frameworks.annex import (
    AnnexError,
    AnnexImport,
    AnnexWarning,
    SkippedRow,
    check_size,
    decode_text,
    import_annex,
    import_annex_text,
)
from frameworks.text_checks import arithmetic_slips, unreachable_maxima
from frameworks.yaml_io import FrameworkYamlError, load_framework_yaml
from models.framework import Framework, Node, NodeRole

__all__ = [
    "Inconsistency",
    "SheetCheck",
    "SheetFormat",
    "SheetNode",
    "check_framework",
    "check_import",
    "check_sheet",
    "detect_format",
]

SheetFormat = Literal["tsv", "csv", "xlsx", "yaml"]
InconsistencyKind = Literal[
    "stated_score_differs",
    "score_exceeds_max",
    "children_max_differs",
    "total_differs",
    "arithmetic_slip",
    "max_unreachable",
]
ZERO = Decimal(0)


@dataclass(frozen=True)
class SheetNode:
    """One node: its max, its score as written and as computed from the leaves."""

    code: str
    title: str
    max: Decimal
    stated: Decimal | None
    computed: Decimal | None
    line: int | None = None
    computed_max: Decimal | None = None
    rule_kind: str = ""


@dataclass(frozen=True)
class Inconsistency:
    """Two numbers of the document that should agree and do not."""

    code: str
    kind: InconsistencyKind
    stated: Decimal | None
    computed: Decimal | None
    note: str = ""


@dataclass(frozen=True)
class SheetCheck:
    """The result of ``check_sheet``; ``to_json`` is the exact shape of ``sheet check --json``."""

    max_total: Decimal
    score_total: Decimal
    nodes: tuple[SheetNode, ...]
    inconsistencies: tuple[Inconsistency, ...]
    warnings: tuple[AnnexWarning, ...]
    # Not part of the JSON: for the readable summary.
    source_format: str = ""
    header_line: int | None = None
    stated_max_total: Decimal | None = None
    stated_score_total: Decimal | None = None
    notes: tuple[AnnexWarning, ...] = field(default=())
    skipped: tuple[SkippedRow, ...] = ()
    rows_placed: int = 0
    rows_guessed: int = 0
    rules: tuple[tuple[str, str, str, str], ...] = ()  # (code, kind, why, text read)

    @property
    def findings(self) -> int:
        """What a reader must look at: inconsistencies and rows left out."""
        return len(self.inconsistencies) + len(self.skipped)

    def to_json(self) -> dict[str, Any]:
        """``{"max_total", "score_total", "rows", "skipped", "rules", "nodes",
        "inconsistencies", "warnings"}``."""
        return {
            "rows": {
                "placed": self.rows_placed,
                "guessed": self.rows_guessed,
                "skipped": len(self.skipped),
            },
            "skipped": [
                {
                    "line": r.line,
                    "column": r.column,
                    "expected": r.expected,
                    "found": r.found,
                    "guess": r.guess,
                    "message": r.message,
                }
                for r in self.skipped
            ],
            "rules": [
                {"code": code, "rule": kind, "why": why, "text": text}
                for code, kind, why, text in self.rules
            ],
            "max_total": _dec(self.max_total),
            "score_total": _dec(self.score_total),
            "nodes": [
                {
                    "code": n.code,
                    "title": n.title,
                    "max": _dec(n.max),
                    "stated": _dec(n.stated),
                    "computed": _dec(n.computed),
                }
                for n in self.nodes
            ],
            "inconsistencies": [
                {
                    "code": i.code,
                    "kind": i.kind,
                    "stated": _dec(i.stated),
                    "computed": _dec(i.computed),
                    "note": i.note,
                }
                for i in self.inconsistencies
            ],
            "warnings": [{"line": w.line, "message": w.message} for w in self.warnings],
        }


def _dec(value: Decimal | None) -> str | None:
    """A plain decimal without exponent or trailing zeros: "100", "8.5", "2.868"."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.normalize():f}"


@dataclass
class _Walk:
    stated_max: dict[str, Decimal | None]
    stated_score: dict[str, Decimal | None]
    lines: dict[str, int | None]
    rule_kinds: dict[str, str]
    nodes: list[SheetNode] = field(default_factory=list)
    found: list[list[Inconsistency]] = field(default_factory=list)  # per node, document order

    def visit(self, node: Node) -> tuple[Decimal, Decimal | None]:
        """(computed max, computed score) of a node; records it and its inconsistencies."""
        index = len(self.nodes)
        self.nodes.append(SheetNode(node.code, node.title, node.max_points, None, None))
        self.found.append([])
        stated_max = self.stated_max.get(node.code)
        stated = self.stated_score.get(node.code)
        found = self.found[index]
        if node.children:
            results = [self.visit(child) for child in node.children]
            computed_max = sum((m for m, _ in results), ZERO)
            scores = [s for _, s in results if s is not None]
            computed: Decimal | None = sum(scores, ZERO) if scores else None
            if stated_max is not None and stated_max != computed_max:
                found.append(
                    Inconsistency(node.code, "children_max_differs", stated_max, computed_max)
                )
            if stated is not None and computed is not None and stated != computed:
                found.append(Inconsistency(node.code, "stated_score_differs", stated, computed))
        else:
            computed_max = node.max_points
            computed = stated
        limit = node.max_points
        if stated is not None and stated > limit:
            found.append(Inconsistency(node.code, "score_exceeds_max", stated, limit))
        elif computed is not None and computed > limit:
            found.append(Inconsistency(node.code, "score_exceeds_max", computed, limit))
        self.nodes[index] = SheetNode(
            code=node.code,
            title=node.title,
            max=node.max_points,
            stated=stated,
            computed=computed,
            line=self.lines.get(node.code),
            computed_max=computed_max,
            rule_kind=self.rule_kinds.get(node.code, ""),
        )
        return computed_max, computed

    @property
    def problems(self) -> list[Inconsistency]:
        return [problem for per_node in self.found for problem in per_node]


def _check(
    roots: tuple[Node, ...],
    *,
    stated_max: dict[str, Decimal | None],
    stated_score: dict[str, Decimal | None],
    lines: dict[str, int | None],
    rule_kinds: dict[str, str],
    total_max: Decimal | None,
    total_score: Decimal | None,
) -> tuple[Decimal, Decimal, list[SheetNode], list[Inconsistency]]:
    walk = _Walk(stated_max, stated_score, lines, rule_kinds)
    max_total = score_total = bonus_max = ZERO
    for root in roots:
        computed_max, computed = walk.visit(root)
        if root.role is NodeRole.normal:
            max_total += computed_max
            score_total += computed or ZERO
        elif root.role is NodeRole.bonus:
            score_total += computed or ZERO
            bonus_max += computed_max
        else:
            score_total -= computed or ZERO
    problems = list(walk.problems)
    # A total row may define the total as criteria + bonus ("… + điểm thưởng"): its own rule.
    if total_max is not None and total_max not in (max_total, max_total + bonus_max):
        problems.append(Inconsistency("max_total", "total_differs", total_max, max_total))
    if total_score is not None and total_score != score_total:
        problems.append(Inconsistency("score_total", "total_differs", total_score, score_total))
    return max_total, score_total, walk.nodes, problems


def _text_problems(imp: AnnexImport) -> list[Inconsistency]:
    out: list[Inconsistency] = []
    for e in imp.entries:
        text = "\n".join(t for t in (e.explanation, e.comment, e.self_note, e.appraised_note) if t)
        for slip in arithmetic_slips(text):
            out.append(
                Inconsistency(e.code, "arithmetic_slip", slip.written, slip.true_value, slip.text)
            )
    return out


def _unreachable(fw: Framework) -> list[Inconsistency]:
    return [
        Inconsistency(
            code,
            "max_unreachable",
            best,
            top,
            f"{code}: cách chấm tốt nhất chỉ đạt {vn_decimal(best)}/{vn_decimal(top)} điểm",
        )
        for code, best, top in unreachable_maxima(fw)
    ]


def check_import(imp: AnnexImport) -> SheetCheck:
    """Checks an imported annex against its own stated numbers, its text and its rules."""
    entries = imp.entries
    max_total, score_total, nodes, problems = _check(
        imp.nodes,
        stated_max={e.code: e.stated_max for e in entries},
        stated_score={e.code: e.stated_self for e in entries},
        lines={e.code: e.line for e in entries},
        rule_kinds={e.code: e.rule_kind for e in entries},
        total_max=imp.total.max_points if imp.total else None,
        total_score=imp.total.self_score if imp.total else None,
    )
    problems += _text_problems(imp)
    problems += _unreachable(imp.framework(name="bảng", year=2000))
    return SheetCheck(
        max_total=max_total,
        score_total=score_total,
        nodes=tuple(nodes),
        inconsistencies=tuple(problems),
        warnings=imp.warnings,
        source_format=imp.layout,
        header_line=imp.header_line,
        stated_max_total=imp.total.max_points if imp.total else None,
        stated_score_total=imp.total.self_score if imp.total else None,
        notes=imp.notes,
        skipped=imp.skipped,
        rows_placed=imp.rows_placed,
        rows_guessed=imp.rows_guessed,
        rules=tuple(
            (e.code, e.rule_kind, e.rule_note, e.rule_source) for e in entries if e.rule_kind
        ),
    )


def check_framework(fw: Framework) -> SheetCheck:
    """Checks a framework's own maxima (a framework carries no scores)."""
    walk_nodes = fw.walk()
    max_total, score_total, nodes, problems = _check(
        fw.nodes,
        stated_max={n.code: n.max_points for n in walk_nodes},
        stated_score={},
        lines={},
        rule_kinds={n.code: n.rule.kind for n in walk_nodes if n.rule is not None},
        total_max=None,
        total_score=None,
    )
    problems += _unreachable(fw)
    return SheetCheck(
        max_total=max_total,
        score_total=score_total,
        nodes=tuple(nodes),
        inconsistencies=tuple(problems),
        warnings=(),
        source_format="yaml",
    )


_YAML_KEY = re.compile(r"^[a-z_]+:(?:\s|$)")
_YAML_NODES = re.compile(rb"^nodes:[ \t]*\r?$", re.MULTILINE)


def detect_format(data: bytes) -> Literal["xlsx", "yaml", "text"]:
    """XLSX by its zip magic, YAML by its top-level keys (``nodes:``), else a text table."""
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = data[:4096].decode("utf-8-sig", errors="ignore")
    first = next(
        (ln for ln in head.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
    )
    if _YAML_KEY.match(first) and _YAML_NODES.search(data):
        return "yaml"
    return "text"


def check_sheet(data: bytes, fmt: SheetFormat | None = None) -> SheetCheck:
    """Reads a table (TSV or one cell per line, CSV, XLSX or a framework YAML) and checks it.

    Raises ``AnnexError`` (message and line) when the table cannot be read.
    """
    check_size(len(data))
    kind = fmt or detect_format(data)
    if kind == "yaml":
        try:
            fw = load_framework_yaml(decode_text(data))
        except FrameworkYamlError as exc:
            raise AnnexError(exc.message, exc.line) from exc
        return check_framework(fw)
    if kind == "xlsx":
        return check_import(import_annex(data, "xlsx"))
    # "text" (detected): TSV, one cell per line or CSV, whichever has a header.
    text_format: Literal["tsv", "csv"] | None = None if kind == "text" else kind
    return check_import(import_annex_text(decode_text(data), text_format))
