"""Moving deadlines on the time-skipping server: an extension for the whole cycle and for one
unit moves the reminders and the hard lock; a reopened unit submits again (a second snapshot),
a locked one is reopened with a new lock and submits late. Mails are checked exactly."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from core.errors import Refusal
from models.tables import AuditLog, Cycle, CycleUnit, Snapshot, Unit, UnitState
from notifications.sink import MailSink
from services.sheet import Editor
from tests.histories.scenario import (
    COMMUNES,
    Mails,
    completed,
    draft,
    draft_everything,
    local,
    seed_cycle,
    settings_for,
    sleep_until,
    text_of,
    user_editor,
    worker_for,
    write_histories,
)
from workflows import commands as C

PT, DB = "phuong-tien", "dinh-bien"
COORD = "coordinator"


async def _refused(coro: object, type_: str) -> Refusal:
    with pytest.raises(Refusal) as exc:
        await coro  # type: ignore[misc]
    assert exc.value.code == type_, exc.value
    return exc.value


async def test_extensions_move_reminders_and_the_hard_lock(
    temporal_ts: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    env = temporal_ts
    port, sink = smtp
    start = await env.get_current_time()
    year = start.year + 1
    seeded = seed_cycle(
        engine,
        year=year,
        opens_at=start + timedelta(hours=1),
        units=COMMUNES[1:],
        real_table_for=(),
    )
    cid = seeded.cycle_id
    mails = Mails(sink, cid)
    staff = {u: [f"{u}-lan", f"{u}-dung"] for u in (PT, DB)}
    office = {u: f"vp-{u}" for u in (PT, DB)}
    queue = f"extend-{uuid.uuid4().hex[:8]}"
    client = env.client
    async with worker_for(client, engine, settings_for(port), queue):
        await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        for u in (PT, DB):
            await C.unit_command(
                client, cid, u, C.AssignCommand(actor=office[u], assignments=tuple(seeded.specs[u]))
            )
            mails.expect(u, "cycle_opened", "open", [office[u]])
            mails.expect(u, "assigned", "v1", staff[u])

        await sleep_until(env, local(year, 11, 10, 9))
        new_sub, new_lock = local(year, 11, 29), local(year, 12, 2)
        await _refused(
            C.cycle_command(
                client, cid, C.ExtendCommand(actor=COORD, hard_lock_at=local(year, 11, 9))
            ),
            "deadline_in_past",
        )
        await _refused(
            C.cycle_command(
                client,
                cid,
                C.ExtendCommand(actor=COORD, submission_deadline=new_lock, hard_lock_at=new_sub),
            ),
            "invalid_deadline",
        )
        await C.cycle_command(
            client,
            cid,
            C.ExtendCommand(
                actor=COORD,
                submission_deadline=new_sub,
                hard_lock_at=new_lock,
                reason="Theo đề nghị của các xã",
            ),
        )
        for u in (PT, DB):
            mails.expect(u, "deadline_changed", "deadline-1", [office[u], *staff[u]])
            status = await C.unit_status(client, cid, u)
            assert (status.submission_deadline, status.hard_lock_at) == (new_sub, new_lock)
        await mails.check()
        changed = text_of(mails.find(mails.key(PT, "deadline_changed", "deadline-1", office[PT])))
        assert f"Hạn gửi kết quả: 17:00 ngày 29/11/{year}." in changed
        assert f"Phần mềm tự động khóa từ 17:00 ngày 02/12/{year}." in changed
        assert "Lý do: Theo đề nghị của các xã" in changed

        # Past the old lock (17:00 25/11): still drafting, and an edit is accepted.
        await sleep_until(env, local(year, 11, 26, 9))
        for u in (PT, DB):
            mails.reminder(u, "submission", new_sub, "168h", [*staff[u], office[u]])
        await mails.check()
        assert (await C.unit_status(client, cid, PT)).state is UnitState.drafting
        draft(
            engine, cid, PT, user_editor(engine, f"{PT}-lan"), ["1.1"], await env.get_current_time()
        )

        # One unit gets three more days before its lock.
        await sleep_until(env, local(year, 11, 30, 9))
        for offset in ("72h", "24h", "morning"):
            for u in (PT, DB):
                mails.reminder(u, "submission", new_sub, offset, [*staff[u], office[u]])
        mails.expect(None, "missed", f"submission|{new_sub.isoformat()}", [COORD])
        await mails.check()
        db_lock = local(year, 12, 5)
        await C.cycle_command(
            client,
            cid,
            C.ExtendCommand(
                actor=COORD, units=(DB,), hard_lock_at=db_lock, reason="Mất điện kéo dài"
            ),
        )
        mails.expect(DB, "deadline_changed", "deadline-2", [office[DB], *staff[DB]])
        assert (await C.unit_status(client, cid, PT)).hard_lock_at == new_lock

        await sleep_until(env, local(year, 12, 3, 9))
        for offset in ("24h", "morning"):
            mails.reminder(PT, "hard_lock", new_lock, offset, [*staff[PT], office[PT]])
        mails.expect(PT, "locked", f"lock-{new_lock.isoformat()}", [office[PT]])
        mails.expect(None, "missed", f"hard_lock|{new_lock.isoformat()}", [COORD])
        mails.reminder(DB, "hard_lock", db_lock, "72h", [*staff[DB], office[DB]])
        await mails.check()
        assert (await C.unit_status(client, cid, PT)).state is UnitState.not_submitted
        assert (await C.unit_status(client, cid, DB)).state is UnitState.drafting
        await _refused(
            C.cycle_command(client, cid, C.CloseAppraisalCommand(actor=COORD)), "units_pending"
        )
        # a command the cycle's state does not allow: named in each language's own words
        early = await _refused(
            C.cycle_command(client, cid, C.PublishCommand(actor=COORD)), "invalid_cycle_state"
        )
        assert early.message_en == "Cannot publish results while the cycle is running."
        assert early.message_vi.startswith("Không thể thực hiện “công bố kết quả” khi kỳ")

        await sleep_until(env, local(year, 12, 6, 9))
        for offset in ("24h", "morning"):
            mails.reminder(DB, "hard_lock", db_lock, offset, [*staff[DB], office[DB]])
        mails.expect(DB, "locked", f"lock-{db_lock.isoformat()}", [office[DB]])
        mails.expect(None, "missed", f"hard_lock|{db_lock.isoformat()}", [COORD])
        await mails.check()

        await C.cycle_command(client, cid, C.CancelCommand(actor=COORD, reason="Kiểm thử kết thúc"))
        for u in (PT, DB):
            mails.expect(u, "cancelled", "cancelled", [office[u]])
        await mails.check()
        await completed(
            env, C.cycle_workflow_id(cid), *(C.unit_workflow_id(cid, u) for u in (PT, DB))
        )
        await write_histories(
            env,
            cid,
            {
                "cycle-extended-cancelled": C.cycle_workflow_id(cid),
                "unit-extended-locked": C.unit_workflow_id(cid, DB),
            },
        )

    with session_scope(engine) as s:
        cycle = s.get(Cycle, cid)
        assert cycle is not None
        assert (cycle.submission_deadline, cycle.hard_lock_at) == (new_sub, new_lock)
        rows = dict(
            s.exec(
                select(Unit.code, CycleUnit.hard_lock_at)
                .join(CycleUnit, col(CycleUnit.unit_id) == Unit.id)
                .where(CycleUnit.cycle_id == cid)
            ).all()
        )
        assert rows == {PT: new_lock, DB: db_lock}
        moves = s.exec(
            select(AuditLog).where(AuditLog.cycle_id == cid, AuditLog.action == "set_deadlines")
        ).all()
        assert len(moves) == 3  # two units, then one


async def test_reopen_and_resubmit(
    temporal_ts: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    env = temporal_ts
    port, sink = smtp
    start = await env.get_current_time()
    year = start.year + 1
    seeded = seed_cycle(
        engine,
        year=year,
        opens_at=start + timedelta(hours=1),
        units=COMMUNES[1:],
        real_table_for=(),
    )
    cid = seeded.cycle_id
    mails = Mails(sink, cid)
    staff = {u: [f"{u}-lan", f"{u}-dung"] for u in (PT, DB)}
    office = {u: f"vp-{u}" for u in (PT, DB)}
    sub, lock = local(year, 11, 22), local(year, 11, 25)
    queue = f"reopen-{uuid.uuid4().hex[:8]}"
    client = env.client
    async with worker_for(client, engine, settings_for(port), queue):
        await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        for u in (PT, DB):
            await C.unit_command(
                client, cid, u, C.AssignCommand(actor=office[u], assignments=tuple(seeded.specs[u]))
            )
            mails.expect(u, "cycle_opened", "open", [office[u]])
            mails.expect(u, "assigned", "v1", staff[u])
        await sleep_until(env, local(year, 11, 14, 9))
        draft_everything(engine, cid, PT, await env.get_current_time())
        await C.unit_command(client, cid, PT, C.StartReviewCommand(actor=office[PT]))
        await C.unit_command(
            client,
            cid,
            PT,
            C.ReturnCommand(
                actor=office[PT], codes=("6.2",), comment="Thiếu biểu thống kê kết quả"
            ),
        )
        mails.expect(PT, "returned", "r1", [f"{PT}-dung"])
        draft(
            engine,
            cid,
            PT,
            user_editor(engine, f"{PT}-dung"),
            ["6.2"],
            await env.get_current_time(),
        )
        first = await C.unit_command(client, cid, PT, C.SubmitCommand(actor=office[PT]))
        mails.expect(PT, "submitted", "s1", [office[PT]])
        await sleep_until(env, local(year, 11, 21, 9))
        for offset in ("168h", "72h"):
            mails.reminder(DB, "submission", sub, offset, [*staff[DB], office[DB]])
        await mails.check()
        returned = text_of(mails.find(mails.key(PT, "returned", "r1", f"{PT}-dung")))
        assert "- 6.2 Kết quả thực hiện kế hoạch phát triển kinh tế - xã hội" in returned
        assert "Ý kiến: Thiếu biểu thống kê kết quả" in returned

        reopened = await C.unit_command(
            client,
            cid,
            PT,
            C.ReopenCommand(actor=COORD, reason="Thiếu tài liệu kiểm chứng tiêu chí 2.1.1"),
        )
        assert reopened.state is UnitState.drafting
        mails.expect(PT, "reopened", "reopen-1", [office[PT], *staff[PT]])
        now = await env.get_current_time()
        draft(engine, cid, PT, Editor(username=office[PT], office=True), ["2.1.1"], now)
        await sleep_until(env, local(year, 11, 22, 10))
        again = await C.unit_command(client, cid, PT, C.SubmitCommand(actor=office[PT]))
        assert (again.submissions, again.days_late) == (2, 0)
        assert again.snapshot_hash != first.snapshot_hash
        mails.expect(PT, "submitted", "s2", [office[PT]])
        # Drafting again on 21/11: the office hears the 24-hour and morning reminders.
        for offset in ("24h", "morning"):
            mails.reminder(PT, "submission", sub, offset, [office[PT]])
            mails.reminder(DB, "submission", sub, offset, [*staff[DB], office[DB]])
        await mails.check()

        # Định Biên is locked, then reopened with a new lock, and submits late.
        await sleep_until(env, local(year, 11, 26, 9))
        for offset in ("24h", "morning"):
            mails.reminder(DB, "hard_lock", lock, offset, [*staff[DB], office[DB]])
        mails.expect(DB, "locked", f"lock-{lock.isoformat()}", [office[DB]])
        mails.expect(None, "missed", f"submission|{sub.isoformat()}", [COORD])
        mails.expect(None, "missed", f"hard_lock|{lock.isoformat()}", [COORD])
        await mails.check()
        await _refused(
            C.unit_command(client, cid, DB, C.ReopenCommand(actor=COORD, reason="Mở lại")),
            "new_lock_required",
        )
        await _refused(
            C.unit_command(
                client,
                cid,
                DB,
                C.ReopenCommand(actor=COORD, reason="Mở lại", hard_lock_at=local(year, 11, 26, 8)),
            ),
            "deadline_in_past",
        )
        new_lock = local(year, 11, 28)
        await C.unit_command(
            client,
            cid,
            DB,
            C.ReopenCommand(actor=COORD, reason="Đơn vị gặp sự cố kỹ thuật", hard_lock_at=new_lock),
        )
        mails.expect(DB, "reopened", "reopen-1", [office[DB], *staff[DB]])
        await sleep_until(env, local(year, 11, 28, 10))
        mails.reminder(DB, "hard_lock", new_lock, "24h", [*staff[DB], office[DB]])
        mails.reminder(DB, "hard_lock", new_lock, "morning", [*staff[DB], office[DB]])
        await mails.check()
        draft_everything(engine, cid, DB, await env.get_current_time())
        late = await C.unit_command(client, cid, DB, C.SubmitCommand(actor=office[DB]))
        assert (late.state, late.days_late) == (UnitState.submitted, 6)  # 22/11 → 28/11
        mails.expect(DB, "submitted", "s1", [office[DB]])
        await sleep_until(env, local(year, 11, 29, 9))
        await mails.check()  # nobody missed the new lock: no digest
        assert (await C.unit_status(client, cid, DB)).state is UnitState.appraising

        assert (await C.unit_status(client, cid, PT)).state is UnitState.appraising
        await _refused(
            C.unit_command(client, cid, PT, C.SubmitCommand(actor=office[PT])), "invalid_state"
        )
        await C.cycle_command(client, cid, C.CancelCommand(actor=COORD, reason="Kiểm thử kết thúc"))
        await completed(
            env, C.cycle_workflow_id(cid), *(C.unit_workflow_id(cid, u) for u in (PT, DB))
        )
        await write_histories(
            env,
            cid,
            {
                "unit-reopened-resubmitted": C.unit_workflow_id(cid, PT),
                "unit-locked-reopened-late": C.unit_workflow_id(cid, DB),
            },
        )

    with session_scope(engine) as s:
        kinds = sorted(
            (code, sn.kind)
            for sn, code in s.exec(
                select(Snapshot, Unit.code)
                .join(Unit, col(Unit.id) == Snapshot.unit_id)
                .where(Snapshot.cycle_id == cid)
            ).all()
        )
        assert kinds == [(DB, "submission"), (PT, "submission"), (PT, "submission-2")]
        reasons = [
            a.after
            for a in s.exec(
                select(AuditLog)
                .where(AuditLog.cycle_id == cid, AuditLog.action == "reopen")
                .order_by(col(AuditLog.id))
            ).all()
        ]
        assert [r["reason"] for r in reasons if r] == [
            "Thiếu tài liệu kiểm chứng tiêu chí 2.1.1",
            "Đơn vị gặp sự cố kỹ thuật",
        ]
