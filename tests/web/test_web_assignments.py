"""The assignment page against the real Temporal dev server, worker and SMTP sink: the office
puts a whole area on one person as lead and one criterion on another as support, sees the tree
with the people on each criterion, and each person assigned gets the assignment e-mail; the
page refuses a change naming nobody, in place.
"""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage

from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from models.tables import Assignment, Role, RoleGrant, User
from tests.api_support import build_world, make_app, password_hash
from tests.web.test_web_commands import Browser, idem
from tests.web.test_web_pages import text_of
from workflows.commands import start_cycle
from workflows.worker import build_worker


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_the_office_assigns_an_area_and_a_support(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    port, sink = smtp
    queue = f"wa-{uuid.uuid4().hex[:8]}"
    cycle_id = f"wa-{uuid.uuid4().hex[:6]}"
    world = build_world(engine, prefix="wa", cycle_id=cycle_id)
    with session_scope(engine) as session:
        second = User(
            username="wa-tran-thi-mai",
            full_name="Trần Thị Mai",
            email="wa-mai@example.vn",
            password_hash=password_hash(),
        )
        session.add(second)
        session.flush()
        assert second.id is not None
        session.add(RoleGrant(user_id=second.id, role=Role.staff, unit_id=world.unit_a))
    app = make_app(
        engine, tmp_path, temporal=temporal_dev.client, temporal_task_queue=queue, smtp_port=port
    )
    worker = build_worker(
        temporal_dev.client, engine=engine, settings=app.state.settings, task_queue=queue
    )
    page = f"/cycles/{cycle_id}/units/wa-unit-a/assignments"
    async with worker:
        await start_cycle(temporal_dev.client, engine, cycle_id, task_queue=queue)
        office = await Browser(app).login("wa-office-a")
        html = await office.page(page)
        text = text_of(html)
        assert "Phân công tiêu chí — UBND xã A" in text and "Đang phân công" in text
        assert "0/" in text and 'id="assign-form"' in html

        # nobody chosen: refused in place, nothing assigned
        refused = await office.post(page, expect=422, role="lead", codes="II")
        assert "Cần chọn một cán bộ của đơn vị." in text_of(refused.text)

        # area II to staff A as lead (the first assignment: assigning → drafting)
        html = await office.follow(
            await office.post(
                page,
                {"username": "wa-staff-a", "role": "lead", "codes": "II"},
                idem=idem(html, page),
            )
        )
        text = text_of(html)
        assert "Đã cập nhật phân công:" in text and "chịu trách nhiệm chính, staff_a" in text
        # 2.1.1 also to Trần Thị Mai, as support
        html = await office.follow(
            await office.post(
                page,
                {"username": "wa-tran-thi-mai", "role": "support", "codes": "2.1.1"},
                idem=idem(html, page),
            )
        )
        assert "Đã cập nhật phân công: 1 tiêu chí (phối hợp, Trần Thị Mai)." in text_of(html)
        row = html.split('value="2.1.1"', 1)[1].split("</tr>", 1)[0]
        assert "staff_a" in row and "Trần Thị Mai" in text_of(row) and "phối hợp" in row

        with Session(engine) as session:
            rows = session.exec(select(Assignment).where(Assignment.cycle_id == cycle_id)).all()
            leads = {(a.criterion_code, a.responsible) for a in rows if a.user_id != second.id}
            assert ("2.1.1", True) in leads and len(leads) > 5
            assert {(a.criterion_code, a.responsible) for a in rows if a.user_id == second.id} == {
                ("2.1.1", False)
            }

        # each person assigned gets the assignment e-mail
        for _ in range(300):
            rcpts = " ".join(str(m["To"]) for m in sink.messages)
            if "wa-staff-a@example.vn" in rcpts and "wa-mai@example.vn" in rcpts:
                break
            await asyncio.sleep(0.1)
        mail = next(m for m in sink.messages if "wa-mai@example.vn" in str(m["To"]))
        assert "2.1.1" in _body(mail)

        # staff see the tree but no form
        staff = await Browser(app).login("wa-staff-a")
        html = await staff.page(page)
        assert 'id="assign-form"' not in html and "Chỉ xem" in text_of(html)
        for b in (office, staff):
            await b.http.aclose()
