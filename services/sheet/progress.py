"""A unit's progress: how many leaves are finished, and who has work left."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.framework import DerivedRule, Framework, Node, NotApplicablePolicy
from models.tables import Assignment, Cycle, Entry, Unit, User
from services.sheet.framework import framework_for
from services.sheet.loader import LoadedSheet

__all__ = ["Progress", "StaffProgress", "finished", "progress", "sheet_progress"]


def _finished(node: Node, entry: Entry | None) -> bool:
    if isinstance(node.rule, DerivedRule):
        return True  # nothing for the unit to do: the system or the council supplies it
    if entry is None or entry.self_score is None:
        return False
    na = bool(entry.inputs.get("not_applicable")) and node.na_policy is not (
        NotApplicablePolicy.forbidden
    )
    return na or not node.needs_explanation or bool(entry.explanation.strip())


def finished(node: Node, entry: Entry | None) -> bool:
    """A leaf is finished: scored and, where it needs one, explained (derived: always)."""
    return _finished(node, entry)


@dataclass(frozen=True)
class StaffProgress:
    """One staff member's criteria and those not finished yet."""

    username: str
    full_name: str
    email: str
    criteria: tuple[tuple[str, str, bool], ...]  # (code, title, responsible)
    unfinished: tuple[tuple[str, str], ...]  # (code, title)


@dataclass(frozen=True)
class Progress:
    """A unit's sheet: how many leaves are finished, and who has work left."""

    total: int
    finished: int
    unassigned: tuple[tuple[str, str], ...]
    staff: tuple[StaffProgress, ...]

    @property
    def unfinished(self) -> int:
        """Leaves not finished yet."""
        return self.total - self.finished


def _progress(
    framework: Framework,
    entries: Mapping[str, Entry],
    rows: Iterable[tuple[Assignment, User]],
) -> Progress:
    per_user: dict[str, tuple[User, list[tuple[str, bool]]]] = {}
    assigned: set[str] = set()
    for a, u in rows:
        per_user.setdefault(u.username, (u, []))[1].append((a.criterion_code, a.responsible))
        assigned.add(a.criterion_code)
    leaves = framework.leaves()
    order = {n.code: i for i, n in enumerate(leaves)}
    titles = {n.code: n.title for n in leaves}
    done = {n.code for n in leaves if _finished(n, entries.get(n.code))}
    # What the unit scores itself; derived criteria are supplied by the system or the council.
    own = [n for n in leaves if not isinstance(n.rule, DerivedRule)]
    staff = []
    for username, (user, items) in sorted(per_user.items()):
        items.sort(key=lambda it: order.get(it[0], 0))
        staff.append(
            StaffProgress(
                username=username,
                full_name=user.full_name or username,
                email=user.email,
                criteria=tuple((c, titles.get(c, ""), r) for c, r in items),
                unfinished=tuple((c, titles.get(c, "")) for c, _ in items if c not in done),
            )
        )
    return Progress(
        total=len(own),
        finished=sum(1 for n in own if n.code in done),
        unassigned=tuple((n.code, n.title) for n in own if n.code not in assigned),
        staff=tuple(staff),
    )


def progress(session: Session, *, cycle: Cycle, unit: Unit) -> Progress:
    """Finished means scored and, where the criterion needs one, explained."""
    framework = framework_for(session, cycle)
    entries = {
        e.criterion_code: e
        for e in session.exec(
            select(Entry).where(Entry.cycle_id == cycle.id, Entry.unit_id == unit.id)
        ).all()
    }
    rows = session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
    ).all()
    return _progress(framework, entries, rows)


def sheet_progress(sheet: LoadedSheet) -> Progress:
    """The progress of a loaded sheet (no query)."""
    return _progress(sheet.framework, sheet.entries, sheet.assignments)
