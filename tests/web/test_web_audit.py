"""The audit trail page ("Nhật ký thay đổi") pages its rows: 1,200 rows of a cycle are three
pages of 500, 500 and 200, newest first, every row reachable exactly once by following the page
links; a filter is kept across the pages; the "newer" link leads back to the same rows; a person
who is not the coordinator is refused.
"""

from __future__ import annotations

import re

from actions.audit import PAGE_SIZE
from core.db import session_scope
from services.audit import record
from tests.api_support import build_world, make_app
from tests.web.test_web_commands import Browser
from tests.web.test_web_pages import text_of

KEY = re.compile(r"<b>(K-\d{4})</b>")
PAGER = re.compile(r'<nav class="pager[^"]*" aria-label="Trang nhật ký">(.*?)</nav>', re.S)
ROWS = 1200


def _links(html: str) -> dict[str, str]:
    """The top pager's links: text → URL."""
    found = PAGER.search(html)
    assert found is not None, "no pager on the audit page"
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', found[1])
    return {text.strip(): url.replace("&amp;", "&") for url, text in links}


async def _walk(browser: Browser, url: str) -> list[tuple[list[str], str]]:
    """Every page from ``url`` on, by its "older" link: (the page's row keys, its HTML)."""
    pages: list[tuple[list[str], str]] = []
    next_url: str | None = url
    while next_url:
        html = await browser.page(next_url)
        pages.append((KEY.findall(html), html))
        next_url = _links(html).get("Trang cũ hơn ›")
        assert len(pages) <= 10, "the page links go round in circles"
    return pages


def _seed(engine, cycle_id: str) -> None:
    """1,200 rows: K-0000 … K-1199, two in three by "nguoi-a", the rest by "nguoi-b"."""
    with session_scope(engine) as session:
        for i in range(ROWS):
            record(
                session,
                actor="nguoi-b" if i % 3 == 2 else "nguoi-a",
                entity="entry",
                action="draft",
                entity_key=f"K-{i:04d}",
                cycle_id=cycle_id,
                after={"self_score": f"{i}.500"},
            )


async def test_the_audit_trail_pages_keep_filters_and_reach_every_row_once(
    engine, tmp_path
) -> None:
    world = build_world(engine, prefix="au", cycle_id="2024-audit-pages")
    app = make_app(engine, tmp_path)
    _seed(engine, world.cycle_id)
    coordinator = await Browser(app).login("au-coordinator")
    url = f"/cycles/{world.cycle_id}/audit"

    # the creation of the cycle is in the trail too: only the seeded keys are counted
    pages = await _walk(coordinator, f"{url}?action=draft")
    assert [len(keys) for keys, _ in pages] == [PAGE_SIZE, PAGE_SIZE, ROWS - 2 * PAGE_SIZE]
    seen = [key for keys, _ in pages for key in keys]
    assert seen == [f"K-{i:04d}" for i in reversed(range(ROWS))]  # newest first, each once
    first, second, third = (text_of(html) for _, html in pages)
    assert "Dòng 1–500 trên 1200 dòng" in first
    assert "Điểm tự chấm: — → 1199,5" in first  # points with the decimal comma
    assert "Dòng 501–1000 trên 1200 dòng" in second
    assert "Dòng 1001–1200 trên 1200 dòng" in third
    assert "Trang mới hơn" not in first and "Trang cũ hơn" not in third
    # every page link keeps the filter
    for _, html in pages:
        assert all("action=draft" in link for link in _links(html).values())

    # the newer link of the third page shows exactly the second page's rows, and so on up
    back = await coordinator.page(_links(pages[2][1])["‹ Trang mới hơn"])
    assert KEY.findall(back) == pages[1][0]
    assert KEY.findall(await coordinator.page(_links(back)["« Mới nhất"])) == pages[0][0]

    # filtered by person: 800 rows of "nguoi-a", two pages, the filter kept on the second
    pages = await _walk(coordinator, f"{url}?actor=nguoi-a")
    assert [len(keys) for keys, _ in pages] == [PAGE_SIZE, 800 - PAGE_SIZE]
    keys = [key for page, _ in pages for key in page]
    assert keys == [f"K-{i:04d}" for i in reversed(range(ROWS)) if i % 3 != 2]
    assert 'value="nguoi-a" selected' in pages[1][1] or "<option selected>nguoi-a" in pages[1][1]
    assert "Dòng 501–800 trên 800 dòng" in text_of(pages[1][1])

    # a filter with no rows: no page links, the empty message
    empty = await coordinator.page(f"{url}?criterion=K-9999")
    assert "0 dòng" in text_of(empty) and "Không có thay đổi nào khớp bộ lọc" in text_of(empty)
    assert "Trang cũ hơn" not in empty

    staff = await Browser(app).login("au-staff-a")
    resp = await staff.http.get(f"{url}?before=5")
    assert resp.status_code == 403
