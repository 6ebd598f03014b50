"""What the coordinator's cycle console reads: counters by state, each unit's progress, lateness
and next deadline, per-staff progress inside a unit, per-agency appraisal progress, and the
numbers behind the charts. Reads the database only (the projection the activities keep).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from models.framework import DerivedRule
from models.labels import UNIT_STATE_VI
from models.states import APPRAISAL_DONE, BEFORE_SUBMISSION, UNDER_APPRAISAL, UnitState
from models.tables import Cycle, CycleUnit, Entry, Unit
from services.accounts import Principal
from services.sheet import framework_for, progress
from services.sheet.progress import StaffProgress

__all__ = [
    "SORTS",
    "AgencyProgress",
    "Console",
    "ConsoleFilters",
    "ConsoleUnit",
    "console",
    "countdown",
]

# Sort keys of the units table (query value → what it sorts by).
SORTS = ("code", "name", "group", "state", "progress", "late", "deadline", "total")


@dataclass(frozen=True)
class ConsoleFilters:
    """The table's filters and sort, as the query string gives them ("" = any)."""

    state: str = ""
    group: str = ""
    flag: str = ""  # late | not_started | ""
    agency: str = ""  # waiting for this appraising agency
    sort: str = "code"
    desc: bool = False

    @property
    def active(self) -> bool:
        """Any filter set (the sort alone is not a filter)."""
        return bool(self.state or self.group or self.flag or self.agency)


@dataclass(frozen=True)
class ConsoleUnit:
    """One unit as the console shows it."""

    unit_id: int
    code: str
    name: str
    group: str
    state: UnitState
    state_label: str
    finished: int
    total: int
    days_late: int
    late: bool
    not_started: bool
    next_deadline: datetime | None
    next_deadline_label: str
    countdown: str
    overdue: bool
    waiting: tuple[str, ...]  # agencies with criteria not appraised yet
    self_total: Decimal | None
    final_total: Decimal | None
    classification: str | None
    rank: int | None
    submission_deadline: datetime
    hard_lock_at: datetime
    staff: tuple[StaffProgress, ...] = ()
    unassigned: int = 0

    @property
    def percent(self) -> int:
        """Share of the unit's own criteria finished, in whole percent."""
        return 0 if self.total == 0 else round(100 * self.finished / self.total)


@dataclass(frozen=True)
class AgencyProgress:
    """One appraising agency: criteria appraised over criteria to appraise, units waiting."""

    agency: str
    appraised: int
    total: int
    waiting: tuple[str, ...]

    @property
    def percent(self) -> int:
        """Share appraised, in whole percent."""
        return 0 if self.total == 0 else round(100 * self.appraised / self.total)


@dataclass(frozen=True)
class Console:
    """The console of one cycle."""

    units: list[ConsoleUnit]  # filtered and sorted
    all_units: list[ConsoleUnit]
    counters: list[tuple[UnitState, str, int]]
    groups: list[str]
    agencies: list[AgencyProgress]
    late_count: int
    not_started_count: int
    filters: ConsoleFilters = field(default_factory=ConsoleFilters)


def countdown(deadline: datetime | None, now: datetime) -> tuple[str, bool]:
    """ "còn 3 ngày 4 giờ" / "quá hạn 2 ngày" and whether the deadline has passed."""
    if deadline is None:
        return "", False
    seconds = (deadline - now).total_seconds()
    overdue = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(int(seconds), 86400)
    hours = rest // 3600
    if days:
        text = f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    elif hours:
        text = f"{hours} giờ"
    else:
        text = f"{max(1, rest // 60)} phút"
    return (f"quá hạn {text}" if overdue else f"còn {text}"), overdue


def _days_late(cu: CycleUnit, now: datetime) -> int:
    """Days after the submission deadline: as recorded once submitted, as of now before."""
    if cu.submitted_at is not None or UnitState(cu.state) not in BEFORE_SUBMISSION:
        return cu.days_late
    if now <= cu.submission_deadline:
        return 0
    return math.ceil((now - cu.submission_deadline).total_seconds() / 86400)


def _next_deadline(cycle: Cycle, cu: CycleUnit, now: datetime) -> tuple[datetime | None, str]:
    state = UnitState(cu.state)
    if state in BEFORE_SUBMISSION:
        if now < cu.submission_deadline:
            return cu.submission_deadline, "Hạn gửi kết quả"
        return cu.hard_lock_at, "Phần mềm tự động khóa"
    if state is UnitState.explanation and cu.explanation_deadline is not None:
        return cu.explanation_deadline, "Hạn giải trình"
    if state in UNDER_APPRAISAL:
        return cycle.appraisal_deadline, "Hạn thẩm định"
    if state is UnitState.published:
        for due, done, label in (
            (cu.analysis_due, cu.analysis_done_at, "Hạn báo cáo phân tích"),
            (cu.plan_due, cu.plan_done_at, "Hạn kế hoạch khắc phục"),
        ):
            if due is not None and done is None:
                return due, label
    return None, ""


def _agency_leaves(session: Session, cycle: Cycle) -> dict[str, list[str]]:
    """Agency → the leaf criteria it appraises (criteria with no agency: the coordinator's)."""
    out: dict[str, list[str]] = {}
    for leaf in framework_for(session, cycle).leaves():
        if leaf.agency and not isinstance(leaf.rule, DerivedRule):
            out.setdefault(leaf.agency, []).append(leaf.code)
    return out


def _appraised(session: Session, cycle_id: str) -> dict[int, set[str]]:
    """Unit id → the criteria that have an appraised score (one query for the cycle)."""
    rows = session.exec(
        select(Entry.unit_id, Entry.criterion_code).where(
            Entry.cycle_id == cycle_id, col(Entry.appraised_score).is_not(None)
        )
    ).all()
    out: dict[int, set[str]] = {}
    for unit_id, code in rows:
        out.setdefault(unit_id, set()).add(code)
    return out


def _sort_key(sort: str) -> Callable[[ConsoleUnit], Any]:
    keys: dict[str, Callable[[ConsoleUnit], Any]] = {
        "code": lambda u: u.code,
        "name": lambda u: u.name,
        "group": lambda u: (u.group, u.code),
        "state": lambda u: (list(UnitState).index(u.state), u.code),
        "progress": lambda u: (u.percent, u.code),
        "late": lambda u: (u.days_late, u.code),
        "deadline": lambda u: (u.next_deadline is None, u.next_deadline or u.hard_lock_at),
        "total": lambda u: (
            (u.final_total if u.final_total is not None else u.self_total) or Decimal(-1)
        ),
    }
    return keys.get(sort, keys["code"])


def _keep(u: ConsoleUnit, f: ConsoleFilters) -> bool:
    if f.state and u.state.value != f.state:
        return False
    if f.group and u.group != f.group:
        return False
    if f.flag == "late" and not u.late:
        return False
    if f.flag == "not_started" and not u.not_started:
        return False
    return not (f.agency and f.agency not in u.waiting)


def console(
    session: Session,
    *,
    cycle: Cycle,
    rows: Sequence[tuple[CycleUnit, Unit]],
    now: datetime,
    filters: ConsoleFilters,
    principal: Principal | None = None,
) -> Console:
    """The console of ``cycle`` over ``rows`` (the units the caller may see), filtered."""
    del principal  # the rows are already the caller's; kept for a finer rule later
    agencies = _agency_leaves(session, cycle)
    appraised = _appraised(session, cycle.id)
    out: list[ConsoleUnit] = []
    got_by: Counter[str] = Counter()
    total_by: Counter[str] = Counter()
    waiting_by: dict[str, list[str]] = {a: [] for a in agencies}
    for cu, unit in rows:
        assert unit.id is not None
        state = UnitState(cu.state)
        p = progress(session, cycle=cycle, unit=unit)
        deadline, label = _next_deadline(cycle, cu, now)
        text, overdue = countdown(deadline, now)
        days_late = _days_late(cu, now)
        done = appraised.get(unit.id, set())
        waiting = []
        if state in UNDER_APPRAISAL or state in APPRAISAL_DONE:
            for agency, codes in agencies.items():
                got = sum(1 for c in codes if c in done)
                got_by[agency] += got
                total_by[agency] += len(codes)
                if got < len(codes) and state in UNDER_APPRAISAL:
                    waiting.append(agency)
                    waiting_by[agency].append(unit.name)
        out.append(
            ConsoleUnit(
                unit_id=unit.id,
                code=unit.code,
                name=unit.name,
                group=cu.group,
                state=state,
                state_label=UNIT_STATE_VI[state],
                finished=p.finished,
                total=p.total,
                days_late=days_late,
                late=days_late > 0 or state is UnitState.not_submitted,
                not_started=state in BEFORE_SUBMISSION and p.finished == 0,
                next_deadline=deadline,
                next_deadline_label=label,
                countdown=text,
                overdue=overdue,
                waiting=tuple(waiting),
                self_total=cu.self_total,
                final_total=cu.final_total,
                classification=cu.classification,
                rank=cu.rank,
                submission_deadline=cu.submission_deadline,
                hard_lock_at=cu.hard_lock_at,
                staff=p.staff,
                unassigned=len(p.unassigned),
            )
        )
    counts = Counter(u.state for u in out)
    counters = [(s, UNIT_STATE_VI[s], counts[s]) for s in UnitState if counts[s]]
    shown = sorted(
        (u for u in out if _keep(u, filters)),
        key=_sort_key(filters.sort),
        reverse=filters.desc,
    )
    return Console(
        units=shown,
        all_units=out,
        counters=counters,
        groups=sorted({u.group for u in out}),
        agencies=[
            AgencyProgress(a, got_by[a], total_by[a], tuple(waiting_by[a]))
            for a in sorted(agencies)
            if total_by[a]  # an agency shows once a submitted sheet reaches it
        ],
        late_count=sum(1 for u in out if u.late),
        not_started_count=sum(1 for u in out if u.not_started),
        filters=filters,
    )
