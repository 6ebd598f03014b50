"""The coordinator's year in a real browser (Debian's Chromium driven by Playwright), from an
empty database, with every request to another host aborted: /docs and /redoc render offline;
the coordinator imports the Định Hóa annex file, sets its classification levels and publishes
it, creates three units and their accounts from uploaded lists, creates and starts a cycle,
filters the console, extends one unit's deadline; the unit offices and the council do their part
through the REST API (each sets a password by the welcome e-mail's one-time link, read from the
SMTP sink); then the coordinator closes the appraisal, classifies with the preview and
publishes. Every step is asserted on what the page shows; screenshots at 1366 and 390 px go to
``.artifacts/browser/`` (git-ignored; APPRAISAL_SCREENSHOTS moves them).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes
from core.db import utcnow
from core.settings import Settings
from core.temporal import DATA_CONVERTER
from core.vn import VN_TZ
from notifications.sink import free_port, start_sink
from scoring.rules import full_marks_inputs
from services.frameworks import framework_of, get_framework
from tests.conftest import _bin
from tests.web.test_web_browser import LAUNCH_ARGS, _chromium
from workflows.worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
ANNEX = ROOT / "tests/fixtures/seeds/dinh-hoa-commune-2024-framework-and-assignment.txt"
SHOTS = Path(os.environ.get("APPRAISAL_SCREENSHOTS", ROOT / ".artifacts" / "browser"))
ADMIN_PASSWORD = "quan-tri-trinh-duyet"
UNITS_CSV = (
    "Mã đơn vị,Tên đơn vị,Nhóm,Thư điện tử\n"
    "bt,UBND xã Bảo Linh,Xã,vanphong@baolinh.vn\n"
    "tl,UBND xã Thanh Định,Xã,vanphong@thanhdinh.vn\n"
    "qk,UBND xã Quy Kỳ,Xã,vanphong@quyky.vn\n"
)
PEOPLE_CSV = (
    "Họ và tên,Thư điện tử,Đơn vị,Vai trò,Cơ quan thẩm định\n"
    "Nguyễn Thị Hoa,hoa@baolinh.vn,bt,Văn phòng đơn vị,\n"
    "Trần Văn Minh,minh@thanhdinh.vn,tl,Văn phòng đơn vị,\n"
    "Lê Thị Hạnh,hanh@quyky.vn,qk,Văn phòng đơn vị,\n"
    "Phạm Quốc Việt,viet@dinhhoa.vn,,Hội đồng,{agency}\n"
)


@dataclass
class Stack:
    """The live stack: the app's URL, the mail sink, the database engine, the cycle id."""

    base: str
    sink: Any
    engine: Any
    cycle_id: str


def _temporal_thread(engine: Any, settings_box: dict[str, Any], stop: threading.Event) -> None:
    """The Temporal dev server and a worker, in their own event loop."""

    async def main() -> None:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=_bin("temporal"),
            data_converter=DATA_CONVERTER,
            search_attributes=search_attributes.ALL,
        )
        try:
            settings: Settings = settings_box["make"](env.client)
            settings_box["settings"] = settings
            worker = build_worker(
                env.client,
                engine=engine,
                settings=settings,
                task_queue=settings.temporal_task_queue,
            )
            async with worker:
                settings_box["ready"].set()
                while not stop.is_set():
                    await asyncio.sleep(0.2)
        finally:
            await env.shutdown()

    asyncio.run(main())


@pytest.fixture(scope="module")
def stack(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Temporal + worker, the SMTP sink and the app under uvicorn (lifespan on: it connects)."""
    from api.app import create_app

    data = tmp_path_factory.mktemp("browser-data")
    smtp_port = free_port()
    controller, sink = start_sink("127.0.0.1", smtp_port, data / "mail")
    port = free_port()
    stop = threading.Event()
    box: dict[str, Any] = {
        "ready": threading.Event(),
        "make": lambda client: Settings(
            data_dir=data,
            temporal_address=client.service_client.config.target_host,
            temporal_namespace=client.namespace,
            temporal_task_queue=f"browser-{uuid.uuid4().hex[:8]}",
            smtp_port=smtp_port,
            base_url=f"http://127.0.0.1:{port}",
            admin_password=ADMIN_PASSWORD,
        ),
    }
    temporal = threading.Thread(target=_temporal_thread, args=(engine, box, stop), daemon=True)
    temporal.start()
    if not box["ready"].wait(120):
        pytest.fail("Temporal dev server and worker did not start")
    app = create_app(box["settings"], engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield Stack(f"http://127.0.0.1:{port}", sink, engine, f"2031-bl-{uuid.uuid4().hex[:4]}")
    server.should_exit = True
    thread.join(timeout=10)
    stop.set()
    temporal.join(timeout=60)
    controller.stop()


def _local(days: int, hour: int = 17) -> str:
    day = (utcnow() + timedelta(days=days)).astimezone(VN_TZ)
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def _shoot(page: Any, name: str, *, full: bool = True) -> None:
    """The page at 1366 px and at 390 px wide (a phone), full height unless ``full`` is off."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"coordinator-{name}-{width}.png"), full_page=full)
    page.set_viewport_size({"width": 1366, "height": 900})


def _payload(name: str, text: str) -> Any:
    """A file for an ``<input type="file">`` made in memory."""
    from playwright.sync_api import FilePayload

    return FilePayload(name=name, mimeType="text/csv", buffer=text.encode())


def _block_other_hosts(page: Any, blocked: list[str]) -> None:
    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith("http://127.0.0.1:") or url.startswith("data:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)


def _set_own_password(http: httpx.Client, sink: Any, email: str) -> str:
    """Follows the welcome e-mail's one-time link (through the API) and sets a password."""
    for message in sink.messages:
        if email in str(message["To"]) and "Tài khoản mới" in str(message["Subject"]):
            text = message.get_payload()[0].get_payload(decode=True).decode()
            found = re.search(r"/password/reset\?token=(\S+)", text)
            assert found is not None
            password = f"Mùa lúa chín vàng trên cánh đồng số {len(email) * 7}"
            resp = http.post(
                "/api/auth/password-reset/confirm",
                json={"token": found[1], "new_password": password},
            )
            assert resp.status_code == 204, resp.text
            return password
    raise AssertionError(f"no welcome e-mail to {email}")


def _others_do_their_part(stack: Stack, agency: str, framework_id: int) -> None:
    """The three offices assign, draft (different amounts) and submit; the council appraises."""
    with get_session(stack.engine) as session:
        record = get_framework(session, framework_id)
        assert record is not None
        framework = framework_of(record)
    leaves = [n for n in framework.leaves() if n.rule is not None and n.rule.kind != "derived"]
    http = httpx.Client(base_url=stack.base, timeout=60)

    def token(username: str, email: str) -> dict[str, str]:
        resp = http.post(
            "/api/auth/token",
            data={"username": username, "password": _set_own_password(http, stack.sink, email)},
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    resp = http.post("/api/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    admin = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    units = {u["code"]: u["id"] for u in http.get("/api/units", headers=admin).json()}
    base = f"/api/cycles/{stack.cycle_id}/units"
    for (code, user, email), share in zip(
        (("bt", "hoa", "hoa@"), ("tl", "minh", "minh@"), ("qk", "hanh", "hanh@")),
        (100, 60, 25),
        strict=True,
    ):
        office = token(user, email)
        uid = units[code]
        codes = [n.code for n in leaves]
        resp = http.put(
            f"{base}/{uid}/assignments",
            json={"assignments": [{"codes": codes, "username": user}]},
            headers=office,
        )
        assert resp.status_code == 200, resp.text
        for leaf in leaves[: len(leaves) * share // 100]:
            body = {
                "inputs": full_marks_inputs(leaf).model_dump(mode="json", exclude_none=True),
                "explanation": f"Báo cáo số 12/BC-UBND, mục {leaf.code}.",
            }
            resp = http.put(f"{base}/{uid}/criteria/{leaf.code}/draft", json=body, headers=office)
            assert resp.status_code == 200, (leaf.code, resp.text)
        resp = http.post(f"{base}/{uid}/submit", json={}, headers=office)
        assert resp.status_code == 200, resp.text
    council = token("viet", "viet@")
    resp = http.post(f"{base}/{units['bt']}/start-appraisal", headers=council)
    assert resp.status_code == 200, resp.text
    http.close()


def _busiest_agency(stack: Stack, framework_id: int) -> str:
    """The appraising agency with the most criteria of the imported framework."""
    with get_session(stack.engine) as session:
        record = get_framework(session, framework_id)
        assert record is not None
        agencies = [n.agency for n in framework_of(record).leaves() if n.agency]
    return max(set(agencies), key=agencies.count)


def get_session(engine: Any) -> Any:
    """A session on the test database (reads only)."""
    from sqlmodel import Session

    return Session(engine)


def test_the_coordinator_runs_the_year_in_a_real_browser(stack: Stack) -> None:
    executable = _chromium()
    from playwright.sync_api import expect, sync_playwright

    base, cid = stack.base, stack.cycle_id
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
            page.set_default_timeout(30_000)
            _block_other_hosts(page, blocked)

            # the API docs render with no other host reachable
            page.goto(f"{base}/docs")
            expect(page.get_by_text("Danh sách kỳ đánh giá").first).to_be_visible()
            assert blocked == []
            page.goto(f"{base}/redoc")
            expect(
                page.get_by_role("heading", name=re.compile(r"— API \(0\.1\.0\)"))
            ).to_be_visible()
            expect(page.get_by_role("menuitem", name="cycles")).to_be_visible()
            # ReDoc's "powered by" logo is its one outside image: the CSP stops it (else the
            # route aborts it) and, unreachable, it hides itself
            assert set(blocked) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
            expect(page.get_by_role("img", name="redocly logo")).to_have_count(0)
            blocked.clear()

            page.goto(f"{base}/frameworks")
            page.get_by_label("Tên đăng nhập").fill("admin")
            page.get_by_label("Mật khẩu").fill(ADMIN_PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            expect(page.get_by_role("heading", name="Bộ tiêu chí", exact=True)).to_be_visible()

            # the annex file: preview (nothing stored), save, levels, publish
            page.get_by_label("Tệp phụ lục (TSV, CSV, XLSX) hoặc YAML").set_input_files(str(ANNEX))
            page.get_by_label("Tên bộ tiêu chí (bắt buộc với bảng phụ lục)").fill(
                "Bộ tiêu chí UBND xã huyện Định Hóa"
            )
            page.get_by_label("Năm áp dụng").fill("2031")
            page.get_by_role("button", name="Kiểm tra tệp").click()
            expect(
                page.get_by_text("113 dòng đã đọc, trong đó 80 tiêu chí chấm điểm")
            ).to_be_visible()
            expect(page.get_by_text("Dòng không xếp được vào cây tiêu chí")).to_be_visible()
            _shoot(page, "framework-preview", full=False)
            page.get_by_role("button", name="Lưu bản nháp").click()
            expect(page.get_by_role("status")).to_contain_text("Đã lưu bộ tiêu chí")
            framework_id = int(page.url.rstrip("/").split("/")[-1])
            expect(page.get_by_text("Tệp chưa quy định mức xếp loại")).to_be_visible()
            page.get_by_label("Tỷ lệ tối đa đạt mức cao nhất").fill("20")
            page.get_by_role("button", name="Lưu các mức xếp loại").click()
            expect(page.get_by_role("status")).to_contain_text("Đã lưu các mức xếp loại.")
            page.get_by_role("link", name="Ban hành", exact=True).click()
            expect(page.get_by_role("note")).to_contain_text("không thay đổi được nữa")
            page.get_by_role("button", name="Xác nhận: Ban hành").click()
            expect(page.get_by_role("status")).to_contain_text("Đã ban hành bộ tiêu chí")
            _shoot(page, "framework", full=False)
            agency = _busiest_agency(stack, framework_id)

            # three units and their accounts from uploaded lists
            page.goto(f"{base}/units")
            page.get_by_label("Tệp danh sách").set_input_files(
                files=[_payload("don-vi.csv", UNITS_CSV)]
            )
            page.get_by_role("button", name="Kiểm tra và nhập").click()
            expect(page.get_by_role("status")).to_contain_text(
                "Đã tạo 3 đơn vị: UBND xã Bảo Linh, UBND xã Thanh Định, UBND xã Quy Kỳ."
            )
            page.get_by_label("Danh sách người dùng").check()
            people = PEOPLE_CSV.format(agency=agency.strip())
            page.get_by_label("Tệp danh sách").set_input_files(
                files=[_payload("nguoi.csv", people)]
            )
            page.get_by_role("button", name="Kiểm tra và nhập").click()
            expect(page.get_by_role("status")).to_contain_text("Đã tạo 4 tài khoản")
            expect(page.get_by_role("status")).to_contain_text(
                "Mỗi người đã nhận thư có liên kết tự đặt mật khẩu."
            )
            _shoot(page, "units")

            # create and start a cycle
            page.goto(f"{base}/cycles")
            page.get_by_role("link", name="Tạo kỳ đánh giá").click()
            page.get_by_label("Mã kỳ đánh giá").fill(cid)
            page.get_by_label("Năm đánh giá").fill("2031")
            page.get_by_label("Tên kỳ đánh giá").fill("Đánh giá các xã năm 2031")
            page.get_by_label("Chọn tất cả (3 đơn vị)").check()
            for key, value in (
                ("Mở kỳ đánh giá", _local(-1, 8)),
                ("Thời điểm chốt số liệu", _local(10)),
                ("Hạn gửi kết quả tự chấm điểm", _local(12)),
                ("Phần mềm tự động khóa", _local(14)),
                ("Hạn thẩm định", _local(30)),
                ("Dự kiến công bố kết quả", _local(40)),
            ):
                page.get_by_label(key, exact=True).fill(value)
            page.get_by_role("button", name="Xem lại trước khi tạo").click()
            expect(page.get_by_role("heading", name="3 đơn vị", exact=True)).to_be_visible()
            _shoot(page, "cycle-review")
            page.get_by_role("button", name="Tạo và bắt đầu").click()
            expect(page.get_by_role("status")).to_contain_text(
                "Đã tạo và bắt đầu kỳ đánh giá “Đánh giá các xã năm 2031”: 3 đơn vị."
            )
            _shoot(page, "console-started")

            # filter the console
            page.get_by_label("Tình hình").select_option("not_started")
            page.get_by_role("button", name="Lọc").click()
            expect(page.get_by_text("Đang hiển thị 3/3 đơn vị.")).to_be_visible()
            page.get_by_label("Tình hình").select_option("late")
            page.get_by_role("button", name="Lọc").click()
            expect(page.get_by_text("Không có đơn vị nào khớp bộ lọc.")).to_be_visible()
            page.get_by_role("link", name="Bỏ lọc").click()

            # extend one unit's deadline
            page.get_by_label("Chọn UBND xã Quy Kỳ").check()
            page.get_by_role("button", name="Gia hạn các đơn vị đã chọn").click()
            expect(page.get_by_role("note")).to_contain_text("Hạn gửi kết quả và/hoặc")
            new_lock = _local(20)
            page.get_by_label("Thời điểm khóa mới (giờ Việt Nam)").fill(new_lock)
            page.get_by_label("Lý do gia hạn").fill("Xã đề nghị do mất điện kéo dài")
            page.get_by_role("button", name="Xác nhận: Gia hạn").click()
            day = f"{new_lock[8:10]}/{new_lock[5:7]}/{new_lock[:4]}"
            expect(page.get_by_role("status")).to_contain_text("Đã gia hạn cho 1 đơn vị:")
            expect(page.get_by_role("status")).to_contain_text(
                "UBND xã Quy Kỳ: hạn gửi kết quả 17:00 ngày"
            )
            expect(page.get_by_role("status")).to_contain_text(f"khóa 17:00 ngày {day}")
            _shoot(page, "console-extended")

            _others_do_their_part(stack, agency.strip(), framework_id)

            # close the appraisal, classify with the preview, publish
            page.goto(f"{base}/cycles/{cid}")
            expect(page.locator(".counters")).to_contain_text("Đã gửi kết quả")
            page.get_by_role("link", name="Kết thúc thẩm định", exact=True).click()
            page.get_by_role("button", name="Xác nhận: Kết thúc thẩm định").click()
            expect(page.get_by_role("status")).to_contain_text("Đã kết thúc thẩm định.")
            expect(page.get_by_role("status")).to_contain_text("Đã thẩm định xong: 3 đơn vị.")
            page.get_by_role("link", name="Xếp loại", exact=True).click()
            preview = page.locator("table.preview")
            expect(preview).to_contain_text("UBND xã Bảo Linh")
            expect(preview.locator("tbody tr").first).to_contain_text("1")
            expect(preview.locator("tbody tr").first).to_contain_text(
                "hạ một mức do tỷ lệ khống chế"
            )
            _shoot(page, "classify-preview")
            page.get_by_role("button", name="Xác nhận: Xếp loại").click()
            expect(page.get_by_role("status")).to_contain_text("Đã xếp loại.")
            # 20% of three units is no unit at the top level: the quota moved Bảo Linh down
            expect(page.get_by_role("status")).to_contain_text("Hoàn thành tốt nhiệm vụ: 1 đơn vị")
            page.get_by_role("link", name="Công bố", exact=True).click()
            page.get_by_role("button", name="Xác nhận: Công bố").click()
            expect(page.get_by_role("status")).to_contain_text("Đã công bố kết quả")
            expect(page.get_by_role("status")).to_contain_text("Đã công bố kết quả: 3 đơn vị.")
            expect(page.locator(".counters")).to_contain_text("Đã công bố kết quả")
            _shoot(page, "console-published")
            page.get_by_role("link", name="Nhật ký thay đổi").click()
            expect(page.get_by_role("heading", name="Nhật ký thay đổi", exact=True)).to_be_visible()
            _shoot(page, "audit", full=False)
            assert blocked == []
        finally:
            browser.close()
