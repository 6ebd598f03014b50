"""A cycle's results per group: every area's appraised score, the total, rank with ties, class.

Read with a fixed number of queries (units, every entry of the cycle, the classification audit
rows that carry the quota notes); scores recomputed with ``scoring`` from the entries, the rank
and class as the classification stored them (a unit not yet classified is ranked by its total).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from core.vn import VN_TZ
from models.states import CycleState
from models.tables import AuditLog, Cycle, Entry
from reports.data import area_nodes, num
from scoring.classification import rank
from services.cycles import cycle_units
from services.sheet import framework_for, score_entries

__all__ = ["CycleResults", "GroupResults", "ResultLine", "cycle_results", "only_units"]

GROUP_VI: dict[str, str] = {
    "commune": "Xã, phường, thị trấn",
    "department": "Phòng chuyên môn",
    "district_department": "Phòng chuyên môn cấp huyện",
    "province_department": "Sở, ban, ngành",
}


@dataclass(frozen=True)
class ResultLine:
    """One unit of a group."""

    rank: int
    unit_id: int
    code: str
    name: str
    area_scores: tuple[Decimal, ...]
    total: Decimal
    classification: str
    note: str

    @property
    def areas_text(self) -> str:
        """The area scores on one line in the areas' order: "18,4; 8,5; 21; …" ("—": none)."""
        return "; ".join(num(s) for s in self.area_scores) or "—"


@dataclass(frozen=True)
class GroupResults:
    """The units of one ranking group, by rank."""

    key: str
    label: str
    lines: list[ResultLine]


@dataclass
class CycleResults:
    """Everything the results workbook and annex show."""

    cycle_id: str
    title: str
    year: int
    issuer: str
    published: bool
    published_at: datetime | None
    area_codes: list[str]
    area_titles: list[str]
    area_max: list[Decimal]
    max_total: Decimal
    groups: list[GroupResults] = field(default_factory=list)


def _notes(session: Session, cycle_id: str) -> dict[int, str]:
    """The reasons the classification gave (quota, veto), by unit id: the latest row wins."""
    out: dict[int, str] = {}
    for row in session.exec(
        select(AuditLog)
        .where(
            AuditLog.cycle_id == cycle_id,
            AuditLog.entity == "classification",
            AuditLog.action == "classify",
        )
        .order_by(col(AuditLog.id))
    ).all():
        after: dict[str, Any] = row.after or {}
        reasons = after.get("reasons") or []
        if row.unit_id is not None:
            # The first reason is the band of the total; the rest are the veto and the quota.
            out[row.unit_id] = "; ".join(str(r) for r in reasons[1:])
    return out


def cycle_results(session: Session, cycle: Cycle) -> CycleResults:
    """Every unit of the cycle by group and rank, with its area scores (appraised)."""
    fw = framework_for(session, cycle)
    areas = area_nodes(fw)
    labels = {b.key: b.label for b in fw.classification.bands} if fw.classification else {}
    by_unit: dict[int, list[Entry]] = {}
    for e in session.exec(select(Entry).where(Entry.cycle_id == cycle.id)).all():
        by_unit.setdefault(e.unit_id, []).append(e)
    notes = _notes(session, cycle.id)
    grouped: dict[str, list[tuple[int | None, ResultLine]]] = {}
    for cu, unit in cycle_units(session, cycle.id):
        assert unit.id is not None
        sheet = score_entries(fw, by_unit.get(unit.id, []), appraised=True)
        scores = sheet.by_code
        total = cu.final_total if cu.final_total is not None else sheet.total
        line = ResultLine(
            rank=cu.rank or 0,
            unit_id=unit.id,
            code=unit.code,
            name=unit.name,
            # A unit that submitted nothing has no area scores (its total is 0 by the rule).
            area_scores=tuple(scores[a.code].score for a in areas) if cu.submitted_at else (),
            total=total,
            classification=labels.get(cu.classification or "", cu.classification or ""),
            note=notes.get(unit.id, ""),
        )
        grouped.setdefault(cu.group, []).append((cu.rank, line))
    groups = []
    for key in sorted(grouped):
        members = grouped[key]
        if any(r is None for r, _ in members):  # not classified yet: rank by total, ties shared
            ranks = rank([line.total for _, line in members])
            lines = [replace(line, rank=r) for r, (_, line) in zip(ranks, members, strict=True)]
        else:
            lines = [line for _, line in members]
        lines.sort(key=lambda x: (x.rank, x.code))
        groups.append(GroupResults(key=key, label=GROUP_VI.get(key, key), lines=lines))
    return CycleResults(
        cycle_id=cycle.id,
        title=cycle.title,
        year=cycle.year,
        issuer=fw.issuer,
        published=CycleState(cycle.state) is CycleState.published,
        published_at=cycle.published_at.astimezone(VN_TZ) if cycle.published_at else None,
        area_codes=[a.code for a in areas],
        area_titles=[a.title for a in areas],
        area_max=[a.max_points for a in areas],
        max_total=score_entries(fw, [], appraised=False).max_total,
        groups=groups,
    )


def only_units(results: CycleResults, unit_ids: frozenset[int]) -> CycleResults:
    """The results restricted to these units (unpublished results shown to a unit's people)."""
    groups = [
        GroupResults(g.key, g.label, [line for line in g.lines if line.unit_id in unit_ids])
        for g in results.groups
    ]
    return replace(results, groups=[g for g in groups if g.lines])
