"""Scoring at scale (issue 13): the whole classification of a cycle — every unit's sheet
scored from its leaf scores (``score_sheet``), then classified and ranked per group
(``classify``) — at several unit counts, with time and peak memory (tracemalloc), against a
raw baseline: a ``sum`` of each unit's leaf Decimals and one ``sorted`` ranking."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bench.stack import dinh_hoa
from models.framework import Framework, Node
from scoring.aggregate import score_sheet
from scoring.classification import UnitTotal, classify

__all__ = ["ScaleRow", "bench_scoring", "scale_table"]

GROUPS = ("commune", "ward", "town")


@dataclass(frozen=True)
class ScaleRow:
    """One unit count: the project's and the raw seconds, and the project's peak memory."""

    units: int
    criteria: int
    project_s: float
    raw_s: float
    peak_mib: float
    classified: int

    @property
    def factor(self) -> float:
        """raw ÷ project, in rates."""
        return self.project_s / self.raw_s if self.raw_s > 0 else float("inf")


def _leaf_scores(leaves: Sequence[Node], units: int, seed: int = 13) -> list[dict[str, Decimal]]:
    rng = random.Random(seed)
    return [
        {leaf.code: Decimal(rng.randint(0, int(leaf.max_points * 1000))) / 1000 for leaf in leaves}
        for _ in range(units)
    ]


def _project(framework: Framework, sheets: list[dict[str, Decimal]]) -> int:
    assert framework.classification is not None
    totals = [
        UnitTotal.from_sheet(
            score_sheet(framework, sheet),
            unit_id=f"u{i:05d}",
            group=GROUPS[i % len(GROUPS)],
            unit_code=f"u{i:05d}",
        )
        for i, sheet in enumerate(sheets)
    ]
    return len(classify(framework.classification, totals))


def _raw(sheets: list[dict[str, Decimal]]) -> int:
    totals = [(sum(sheet.values(), Decimal(0)), i) for i, sheet in enumerate(sheets)]
    ranked = sorted(totals, reverse=True)
    return len(ranked)


def bench_scoring(sizes: Sequence[int]) -> list[ScaleRow]:
    """The classification of ``sizes`` units each (the Định Hóa framework's leaves)."""
    framework = dinh_hoa()
    leaves = list(framework.leaves())
    rows = []
    for n in sizes:
        sheets = _leaf_scores(leaves, n)
        start = time.perf_counter()
        classified = _project(framework, sheets)
        project_s = time.perf_counter() - start
        tracemalloc.start()  # a second pass: tracing slows allocation, so it is not timed
        _project(framework, sheets)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        _raw(sheets)
        raw_s = time.perf_counter() - start
        rows.append(
            ScaleRow(
                units=n,
                criteria=len(leaves),
                project_s=project_s,
                raw_s=raw_s,
                peak_mib=peak / 2**20,
                classified=classified,
            )
        )
    return rows


def scale_table(rows: Sequence[ScaleRow]) -> str:
    """The scoring rows as Markdown (seconds per run, ms per unit, peak MiB)."""
    lines = [
        "| units × criteria | project s | ms per unit | raw s | raw ÷ project | peak MiB "
        "(tracemalloc) | classified |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.units:,} × {r.criteria} | {r.project_s:,.2f} "
            f"| {r.project_s / r.units * 1000:.2f} | {r.raw_s:,.3f} | **{r.factor:,.0f}×** "
            f"| {r.peak_mib:,.1f} | {r.classified:,} |"
        )
    return "\n".join(lines)
