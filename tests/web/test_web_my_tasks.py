"""“Việc của tôi” (the staff home page) and a criterion's own page: my criteria with their state,
my deadlines with a countdown, a link to each criterion; on the criterion's page its rule, its
form (a save comes back to it, the message next to the form), evidence, history, and the
previous and next of my criteria.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from actions.my_tasks import TaskState, task_state
from core.db import session_scope
from core.vn import vn_countdown
from models.tables import Assignment, Entry, ExplanationItem, UnitState
from tests.api_support import World, build_world, make_app, set_unit_state
from tests.web.test_web_pages import login, text_of

MINE = ("2.1.1", "2.3.4", "6.2")


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="mt")
    with session_scope(engine) as session:
        for code in MINE:
            session.add(
                Assignment(
                    cycle_id=w.cycle_id,
                    unit_id=w.unit_a,
                    criterion_code=code,
                    user_id=w.users["staff_a"],
                    responsible=code != "2.3.4",
                )
            )
        session.add(
            Entry(
                cycle_id=w.cycle_id,
                unit_id=w.unit_a,
                criterion_code="2.3.4",
                status="returned",
                return_comment="Bổ sung số văn bản.",
            )
        )
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def app(engine, world, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"))


def test_the_home_page_lists_my_criteria_states_and_deadlines(app, world) -> None:
    http, _csrf = login(app, "mt-staff-a", next_url="/")
    html = http.get("/").text
    text = text_of(html)
    assert "Việc của tôi" in text and "UBND xã A" in text
    unit = f"/cycles/{world.cycle_id}/units/mt-unit-a"
    for code in MINE:
        assert f'href="{unit}/criteria/{code}"' in html
    assert "Được trả lại" in text and "Chưa nhập" in text and "(phối hợp)" in text
    assert "2 tiêu chí cần làm" not in text and "3 tiêu chí cần làm" in text
    assert "Hạn gửi kết quả tự chấm điểm:" in text and "còn 4 ngày" in text
    # a person with no criteria sees their roles, not an empty list
    office, _ = login(app, "mt-office-a", next_url="/")
    home = office.get("/").text
    # ("Việc của tôi" stays in the header's links; the list itself is absent)
    assert "tiêu chí cần làm" not in text_of(home) and "Đơn vị của tôi" in text_of(home)
    assert f'href="{unit}/assignments"' in home
    # reloading the sign-out address is no raw 405
    back = office.get("/logout", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/"


def test_a_criterion_page_saves_and_comes_back_with_the_message_by_the_form(app, world) -> None:
    http, csrf = login(app, "mt-staff-a", next_url="/")
    unit = f"/cycles/{world.cycle_id}/units/mt-unit-a"
    page = http.get(f"{unit}/criteria/2.3.4")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Được trả lại: Bổ sung số văn bản." in text
    assert "2/3 tiêu chí của tôi" in text
    assert f'href="{unit}/criteria/2.1.1" rel="prev"' in page.text
    assert f'href="{unit}/criteria/6.2" rel="next"' in page.text
    assert 'id="draft-2.3.4"' in page.text and 'name="view" value="criterion"' in page.text

    resp = http.post(
        f"{unit}/criteria/6.2/draft",
        data={
            "csrf_token": csrf,
            "view": "criterion",
            "in.numerator": "84",
            "in.denominator": "87",
            "explanation": "Báo cáo số 45/BC-UBND.",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == f"{unit}/criteria/6.2#result"
    shown = http.get(resp.headers["location"])
    text = text_of(shown.text)
    assert "Đã lưu tiêu chí 6.2. Điểm tự chấm: 4,828 điểm" in text
    # the message is by the form, the history has the save
    assert shown.text.index('id="result"') < shown.text.index('role="status"')
    assert "Tự chấm điểm, giải trình: 4,828 điểm" in text
    assert "đã quá hạn" not in text and "3/3 tiêu chí của tôi" in text

    # a refused form is drawn again on the criterion's page, with what was typed
    refused = http.post(
        f"{unit}/criteria/6.2/draft",
        data={"csrf_token": csrf, "view": "criterion", "in.numerator": "90",
              "in.denominator": "87", "explanation": "Số liệu mới."},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "6.2. " in text_of(refused.text) and 'value="90"' in refused.text

    # the home page now shows 6.2 as drafted
    assert "Đã nhập" in text_of(http.get("/").text)


def test_a_criterion_outside_the_framework_is_not_found(app, world) -> None:
    http, _ = login(app, "mt-staff-a", next_url="/")
    resp = http.get(f"/cycles/{world.cycle_id}/units/mt-unit-a/criteria/99.9")
    assert resp.status_code == 404 and "Không có tiêu chí 99.9" in text_of(resp.text)


def test_task_states() -> None:
    entry = Entry(cycle_id="c", unit_id=1, criterion_code="1.1")
    assert task_state(None, None, False) is TaskState.empty
    assert task_state(entry, None, False) is TaskState.empty
    entry.explanation = "Kế hoạch số 12/KH-UBND."
    assert task_state(entry, None, False) is TaskState.drafted
    item = ExplanationItem(request_id=1, criterion_code="1.1", question="Bổ sung?")
    assert task_state(entry, item, True) is TaskState.requested
    item.answer = "Đã bổ sung."
    assert task_state(entry, item, True) is TaskState.answered
    entry.appraised_inputs = {"level": "full"}
    assert task_state(entry, item, False) is TaskState.appraised


def test_the_countdown_reads_in_vietnamese() -> None:
    now = datetime(2024, 11, 20, 3, 0, tzinfo=UTC)
    assert vn_countdown(now + timedelta(days=3, hours=4), now) == "còn 3 ngày 4 giờ"
    assert vn_countdown(now + timedelta(minutes=45), now) == "còn 45 phút"
    assert vn_countdown(now - timedelta(days=2), now) == "đã quá hạn 2 ngày"


def test_the_sheet_is_collapsed_by_area_and_the_message_is_by_the_criterion(app, world) -> None:
    http, csrf = login(app, "mt-staff-a", next_url="/")
    unit = f"/cycles/{world.cycle_id}/units/mt-unit-a"
    html = http.get(unit).text
    # one closed <details> per area, with its counts and scores; no form is open
    assert html.count('<details class="area sheet-area"') >= 6
    assert "<details open>" not in html and 'sheet-area" id="area-I" open' not in html
    assert "tiêu chí đã chấm" in text_of(html) and "1 của tôi" in text_of(html)
    resp = http.post(
        f"{unit}/criteria/2.1.1/draft",
        data={"csrf_token": csrf, "in.level": "full", "explanation": "Kế hoạch 15/KH-UBND."},
        follow_redirects=False,
    )
    assert resp.headers["location"] == f"{unit}#c-2.1.1"
    html = http.get(resp.headers["location"]).text
    # only the area of 2.1.1 is open, its form open, the message right under its row
    assert html.count('sheet-area" id="area-') == html.count('<details class="area sheet-area"')
    assert html.count(" open>") == 2
    after_row = html.split('<tr id="c-2.1.1"', 1)[1]
    assert after_row.index('role="status"') < after_row.index("<tr id=")
    assert "Đã lưu tiêu chí 2.1.1." in text_of(after_row.split("</details>", 1)[0])
