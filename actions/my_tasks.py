"""A staff member's work ("Việc của tôi"): the criteria assigned to them in the running cycles,
where each stands, and the deadlines that bind them.

A criterion's task state, from the person's point of view:

- ``empty``: nothing entered yet;
- ``drafted``: a score or an explanation is saved;
- ``returned``: the unit office gave it back with a comment;
- ``requested``: the council asked for an explanation in the open round, not answered yet;
- ``answered``: the explanation asked for has been given;
- ``appraised``: the council has appraised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Session, col, select

from models.labels import UNIT_STATE_VI
from models.states import CycleState, UnitState
from models.tables import (
    Assignment,
    Cycle,
    CycleUnit,
    Entry,
    ExplanationItem,
    ExplanationRequest,
    Unit,
)
from services.sheet import framework_for

__all__ = [
    "TASK_STATE_VI",
    "Deadline",
    "Task",
    "TaskState",
    "UnitTasks",
    "my_codes",
    "my_tasks",
    "task_state",
]


class TaskState(StrEnum):
    """Where one of my criteria stands."""

    empty = "empty"
    drafted = "drafted"
    returned = "returned"
    requested = "requested"
    answered = "answered"
    appraised = "appraised"


TASK_STATE_VI: dict[TaskState, str] = {
    TaskState.empty: "Chưa nhập",
    TaskState.drafted: "Đã nhập",
    TaskState.returned: "Được trả lại",
    TaskState.requested: "Cần giải trình",
    TaskState.answered: "Đã giải trình",
    TaskState.appraised: "Đã thẩm định",
}

# The cycles whose work is still to do (a published or cancelled cycle is history).
_LIVE = (CycleState.draft, CycleState.running, CycleState.appraisal_closed)
# The unit states in which the submission deadline still binds the staff.
_BEFORE_SUBMIT = (UnitState.assigning, UnitState.drafting, UnitState.unit_review)


@dataclass(frozen=True)
class Task:
    """One of my criteria."""

    code: str
    title: str
    state: TaskState
    label: str
    score: Decimal | None
    max_points: Decimal
    responsible: bool
    question: str = ""


@dataclass(frozen=True)
class Deadline:
    """A deadline that binds me: what, and when."""

    label: str
    at: datetime


@dataclass(frozen=True)
class UnitTasks:
    """My criteria of one unit in one cycle, and its deadlines."""

    cycle_id: str
    cycle_title: str
    unit_code: str
    unit_name: str
    state: str
    state_label: str
    tasks: tuple[Task, ...]
    deadlines: tuple[Deadline, ...]

    @property
    def todo(self) -> int:
        """Criteria that still need me (empty, returned or an explanation asked for)."""
        wanted = (TaskState.empty, TaskState.returned, TaskState.requested)
        return sum(1 for t in self.tasks if t.state in wanted)


def task_state(entry: Entry | None, item: ExplanationItem | None, open_round: bool) -> TaskState:
    """A criterion's state from its entry and its latest explanation item."""
    appraised = entry is not None and (
        bool(entry.appraised_inputs) or entry.appraised_score is not None
    )
    if appraised and (item is None or not open_round):
        return TaskState.appraised
    if item is not None and (open_round or item.answer):
        return TaskState.answered if item.answer else TaskState.requested
    if entry is not None and entry.status == "returned":
        return TaskState.returned
    if entry is not None and (entry.self_score is not None or entry.explanation.strip()):
        return TaskState.drafted
    return TaskState.empty


def _deadlines(cu: CycleUnit) -> tuple[Deadline, ...]:
    out = []
    if UnitState(cu.state) in _BEFORE_SUBMIT:
        out.append(Deadline("Hạn gửi kết quả tự chấm điểm", cu.submission_deadline))
        out.append(Deadline("Phần mềm tự động khóa", cu.hard_lock_at))
    if UnitState(cu.state) is UnitState.explanation and cu.explanation_deadline is not None:
        out.append(Deadline(f"Hạn giải trình vòng {cu.round_no}", cu.explanation_deadline))
    return tuple(out)


def _unit_tasks(
    session: Session, cycle: Cycle, unit: Unit, cu: CycleUnit, mine: dict[str, bool]
) -> UnitTasks:
    framework = framework_for(session, cycle)
    entries = {
        e.criterion_code: e
        for e in session.exec(
            select(Entry).where(
                Entry.cycle_id == cycle.id,
                Entry.unit_id == unit.id,
                col(Entry.criterion_code).in_(list(mine)),
            )
        ).all()
    }
    latest = session.exec(
        select(ExplanationRequest)
        .where(ExplanationRequest.cycle_id == cycle.id, ExplanationRequest.unit_id == unit.id)
        .order_by(col(ExplanationRequest.round_no).desc())
    ).first()
    items: dict[str, ExplanationItem] = {}
    if latest is not None:
        items = {
            it.criterion_code: it
            for it in session.exec(
                select(ExplanationItem).where(ExplanationItem.request_id == latest.id)
            ).all()
        }
    open_round = latest is not None and latest.state == "open"
    tasks = []
    for node in framework.leaves():
        if node.code not in mine:
            continue
        e = entries.get(node.code)
        state = task_state(e, items.get(node.code), open_round)
        score = e.appraised_score if state is TaskState.appraised and e else None
        if score is None and e is not None:
            score = e.self_score
        tasks.append(
            Task(
                code=node.code,
                title=node.title,
                state=state,
                label=TASK_STATE_VI[state],
                score=score,
                max_points=node.max_points,
                responsible=mine[node.code],
                question=items[node.code].question if node.code in items else "",
            )
        )
    return UnitTasks(
        cycle_id=cycle.id,
        cycle_title=cycle.title,
        unit_code=unit.code,
        unit_name=unit.name,
        state=cu.state,
        state_label=UNIT_STATE_VI[UnitState(cu.state)],
        tasks=tuple(tasks),
        deadlines=_deadlines(cu),
    )


def _assigned(session: Session, user_id: int) -> dict[tuple[str, int], dict[str, bool]]:
    """My criteria by (cycle, unit): code → responsible."""
    out: dict[tuple[str, int], dict[str, bool]] = {}
    for a in session.exec(select(Assignment).where(Assignment.user_id == user_id)).all():
        out.setdefault((a.cycle_id, a.unit_id), {})[a.criterion_code] = a.responsible
    return out


def my_tasks(session: Session, *, user_id: int) -> list[UnitTasks]:
    """My criteria in the cycles still running, by cycle and unit, in the annex's order."""
    out = []
    for (cycle_id, unit_id), mine in sorted(_assigned(session, user_id).items()):
        cycle = session.get(Cycle, cycle_id)
        unit = session.get(Unit, unit_id)
        if cycle is None or unit is None or CycleState(cycle.state) not in _LIVE:
            continue
        cu = session.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit_id)
        ).first()
        if cu is None:
            continue
        out.append(_unit_tasks(session, cycle, unit, cu, mine))
    return out


def my_codes(session: Session, *, user_id: int, cycle_id: str, unit_id: int) -> list[str]:
    """My criteria of one unit in one cycle, in the annex's order (for next / previous)."""
    mine = _assigned(session, user_id).get((cycle_id, unit_id), {})
    cycle = session.get(Cycle, cycle_id)
    if cycle is None or not mine:
        return []
    return [n.code for n in framework_for(session, cycle).leaves() if n.code in mine]
