"""The edit gate (services/sheet/gate.py) against a real database: state, assignment, agency and the
hard-lock instant checked inside the transaction with the clock of the request; the submission
snapshot and its hash; the assignment table of the Định Hóa seed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from contracts.messages import (
    AssignCommand,
    ExplanationItemSpec,
    RequestExplanationCommand,
    SubmitCommand,
    TransitionArgs,
)
from core.db import session_scope
from core.errors import Conflict, Forbidden, Invalid, NotFound
from models.inputs import CriterionInput
from models.tables import AuditLog, CycleUnit, Entry, Snapshot, Unit, UnitState, User
from services.sheet import (
    Editor,
    answer_explanation,
    canonical_hash,
    expand_assignments,
    save_appraisal,
    save_draft,
)
from services.transitions import apply_transition
from tests.histories.scenario import Seeded, dinh_hoa, local, seed_assignments, seed_cycle, slug

YEAR = 2024
LOCK = local(YEAR, 11, 25, 17, 0)
SUBMISSION = local(YEAR, 11, 22, 17, 0)
BT = "binh-thanh"


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    s = seed_cycle(engine, year=YEAR, opens_at=local(YEAR, 11, 14, 8), cycle_id="2024-gate")
    for unit in s.units:
        with session_scope(engine) as session:
            apply_transition(
                session,
                TransitionArgs(
                    cycle_id=s.cycle_id,
                    unit_code=unit,
                    request_key=f"gate-assign-{unit}",
                    at=local(YEAR, 11, 14, 9),
                    actor=s.office[unit],
                    command=AssignCommand(actor=s.office[unit], assignments=tuple(s.specs[unit])),
                ),
            )
    return s


def _user(engine: Engine, username: str) -> Editor:
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return Editor(username=username, user_id=user.id)


def _set_state(engine: Engine, cycle_id: str, unit: str, state: UnitState) -> None:
    with session_scope(engine) as session:
        unit_id = session.exec(select(Unit.id).where(Unit.code == unit)).one()
        cu = session.exec(
            select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit_id)
        ).one()
        cu.state = state
        session.add(cu)


def _draft(engine: Engine, seeded: Seeded, editor: Editor, code: str, now, unit: str = BT, **kw):
    with session_scope(engine) as session:
        return save_draft(
            session,
            cycle_id=seeded.cycle_id,
            unit_code=unit,
            criterion_code=code,
            editor=editor,
            now=now,
            **kw,
        )


def test_assignment_table_of_the_seed_expands_to_leaves() -> None:
    fw = dinh_hoa()
    leaves = expand_assignments(fw, seed_assignments())
    # "3. Thực hiện nội quy…: Lan" covers area III, but "3.2 …: Cát, Nguyễn" is more specific.
    assert leaves["3.1.1"] == [("Lan", True)]
    assert leaves["3.2.1"] == [("Cát", True), ("Nguyễn", False)]
    assert leaves["2.1.1"] == [("Tuân", True), ("Cát", False)]
    # Every assigned leaf has exactly one responsible person.
    assert all(sum(r for _, r in people) == 1 for people in leaves.values())
    with pytest.raises(Invalid) as exc:
        expand_assignments(fw, [(("2.1",), "Tuân", True), (("2.1",), "Cát", True)])
    assert exc.value.code == "two_responsible"
    with pytest.raises(Invalid):
        expand_assignments(fw, [(("9.9",), "Lan", True)])


def test_edit_in_the_last_second_before_the_lock_is_accepted_and_after_refused(
    engine: Engine, seeded: Seeded
) -> None:
    tuan = _user(engine, f"{BT}-{slug('Tuân')}")
    res = _draft(
        engine,
        seeded,
        tuan,
        "2.1.1",
        LOCK - timedelta(seconds=1),
        inputs=CriterionInput(level=dinh_hoa().node("2.1.1").rule.options[0].key),  # type: ignore[union-attr]
        explanation="Kế hoạch số 15/KH-UBND ngày 10/01/2024 về phòng, chống tham nhũng.",
    )
    assert res.score == Decimal("1.000")
    assert res.explanation.startswith("Đạt mức")
    for late in (LOCK, LOCK + timedelta(seconds=1)):
        with pytest.raises(Conflict) as exc:
            _draft(engine, seeded, tuan, "2.1.1", late, explanation="sửa sau khi khóa")
        assert exc.value.code == "locked"
        assert exc.value.message_vi.startswith("Phần mềm đã khóa")
    with session_scope(engine) as session:
        entry = session.exec(select(Entry).where(Entry.criterion_code == "2.1.1")).one()
        assert entry.explanation.startswith("Kế hoạch số 15/KH-UBND")
        rows = session.exec(
            select(AuditLog).where(AuditLog.entity == "entry", AuditLog.entity_key == "2.1.1")
        ).all()
        assert len(rows) == 1 and rows[0].actor == tuan.username


def test_only_assigned_staff_and_the_office_edit_a_criterion(
    engine: Engine, seeded: Seeded
) -> None:
    now = LOCK - timedelta(days=5)
    lan = _user(engine, f"{BT}-lan")
    with pytest.raises(Forbidden) as exc:
        _draft(engine, seeded, lan, "2.1.2", now, explanation="không phải tiêu chí của tôi")
    assert exc.value.code == "not_assigned"
    office = Editor(username=seeded.office[BT], office=True)
    assert _draft(engine, seeded, office, "2.1.2", now, explanation="Văn phòng bổ sung").entry.id
    with pytest.raises(NotFound):
        _draft(engine, seeded, office, "2.1", now, explanation="nhóm, không phải tiêu chí lá")
    with pytest.raises(Invalid) as bad:
        _draft(engine, seeded, office, "5.5.1", now, inputs=CriterionInput(rate=Decimal(120)))
    assert bad.value.field == "rate"


def test_under_review_staff_edit_only_returned_criteria(engine: Engine, seeded: Seeded) -> None:
    unit = "phuong-tien"
    now = LOCK - timedelta(days=4)
    lan = _user(engine, f"{unit}-lan")
    _set_state(engine, seeded.cycle_id, unit, UnitState.unit_review)
    try:
        with pytest.raises(Conflict) as exc:
            _draft(
                engine, seeded, lan, "1.1", now, unit=unit, inputs=CriterionInput(answers={5: 3})
            )
        assert exc.value.code == "under_review"
        with session_scope(engine) as session:
            unit_id = session.exec(select(Unit.id).where(Unit.code == unit)).one()
            assert unit_id is not None
            session.add(
                Entry(
                    cycle_id=seeded.cycle_id,
                    unit_id=unit_id,
                    criterion_code="1.1",
                    status="returned",
                )
            )
        res = _draft(
            engine, seeded, lan, "1.1", now, unit=unit, inputs=CriterionInput(answers={5: 3})
        )
        assert res.score == Decimal("4.000")
    finally:
        _set_state(engine, seeded.cycle_id, unit, UnitState.drafting)


def test_submission_freezes_a_hashed_snapshot_and_closes_the_gate(
    engine: Engine, seeded: Seeded
) -> None:
    unit = "dinh-bien"
    office = Editor(username=seeded.office[unit], office=True)
    _draft(
        engine,
        seeded,
        office,
        "1.1",
        SUBMISSION - timedelta(days=1),
        unit=unit,
        inputs=CriterionInput(answers={4: 2, 5: 1}),
    )
    submitted_at = local(YEAR, 11, 23, 9, 0)  # one day late
    args = TransitionArgs(
        cycle_id=seeded.cycle_id,
        unit_code=unit,
        request_key="gate-submit-dinh-bien",
        at=submitted_at,
        actor=office.username,
        command=SubmitCommand(actor=office.username, proposed_class="good"),
        seq=1,
    )
    with session_scope(engine) as session:
        first = apply_transition(session, args)
    with session_scope(engine) as session:
        again = apply_transition(session, args)  # a retried activity changes nothing
    assert first == again
    assert first.state is UnitState.submitted and first.days_late == 1
    with session_scope(engine) as session:
        snaps = session.exec(select(Snapshot).where(Snapshot.kind == "submission")).all()
        assert len(snaps) == 1
        snap = snaps[0]
        assert snap.content_hash == canonical_hash(snap.content) == first.snapshot_hash
        one = next(e for e in snap.content["entries"] if e["code"] == "1.1")
        assert one["self_score"] == "3.467"  # mean (2×4 + 1×5)/3 = 4,333… of 5, × 4 / 5
        assert snap.content["days_late"] == 1
        assert snap.content["proposed_class"] == "good"
    with pytest.raises(Conflict) as exc:
        _draft(
            engine,
            seeded,
            office,
            "1.2",
            submitted_at + timedelta(minutes=1),
            unit=unit,
            inputs=CriterionInput(answers={5: 3}),
        )
    assert exc.value.code == "invalid_state"
    assert "Đã gửi kết quả" in exc.value.message_vi


def test_council_appraises_its_agency_and_unit_answers_flagged_criteria(
    engine: Engine, seeded: Seeded
) -> None:
    unit = "dinh-bien"
    now = local(YEAR, 11, 26, 9, 0)
    _set_state(engine, seeded.cycle_id, unit, UnitState.appraising)
    noi_vu = Editor(username="council-noi-vu", agencies=frozenset({"Phòng Nội vụ"}))
    res = _appraise(engine, seeded, noi_vu, unit, "1.1", now, CriterionInput(answers={3: 3}))
    assert res.score == Decimal("2.400")
    with pytest.raises(Forbidden) as exc:  # 2.1.1 is appraised by Thanh tra huyện
        _appraise(engine, seeded, noi_vu, unit, "2.1.1", now, CriterionInput(level="a"))
    assert exc.value.code == "wrong_agency"
    deadline = local(YEAR, 11, 28, 17, 0)
    with session_scope(engine) as session:
        apply_transition(
            session,
            TransitionArgs(
                cycle_id=seeded.cycle_id,
                unit_code=unit,
                request_key="gate-round-1",
                at=now,
                actor=noi_vu.username,
                command=RequestExplanationCommand(
                    actor=noi_vu.username,
                    items=(ExplanationItemSpec(code="1.1", question="Bổ sung 03 phiếu đánh giá"),),
                    deadline=deadline,
                ),
                seq=1,
            ),
        )
    office = Editor(username=seeded.office[unit], office=True)
    with session_scope(engine) as session:
        item = answer_explanation(
            session,
            cycle_id=seeded.cycle_id,
            unit_code=unit,
            criterion_code="1.1",
            editor=office,
            now=deadline - timedelta(seconds=1),
            answer="Đã bổ sung 03 phiếu (tệp đính kèm).",
        )
        assert item.answered_by == office.username
    with pytest.raises(Conflict) as closed, session_scope(engine) as session:
        answer_explanation(
            session,
            cycle_id=seeded.cycle_id,
            unit_code=unit,
            criterion_code="1.1",
            editor=office,
            now=deadline,
            answer="quá hạn",
        )
    assert closed.value.code == "round_closed"
    with pytest.raises(Conflict) as other:
        _draft(
            engine, seeded, office, "1.2", deadline - timedelta(hours=1), unit=unit, explanation="x"
        )
    assert other.value.code == "not_flagged"


def _appraise(engine: Engine, seeded: Seeded, editor: Editor, unit: str, code: str, now, inputs):
    with session_scope(engine) as session:
        return save_appraisal(
            session,
            cycle_id=seeded.cycle_id,
            unit_code=unit,
            criterion_code=code,
            editor=editor,
            now=now,
            inputs=inputs,
            comment="Theo phiếu đánh giá của lãnh đạo huyện",
        )
