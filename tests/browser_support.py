"""What the real-browser journeys share: the app served by uvicorn in the test's event loop
(with the Temporal dev server, a worker and the SMTP sink), Debian's Chromium driven by
Playwright's async API with every request to another host aborted, sign-in, and the check
every page gets — a screenshot at 1366 and 390 px into a git-ignored folder, and no
horizontal page scroll (``document.documentElement.scrollWidth <= innerWidth``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from notifications.sink import free_port
from tests.api_support import PASSWORD
from tests.web.test_web_browser import LAUNCH_ARGS, _chromium

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("APPRAISAL_SCREENSHOTS", ROOT / ".artifacts" / "browser"))
WIDTHS = (1366, 390)

__all__ = ["SHOTS", "Journey", "serve"]


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real port, in this event loop (the Temporal client's loop); its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started:
            break
        if task.done():
            pytest.fail("uvicorn did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@dataclass
class Journey:
    """A browser and the pages' checks collected along one journey."""

    base: str
    browser: Any
    name: str
    overflow: dict[str, int] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    async def page(self) -> Any:
        """A new browser context and page, signed out; other hosts' requests aborted."""
        context = await self.browser.new_context(
            viewport={"width": WIDTHS[0], "height": 900}, locale="vi-VN"
        )

        async def only_ours(route: Any) -> None:
            if route.request.url.startswith(self.base):
                await route.continue_()
            else:
                self.blocked.append(route.request.url)
                await route.abort()

        await context.route("**/*", only_ours)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        return page

    async def person(self, username: str, password: str = PASSWORD) -> Any:
        """A new browser context signed in as ``username``; other hosts' requests aborted."""
        page = await self.page()
        await self.sign_in(page, username, password)
        return page

    async def sign_in(self, page: Any, username: str, password: str = PASSWORD) -> None:
        """Signs in on the sign-in page and lands on the start page."""
        await page.goto(f"{self.base}/login")
        await page.get_by_label("Tên đăng nhập").fill(username)
        await page.get_by_label("Mật khẩu").fill(password)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url(f"{self.base}/")

    async def welcome(self, link: str, username: str, password: str) -> Any:
        """A new person follows the one-time link of their welcome e-mail (``link``: its path
        and query), sets their own password, then signs in with it."""
        from playwright.async_api import expect

        page = await self.page()
        await page.goto(self.base + link)
        await expect(page.get_by_role("heading", name="Đặt mật khẩu mới")).to_be_visible()
        await page.get_by_label("Mật khẩu mới").fill(password)
        await page.get_by_role("button", name="Đặt mật khẩu").click()
        await expect(page.get_by_role("status")).to_contain_text("Đã đặt mật khẩu mới.")
        await self.sign_in(page, username, password)
        return page

    async def check(self, page: Any, label: str, *, full: bool = True) -> None:
        """Screenshots at each width (the whole page unless ``full`` is off), and the page never
        scrolls sideways at any of them."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 900})
            path = SHOTS / f"{self.name}-{len(self.shots) // 2:02d}-{label}-{width}.png"
            await page.screenshot(path=str(path), full_page=full)
            self.shots.append(path)
            wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if wide > 0:
                self.overflow[f"{label}@{width}"] = int(wide)
        await page.set_viewport_size({"width": WIDTHS[0], "height": 900})


@asynccontextmanager
async def chromium(base: str, name: str) -> AsyncIterator[Journey]:
    """Debian's Chromium (a clear failure, never a skip, when it or Playwright is missing)."""
    executable = _chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield Journey(base=base, browser=browser, name=name)
        finally:
            await browser.close()
