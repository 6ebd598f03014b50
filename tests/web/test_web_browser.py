"""One real browser session: Debian's Chromium driven by Playwright against the app served by
uvicorn. A staff member follows the link of an e-mail, signs in, fills a criterion, saves, and
reads the score the server computed — in Vietnamese, rendered by the browser.

Needs /usr/bin/chromium (``apt-get install -y chromium``) and the PyPI package ``playwright``
(dev extras; no ``playwright install``: the system browser is used). Without them the test
fails with the install step, it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from core.db import session_scope
from models.tables import UnitState
from notifications.sink import free_port
from tests.api_support import PASSWORD, assign_staff_a, build_world, make_app, set_unit_state

CHROMIUM = os.environ.get("APPRAISAL_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = (
    "the browser test needs Debian's Chromium at {path} and the PyPI package playwright: "
    "run `apt-get install -y chromium` (as root) and `.venv/bin/pip install -e '.[dev]'` "
    "(no `playwright install`); set APPRAISAL_CHROMIUM to use another Chromium binary"
)
SCREENSHOT_DIR = Path(os.environ.get("APPRAISAL_SCREENSHOTS", "/tmp"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(engine, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The app on a real port (uvicorn in a thread); (base URL, cycle id)."""
    world = build_world(engine, prefix="wb", cycle_id="2024-trinh-duyet")
    with session_scope(engine) as session:
        assign_staff_a(session, world, ("6.2", "2.1.1"))
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
    yield f"http://127.0.0.1:{port}", world.cycle_id
    uv.should_exit = True
    thread.join(timeout=10)


def _chromium(wanted: str = CHROMIUM) -> str:
    """The Chromium binary; a clear failure (never a skip) when it or playwright is missing."""
    hint = INSTALL_HINT.format(path=wanted)
    path = shutil.which(wanted) or wanted
    if not Path(path).is_file():
        pytest.fail(f"Chromium not found: {hint}", pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail(f"playwright not installed: {hint}", pytrace=False)
    return path


def test_a_missing_chromium_fails_with_the_install_step() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        _chromium("/nonexistent/chromium")


def test_staff_fill_a_criterion_in_a_real_browser(server) -> None:
    executable = _chromium()
    from playwright.sync_api import expect, sync_playwright

    base, cycle_id = server
    unit_page = f"{base}/cycles/{cycle_id}/units/wb-unit-a"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="vi-VN")
            page.set_default_timeout(15_000)
            # the link of an e-mail: sign in first, then land on the unit's page
            page.goto(unit_page)
            expect(
                page.get_by_role("heading", name="Đăng nhập hệ thống đánh giá, xếp loại")
            ).to_be_visible()
            page.get_by_label("Tên đăng nhập").fill("wb-staff-a")
            page.get_by_label("Mật khẩu").fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(unit_page)
            expect(page.get_by_role("heading", name="UBND xã A")).to_be_visible()
            expect(page.get_by_text("Đang tự chấm điểm").first).to_be_visible()

            # the sheet is collapsed by area: open area VI, then the criterion's form
            page.locator('details[id="area-VI"] > summary').click()
            page.get_by_text("Tự chấm điểm tiêu chí 6.2").click()
            form = page.locator('form[id="draft-6.2"]')
            expect(form).to_be_visible()
            form.get_by_label("Số đạt yêu cầu (tử số)").fill("84")
            form.get_by_label("Tổng số (mẫu số)").fill("87")
            form.get_by_label("Giải trình (bắt buộc)").fill(
                "Báo cáo số 45/BC-UBND ngày 18/11/2024 về kết quả thực hiện kế hoạch, mục II."
            )
            form.get_by_role("button", name="Lưu và tính điểm").click()

            notice = page.get_by_role("status")
            expect(notice).to_contain_text("Đã lưu tiêu chí 6.2. Điểm tự chấm: 4,828 điểm")
            expect(notice).to_contain_text(
                "84/87 nhiệm vụ của kế hoạch phát triển kinh tế - xã hội hoàn thành (96,55%)"
            )
            row = page.locator('tr[id="c-6.2"]')
            expect(row).to_contain_text("4,828")
            expect(row).to_contain_text("Phòng Tài chính - Kế hoạch")

            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / "appraisal-web-row.png"))
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SCREENSHOT_DIR / "appraisal-web-top.png"))
        finally:
            browser.close()
