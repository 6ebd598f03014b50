"""The page header's links: the coordinator reaches frameworks, units and accounts, cycles, the
audit trail and the account from every page; each other role sees only its own links; the link
of the page one is on is marked current; every link leads to a page the person may open."""

from __future__ import annotations

import re

from tests.api_support import build_world, make_app
from tests.web.test_web_commands import Browser

NAV = re.compile(r'<nav class="site"[^>]*>(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')

COORDINATOR = [
    ("/frameworks", "Bộ tiêu chí"),
    ("/units", "Đơn vị và tài khoản"),
    ("/cycles", "Kỳ đánh giá"),
    ("/audit", "Nhật ký thay đổi"),
    ("/password/change", "Tài khoản"),
]
WITH_TASKS = [("/", "Việc của tôi"), ("/cycles", "Kỳ đánh giá"), ("/password/change", "Tài khoản")]
EXPECTED = {
    "coordinator": COORDINATOR,
    "staff-a": WITH_TASKS,
    "office-a": WITH_TASKS,
    "council": WITH_TASKS,
    "viewer": [("/cycles", "Kỳ đánh giá"), ("/password/change", "Tài khoản")],
}


def _header(html: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The header's links (href, label) and the labels marked as the current page."""
    found = NAV.search(html)
    assert found is not None, "no site navigation in the header"
    links = LINK.findall(found[1])
    return [(href, label) for href, _, label in links], [label for _, cur, label in links if cur]


async def test_each_role_sees_its_own_links_in_the_header(engine, tmp_path) -> None:
    world = build_world(engine, prefix="nv", cycle_id="2024-nav")
    app = make_app(engine, tmp_path)
    for who, expected in EXPECTED.items():
        person = await Browser(app).login(f"nv-{who}")
        # the same links on a cycle page, the start page and the account page
        for url, current in (
            ("/cycles", "Kỳ đánh giá"),
            (f"/cycles/{world.cycle_id}", "Kỳ đánh giá"),
            ("/", "Việc của tôi"),
            ("/password/change", "Tài khoản"),
        ):
            links, marked = _header(await person.page(url))
            assert links == expected, (who, url, links)
            labels = [label for _, label in links]
            assert marked == ([current] if current in labels else []), (who, url, marked)
        # every link opens (none leads to a refusal)
        for href, _ in expected:
            resp = await person.http.get(href)
            assert resp.status_code == 200, (who, href, resp.status_code)
    coordinator = await Browser(app).login("nv-coordinator")
    for href, label in COORDINATOR:
        links, marked = _header(await coordinator.page(href))
        assert links == COORDINATOR and marked == [label], (href, marked)
    # the audit trail lists the cycle, linked to its own trail
    assert f'href="/cycles/{world.cycle_id}/audit"' in await coordinator.page("/audit")
