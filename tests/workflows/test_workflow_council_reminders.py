"""The council's reminders before the appraisal deadline, planned by the cycle workflow.

On the time-skipping server with the real worker, database and SMTP server: two communes and
two appraising agencies; Phượng Tiến submits, Định Biên is locked out. Before the appraisal
deadline (17:00 10/12) the Phòng Nội vụ council gets one digest per reminder time listing the
Phượng Tiến criteria it has not appraised yet; the Phòng Tư pháp council, which appraised all
of its criteria, gets nothing; a worker restart (the cycle replayed from its history) and a
retried mail activity send nothing twice; after the appraisal is closed nothing more is sent.

Worker outages cannot be simulated on the time-skipping server (a pending workflow task stops
its clock), so what the cycle does when reminders fell during one (only the latest is sent,
none after the deadline) is tested on ``workflows.cycle.due_reminder`` itself.

``APPRAISAL_WRITE_HISTORIES=1 pytest tests/workflows/test_workflow_council_reminders.py``
rewrites tests/histories/cycle-appraisal-reminders.json (replayed by
tests/workflows/test_workflow_replay.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.mail import MailActivities
from contracts.messages import (
    CycleInput,
    DeadlineKind,
    NoticeKind,
    NoticeRequest,
    NotifyResult,
)
from core.db import session_scope
from core.settings import Settings
from models.inputs import CriterionInput
from models.tables import OutboxMessage, Role, UnitState
from notifications.mailer import SmtpMailer
from notifications.sink import MailSink
from services.cycles import cycle_input
from services.sheet import Editor, save_appraisal
from tests.histories.scenario import (
    COMMUNES,
    Mails,
    _grant,
    _user,
    completed,
    dinh_hoa,
    full_inputs,
    iso,
    local,
    seed_cycle,
    settings_for,
    sleep_until,
    text_of,
    worker_for,
    write_histories,
)
from workflows import commands as C
from workflows.cycle import due_reminder
from workflows.timeline import plan_reminders
from workflows.worker import AppWorkers, build_worker

PT, DB = "phuong-tien", "dinh-bien"
COORD = "coordinator"
NOI_VU, TU_PHAP = "Phòng Nội vụ", "Phòng Tư pháp"
COUNCIL_NV, COUNCIL_TP = "council-noi-vu", "council-tu-phap"


def agency_leaves(agency: str) -> list[tuple[str, str]]:
    """(code, title) of the Định Hóa leaves this agency appraises, in framework order."""
    return [(n.code, n.title) for n in dinh_hoa().leaves() if n.agency == agency]


def appraise(
    engine: Engine, cycle_id: str, who: str, agency: str, codes: list[str], now: datetime
) -> None:
    """The council of ``agency`` appraises these Phượng Tiến criteria (full inputs)."""
    fw = dinh_hoa()
    for code in codes:
        with session_scope(engine) as s:
            save_appraisal(
                s,
                cycle_id=cycle_id,
                unit_code=PT,
                criterion_code=code,
                editor=Editor(username=who, agencies=frozenset({agency})),
                now=now,
                inputs=full_inputs(fw.node(code)),
                comment="Đúng với tài liệu kiểm chứng",
            )


def uncached_worker(client: Client, engine: Engine, settings: Settings, queue: str) -> AppWorkers:
    """``build_worker`` without a workflow cache (no sticky queue)."""
    return build_worker(
        client, engine=engine, settings=settings, task_queue=queue, max_cached_workflows=0
    )


def listed(text: str) -> list[str]:
    """The criterion codes listed ("- code title") in a digest's plain text."""
    return [line[2:].split(" ", 1)[0] for line in text.splitlines() if line.startswith("- ")]


async def test_the_council_is_reminded_of_its_unappraised_criteria(
    temporal_ts: WorkflowEnvironment, engine: Engine, smtp: tuple[int, MailSink]
) -> None:
    env = temporal_ts
    port, sink = smtp
    start = await env.get_current_time()
    year = start.year + 1
    # The cycle opens on the submission day (after its 24h and morning reminders): no
    # submission reminder is planned, the unit mails stay few.
    seeded = seed_cycle(
        engine,
        year=year,
        opens_at=local(year, 11, 22, 8),
        units=[c for c in COMMUNES if c[0] in (PT, DB)],
        real_table_for=(),
    )
    cid = seeded.cycle_id
    with session_scope(engine) as s:
        tp = _user(s, COUNCIL_TP, "Hội đồng thẩm định (Phòng Tư pháp)", "tp@dinhhoa.test")
        _grant(s, tp, Role.council, agency=TU_PHAP)
    mails = Mails(sink, cid)
    sub, lock, due = local(year, 11, 22), local(year, 11, 25), local(year, 12, 10)
    office = {u: f"vp-{u}" for u in (PT, DB)}
    queue = f"council-{uuid.uuid4().hex[:8]}"
    client = env.client
    settings = settings_for(port)
    nv_leaves = agency_leaves(NOI_VU)
    tp_leaves = agency_leaves(TU_PHAP)
    assert len(nv_leaves) > 20 and len(tp_leaves) >= 2

    def appraisal(offset: str, who: str) -> str:
        return mails.key(None, "appraisal_reminder", f"appraisal|{iso(due)}|{offset}", who)

    # The first worker caches no workflow: the test server would keep sending the workflows'
    # tasks to a stopped worker's sticky queue.
    async with uncached_worker(client, engine, settings, queue):
        assert await C.start_cycle(client, engine, cid, task_queue=queue, search_attributes=False)
        await C.unit_command(
            client, cid, PT, C.AssignCommand(actor=office[PT], assignments=tuple(seeded.specs[PT]))
        )
        await sleep_until(env, local(year, 11, 22, 9))
        mails.expect(PT, "cycle_opened", "open", [office[PT]])
        mails.expect(DB, "cycle_opened", "open", [office[DB]])
        mails.expect(PT, "assigned", "v1", [f"{PT}-lan", f"{PT}-dung"])
        await mails.check()
        status = await C.unit_command(client, cid, PT, C.SubmitCommand(actor=office[PT]))
        assert status.state is UnitState.submitted
        mails.expect(PT, "submitted", "s1", [office[PT]])

        # Định Biên never submits: locked at 17:00 25/11; Phượng Tiến is under appraisal.
        await sleep_until(env, local(year, 11, 26, 9))
        for offset in ("24h", "morning"):
            mails.reminder(DB, "hard_lock", lock, offset, [office[DB]])
        mails.expect(DB, "locked", f"lock-{iso(lock)}", [office[DB]])
        mails.expect(None, "missed", f"submission|{iso(sub)}", [COORD])
        mails.expect(None, "missed", f"hard_lock|{iso(lock)}", [COORD])
        await mails.check()
        assert (await C.unit_status(client, cid, DB)).state is UnitState.not_submitted
        assert (await C.unit_status(client, cid, PT)).state is UnitState.appraising

        # Tư pháp appraises everything of its own; Nội vụ only 1.1.
        now = await env.get_current_time()
        appraise(engine, cid, COUNCIL_TP, TU_PHAP, [c for c, _ in tp_leaves], now)
        with session_scope(engine) as s:
            save_appraisal(
                s,
                cycle_id=cid,
                unit_code=PT,
                criterion_code="1.1",
                editor=Editor(username=COUNCIL_NV, agencies=frozenset({NOI_VU})),
                now=now,
                inputs=CriterionInput(answers={4: 3}),
                comment="Theo 03 phiếu đánh giá",
            )

        # 3/12 17:00, seven days before the appraisal deadline: only Nội vụ has work left.
        await sleep_until(env, local(year, 12, 4, 9))
        mails.expect(None, "appraisal_reminder", f"appraisal|{iso(due)}|168h", [COUNCIL_NV])
        await mails.check()
        week = mails.find(appraisal("168h", COUNCIL_NV))
        assert str(week["Subject"]) == (
            f"Nhắc hạn thẩm định (còn 7 ngày): 17:00 ngày 10/12/{year} — "
            "1 đơn vị còn tiêu chí chưa thẩm định"
        )
        body = text_of(week)
        assert f"hạn thẩm định của {seeded_title(year)} là 17:00 ngày 10/12/{year}" in body
        assert f"UBND xã Phượng Tiến ({PT}), Đang thẩm định: còn {len(nv_leaves) - 1}" in body
        assert listed(body) == [c for c, _ in nv_leaves if c != "1.1"]
        assert f"- 1.2 {dict(nv_leaves)['1.2']}" in body
        assert f"https://danhgia.dinhhoa.test/cycles/{cid}/units/{PT}" in body
        assert "Định Biên" not in body and "dinh-bien" not in body
        html = week.get_body(("html",))
        assert html is not None
        link = f'href="https://danhgia.dinhhoa.test/cycles/{cid}/units/{PT}"'
        assert link in str(html.get_content())

        # A retried mail activity finds the stored digest and sends nothing.
        req = NoticeRequest(
            kind=NoticeKind.appraisal_reminder,
            cycle_id=cid,
            key=f"appraisal|{iso(due)}|168h",
            at=local(year, 12, 3),
            deadline_kind=DeadlineKind.appraisal,
            deadline=due,
            offset="168h",
            expires_at=due,
        )
        acts = MailActivities(engine, settings, SmtpMailer(settings))
        again = await ActivityEnvironment().run(acts.notify, req)
        assert again == NotifyResult(messages=0, sent=0, dropped=0)

    # The worker stops; Nội vụ appraises criteria 1.x and 2.x meanwhile; a new worker (empty
    # cache) replays the cycle and sends the 72h reminder (17:00 7/12) once.
    first_part = [c for c, _ in nv_leaves if c.split(".")[0] in ("1", "2")]
    now = await env.get_current_time()
    appraise(engine, cid, COUNCIL_NV, NOI_VU, [c for c in first_part if c != "1.1"], now)
    async with worker_for(client, engine, settings, queue):
        assert (await C.cycle_status(client, cid)).state.value == "running"  # a replay
        await sleep_until(env, local(year, 12, 7, 18))
        mails.expect(None, "appraisal_reminder", f"appraisal|{iso(due)}|72h", [COUNCIL_NV])
        await mails.check()  # the 168h digest is not sent again
        left = [c for c, _ in nv_leaves if c not in first_part]
        assert listed(text_of(mails.find(appraisal("72h", COUNCIL_NV)))) == left

        # The appraisal closes on 8/12: neither the 24h nor the morning reminder is sent.
        await sleep_until(env, local(year, 12, 8, 9))
        closed = await C.cycle_command(client, cid, C.CloseAppraisalCommand(actor=COORD))
        assert closed.state.value == "appraisal_closed"
        await sleep_until(env, local(year, 12, 11, 9))
        await mails.check()

        await C.cycle_command(client, cid, C.CancelCommand(actor=COORD, reason="Kiểm thử"))
        for u in (PT, DB):
            mails.expect(u, "cancelled", "cancelled", [office[u]])
        await mails.check()
        wf_id = C.cycle_workflow_id(cid)
        # every workflow of this test ends (with its mails) before the worker goes: nothing is
        # left pending on the shared time-skipping server to hold back later tests' clocks
        await completed(env, wf_id, *(C.unit_workflow_id(cid, u) for u in (PT, DB)))
        await write_histories(env, cid, {"cycle-appraisal-reminders": wf_id})

    with session_scope(engine) as s:
        rows = s.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.idempotency_key).startswith(f"{cid}|-|appraisal_reminder|")
            )
        ).all()
    assert sorted((r.idempotency_key, r.status) for r in rows) == sorted(
        (appraisal(o, COUNCIL_NV), "sent") for o in ("168h", "72h")
    )


def seeded_title(year: int) -> str:
    """The title seed_cycle gives the cycle."""
    return f"Đánh giá mức độ hoàn thành nhiệm vụ năm {year} — xã huyện Định Hóa"


# --- what the cycle does after an outage (pure) ---------------------------------------------


def test_after_an_outage_only_the_latest_reminder_is_sent_and_none_after_the_deadline() -> None:
    due = local(2030, 12, 10)
    plan = plan_reminders("appraisal", due, (168, 72, 24, 0), after=local(2030, 11, 1))
    assert [(r.offset, r.at) for r in plan] == [
        ("168h", local(2030, 12, 3)),
        ("72h", local(2030, 12, 7)),
        ("24h", local(2030, 12, 9)),
        ("morning", local(2030, 12, 10, 7)),
    ]
    assert due_reminder(plan, local(2030, 12, 3, 16)) == ([], None)
    assert due_reminder(plan, local(2030, 12, 3, 17)) == (plan[:1], plan[0])
    # Down from 16:00 9/12 to 08:00 10/12: 24h and morning are due, only the morning is sent.
    assert due_reminder(plan[2:], local(2030, 12, 10, 8)) == (plan[2:], plan[3])
    # Down until after the deadline: every pending reminder is handled, none is sent.
    assert due_reminder(plan[1:], due) == (plan[1:], None)
    assert due_reminder(plan[1:], local(2030, 12, 11)) == (plan[1:], None)
    # A cycle started two days before the deadline plans only what is still ahead.
    late = plan_reminders("appraisal", due, (168, 72, 24, 0), after=local(2030, 12, 8))
    assert [r.offset for r in late] == ["24h", "morning"]


def test_cycle_input_carries_the_appraisal_deadline(engine: Engine) -> None:
    year = 2031
    seeded = seed_cycle(engine, year=year, opens_at=local(year, 11, 14, 8), units=COMMUNES[:1])
    with session_scope(engine) as s:
        inp = cycle_input(s, seeded.cycle_id, task_queue="q", search_attributes=False)
    assert inp.appraisal_deadline == local(year, 12, 10)
    assert inp.reminder_offsets_hours == (168, 72, 24, 0)
    old = CycleInput.model_validate(
        inp.model_dump(exclude={"appraisal_deadline", "reminder_offsets_hours"})
    )
    assert old.appraisal_deadline is None  # the input of a cycle started before this change
