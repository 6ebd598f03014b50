"""The roles' journeys of issue 10 in a real browser (Debian's Chromium, Playwright), against
the Temporal dev server, a worker and the SMTP sink; every request to another host aborted.

The office bulk-assigns an area and a criterion; staff draft three kinds of criteria from
“Việc của tôi” (levels, bands over a count, a proportion) and upload evidence; the office starts
its review, returns one criterion, reads the submit confirmation list and submits; two agencies
appraise, one asks for an explanation, the staff answers, the round closes, and the second
agency tries to finalise before the first has finished and sees who is missing. Every page is
screenshotted at 1366 and 390 px (tests/browser_support.py) and must not scroll sideways.
"""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from models.tables import Role, RoleGrant, User
from tests.api_support import build_world, make_app, password_hash
from tests.browser_support import SHOTS, chromium, serve
from tests.services.test_evidence import PDF_SIGNED
from workflows.commands import start_cycle
from workflows.worker import build_worker

PLAN_AGENCY = "Phòng Tài chính - Kế hoạch"


def _second_council(engine) -> None:
    with session_scope(engine) as session:
        user = User(
            username="bj-le-van-hung",
            full_name="Lê Văn Hùng",
            email="bj-hung@example.vn",
            password_hash=password_hash(),
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        session.add(RoleGrant(user_id=user.id, role=Role.council, agency=PLAN_AGENCY))


async def test_the_roles_journeys_in_a_real_browser(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    from playwright.async_api import expect

    port, _sink = smtp
    queue = f"bj-{uuid.uuid4().hex[:8]}"
    cycle_id = f"bj-{uuid.uuid4().hex[:6]}"
    build_world(engine, prefix="bj", cycle_id=cycle_id)
    _second_council(engine)
    app = make_app(
        engine, tmp_path, temporal=temporal_dev.client, temporal_task_queue=queue, smtp_port=port
    )
    worker = build_worker(
        temporal_dev.client, engine=engine, settings=app.state.settings, task_queue=queue
    )
    evidence = tmp_path / "Ke-hoach-PCTN-2024.pdf"
    evidence.write_bytes(PDF_SIGNED)
    async with worker:
        await start_cycle(temporal_dev.client, engine, cycle_id, task_queue=queue)
        async with serve(app) as base, chromium(base, "journey") as j:
            unit = f"{base}/cycles/{cycle_id}/units/bj-unit-a"

            # --- the office bulk-assigns area II and criterion 6.2 to its staff member -------
            office = await j.person("bj-office-a")
            await office.goto(f"{unit}/assignments")
            await j.check(office, "phan-cong")
            await office.locator("#assign-user").select_option("bj-staff-a")
            await office.get_by_label("Chịu trách nhiệm chính").check()
            await office.locator('details[id="assign-II"] > summary').click()
            await office.get_by_label("Cả nhóm II", exact=True).check()
            await office.locator('details[id="assign-VI"] > summary').click()
            await office.get_by_label("Chọn 6.2", exact=True).check()
            await office.get_by_role("button", name="Lưu phân công").click()
            await expect(office.get_by_role("status")).to_contain_text("Đã cập nhật phân công")
            await j.check(office, "phan-cong-xong")

            # --- staff draft three kinds of criteria from “Việc của tôi” ---------------------
            staff = await j.person("bj-staff-a")
            await expect(staff.get_by_role("heading", name="Việc của tôi")).to_be_visible()
            await j.check(staff, "viec-cua-toi")
            await staff.get_by_role("link", name="2.1.1", exact=True).click()
            draft = staff.locator('form[id="draft-2.1.1"]')
            await draft.locator('[name="in.level"]').select_option("full")
            await draft.locator("textarea[name=explanation]").fill("Kế hoạch số 15/KH-UBND.")
            await draft.get_by_role("button", name="Lưu và tính điểm").click()
            await expect(staff.get_by_role("status")).to_contain_text("Đã lưu tiêu chí 2.1.1")
            upload = staff.locator('form[id="evidence-2.1.1"]')
            await upload.locator('input[type="file"]').set_input_files(str(evidence))
            await upload.locator('[name="doc_number"]').fill("15/KH-UBND")
            await upload.locator('[name="doc_date"]').fill("15/01/2024")
            await upload.get_by_role("button", name="Tải lên").click()
            await expect(staff.get_by_role("status")).to_contain_text("Đã đính kèm")
            await j.check(staff, "tieu-chi")

            await staff.goto(f"{base}/")
            await staff.get_by_role("link", name="2.4.1", exact=True).click()
            draft = staff.locator('form[id="draft-2.4.1"]')
            await draft.locator('[name="in.count"]').fill("3")
            await draft.locator("textarea[name=explanation]").fill("Biên bản hội nghị số 2, 5.")
            await draft.get_by_role("button", name="Lưu và tính điểm").click()
            await expect(staff.get_by_role("status")).to_contain_text("Đã lưu tiêu chí 2.4.1")

            await staff.goto(f"{base}/")
            await staff.get_by_role("link", name="6.2", exact=True).click()
            draft = staff.locator('form[id="draft-6.2"]')
            await draft.locator('[name="in.numerator"]').fill("84")
            await draft.locator('[name="in.denominator"]').fill("87")
            await draft.locator("textarea[name=explanation]").fill("Báo cáo số 45/BC-UBND.")
            await draft.get_by_role("button", name="Lưu và tính điểm").click()
            await expect(staff.get_by_role("status")).to_contain_text("Điểm tự chấm: 4,828")

            # --- the office reviews, returns 6.2, reads the submit list and submits ----------
            await office.goto(unit)
            await j.check(office, "phieu")
            await office.get_by_role("button", name="Bắt đầu rà soát").click()
            await expect(office.get_by_role("status")).to_contain_text("bắt đầu rà soát")
            await office.locator('details[id="area-VI"] > summary').click()
            await office.get_by_text("Tự chấm điểm tiêu chí 6.2").click()
            await office.locator('[id="r-6.2-comment"]').fill("Ghi rõ ngày của báo cáo.")
            await office.get_by_role("button", name="Trả lại tiêu chí 6.2").click()
            await expect(office.get_by_role("status")).to_contain_text("Đã trả lại tiêu chí 6.2")
            await j.check(office, "tra-lai")
            submit = office.locator("#submit-form")
            await expect(submit).to_contain_text("tiêu chí chưa hoàn thành")
            await expect(submit).to_contain_text("Tổng điểm tự chấm")
            await submit.get_by_role("checkbox").check()
            await submit.get_by_role("button", name="Gửi kết quả").click()
            await expect(office.get_by_role("status")).to_contain_text("Đã gửi kết quả")

            # --- the first agency appraises and asks for an explanation -----------------------
            council = await j.person("bj-council")
            await council.goto(unit)
            await council.get_by_role("button", name="Bắt đầu thẩm định").click()
            await expect(council.get_by_role("status")).to_contain_text("Đã bắt đầu thẩm định")
            await council.goto(f"{base}/cycles/{cycle_id}/council")
            await j.check(council, "hang-cho")
            await council.locator('a[href$="/criteria/2.1.1#result"]').click()
            form = council.locator('form[id="appraisal-2.1.1"]')
            await form.locator('[name="in.level"]').select_option("not_full")
            await form.locator("textarea[name=comment]").fill("Thiếu văn bản chỉ đạo.")
            await form.get_by_role("button", name="Lưu điểm thẩm định").click()
            await expect(council.get_by_role("status")).to_contain_text("Đã lưu điểm thẩm định")
            await j.check(council, "tham-dinh")
            await council.goto(unit)
            await council.locator('textarea[name="q.2.1.1"]').fill("Bổ sung văn bản chỉ đạo.")
            await council.get_by_role("button", name="Gửi yêu cầu giải trình").click()
            await expect(council.get_by_role("status")).to_contain_text("2.1.1")

            # --- the staff answers from “Việc của tôi” ----------------------------------------
            await staff.goto(f"{base}/")
            await expect(staff.locator("body")).to_contain_text("Cần giải trình")
            await staff.get_by_role("link", name="2.1.1", exact=True).click()
            await staff.locator('[id="a-2.1.1-answer"]').fill("Đã bổ sung Chỉ thị 02/CT-UBND.")
            await staff.get_by_role("button", name="Gửi giải trình").click()
            await expect(staff.get_by_role("status")).to_contain_text("Đã gửi nội dung giải trình")
            await j.check(staff, "giai-trinh")

            await council.goto(unit)
            await council.get_by_role("button", name="Kết thúc vòng giải trình").click()
            await expect(council.get_by_role("status")).to_contain_text("Đã kết thúc vòng")

            # --- the second agency appraises 6.2 and cannot finalise alone -------------------
            planner = await j.person("bj-le-van-hung")
            await planner.goto(f"{unit}/criteria/6.2")
            form = planner.locator('form[id="appraisal-6.2"]')
            await form.locator('[name="in.numerator"]').fill("80")
            await form.locator('[name="in.denominator"]').fill("87")
            await form.get_by_role("button", name="Lưu điểm thẩm định").click()
            await expect(planner.get_by_role("status")).to_contain_text("Đã lưu điểm thẩm định")
            await planner.goto(unit)
            final = planner.locator("#finalise-form")
            await expect(final).to_contain_text("chưa thẩm định xong")
            await expect(final).to_contain_text("Thanh tra huyện")
            await final.get_by_role("button", name="Kết thúc thẩm định").click()
            alert = planner.get_by_role("alert")
            await expect(alert).to_contain_text("Còn cơ quan chưa thẩm định xong")
            await expect(alert).to_contain_text("Thanh tra huyện")
            await j.check(planner, "ket-thuc-bi-tu-choi")

            # --- every page of each role, at both widths -------------------------------------
            cycle = f"{base}/cycles/{cycle_id}"
            sweep = {
                "staff": (staff, ["/", "/cycles", cycle, unit, f"{unit}/criteria/6.2"]),
                "office": (office, ["/", unit, f"{unit}/assignments", f"{cycle}/results"]),
                "council": (council, ["/", f"{cycle}/council", f"{unit}/criteria/2.1.1"]),
                "planner": (planner, [f"{cycle}/council", unit]),
            }
            for who, (page, urls) in sweep.items():
                for url in urls:
                    await page.goto(url if url.startswith("http") else base + url)
                    label = who + "-" + url.removeprefix(base).strip("/").replace("/", "_")
                    await j.check(page, label[:60] or who)
            admin = await j.person("bj-coordinator")
            for url in ("/cycles", cycle, unit, f"{cycle}/council", f"{unit}/assignments"):
                await admin.goto(url if url.startswith("http") else base + url)
                await j.check(admin, "coordinator-" + url.removeprefix(base).replace("/", "_"))

            assert all(not url.startswith(base) for url in j.blocked)
            assert len(j.shots) >= 2 * 29 and all(p.is_file() for p in j.shots), SHOTS
            assert not j.overflow, f"pages wider than the screen (px): {j.overflow}"
