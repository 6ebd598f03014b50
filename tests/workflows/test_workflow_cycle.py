"""A whole year of three Định Hóa communes on the time-skipping server, real worker, real
database, real SMTP server: assignment, reminders, an on-time, a late and a missing submission,
the hard lock, two explanation rounds, appraisal, classification, publication and follow-ups.
At each checkpoint the set of mails received is exactly the expected one.

``APPRAISAL_WRITE_HISTORIES=1 pytest tests/workflows/test_workflow_cycle.py`` rewrites the
histories in tests/histories/ that tests/workflows/test_workflow_replay.py replays.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from core.errors import Refusal
from models.inputs import CriterionInput
from models.tables import AuditLog, CycleUnit, OutboxMessage, Snapshot, Unit, UnitState
from notifications.sink import MailSink
from services.sheet import (
    Editor,
    answer_explanation,
    expand_assignments,
    save_appraisal,
)
from tests.histories.scenario import (
    Mails,
    appraise_derived,
    completed,
    dinh_hoa,
    draft,
    draft_everything,
    iso,
    leaves_under,
    local,
    seed_assignments,
    seed_cycle,
    settings_for,
    sleep_until,
    slug,
    text_of,
    user_editor,
    worker_for,
    write_histories,
)
from workflows import commands as C

BT, PT, DB = "binh-thanh", "phuong-tien", "dinh-bien"
COORD = "coordinator"


async def test_a_whole_year_of_three_communes(
    temporal_ts: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    env = temporal_ts
    port, sink = smtp
    start = await env.get_current_time()
    year = start.year + 1
    seeded = seed_cycle(engine, year=year, opens_at=start + timedelta(hours=1))
    cid = seeded.cycle_id
    mails = Mails(sink, cid)
    sub, lock = local(year, 11, 22), local(year, 11, 25)
    bt_people = sorted(
        {
            f"{BT}-{slug(n)}"
            for ps in expand_assignments(dinh_hoa(), seed_assignments()).values()
            for n, _ in ps
        }
    )
    staff = {BT: bt_people, PT: [f"{PT}-lan", f"{PT}-dung"], DB: [f"{DB}-lan", f"{DB}-dung"]}
    office = {u: f"vp-{u}" for u in (BT, PT, DB)}
    queue = f"cycle-{uuid.uuid4().hex[:8]}"
    client = env.client

    async with worker_for(client, engine, settings_for(port), queue):
        assert (
            await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False) == 3
        )
        assert (
            await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False) == 3
        )
        for u in (BT, PT, DB):
            status = await C.unit_command(
                client, cid, u, C.AssignCommand(actor=office[u], assignments=tuple(seeded.specs[u]))
            )
            assert status.state is UnitState.drafting
        await sleep_until(env, start + timedelta(hours=2))
        for u in (BT, PT, DB):
            mails.expect(u, "cycle_opened", "open", [office[u]])
            mails.expect(u, "assigned", "v1", staff[u])
        await mails.check()
        assert len(bt_people) == 17  # the 18 names of the table; "Nguyễn"/"Nguyên" is one account

        # 15/11 17:00: seven days before the submission deadline, everyone has work left.
        await sleep_until(env, local(year, 11, 16, 9))
        for u in (BT, PT, DB):
            mails.reminder(u, "submission", sub, "168h", [*staff[u], office[u]])
        await mails.check()
        now = await env.get_current_time()
        draft_everything(engine, cid, BT, now)
        draft(engine, cid, PT, user_editor(engine, f"{PT}-lan"), leaves_under("NỘI DUNG I"), now)

        # 19/11 17:00: Bình Thành's staff are done (its office still hears the progress),
        # Phượng Tiến's Lan is done.
        await sleep_until(env, local(year, 11, 20, 9))
        mails.reminder(BT, "submission", sub, "72h", [office[BT]])
        mails.reminder(PT, "submission", sub, "72h", [f"{PT}-dung", office[PT]])
        mails.reminder(DB, "submission", sub, "72h", [*staff[DB], office[DB]])
        await mails.check()
        dung = text_of(
            mails.find(mails.key(PT, "reminder", f"submission|{iso(sub)}|72h", f"{PT}-dung"))
        )
        assert f"là 17:00 ngày 22/11/{year} (còn 3 ngày)" in dung
        assert all(f"- {c} " in dung for c in leaves_under("NỘI DUNG II", "NỘI DUNG III"))
        assert not any(f"- {c} " in dung for c in leaves_under("NỘI DUNG I"))
        bt_office = text_of(
            mails.find(mails.key(BT, "reminder", f"submission|{iso(sub)}|72h", office[BT]))
        )
        assert "Tiến độ của đơn vị: 76/76 tiêu chí đã hoàn thành." in bt_office  # 4 derived
        status = await C.unit_command(
            client, cid, BT, C.SubmitCommand(actor=office[BT], proposed_class="excellent")
        )
        assert (status.state, status.days_late, status.submissions) == (UnitState.submitted, 0, 1)
        mails.expect(BT, "submitted", "s1", [office[BT]])

        # 21/11 17:00 and 07:00 on 22/11; 17:01 on 22/11 the coordinator hears who missed it.
        await sleep_until(env, local(year, 11, 23, 9))
        for offset in ("24h", "morning"):
            mails.reminder(PT, "submission", sub, offset, [f"{PT}-dung", office[PT]])
            mails.reminder(DB, "submission", sub, offset, [*staff[DB], office[DB]])
        mails.expect(None, "missed", f"submission|{iso(sub)}", [COORD])
        await mails.check()
        missed = text_of(mails.find(mails.key(None, "missed", f"submission|{iso(sub)}", COORD)))
        assert "- UBND xã Phượng Tiến (phuong-tien): Đang tự chấm điểm" in missed
        assert "- UBND xã Định Biên (dinh-bien): Đang tự chấm điểm" in missed
        assert "Bình Thành" not in missed
        now = await env.get_current_time()
        draft(
            engine,
            cid,
            PT,
            user_editor(engine, f"{PT}-dung"),
            leaves_under("NỘI DUNG II", "NỘI DUNG III"),
            now,
        )
        status = await C.unit_command(client, cid, PT, C.SubmitCommand(actor=office[PT]))
        assert (status.state, status.days_late) == (UnitState.submitted, 1)  # accepted, late
        pt_hash = status.snapshot_hash
        mails.expect(PT, "submitted", "s1", [office[PT]])

        # The hard lock, 17:00 25/11: Định Biên never submitted.
        await sleep_until(env, local(year, 11, 26, 9))
        for offset in ("24h", "morning"):
            mails.reminder(DB, "hard_lock", lock, offset, [*staff[DB], office[DB]])
        mails.expect(DB, "locked", f"lock-{iso(lock)}", [office[DB]])
        mails.expect(None, "missed", f"hard_lock|{iso(lock)}", [COORD])
        await mails.check()
        states = {u: (await C.unit_status(client, cid, u)).state for u in (BT, PT, DB)}
        assert states == {
            BT: UnitState.appraising,
            PT: UnitState.appraising,
            DB: UnitState.not_submitted,
        }
        late = text_of(mails.find(mails.key(PT, "submitted", "s1", office[PT])))
        assert f"chậm 1 ngày so với hạn 17:00 ngày 22/11/{year}" in late
        assert pt_hash and f"Mã kiểm tra bản đã gửi (SHA-256): {pt_hash}" in late
        try:
            await C.unit_command(client, cid, DB, C.SubmitCommand(actor=office[DB]))
            raise AssertionError("a submission after the lock must be refused")
        except Refusal as refused:
            assert refused.code == "invalid_state"
            assert "Không gửi kết quả (đã khóa)" in refused.message_vi

        # Explanation round 1 on two criteria; Tuân answers his, Lan does not.
        council = "council-noi-vu"
        status = await C.unit_command(
            client,
            cid,
            BT,
            C.RequestExplanationCommand(
                actor=council,
                items=(
                    C.ExplanationItemSpec(code="2.1.1", question="Số, ngày văn bản chỉ đạo?"),
                    C.ExplanationItemSpec(
                        code="3.1.1", question="Bổ sung quy chế làm việc đã sửa đổi."
                    ),
                ),
            ),
        )
        round1 = local(year, 12, 1)  # five days, 17:00
        assert (status.state, status.round_no, status.explanation_deadline) == (
            UnitState.explanation,
            1,
            round1,
        )
        mails.expect(
            BT, "explanation_requested", "round-1", [office[BT], f"{BT}-tuan", f"{BT}-lan"]
        )
        now = await env.get_current_time()
        with session_scope(engine) as s:
            answer_explanation(
                s,
                cycle_id=cid,
                unit_code=BT,
                criterion_code="2.1.1",
                editor=user_editor(engine, f"{BT}-tuan"),
                now=now,
                answer="Kế hoạch số 15/KH-UBND ngày 10/01.",
            )
        await sleep_until(env, local(year, 12, 2, 9))
        for offset in ("72h", "24h", "morning"):
            mails.reminder(
                BT,
                "explanation",
                round1,
                offset,
                [office[BT], f"{BT}-lan"],
                kind="explanation_reminder",
            )
        await mails.check()
        tuan = text_of(mails.find(mails.key(BT, "explanation_requested", "round-1", f"{BT}-tuan")))
        assert "- 2.1.1 " in tuan and "3.1.1" not in tuan
        assert f"Hạn giải trình: 17:00 ngày 01/12/{year}." in tuan
        assert (
            await C.unit_status(client, cid, BT)
        ).state is UnitState.appraising  # closed at 17:00

        # Round 2 on one criterion, answered at once and closed early: no reminder is due.
        status = await C.unit_command(
            client,
            cid,
            BT,
            C.RequestExplanationCommand(
                actor=council,
                items=(C.ExplanationItemSpec(code="3.1.1", question="Quy chế chưa có chữ ký số."),),
                deadline=local(year, 12, 5),
            ),
        )
        assert status.round_no == 2
        mails.expect(BT, "explanation_requested", "round-2", [office[BT], f"{BT}-lan"])
        now = await env.get_current_time()
        with session_scope(engine) as s:
            answer_explanation(
                s,
                cycle_id=cid,
                unit_code=BT,
                criterion_code="3.1.1",
                editor=Editor(username=office[BT], office=True),
                now=now,
                answer="Đã bổ sung bản ký số.",
            )
        await sleep_until(env, local(year, 12, 3, 9))
        await C.unit_command(client, cid, BT, C.CloseRoundCommand(actor=council))
        try:
            await C.unit_command(
                client,
                cid,
                BT,
                C.RequestExplanationCommand(
                    actor=council, items=(C.ExplanationItemSpec(code="1.1", question="?"),)
                ),
            )
            raise AssertionError("a third round must be refused")
        except Refusal as refused:
            assert refused.code == "max_rounds_reached"
        await mails.check()

        # Appraisal, classification, publication.
        now = await env.get_current_time()
        with session_scope(engine) as s:
            appraised = save_appraisal(
                s,
                cycle_id=cid,
                unit_code=BT,
                criterion_code="1.1",
                editor=Editor(username=council, agencies=frozenset({"Phòng Nội vụ"})),
                now=now,
                inputs=CriterionInput(answers={4: 3}),
                comment="Theo 03 phiếu đánh giá",
            )
        assert appraised.score == Decimal("3.200")
        for u in (BT, PT):
            appraise_derived(engine, cid, u, now)
        for u in (BT, PT):
            assert (
                await C.unit_command(client, cid, u, C.FinaliseCommand(actor=council))
            ).state is UnitState.finalised
        await C.cycle_command(client, cid, C.CloseAppraisalCommand(actor=COORD))
        await C.cycle_command(client, cid, C.ClassifyCommand(actor=COORD))
        published = await C.cycle_command(client, cid, C.PublishCommand(actor=COORD))
        analysis, plan = local(year, 12, 13), local(year, 12, 23)
        assert (published.analysis_due, published.plan_due) == (analysis, plan)
        for u in (BT, PT, DB):
            mails.expect(u, "unit_published", "published", [*staff[u], office[u]])
        mails.expect(None, "results_published", "published", [COORD, council])
        await mails.check()
        with session_scope(engine) as s:
            rows = {
                code: (cu.state, cu.final_total, cu.classification, cu.rank, cu.days_late)
                for cu, code in s.exec(
                    select(CycleUnit, Unit.code)
                    .join(Unit, col(Unit.id) == CycleUnit.unit_id)
                    .where(CycleUnit.cycle_id == cid)
                ).all()
            }
        assert rows == {
            BT: (UnitState.published, Decimal("99.200"), "excellent", 2, 0),
            PT: (UnitState.published, Decimal("100.000"), "excellent", 1, 1),
            DB: (UnitState.published, Decimal("0.000"), "fail", 3, 0),
        }
        bt_result = text_of(mails.find(mails.key(BT, "unit_published", "published", office[BT])))
        assert "- Tổng điểm thẩm định: 99,2" in bt_result and "- Xếp hạng: 2/3" in bt_result
        assert f"chậm nhất 17:00 ngày 13/12/{year}" in bt_result

        # Follow-ups: Bình Thành reports its analysis at once; the others are reminded.
        await C.unit_command(
            client, cid, BT, C.FollowupDoneCommand(actor=office[BT], followup="analysis")
        )
        await sleep_until(env, local(year, 12, 26))
        for offset in ("168h", "72h", "24h", "morning"):
            for u in (PT, DB):
                mails.reminder(
                    u, "analysis", analysis, offset, [office[u]], kind="followup_reminder"
                )
            for u in (BT, PT, DB):
                mails.reminder(u, "plan", plan, offset, [office[u]], kind="followup_reminder")
        mails.expect(None, "missed", f"analysis|{iso(analysis)}", [COORD])
        mails.expect(None, "missed", f"plan|{iso(plan)}", [COORD])
        await mails.check()

        wf_ids = {
            "cycle": C.cycle_workflow_id(cid),
            **{f"unit-{u}": C.unit_workflow_id(cid, u) for u in (BT, PT, DB)},
        }
        await completed(env, *wf_ids.values())
        await write_histories(
            env,
            cid,
            {
                "cycle-published": wf_ids["cycle"],
                "unit-two-rounds-published": wf_ids[f"unit-{BT}"],
                "unit-late-published": wf_ids[f"unit-{PT}"],
                "unit-not-submitted-published": wf_ids[f"unit-{DB}"],
            },
        )

    with session_scope(engine) as s:
        kinds = sorted(
            sn.kind
            for sn, code in s.exec(
                select(Snapshot, Unit.code)
                .join(Unit, col(Unit.id) == Snapshot.unit_id)
                .where(Snapshot.cycle_id == cid)
            ).all()
            if code == BT
        )
        assert kinds == ["final", "round-1", "round-2", "submission"]
        outbox = s.exec(
            select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith(f"{cid}|"))
        ).all()
        assert {m.status for m in outbox} == {"sent"} and len(outbox) == len(mails.expected)
        actions = [
            a.action
            for a in s.exec(
                select(AuditLog)
                .where(
                    AuditLog.cycle_id == cid, AuditLog.entity == "state", AuditLog.entity_key == DB
                )
                .order_by(col(AuditLog.id))
            ).all()
        ]
        assert actions == ["assign", "not_submitted", "classified", "publish_unit"]
