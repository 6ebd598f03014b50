"""The one reader of a unit's whole sheet, shared by the snapshot and the API/page view.

``load_sheet`` reads everything a sheet shows with a fixed number of queries (framework hash,
entries, evidence, assignments with their users, explanation rounds, and all the rounds' items
at once), however many rounds or criteria there are. Orderings that depend on the database's
collation (usernames, criterion codes) are left to the database, as the readers did before, so
a snapshot's canonical hash does not change with the reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from core.errors import NotFound
from models.framework import Framework
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    Evidence,
    ExplanationItem,
    ExplanationRequest,
    Unit,
    User,
)
from services.sheet.framework import framework_and_hash

__all__ = ["LoadedRound", "LoadedSheet", "load_sheet"]


@dataclass(frozen=True)
class LoadedRound:
    """An explanation round with its flagged criteria (by criterion code)."""

    request: ExplanationRequest
    items: tuple[ExplanationItem, ...]


@dataclass(frozen=True)
class LoadedSheet:
    """A unit's sheet as stored: framework, projection, entries, evidence, assignments, rounds."""

    cycle: Cycle
    unit: Unit
    cu: CycleUnit
    framework: Framework
    spec_hash: str
    entries: Mapping[str, Entry]  # by criterion code
    evidence: Mapping[str, tuple[Evidence, ...]]  # attached (not deleted), in upload order
    assignments: tuple[tuple[Assignment, User], ...]  # by username
    rounds: tuple[LoadedRound, ...]  # by round number

    def assignments_by_code(self) -> dict[str, list[tuple[Assignment, User]]]:
        """The staff on each criterion, by username."""
        out: dict[str, list[tuple[Assignment, User]]] = {}
        for a, u in self.assignments:
            out.setdefault(a.criterion_code, []).append((a, u))
        return out


def _cycle_unit(session: Session, cycle: Cycle, unit: Unit) -> CycleUnit:
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle.id, CycleUnit.unit_id == unit.id)
    ).first()
    if cu is None:
        raise NotFound(
            "unit_not_in_cycle",
            f"Đơn vị {unit.code} không tham gia kỳ đánh giá {cycle.id}.",
            f"Unit {unit.code} is not part of cycle {cycle.id}.",
        )
    return cu


def _evidence(session: Session, cycle: Cycle, unit: Unit) -> dict[str, tuple[Evidence, ...]]:
    grouped: dict[str, list[Evidence]] = {}
    for ev in session.exec(
        select(Evidence)
        .where(
            Evidence.cycle_id == cycle.id,
            Evidence.unit_id == unit.id,
            col(Evidence.deleted_at).is_(None),
        )
        .order_by(col(Evidence.id))
    ).all():
        grouped.setdefault(ev.criterion_code, []).append(ev)
    return {code: tuple(rows) for code, rows in grouped.items()}


def _assignments(session: Session, cycle: Cycle, unit: Unit) -> tuple[tuple[Assignment, User], ...]:
    rows = session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
        .order_by(col(User.username), col(Assignment.criterion_code))
    ).all()
    return tuple((a, u) for a, u in rows)


def _rounds(session: Session, cycle: Cycle, unit: Unit) -> tuple[LoadedRound, ...]:
    requests = session.exec(
        select(ExplanationRequest)
        .where(ExplanationRequest.cycle_id == cycle.id, ExplanationRequest.unit_id == unit.id)
        .order_by(col(ExplanationRequest.round_no))
    ).all()
    if not requests:
        return ()
    # Every round's items in one query; grouping keeps the database's order by criterion code.
    items: dict[int, list[ExplanationItem]] = {}
    for it in session.exec(
        select(ExplanationItem)
        .where(col(ExplanationItem.request_id).in_([r.id for r in requests]))
        .order_by(col(ExplanationItem.criterion_code))
    ).all():
        items.setdefault(it.request_id, []).append(it)
    return tuple(LoadedRound(request=r, items=tuple(items.get(_id(r.id), []))) for r in requests)


def _id(value: int | None) -> int:
    assert value is not None
    return value


def load_sheet(
    session: Session, *, cycle: Cycle, unit: Unit, cu: CycleUnit | None = None, staff: bool = True
) -> LoadedSheet:
    """Everything a unit's sheet shows, read with a fixed number of queries.

    ``staff=False``: without the assignments and the explanation rounds (both left empty), for
    a reader that needs neither (the submit check: its scores, progress and evidence); the
    assignments are most of the sheet's rows (one per criterion and staff member, with users).
    """
    assert unit.id is not None
    framework, spec_hash = framework_and_hash(session, cycle)
    entries = {
        e.criterion_code: e
        for e in session.exec(
            select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
        ).all()
    }
    return LoadedSheet(
        cycle=cycle,
        unit=unit,
        cu=cu if cu is not None else _cycle_unit(session, cycle, unit),
        framework=framework,
        spec_hash=spec_hash,
        entries=entries,
        evidence=_evidence(session, cycle, unit),
        assignments=_assignments(session, cycle, unit) if staff else (),
        rounds=_rounds(session, cycle, unit) if staff else (),
    )
