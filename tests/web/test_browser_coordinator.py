"""The coordinator's year in a real browser (Debian's Chromium driven by Playwright), from an
empty database, with every request to another host aborted, and every role acting through the
pages (tests/browser_support.py).

/docs and /redoc render offline. The coordinator imports the Định Hóa annex file, sets its
classification levels and publishes it, creates three units and five accounts from uploaded
lists, creates and starts a cycle, filters the console and extends one unit's deadline. Each new
person follows the one-time link of their welcome e-mail (read from the SMTP server) in the
browser, sets their own password and signs in. In Bảo Linh the office assigns three criteria to
its staff member, who drafts them on the criteria's pages from “Việc của tôi” and attaches a
signed PDF; each office downloads its sheet (XLSX) from the unit page, fills in the rest offline —
all of Bảo Linh's criteria, 60 % of Thanh Định's, 25 % of Quy Kỳ's — uploads it, starts its
review and submits; the council starts the appraisal of Bảo Linh and appraises a criterion from
its queue. Then the coordinator closes the appraisal, classifies with the preview, publishes and
reads the appraisal in the audit trail. Every step is asserted on what the page shows; every
page is screenshotted at 1366 and 390 px into ``.artifacts/browser/`` (git-ignored;
APPRAISAL_SCREENSHOTS moves them) and must not scroll sideways.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope, utcnow
from core.vn import VN_TZ
from models.framework import Node
from reports.sheet_xlsx import COLUMNS
from scoring.rules import full_marks_inputs
from services.accounts import ensure_admin
from services.frameworks import framework_of, get_framework
from tests.api_support import make_app
from tests.browser_support import Journey, chromium, serve
from tests.mail_support import welcome_token
from tests.services.test_evidence import PDF_SIGNED
from workflows.worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
ANNEX = ROOT / "tests/fixtures/seeds/dinh-hoa-commune-2024-framework-and-assignment.txt"
ADMIN_PASSWORD = "quan-tri-trinh-duyet"
COORDINATOR_LINKS = (
    "Bộ tiêu chí",
    "Đơn vị và tài khoản",
    "Kỳ đánh giá",
    "Nhật ký thay đổi",
    "Tài khoản",
)
UNITS_CSV = (
    "Mã đơn vị,Tên đơn vị,Nhóm,Thư điện tử\n"
    "bt,UBND xã Bảo Linh,Xã,vanphong@baolinh.vn\n"
    "tl,UBND xã Thanh Định,Xã,vanphong@thanhdinh.vn\n"
    "qk,UBND xã Quy Kỳ,Xã,vanphong@quyky.vn\n"
)
PEOPLE_CSV = (
    "Họ và tên,Thư điện tử,Đơn vị,Vai trò,Cơ quan thẩm định\n"
    "Nguyễn Thị Hoa,hoa@baolinh.vn,bt,Văn phòng đơn vị,\n"
    "Đỗ Thị Lan,lan@baolinh.vn,bt,Cán bộ,\n"
    "Trần Văn Minh,minh@thanhdinh.vn,tl,Văn phòng đơn vị,\n"
    "Lê Thị Hạnh,hanh@quyky.vn,qk,Văn phòng đơn vị,\n"
    "Phạm Quốc Việt,viet@dinhhoa.vn,,Hội đồng,{agency}\n"
)
# unit code → (its office's username, the share of its criteria filled in, in %)
OFFICES = {"bt": ("hoa", 100), "tl": ("minh", 60), "qk": ("hanh", 25)}
# the inputs a criterion's page takes as one text box or one drop-down
SIMPLE = frozenset({"level", "rate", "numerator", "denominator", "count", "failed", "score"})


def _local(days: int, hour: int = 17) -> str:
    day = (utcnow() + timedelta(days=days)).astimezone(VN_TZ)
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def _payload(name: str, text: str) -> Any:
    """A file for an ``<input type="file">`` made in memory."""
    from playwright.async_api import FilePayload

    return FilePayload(name=name, mimeType="text/csv", buffer=text.encode())


def _welcome_link(sink: Any, email: str) -> str:
    """The path of the one-time link in the welcome e-mail sent to ``email``."""
    return f"/password/reset?token={welcome_token(sink, email)}"


def _password(username: str) -> str:
    """A long phrase of one's own (never the username or a unit code inside)."""
    return f"Mùa lúa chín vàng trên cánh đồng số {len(username) * 7}"


def _leaves(engine: Engine, framework_id: int) -> list[Node]:
    """The imported framework's criteria a unit scores itself (not the system's)."""
    with Session(engine) as session:
        record = get_framework(session, framework_id)
        assert record is not None
        framework = framework_of(record)
    return [n for n in framework.leaves() if n.rule is not None and n.rule.kind != "derived"]


def _busiest_agency(engine: Engine, framework_id: int) -> str:
    """The appraising agency with the most criteria of the imported framework."""
    agencies = [n.agency for n in _leaves(engine, framework_id) if n.agency]
    return max(set(agencies), key=agencies.count)


def _full_marks(node: Node) -> dict[str, Any]:
    return full_marks_inputs(node).model_dump(exclude_defaults=True)


def _simple(node: Node) -> bool:
    return set(_full_marks(node)) <= SIMPLE


async def _fill_inputs(form: Any, node: Node) -> None:
    """Types a criterion's full-mark inputs into its form, as a person would."""
    for key, value in _full_marks(node).items():
        field = form.locator(f'[name="in.{key}"]')
        if key == "level":
            await field.select_option(str(value))
        else:
            await field.fill(str(value).replace(".", ","))


def _cell(key: str, value: Any) -> Any:
    """An input as a person types it into the sheet's cell."""
    if key == "checked":
        return ", ".join(str(v) for v in value)
    if key in ("counts", "answers"):
        return "; ".join(f"{k}={v}" for k, v in dict(value).items())
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return "x" if value is True else value


def _fill_sheet(path: Path, nodes: list[Node]) -> bytes:
    """The downloaded sheet with the full marks of ``nodes`` typed in, and a source each."""
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    head = next(r for r in range(1, 6) if ws.cell(row=r, column=1).value == "Mã")
    cols = {ws.cell(row=head, column=c).value: c for c in range(1, ws.max_column + 1)}
    text_col = max(cols[h] for _k, h in COLUMNS) + 1
    rows = {ws.cell(row=r, column=1).value: r for r in range(head + 1, ws.max_row + 1)}
    for node in nodes:
        row = rows[node.code]
        for key, value in _full_marks(node).items():
            ws.cell(row=row, column=cols[dict(COLUMNS)[key]], value=_cell(key, value))
        ws.cell(row=row, column=text_col, value=f"Báo cáo số 12/BC-UBND, mục {node.code}.")
    out = path.with_suffix(".filled.xlsx")
    wb.save(out)
    return out.read_bytes()


async def _assign(office: Any, unit: str, who: str, codes: list[str]) -> None:
    """The office assigns criteria (``codes``) or a whole area (``["*"]``) on its page."""
    from playwright.async_api import expect

    await office.goto(f"{unit}/assignments")
    await office.locator("#assign-user").select_option(who)
    await office.get_by_label("Chịu trách nhiệm chính").check()
    if codes == ["*"]:
        area = office.locator("details.area").first
        await area.locator("> summary").click()
        await area.get_by_role("checkbox").first.check()
    for code in (c for c in codes if c != "*"):
        area = office.locator("details.area", has=office.locator(f'input[value="{code}"]'))
        if await area.get_attribute("open") is None:
            await area.locator("> summary").click()
        await office.get_by_label(f"Chọn {code}", exact=True).check()
    await office.get_by_role("button", name="Lưu phân công").click()
    await expect(office.get_by_role("status")).to_contain_text("Đã cập nhật phân công")


async def _staff_drafts(j: Journey, staff: Any, nodes: list[Node], evidence: Path) -> None:
    """The staff member drafts the criteria assigned to them from “Việc của tôi”, and attaches
    a signed PDF to the first."""
    from playwright.async_api import expect

    await staff.goto(f"{j.base}/")
    tasks = staff.locator("main")
    await expect(staff.get_by_role("heading", name="Việc của tôi")).to_be_visible()
    for node in nodes:
        await expect(tasks.get_by_role("link", name=node.code, exact=True)).to_be_visible()
    await j.check(staff, "staff-my-tasks")
    for i, node in enumerate(nodes):
        await staff.goto(f"{j.base}/")
        await tasks.get_by_role("link", name=node.code, exact=True).click()
        draft = staff.locator(f'form[id="draft-{node.code}"]')
        await _fill_inputs(draft, node)
        await draft.locator("textarea[name=explanation]").fill(f"Kế hoạch số {i + 15}/KH-UBND.")
        await draft.get_by_role("button", name="Lưu và tính điểm").click()
        await expect(staff.get_by_role("status")).to_contain_text(f"Đã lưu tiêu chí {node.code}")
        if i == 0:
            upload = staff.locator(f'form[id="evidence-{node.code}"]')
            await upload.locator('input[type="file"]').set_input_files(str(evidence))
            await upload.locator('[name="doc_number"]').fill("15/KH-UBND")
            await upload.locator('[name="doc_date"]').fill("15/01/2031")
            await upload.get_by_role("button", name="Tải lên").click()
            await expect(staff.get_by_role("status")).to_contain_text("Đã đính kèm")
            await j.check(staff, "staff-criterion")


async def _office_fills_and_submits(
    j: Journey, office: Any, unit: str, nodes: list[Node], work: Path
) -> None:
    """The office downloads its sheet, fills ``nodes`` in offline, uploads it, starts its review
    and submits."""
    from playwright.async_api import expect

    await office.goto(unit)
    excel = office.locator("details.downloads", has_text="Nhập bằng Excel")
    await excel.locator("> summary").click()
    async with office.expect_download() as info:
        await excel.get_by_role("link", name="Tải phiếu chấm điểm (XLSX)").click()
    download = await info.value
    path = work / f"{uuid.uuid4().hex[:6]}-{download.suggested_filename}"
    await download.save_as(str(path))
    filled = _fill_sheet(path, nodes)
    await excel.locator('input[type="file"]').set_input_files(
        files=[{"name": path.name, "mimeType": "application/octet-stream", "buffer": filled}]
    )
    await excel.get_by_role("button", name="Gửi tệp Excel").click()
    await expect(office.get_by_role("status")).to_contain_text("Đã cập nhật từ tệp Excel")
    await office.get_by_role("button", name="Bắt đầu rà soát").click()
    await expect(office.get_by_role("status")).to_contain_text("bắt đầu rà soát")
    submit = office.locator("#submit-form")
    await expect(submit).to_contain_text("Tổng điểm tự chấm")
    await j.check(office, f"office-review-{unit.rsplit('/', 1)[-1]}", full=False)
    await submit.get_by_role("checkbox").check()
    await submit.get_by_role("button", name="Gửi kết quả").click()
    await expect(office.get_by_role("status")).to_contain_text("Đã gửi kết quả")


async def _others_do_their_part(
    j: Journey, sink: Any, cid: str, leaves: list[Node], agency: str, work: Path
) -> str:
    """Staff, unit offices and the council through the pages; the appraised criterion's code."""
    from playwright.async_api import expect

    people = {
        user: await j.welcome(_welcome_link(sink, f"{user}@"), user, _password(user))
        for user in ("hoa", "lan", "minh", "hanh", "viet")
    }
    await j.check(people["lan"], "welcome-signed-in", full=False)
    units = {code: f"{j.base}/cycles/{cid}/units/{code}" for code in OFFICES}
    simple = [n for n in leaves if _simple(n)]
    mine = simple[:3]  # Lan's three criteria
    assert len(mine) == 3 and len(leaves) >= 60, (len(mine), len(leaves))
    await _assign(people["hoa"], units["bt"], "lan", [n.code for n in mine])
    await j.check(people["hoa"], "office-assignments", full=False)
    await _staff_drafts(j, people["lan"], mine, work / "Ke-hoach-15.pdf")
    for code, (user, share) in OFFICES.items():
        if code != "bt":  # the other offices take their first area themselves
            await _assign(people[user], units[code], user, ["*"])
        rest = [n for n in leaves if n not in mine][: len(leaves) * share // 100]
        await _office_fills_and_submits(j, people[user], units[code], rest, work)

    council = people["viet"]
    await council.goto(units["bt"])
    await council.get_by_role("button", name="Bắt đầu thẩm định").click()
    await expect(council.get_by_role("status")).to_contain_text("Đã bắt đầu thẩm định")
    await council.goto(f"{j.base}/cycles/{cid}/council")
    await j.check(council, "council-queue", full=False)
    node = next(n for n in simple if n.agency and n.agency.strip() == agency)
    await council.locator(f'a[href$="/units/bt/criteria/{node.code}#result"]').click()
    form = council.locator(f'form[id="appraisal-{node.code}"]')
    await _fill_inputs(form, node)
    await form.locator("textarea[name=comment]").fill("Đã đối chiếu hồ sơ, thống nhất.")
    await form.get_by_role("button", name="Lưu điểm thẩm định").click()
    await expect(council.get_by_role("status")).to_contain_text("Đã lưu điểm thẩm định")
    await j.check(council, "council-appraisal", full=False)
    return node.code


async def test_the_coordinator_runs_the_year_in_a_real_browser(
    engine, temporal_dev: WorkflowEnvironment, smtp, tmp_path
) -> None:
    from playwright.async_api import expect

    port, sink = smtp
    queue = f"browser-{uuid.uuid4().hex[:8]}"
    cid = f"2031-bl-{uuid.uuid4().hex[:4]}"
    with session_scope(engine) as session:  # what the app's start-up does (no lifespan here)
        ensure_admin(session, password=ADMIN_PASSWORD)
    app = make_app(
        engine, tmp_path, temporal=temporal_dev.client, temporal_task_queue=queue, smtp_port=port
    )
    worker = build_worker(
        temporal_dev.client, engine=engine, settings=app.state.settings, task_queue=queue
    )
    (tmp_path / "Ke-hoach-15.pdf").write_bytes(PDF_SIGNED)
    async with worker, serve(app) as base, chromium(base, "coordinator") as j:
        # the API docs render with no other host reachable
        page = await j.page()
        await page.goto(f"{base}/docs")
        await expect(page.get_by_text("Danh sách kỳ đánh giá").first).to_be_visible()
        assert j.blocked == []
        await page.goto(f"{base}/redoc")
        await expect(
            page.get_by_role("heading", name=re.compile(r"— API \(0\.1\.0\)"))
        ).to_be_visible(timeout=30_000)  # ReDoc is slow on a busy machine
        await expect(page.get_by_role("menuitem", name="cycles")).to_be_visible()
        # ReDoc's "powered by" logo is its one outside image: the CSP stops it (else the route
        # aborts it) and, unreachable, it hides itself
        assert set(j.blocked) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
        await expect(page.get_by_role("img", name="redocly logo")).to_have_count(0)
        j.blocked.clear()
        await page.context.close()

        # the coordinator's links in the header lead to the year's pages
        page = await j.person("admin", ADMIN_PASSWORD)
        site = page.get_by_role("navigation", name="Trang của tôi")
        for label in COORDINATOR_LINKS:
            await expect(site.get_by_role("link", name=label, exact=True)).to_be_visible()
        await site.get_by_role("link", name="Bộ tiêu chí", exact=True).click()
        await expect(page.get_by_role("heading", name="Bộ tiêu chí", exact=True)).to_be_visible()

        # the annex file: preview (nothing stored), save, levels, publish
        await page.get_by_label("Tệp phụ lục (TSV, CSV, XLSX) hoặc YAML").set_input_files(
            str(ANNEX)
        )
        await page.get_by_label("Tên bộ tiêu chí (bắt buộc với bảng phụ lục)").fill(
            "Bộ tiêu chí UBND xã huyện Định Hóa"
        )
        await page.get_by_label("Năm áp dụng").fill("2031")
        await page.get_by_role("button", name="Kiểm tra tệp").click()
        await expect(
            page.get_by_text("113 dòng đã đọc, trong đó 80 tiêu chí chấm điểm")
        ).to_be_visible()
        await expect(page.get_by_text("Dòng không xếp được vào cây tiêu chí")).to_be_visible()
        await j.check(page, "framework-preview", full=False)
        await page.get_by_role("button", name="Lưu bản nháp").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã lưu bộ tiêu chí")
        framework_id = int(page.url.rstrip("/").split("/")[-1])
        await expect(page.get_by_text("Tệp chưa quy định mức xếp loại")).to_be_visible()
        await page.get_by_label("Tỷ lệ tối đa đạt mức cao nhất").fill("20")
        await page.get_by_role("button", name="Lưu các mức xếp loại").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã lưu các mức xếp loại.")
        await page.get_by_role("link", name="Ban hành", exact=True).click()
        await expect(page.get_by_role("note")).to_contain_text("không thay đổi được nữa")
        await page.get_by_role("button", name="Xác nhận: Ban hành").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã ban hành bộ tiêu chí")
        await j.check(page, "framework", full=False)
        agency = _busiest_agency(engine, framework_id)

        # three units and their accounts from uploaded lists
        await site.get_by_role("link", name="Đơn vị và tài khoản", exact=True).click()
        await page.get_by_label("Tệp danh sách").set_input_files(
            files=[_payload("don-vi.csv", UNITS_CSV)]
        )
        await page.get_by_role("button", name="Kiểm tra và nhập").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Đã tạo 3 đơn vị: UBND xã Bảo Linh, UBND xã Thanh Định, UBND xã Quy Kỳ."
        )
        await page.get_by_label("Danh sách người dùng").check()
        people = PEOPLE_CSV.format(agency=agency.strip())
        await page.get_by_label("Tệp danh sách").set_input_files(
            files=[_payload("nguoi.csv", people)]
        )
        await page.get_by_role("button", name="Kiểm tra và nhập").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã tạo 5 tài khoản")
        await expect(page.get_by_role("status")).to_contain_text(
            "Mỗi người đã nhận thư có liên kết tự đặt mật khẩu."
        )
        await j.check(page, "units")

        # create and start a cycle
        await site.get_by_role("link", name="Kỳ đánh giá", exact=True).click()
        await page.get_by_role("link", name="Tạo kỳ đánh giá").click()
        await page.get_by_label("Mã kỳ đánh giá").fill(cid)
        await page.get_by_label("Năm đánh giá").fill("2031")
        await page.get_by_label("Tên kỳ đánh giá").fill("Đánh giá các xã năm 2031")
        await page.get_by_label("Chọn tất cả (3 đơn vị)").check()
        for key, value in (
            ("Mở kỳ đánh giá", _local(-1, 8)),
            ("Thời điểm chốt số liệu", _local(10)),
            ("Hạn gửi kết quả tự chấm điểm", _local(12)),
            ("Phần mềm tự động khóa", _local(14)),
            ("Hạn thẩm định", _local(30)),
            ("Dự kiến công bố kết quả", _local(40)),
        ):
            await page.get_by_label(key, exact=True).fill(value)
        await page.get_by_role("button", name="Xem lại trước khi tạo").click()
        await expect(page.get_by_role("heading", name="3 đơn vị", exact=True)).to_be_visible()
        await j.check(page, "cycle-review")
        await page.get_by_role("button", name="Tạo và bắt đầu").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Đã tạo và bắt đầu kỳ đánh giá “Đánh giá các xã năm 2031”: 3 đơn vị."
        )
        await j.check(page, "console-started")

        # filter the console
        await page.get_by_label("Tình hình").select_option("not_started")
        await page.get_by_role("button", name="Lọc").click()
        await expect(page.get_by_text("Đang hiển thị 3/3 đơn vị.")).to_be_visible()
        await page.get_by_label("Tình hình").select_option("late")
        await page.get_by_role("button", name="Lọc").click()
        await expect(page.get_by_text("Không có đơn vị nào khớp bộ lọc.")).to_be_visible()
        await page.get_by_role("link", name="Bỏ lọc").click()

        # extend one unit's deadline
        await page.get_by_label("Chọn UBND xã Quy Kỳ").check()
        await page.get_by_role("button", name="Gia hạn các đơn vị đã chọn").click()
        await expect(page.get_by_role("note")).to_contain_text("Hạn gửi kết quả và/hoặc")
        new_lock = _local(20)
        await page.get_by_label("Thời điểm khóa mới (giờ Việt Nam)").fill(new_lock)
        await page.get_by_label("Lý do gia hạn").fill("Xã đề nghị do mất điện kéo dài")
        await page.get_by_role("button", name="Xác nhận: Gia hạn").click()
        day = f"{new_lock[8:10]}/{new_lock[5:7]}/{new_lock[:4]}"
        await expect(page.get_by_role("status")).to_contain_text("Đã gia hạn cho 1 đơn vị:")
        await expect(page.get_by_role("status")).to_contain_text(
            "UBND xã Quy Kỳ: hạn gửi kết quả 17:00 ngày"
        )
        await expect(page.get_by_role("status")).to_contain_text(f"khóa 17:00 ngày {day}")
        await j.check(page, "console-extended")

        appraised = await _others_do_their_part(
            j, sink, cid, _leaves(engine, framework_id), agency.strip(), tmp_path
        )

        # close the appraisal, classify with the preview, publish
        await page.goto(f"{base}/cycles/{cid}")
        await expect(page.locator(".counters")).to_contain_text("Đã gửi kết quả")
        await page.get_by_role("link", name="Kết thúc thẩm định", exact=True).click()
        await page.get_by_role("button", name="Xác nhận: Kết thúc thẩm định").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã kết thúc thẩm định.")
        await expect(page.get_by_role("status")).to_contain_text("Đã thẩm định xong: 3 đơn vị.")
        await page.get_by_role("link", name="Xếp loại", exact=True).click()
        preview = page.locator("table.preview")
        await expect(preview).to_contain_text("UBND xã Bảo Linh")
        await expect(preview.locator("tbody tr").first).to_contain_text("1")
        await expect(preview.locator("tbody tr").first).to_contain_text(
            "hạ một mức do tỷ lệ khống chế"
        )
        await j.check(page, "classify-preview")
        await page.get_by_role("button", name="Xác nhận: Xếp loại").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã xếp loại.")
        # 20% of three units is no unit at the top level: the quota moved Bảo Linh down
        await expect(page.get_by_role("status")).to_contain_text(
            "Hoàn thành tốt nhiệm vụ: 1 đơn vị"
        )
        await page.get_by_role("link", name="Công bố", exact=True).click()
        await page.get_by_role("button", name="Xác nhận: Công bố").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã công bố kết quả")
        await expect(page.get_by_role("status")).to_contain_text("Đã công bố kết quả: 3 đơn vị.")
        await expect(page.locator(".counters")).to_contain_text("Đã công bố kết quả")
        await j.check(page, "console-published")
        await page.locator("main").get_by_role("link", name="Nhật ký thay đổi").click()
        await expect(
            page.get_by_role("heading", name="Nhật ký thay đổi", exact=True)
        ).to_be_visible()
        pager = page.get_by_role("navigation", name="Trang nhật ký", exact=True)
        await expect(pager).to_contain_text("Dòng 1–")
        # the council's appraisal of one criterion, found by the criterion filter
        await page.get_by_label("Tiêu chí").fill(appraised)
        await page.get_by_role("button", name="Lọc").click()
        await expect(page.locator("table.audit")).to_contain_text("Điểm thẩm định")
        await expect(page.locator("table.audit")).to_contain_text("viet")
        await j.check(page, "audit", full=False)

        assert j.blocked == []
        assert all(p.is_file() for p in j.shots) and len(j.shots) >= 2 * 18
        assert not j.overflow, f"pages wider than the screen (px): {j.overflow}"
