"""The Excel round-trip in a real browser (Debian's Chromium through Playwright, the app served
by uvicorn): a staff member downloads their criteria from the unit page's "Nhập bằng Excel"
menu, fills a row offline, uploads it and reads the score; then the council does the same with
its appraisal score; both also download the reports from the "Tải về" menu."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
import uvicorn
from docx import Document
from openpyxl import load_workbook
from sqlmodel import select

from core.db import session_scope
from models.tables import Assignment, Entry, UnitState
from notifications.sink import free_port
from tests.api_support import PASSWORD, build_world, make_app, set_unit_state
from tests.web.test_web_browser import LAUNCH_ARGS, _chromium

TEXT_COL, NUM, DEN, LEVEL = 17, 8, 9, 6  # Q, H, I, F of the sheet workbook


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory) -> Iterator[tuple[str, object]]:
    world = build_world(engine, prefix="rb", cycle_id="2024-rb")
    with session_scope(engine) as session:
        session.add(
            Assignment(
                cycle_id=world.cycle_id,
                unit_id=world.unit_a,
                criterion_code="6.2",
                user_id=world.users["staff_a"],
                responsible=True,
            )
        )
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)
    app = make_app(engine, tmp_path_factory.mktemp("data"))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", world
    uv.should_exit = True
    thread.join(timeout=10)


def _row(ws, code: str) -> int:
    return next(r for r in range(4, ws.max_row + 1) if ws.cell(row=r, column=1).value == code)


def _round_trip(page, tmp: Path, fill) -> None:
    """Download the sheet from the menu, fill it with ``fill(ws)``, upload it."""
    page.get_by_text("Nhập bằng Excel").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Tải phiếu chấm điểm (XLSX)").click()
    path = tmp / info.value.suggested_filename
    info.value.save_as(str(path))
    wb = load_workbook(str(path))
    fill(wb.worksheets[0])
    wb.save(str(path))
    page.locator('input[name="file"][accept=".xlsx"]').set_input_files(str(path))
    page.get_by_role("button", name="Gửi tệp Excel").click()


def _sign_in(browser, url: str, username: str):
    context = browser.new_context(accept_downloads=True, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(url)
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(url)
    return page


def test_staff_and_council_round_trip_in_a_real_browser(server, engine, tmp_path) -> None:
    executable = _chromium()
    from playwright.sync_api import expect, sync_playwright

    base, world = server
    unit_page = f"{base}/cycles/{world.cycle_id}/units/rb-unit-a"

    def staff_fill(ws) -> None:
        r = _row(ws, "6.2")
        ws.cell(row=r, column=NUM, value=84)
        ws.cell(row=r, column=DEN, value=87)
        ws.cell(row=r, column=TEXT_COL, value="Báo cáo số 45/BC-UBND ngày 18/11/2024.")

    def council_fill(ws) -> None:
        r = _row(ws, "2.1.1")
        ws.cell(row=r, column=LEVEL, value="not_full")
        ws.cell(row=r, column=TEXT_COL, value="Thiếu kế hoạch phòng, chống tham nhũng năm 2024.")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = _sign_in(browser, unit_page, "rb-staff-a")
            _round_trip(page, tmp_path, staff_fill)
            expect(page.get_by_role("status")).to_contain_text(
                "Đã cập nhật từ tệp Excel 1 tiêu chí: 6.2."
            )
            expect(page.locator('tr[id="c-6.2"]')).to_contain_text("4,828")
            page.get_by_text("Tải về", exact=True).click()
            with page.expect_download() as info:
                page.locator('a[href$="/reports/self?format=docx"]').click()
            doc = Document(info.value.path())
            assert doc.sections[0].header.paragraphs[0].text == "DỰ THẢO"

            set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.appraising)
            page = _sign_in(browser, unit_page, "rb-council")
            _round_trip(page, tmp_path, council_fill)
            expect(page.get_by_role("status")).to_contain_text(
                "Đã cập nhật từ tệp Excel 1 tiêu chí: 2.1.1."
            )
            page.get_by_text("Tải về", exact=True).click()
            with page.expect_download() as info:
                page.locator('a[href$="/reports/appraisal?format=docx"]').click()
            appraisal = Document(BytesIO(Path(info.value.path()).read_bytes()))
            texts = [c.text for t in appraisal.tables for row in t.rows for c in row.cells]
            assert "Thiếu kế hoạch phòng, chống tham nhũng năm 2024." in texts
        finally:
            browser.close()
    with session_scope(engine) as session:
        entries = {
            e.criterion_code: e
            for e in session.exec(select(Entry).where(Entry.cycle_id == world.cycle_id)).all()
        }
    assert str(entries["6.2"].self_score) == "4.828" and entries["6.2"].updated_by == "rb-staff-a"
    assert str(entries["2.1.1"].appraised_score) == "0.000"
    assert entries["2.1.1"].updated_by == "rb-council"
