"""Everything people read is Vietnamese: no key or enum value (states, commands, roles, group
codes, deadline and notice kinds, snapshot kinds, task states) in the visible text of any page or
e-mail; one date format; the favicon, the skip link, the unit's state and next deadline in the
header; a GET of a form's address goes to its page (never a raw 405).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI

from actions.assignments import AssignRole
from actions.my_tasks import TaskState
from api.views import TIMELINE_VI
from contracts.messages import DeadlineKind, NoticeKind
from core.db import session_scope
from core.vn import GROUP_VI
from models.states import CycleState, UnitCommand, UnitState
from models.tables import Cycle, Entry, Role, Snapshot
from models.tables import UnitState as TableState
from notifications.render import render
from tests.api_support import (
    PERSONAS,
    World,
    assign_staff_a,
    build_world,
    client,
    make_app,
    set_unit_state,
)
from tests.web.test_web_pages import login, text_of


def _words() -> set[str]:
    keys: set[str] = set()
    for enum in (UnitState, UnitCommand, CycleState, Role, NoticeKind, DeadlineKind, TaskState):
        keys |= {str(v.value) for v in enum}
    keys |= {str(v.value) for v in AssignRole} | set(GROUP_VI) | set(TIMELINE_VI)
    keys |= {"submission", "final", "round", "draft", "appraisal", "explanation", "deadline"}
    words = set()
    for key in keys:
        words.add(key)
        words |= {part for part in re.split(r"[_-]", key) if len(part) > 3}
    return words


FORBIDDEN = _words()
# "30/11/2026 13:32" (the other format); "… 13:32 ngày …" is the start of the next date.
DATE_TABLE_STYLE = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b(?! ngày)")


def english_in(text: str, *, names: tuple[str, ...] = ()) -> list[str]:
    """The key or enum words in a visible text (links, e-mail addresses and names removed)."""
    cleaned = re.sub(r"https?://\S+|/\S+|\S+@\S+", " ", text)
    for name in sorted(names, key=len, reverse=True):
        cleaned = cleaned.replace(name, " ")
    found = {w for w in re.findall(r"[A-Za-z]+(?:_[A-Za-z]+)*", cleaned) if w.lower() in FORBIDDEN}
    return sorted(found)


def test_the_scanner_finds_what_it_should() -> None:
    assert english_in("Bản submission lúc 13:34") == ["submission"]
    assert english_in("round-1 lúc, UBND xã A (commune)") == ["commune", "round"]
    assert english_in("Đang tự chấm điểm — https://x.test/units/final") == []


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="vi")
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        cycle = session.get(Cycle, w.cycle_id)
        assert cycle is not None
        cycle.state = CycleState.running
        session.add(cycle)
        assign_staff_a(session, w, ("2.1.1", "6.2"))
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_b,
                criterion_code="2.1.1",
                inputs={"level": "full"},
                self_score=Decimal(1),
                explanation="Kế hoạch số 15/KH-UBND.",
            )
        )
        for kind in ("submission", "round-1", "final"):
            session.add(
                Snapshot(
                    cycle_id=w.cycle_id,
                    unit_id=w.unit_b,
                    kind=kind,
                    content={},
                    content_hash="ab" * 32,
                    created_at=now,
                )
            )
    set_unit_state(engine, w.cycle_id, w.unit_a, TableState.drafting)
    set_unit_state(engine, w.cycle_id, w.unit_b, TableState.appraising, submitted_at=now)
    return w


@pytest.fixture(scope="module")
def app(engine, world, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"))


# The test world's own data (usernames, persona names, unit codes): not words of the system.
NAMES = (
    tuple(f"vi-{p}".replace("_", "-") for p in PERSONAS)
    + tuple(PERSONAS)
    + ("vi-unit-a", "vi-unit-b", "vi-unit-c")
)


def _pages(world: World) -> dict[str, list[str]]:
    c = f"/cycles/{world.cycle_id}"
    a = f"{c}/units/vi-unit-a"
    b = f"{c}/units/vi-unit-b"
    return {
        "vi-staff-a": ["/", a, f"{a}/criteria/2.1.1", f"{a}/assignments", "/cycles"],
        "vi-office-a": ["/", a, f"{a}/assignments", f"/cycles/{world.cycle_id}"],
        "vi-council": ["/", f"/cycles/{world.cycle_id}/council", b, f"{b}/criteria/2.1.1"],
        "vi-coordinator": [
            "/",
            b,
            f"/cycles/{world.cycle_id}",
            f"/cycles/{world.cycle_id}/results",
        ],
    }


def test_no_key_or_enum_word_in_any_page(app, world) -> None:
    leaks: dict[str, list[str]] = {}
    for who, urls in _pages(world).items():
        http, _ = login(app, who, next_url="/")
        for url in urls:
            resp = http.get(url)
            assert resp.status_code == 200, (who, url, resp.status_code)
            text = text_of(resp.text)
            found = english_in(text, names=NAMES)
            if found:
                leaks[f"{who} {url}"] = found
            assert not DATE_TABLE_STYLE.search(text), (url, DATE_TABLE_STYLE.search(text))
    assert not leaks, leaks


def test_snapshot_kinds_read_in_vietnamese(app, world) -> None:
    http, _ = login(app, "vi-coordinator", next_url="/")
    text = text_of(http.get(f"/cycles/{world.cycle_id}/units/vi-unit-b").text)
    assert "Bản thẩm định cuối cùng, lúc" in text


def _mail_context() -> dict[str, Any]:
    at = datetime(2024, 11, 22, 10, 0, tzinfo=UTC)
    return {
        "recipient": {"name": "Lan", "email": "lan@binh-thanh.test", "role": "staff", "key": "x"},
        "cycle": {"id": "2024-dinhhoa", "title": "Kỳ đánh giá năm 2024", "year": 2024},
        "unit": {"code": "binh-thanh", "name": "UBND xã Bình Thành"},
        "link": "https://danhgia.dinhhoa.test/cycles/2024-dinhhoa/units/binh-thanh",
        "cycle_link": "https://danhgia.dinhhoa.test/cycles/2024-dinhhoa",
        "deadline": at,
        "deadline_label": "hạn gửi kết quả tự chấm điểm",
        "offset_text": "còn 3 ngày",
        "reason": "Bổ sung tài liệu kiểm chứng",
        "comment": "Thiếu số văn bản",
        "round_no": 1,
        "submission_deadline": at,
        "hard_lock_at": at + timedelta(days=3),
        "state": "Đang tự chấm điểm",
        "timeline": [{"label": "Mở kỳ đánh giá", "at": at}],
        "criteria": [{"code": "2.1.1", "title": "Lãnh đạo, chỉ đạo", "responsible": True}],
        "audience": "staff",
        "total": 69,
        "finished": 12,
        "unassigned": [],
        "staff": [{"name": "Lan", "unfinished": 3, "total": 30}],
        "submitted_at": at,
        "days_late": 1,
        "self_total": Decimal("94.500"),
        "content_hash": "ab" * 32,
        "items": [{"code": "2.1.1", "title": "Lãnh đạo", "question": "Số văn bản?"}],
        "final_total": Decimal("92.750"),
        "band": "Hoàn thành xuất sắc nhiệm vụ",
        "rank": 1,
        "group_size": 3,
        "followups": [{"title": "Báo cáo phân tích", "due": at}],
        "followup_title": "Báo cáo phân tích",
        "units": [
            {
                "code": "binh-thanh",
                "name": "UBND xã Bình Thành",
                "state": "Đang tự chấm điểm",
                "group": "commune",
                "total": Decimal("94.5"),
                "band": "Hoàn thành tốt nhiệm vụ",
                "rank": 2,
            }
        ],
    }


def test_no_key_or_enum_word_in_any_e_mail() -> None:
    ctx = _mail_context()
    leaks = {}
    for kind in NoticeKind:
        mail = render(kind.value, ctx)
        for part in (mail.subject, mail.text, text_of(mail.html)):
            found = english_in(part, names=("binh-thanh", "2024-dinhhoa"))
            if found:
                leaks[kind.value] = found
            assert not DATE_TABLE_STYLE.search(part), kind
    assert not leaks, leaks
    assert "Xã, phường, thị trấn" in render("results_published", ctx).text


def test_favicon_skip_link_header_and_form_addresses(app, world) -> None:
    http = client(app)
    icon = http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    staff, _ = login(app, "vi-staff-a", next_url="/")
    unit = f"/cycles/{world.cycle_id}/units/vi-unit-a"
    html = staff.get(unit).text
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    header = text_of(html.split("<header", 1)[1].split("</header>", 1)[0])
    assert "UBND xã A : Đang tự chấm điểm hạn gửi kết quả" in header and "còn 4 ngày" in header
    # a form's address, reloaded or typed, goes to its page (the page checks access)
    for path, page in (
        (f"{unit}/submit", unit),
        (f"{unit}/criteria/6.2/draft", f"{unit}/criteria/6.2"),
        (f"{unit}/criteria/6.2/evidence/7/delete", f"{unit}/criteria/6.2"),
    ):
        resp = staff.get(path, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == page, path
