"""The coordinator's cycle pages against the real Temporal dev server and worker: create a cycle
(form → review → create and start), read the console (counters, filters, sort, charts), extend
one unit's deadline (confirmation → result naming the unit and its new deadline), cancel; and
the API's extend answer carries each unit's new deadline.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlencode

from temporalio.testing import WorkflowEnvironment

from core.db import utcnow
from core.vn import VN_TZ
from tests.api_support import build_world, make_app
from tests.web.test_web_commands import Browser, idem
from tests.web.test_web_pages import text_of
from workflows.worker import build_worker


def _local(days: int, hour: int = 17) -> str:
    day = (utcnow() + timedelta(days=days)).astimezone(VN_TZ)
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


async def test_create_a_cycle_then_run_it_from_the_console(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    port, _sink = smtp
    queue = f"con-{uuid.uuid4().hex[:8]}"
    world = build_world(engine, prefix="co", cycle_id=f"old-{uuid.uuid4().hex[:6]}")
    app = make_app(
        engine, tmp_path, temporal=temporal_dev.client, temporal_task_queue=queue, smtp_port=port
    )
    worker = build_worker(
        temporal_dev.client, engine=engine, settings=app.state.settings, task_queue=queue
    )
    cid = f"2030-co-{uuid.uuid4().hex[:4]}"
    async with worker:
        coordinator = await Browser(app).login("co-coordinator")
        listing = text_of(await coordinator.page("/cycles"))
        assert "Tạo kỳ đánh giá" in listing

        form = await coordinator.page("/cycles/new")
        assert "Chọn tất cả (3 đơn vị)" in text_of(form)
        fields = {
            "id": cid,
            "year": "2030",
            "title": "Đánh giá thử năm 2030",
            "framework_id": str(world.framework_id),
            "opens_at": _local(-1, 8),
            "data_cutoff_at": _local(10),
            "submission_deadline": _local(12),
            "hard_lock_at": _local(14),
            "appraisal_deadline": _local(30),
            "results_target": _local(40),
            "reminder_offsets": "168, 24, 0",
            "max_explanation_rounds": "1",
            "explanation_round_days": "4",
        }
        # a timeline out of order is refused on the review screen, nothing stored
        bad = {**fields, "hard_lock_at": _local(11)}
        resp = await coordinator.http.get(
            "/cycles/new/review?" + urlencode([*bad.items(), ("group_all", "commune")])
        )
        assert resp.status_code == 409
        assert "hard_lock_at" in text_of(resp.text) or "Phần mềm tự động khóa" in text_of(resp.text)

        review = text_of(
            await coordinator.page(
                "/cycles/new/review?" + urlencode([*fields.items(), ("group_all", "commune")])
            )
        )
        assert "Xem lại: Đánh giá thử năm 2030" in review
        assert "3 đơn vị" in review and "UBND xã C" in review
        assert "7 ngày, 1 ngày, sáng ngày hết hạn" in review
        assert "tối đa 1 vòng, mỗi vòng 4 ngày" in review

        data = {**fields, "unit": [f"co-unit-{k}" for k in "abc"], "csrf_token": coordinator.csrf}
        resp = await coordinator.http.post("/cycles/new", data=data)
        assert resp.status_code == 303, text_of(resp.text)[:500]
        console = text_of(await coordinator.follow(resp))
        assert "Đã tạo và bắt đầu kỳ đánh giá “Đánh giá thử năm 2030”: 3 đơn vị." in console
        assert "Tất cả đơn vị" in console and "Chưa bắt đầu" in console
        assert "Gia hạn" in console and "Kết thúc thẩm định" in console
        assert "Công bố" not in console.split("Tất cả đơn vị")[0]  # not allowed while running
        assert "Số đơn vị theo trạng thái" in console  # the SVG chart's title

        filtered = text_of(await coordinator.page(f"/cycles/{cid}?flag=not_started&sort=name"))
        assert "Đang hiển thị 3/3 đơn vị." in filtered
        none_late = text_of(await coordinator.page(f"/cycles/{cid}?flag=late"))
        assert "Không có đơn vị nào khớp bộ lọc." in none_late

        # extend one unit: the confirmation says what will happen, the result names the unit
        page = await coordinator.page(f"/cycles/{cid}/extend?unit=co-unit-b")
        assert "Sẽ thực hiện:" in text_of(page)
        new_lock = _local(20)
        resp = await coordinator.post(
            f"/cycles/{cid}/extend",
            {
                "scope": "some",
                "unit": "co-unit-b",
                "submission_deadline": _local(12),
                "hard_lock_at": new_lock,
                "reason": "Mất điện kéo dài",
                "idem": idem(page, f"/cycles/{cid}/extend"),
            },
        )
        result = text_of(await coordinator.follow(resp))
        day = new_lock[8:10] + "/" + new_lock[5:7] + "/" + new_lock[:4]
        assert "Đã gia hạn cho 1 đơn vị:" in result
        assert "UBND xã B: hạn gửi kết quả 17:00 ngày" in result
        assert f"khóa 17:00 ngày {day}" in result

        # the API answers each unit's new deadline too
        resp = await coordinator.http.post(
            f"/api/cycles/{cid}/deadlines",
            json={"units": ["co-unit-c"], "hard_lock_at": _local(21)},
            headers={"X-CSRF-Token": coordinator.csrf},
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert [u["code"] for u in body["units"]] == ["co-unit-c"]
        assert body["units"][0]["hard_lock_at"] != body["hard_lock_at"]

        # the audit trail: the creation and the extension, filtered by person and unit
        trail = text_of(await coordinator.page(f"/cycles/{cid}/audit?actor=co-coordinator"))
        assert "Nhật ký thay đổi" in trail and f"Kỳ đánh giá {cid} tạo" in trail
        trail = text_of(await coordinator.page(f"/cycles/{cid}/audit?unit=co-unit-b"))
        assert "Thời hạn trước khi đổi: — → submission" in trail and "UBND xã B" in trail
        assert "UBND xã C" not in trail.split(" dòng")[1]

        # classify is not offered while running; its confirmation refuses
        resp = await coordinator.http.get(f"/cycles/{cid}/classify")
        assert resp.status_code == 422 and "Không thể xếp loại" in text_of(resp.text)

        # cancel: the reason is required, then the cycle is cancelled
        page = await coordinator.page(f"/cycles/{cid}/cancel")
        resp = await coordinator.post(
            f"/cycles/{cid}/cancel",
            {"reason": "Kiểm thử", "idem": idem(page, f"/cycles/{cid}/cancel")},
        )
        done = text_of(await coordinator.follow(resp))
        assert "Đã hủy kỳ đánh giá." in done

        # staff see the console without the commands
        staff = await Browser(app).login("co-staff-a")
        seen = text_of(await staff.page(f"/cycles/{cid}"))
        assert "UBND xã A" in seen and "UBND xã B" not in seen and "Gia hạn" not in seen
        resp = await staff.http.get(f"/cycles/{cid}/extend")
        assert resp.status_code == 403
