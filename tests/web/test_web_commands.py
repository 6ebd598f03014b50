"""The unit page's forms that move the process, against the real Temporal dev server and worker:
the office starts the review, returns a criterion, submits; the council starts the appraisal,
appraises, asks for an explanation, closes the round and finalises — each a form POST with the
session's CSRF token, through the same workflow commands as the REST API.
"""

from __future__ import annotations

import logging
import re
import uuid

import httpx
from fastapi import FastAPI
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.tables import AuditLog
from tests.api_support import PASSWORD, build_world, make_app
from tests.web.test_web_off_loop import recorded, writes
from tests.web.test_web_pages import FORM_CSRF, META_CSRF, form_of, row_of, text_of
from workflows.commands import start_cycle
from workflows.worker import build_worker


class Browser:
    """One signed-in person's cookie session on the app (in the test's event loop)."""

    def __init__(self, app: FastAPI) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        )
        self.csrf = ""

    async def login(self, username: str) -> Browser:
        page = await self.http.get("/login")
        token = FORM_CSRF.search(page.text)
        assert token is not None
        resp = await self.http.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "csrf_token": token.group(1),
                "next": "/cycles",
            },
        )
        assert resp.status_code == 303, resp.text
        landing = await self.http.get("/cycles")
        found = META_CSRF.search(landing.text)
        assert found is not None
        self.csrf = found.group(1)
        return self

    async def page(self, url: str) -> str:
        resp = await self.http.get(url)
        assert resp.status_code == 200, resp.text
        return resp.text

    async def post(
        self, url: str, fields: dict[str, str] | None = None, *, expect: int = 303, **more: str
    ) -> httpx.Response:
        data = {"csrf_token": self.csrf, **(fields or {}), **more}
        resp = await self.http.post(url, data=data)
        assert resp.status_code == expect, (url, resp.status_code, text_of(resp.text)[:800])
        return resp

    async def follow(self, resp: httpx.Response) -> str:
        return await self.page(resp.headers["location"])


def idem(html: str, action: str) -> str:
    """The idempotency key the page put in the form that posts to ``action``."""
    form = html.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    found = re.search(r'name="idem" value="([^"]+)"', form)
    assert found is not None
    return found.group(1)


async def test_the_process_moves_through_the_forms(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO)
    port, _sink = smtp
    queue = f"web-{uuid.uuid4().hex[:8]}"
    cycle_id = f"web-{uuid.uuid4().hex[:6]}"
    world = build_world(engine, prefix="wc", cycle_id=cycle_id)
    app = make_app(
        engine, tmp_path, temporal=temporal_dev.client, temporal_task_queue=queue, smtp_port=port
    )
    worker = build_worker(
        temporal_dev.client, engine=engine, settings=app.state.settings, task_queue=queue
    )
    unit = f"/cycles/{cycle_id}/units/wc-unit-a"
    async with worker:
        await start_cycle(temporal_dev.client, engine, cycle_id, task_queue=queue)
        office = await Browser(app).login("wc-office-a")
        staff = await Browser(app).login("wc-staff-a")
        council = await Browser(app).login("wc-council")

        # the office assigns area II and criterion 6.2 to its staff member (through the API,
        # with the cookie session and its CSRF header)
        resp = await office.http.put(
            f"/api/cycles/{cycle_id}/units/{world.unit_a}/assignments",
            json={"assignments": [{"codes": ["II", "6.2"], "username": "wc-staff-a"}]},
            headers={"X-CSRF-Token": office.csrf},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["state"] == "drafting"

        # staff draft two criteria
        await staff.post(
            f"{unit}/criteria/6.2/draft",
            {"in.numerator": "84", "in.denominator": "87", "explanation": "Báo cáo 45/BC."},
        )
        html = await staff.follow(
            await staff.post(
                f"{unit}/criteria/2.1.1/draft",
                {"in.level": "full", "explanation": "Kế hoạch số 15/KH-UBND."},
            )
        )
        assert "Điểm tự chấm: 1 điểm" in text_of(html)
        assert "4,828" in row_of(html, "6.2")

        # the office reviews and returns 6.2 with a comment
        html = await office.page(unit)
        assert "Gửi kết quả" in html and "Bắt đầu rà soát" in html
        html = await office.follow(
            await office.post(f"{unit}/start-review", idem=idem(html, f"{unit}/start-review"))
        )
        text = text_of(html)
        assert "Đơn vị đã bắt đầu rà soát." in text and "Đơn vị đang rà soát" in text
        html = await office.follow(
            await office.post(
                f"{unit}/return",
                code="6.2",
                comment="Ghi rõ số, ngày của báo cáo.",
                idem=idem(html, f"{unit}/return"),
            )
        )
        assert "Đã trả lại tiêu chí 6.2 cho cán bộ phụ trách." in text_of(html)
        # a return without a comment is refused on the page
        refused = await office.post(f"{unit}/return", expect=422, code="2.1.1", comment=" ")
        assert "Cần ghi ý kiến khi trả lại tiêu chí." in text_of(refused.text)

        # staff see the comment; only the returned criterion is open to them
        html = await staff.page(unit)
        assert "Được trả lại: Ghi rõ số, ngày của báo cáo." in row_of(html, "6.2")
        assert 'id="draft-6.2"' in html and 'id="draft-2.1.1"' not in html
        html = await staff.follow(
            await staff.post(
                f"{unit}/criteria/6.2/draft",
                {
                    "in.numerator": "84",
                    "in.denominator": "87",
                    "had_inputs": "1",
                    "explanation": "Báo cáo số 45/BC-UBND ngày 18/11/2024.",
                },
            )
        )
        assert "Điểm tự chấm: 4,828 điểm" in text_of(html)

        # the office submits; the same form posted twice acts once
        html = await office.page(unit)
        key = idem(html, f"{unit}/submit")
        # the confirmation lists what is missing, the total and the class it earns
        summary = text_of(form_of(html, "submit-form"))
        assert "tiêu chí chưa hoàn thành" in summary and "Tổng điểm tự chấm 5,828" in summary
        refused = await office.post(f"{unit}/submit", expect=422, proposed_class="good", idem=key)
        assert "Cần xác nhận đã xem danh sách cảnh báo" in text_of(refused.text)
        first = await office.post(f"{unit}/submit", proposed_class="good", idem=key, confirm="1")
        again = await office.post(f"{unit}/submit", proposed_class="good", idem=key, confirm="1")
        html = await office.follow(again)
        text = text_of(html)
        assert "Đã gửi kết quả tự chấm điểm." in text
        assert "Đề xuất xếp loại Hoàn thành tốt nhiệm vụ" in text
        assert first.headers["location"] == again.headers["location"]
        # a second, new submission is refused by the workflow, in Vietnamese
        refused = await office.post(f"{unit}/submit", expect=409, confirm="1")
        assert "Không thể gửi kết quả" in text_of(refused.text)
        # the submitted sheet has no edit form for staff
        html = await staff.page(unit)
        assert "/draft" not in html and 'type="file"' not in html

        # the coordinator reopens it with a reason; the office submits again
        coordinator = await Browser(app).login("wc-coordinator")
        refused = await coordinator.post(f"{unit}/reopen", expect=422, reason="  ")
        assert "Cần ghi lý do mở lại." in text_of(refused.text)
        html = await coordinator.page(unit)
        html = await coordinator.follow(
            await coordinator.post(
                f"{unit}/reopen",
                reason="Đơn vị đề nghị bổ sung tài liệu kiểm chứng.",
                idem=idem(html, f"{unit}/reopen"),
            )
        )
        assert "Đã mở lại phiếu của đơn vị." in text_of(html)
        assert 'id="draft-6.2"' in await staff.page(unit)
        html = await office.page(unit)
        html = await office.follow(
            await office.post(f"{unit}/submit", idem=idem(html, f"{unit}/submit"), confirm="1")
        )
        assert "Đã gửi kết quả tự chấm điểm." in text_of(html)

        # the council appraises, asks for an explanation, closes the round and finalises
        html = await council.page(unit)
        html = await council.follow(
            await council.post(
                f"{unit}/start-appraisal", idem=idem(html, f"{unit}/start-appraisal")
            )
        )
        assert "Đang thẩm định" in text_of(html)
        html = await council.follow(
            await council.post(
                f"{unit}/criteria/2.1.1/appraisal",
                {"in.level": "not_full", "comment": "Thiếu văn bản chỉ đạo."},
            )
        )
        assert "Đã lưu điểm thẩm định tiêu chí 2.1.1: 0 điểm" in text_of(html)
        assert "Tổng điểm thẩm định 4,828 / 100 điểm" in text_of(html)
        html = await council.follow(
            await council.post(
                f"{unit}/explanation-requests",
                {
                    "q.2.1.1": "Bổ sung văn bản chỉ đạo phòng, chống tham nhũng.",
                    "q.2.1.2": "",
                    "idem": idem(html, f"{unit}/explanation-requests"),
                },
            )
        )
        text = text_of(html)
        assert "Đã gửi yêu cầu giải trình các tiêu chí: 2.1.1." in text
        assert "Vòng 1 — hạn" in text

        # staff answer on the flagged criterion only
        html = await staff.page(unit)
        assert 'id="answer-2.1.1"' in html and 'id="draft-2.1.1"' in html
        assert 'id="draft-6.2"' not in html
        request_id = re.search(r'name="request_id" value="(\d+)"', form_of(html, "answer-2.1.1"))
        assert request_id is not None
        html = await staff.follow(
            await staff.post(
                f"{unit}/criteria/2.1.1/answer",
                answer="Đã bổ sung Chỉ thị số 02/CT-UBND.",
                request_id=request_id.group(1),
            )
        )
        assert "Đã bổ sung Chỉ thị số 02/CT-UBND." in text_of(html)

        html = await council.page(unit)
        html = await council.follow(
            await council.post(
                f"{unit}/close-round",
                request_id=request_id.group(1),
                idem=idem(html, f"{unit}/close-round"),
            )
        )
        assert "Đã kết thúc vòng giải trình." in text_of(html)
        await council.post(
            f"{unit}/criteria/2.1.1/appraisal",
            {"in.level": "full", "comment": "Đã đủ sau giải trình."},
        )
        html = await council.page(unit)
        # the other agencies have appraised nothing: the page names them, finalising needs
        # the override and a reason
        assert "Phòng Tài chính - Kế hoạch" in text_of(form_of(html, "finalise-form"))
        refused = await council.post(f"{unit}/finalise", expect=409)
        assert "Còn cơ quan chưa thẩm định xong" in text_of(refused.text)
        refused = await council.post(f"{unit}/finalise", expect=422, override="1")
        assert "Cần ghi lý do" in text_of(refused.text)
        with recorded(engine) as seen:  # its audit row too is written off the event loop
            html = await council.follow(
                await council.post(
                    f"{unit}/finalise",
                    idem=idem(html, f"{unit}/finalise"),
                    override="1",
                    reason="Các cơ quan khác không có ý kiến.",
                )
            )
        assert writes(seen, on_loop=True) == []
        assert any("INSERT INTO audit_log" in s for s in writes(seen, on_loop=False))
        with Session(engine) as s:
            override = s.exec(
                select(AuditLog).where(
                    AuditLog.cycle_id == cycle_id, AuditLog.action == "finalise_override"
                )
            ).one()
            assert override.after is not None
            assert override.after["reason"] == "Các cơ quan khác không có ý kiến."
        text = text_of(html)
        assert "Đã kết thúc thẩm định đơn vị." in text and "Đã thẩm định xong" in text
        assert "Tổng điểm thẩm định 5,828 / 100 điểm" in text

        # the cycle page shows where each unit stands
        cycle = text_of(await office.page(f"/cycles/{cycle_id}"))
        assert "Đã thẩm định xong" in cycle
        for browser in (office, staff, council, coordinator):
            await browser.http.aclose()
    # refusals are ordinary answers: the worker logs none of them with a traceback
    traced = [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]
    assert not traced, [(r.name, r.getMessage()) for r in traced]
