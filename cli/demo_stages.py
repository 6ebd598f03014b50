"""The demo's history and stages: last year's cycle published (totals, classes and ranks, so the
results, the charts and the year-over-year criteria have data), and this year's units at
different stages — one fully drafted with evidence and submitted, one half drafted, one not
started, one late (its submission deadline passed, the lock still ahead).

Last year's cycle is history: its results are written as imported (no workflow runs for a year
that is over) and classified by the classification service. This year's steps go through the
actions, the edit gate and the workflows, like people would. Every step looks at the state first,
so a second run changes nothing.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from actions import cycles as cycle_actions
from actions import evidence as evidence_actions
from actions import sheet as sheet_actions
from actions import unit_commands
from actions.common import UnitRef
from core.db import session_scope
from core.settings import Settings
from core.vn import VN_TZ
from models.framework import DerivedRule, Framework
from models.tables import Cycle, CycleState, CycleUnit, Entry, UnitState
from scoring.rules import full_marks_inputs
from services import audit
from services.accounts import Principal, get_user, load_principal
from services.cycles import CycleSpec, classify_cycle, create_cycle, cycle_units
from services.units import get_unit_by_code

__all__ = ["LAST_YEAR_SHARE", "load_last_year", "stage_units"]

# Last year's share of each leaf's maximum, by unit: three different results.
LAST_YEAR_SHARE: dict[str, Decimal] = {
    "binh-thanh": Decimal("0.96"),
    "dinh-bien": Decimal("0.82"),
    "phu-dinh": Decimal("0.71"),
    "kim-phuong": Decimal("0.58"),
}
# This year's stage of each unit.
FULL, HALF, NOT_STARTED, LATE = "binh-thanh", "dinh-bien", "phu-dinh", "kim-phuong"
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _local(year: int, month: int, day: int, hour: int = 17) -> datetime:
    return datetime(year, month, day, hour, tzinfo=VN_TZ).astimezone(UTC)


def _at_17(now: datetime, days: int) -> datetime:
    """17:00 local time ``days`` after today: deadlines read as an office's close of day."""
    day = (now.astimezone(VN_TZ) + timedelta(days=days)).date()
    return _local(day.year, day.month, day.day)


def load_last_year(
    session: Session, *, cycle_id: str, framework_id: int, framework: Framework, year: int
) -> bool:
    """Last year's published cycle for every demo unit; False when it is already there."""
    if session.get(Cycle, cycle_id) is not None:
        return False
    codes = list(LAST_YEAR_SHARE)
    cycle = create_cycle(
        session,
        spec=CycleSpec(
            cycle_id=cycle_id,
            year=year,
            title=f"Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ UBND cấp xã năm {year}",
            framework_id=framework_id,
            units=codes,
            opens_at=_local(year, 11, 1, 8),
            data_cutoff_at=_local(year, 11, 20, 23),
            submission_deadline=_local(year, 11, 22),
            hard_lock_at=_local(year, 11, 25),
            appraisal_deadline=_local(year, 12, 10),
            results_target=_local(year, 12, 20, 8),
        ),
        actor="admin",
    )
    submitted = _local(year, 11, 21, 10)
    rows = cycle_units(session, cycle_id)
    for cu, unit in rows:
        assert unit.id is not None
        share = LAST_YEAR_SHARE[unit.code]
        for i, leaf in enumerate(framework.leaves()):
            if isinstance(leaf.rule, DerivedRule):
                continue
            # A unit loses points on some criteria and keeps full marks on the others.
            full = (i * 37 + len(unit.code)) % 100 < int(share * 100)
            score = leaf.max_points if full else (leaf.max_points / 2).quantize(Decimal("0.01"))
            appraised = score if full or i % 3 else Decimal(0)
            session.add(
                Entry(
                    cycle_id=cycle_id,
                    unit_id=unit.id,
                    criterion_code=leaf.code,
                    status="done",
                    self_score=score,
                    self_reason="Kết quả năm trước (nhập lại từ báo cáo đã ban hành).",
                    explanation="Theo báo cáo tự đánh giá năm trước.",
                    appraised_score=appraised,
                    updated_by="admin",
                )
            )
        cu.state = UnitState.finalised
        cu.submitted_at = submitted
        session.add(cu)
    session.flush()
    classify_cycle(
        session, cycle_id=cycle_id, actor="admin", at=_local(year, 12, 15), request_key="demo-ly"
    )
    published = _local(year, 12, 20, 8)
    for cu, _unit in rows:
        cu.state = UnitState.published
        cu.analysis_due = published + timedelta(days=10)
        cu.plan_due = published + timedelta(days=20)
        cu.analysis_done_at = published + timedelta(days=8)
        cu.plan_done_at = published + timedelta(days=18)
        session.add(cu)
    cycle.state = CycleState.published
    cycle.published_at = published
    session.add(cycle)
    audit.record(
        session,
        actor="admin",
        entity="cycle",
        action="state:published",
        entity_key=cycle_id,
        cycle_id=cycle_id,
        after={"state": "published", "reason": "Kết quả năm trước"},
    )
    session.flush()
    return True


def _principal(session: Session, username: str) -> Principal:
    user = get_user(session, username=username)
    assert user is not None, username
    return load_principal(session, user)


def _ref(session: Session, cycle_id: str, code: str) -> tuple[UnitRef, CycleUnit]:
    unit = get_unit_by_code(session, code=code)
    assert unit is not None and unit.id is not None
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit.id)
    ).one()
    return UnitRef(cycle_id=cycle_id, unit_id=unit.id, unit_code=code), cu


def _draft(
    engine: Engine, settings: Settings, cycle_id: str, code: str, framework: Framework, share: int
) -> None:
    """The unit office drafts ``share`` percent of the leaves (full-mark inputs, explained)."""
    leaves = [n for n in framework.leaves() if not isinstance(n.rule, DerivedRule)]
    wanted = leaves[: len(leaves) * share // 100]
    with session_scope(engine) as session:
        unit_id = _ref(session, cycle_id, code)[0].unit_id
        done = {
            e.criterion_code
            for e in session.exec(
                select(Entry).where(Entry.cycle_id == cycle_id, Entry.unit_id == unit_id)
            ).all()
            if e.self_score is not None
        }
    with session_scope(engine) as session:
        ref, _ = _ref(session, cycle_id, code)
        office = _principal(session, f"vp.{code}")
    # One short write transaction per criterion (BEGIN IMMEDIATE on SQLite), like the pages:
    # the worker's activities write between them.
    for i, leaf in enumerate(wanted):
        if leaf.code in done:
            continue
        with session_scope(engine, write=True) as session:
            sheet_actions.save_draft(
                session,
                principal=office,
                unit=ref,
                code=leaf.code,
                inputs=full_marks_inputs(leaf),
                explanation=f"Báo cáo số {40 + i}/BC-UBND ngày 15/11, mục {leaf.code}.",
            )
        if share == 100 and i % 10 == 0:
            with session_scope(engine, write=True) as session:
                evidence_actions.upload(
                    session,
                    principal=office,
                    settings=settings,
                    unit=ref,
                    code=leaf.code,
                    file=io.BytesIO(MINIMAL_PDF),
                    filename=f"Bao-cao-{leaf.code}.pdf",
                    doc_number=f"{40 + i}/BC-UBND",
                    doc_date="15/11/" + str(datetime.now(VN_TZ).year),
                    issuer="UBND xã",
                )


async def stage_units(
    client: Client, engine: Engine, settings: Settings, cycle_id: str, framework: Framework
) -> None:
    """Moves this year's units to their stages (each step only if not done yet)."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        coordinator = _principal(session, "admin")
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        late_deadline = cycle.submission_deadline
        stale = [
            c
            for c in (FULL, HALF, NOT_STARTED)
            if _ref(session, cycle_id, c)[1].submission_deadline == late_deadline
            and _ref(session, cycle_id, c)[1].state in (UnitState.drafting, UnitState.assigning)
        ]
    # Every unit but the late one gets a week more (the cycle's deadline has just passed).
    if stale and late_deadline <= now:
        await cycle_actions.extend(
            client=client,
            engine=engine,
            principal=coordinator,
            cycle_id=cycle_id,
            units=stale,
            submission_deadline=_at_17(now, 7),
            hard_lock_at=_at_17(now, 9),
            reason="Các xã đề nghị thêm thời gian tổng hợp số liệu.",
            key=f"demo-extend-{cycle_id}",
        )
    _draft(engine, settings, cycle_id, HALF, framework, 50)
    _draft(engine, settings, cycle_id, LATE, framework, 20)
    with session_scope(engine) as session:
        state = _ref(session, cycle_id, FULL)[1].state
    if state in (UnitState.drafting, UnitState.unit_review):
        _draft(engine, settings, cycle_id, FULL, framework, 100)
        with session_scope(engine) as session:
            ref, _ = _ref(session, cycle_id, FULL)
            office = _principal(session, f"vp.{FULL}")
            await unit_commands.submit(
                session,
                client=client,
                principal=office,
                unit=ref,
                proposed_class="excellent",
                key=f"demo-submit-{cycle_id}",
            )
