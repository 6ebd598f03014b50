"""The pages the e-mails link to, over HTTP with the cookie session: cycles, a unit's sheet and
its forms, the results; visibility (404 like the API), CSRF, refusals shown in Vietnamese.

The unit's workflow state is set directly in the projection (as in tests/api/test_api_sheet.py);
the forms that send workflow commands are driven against a real worker in
tests/web/test_web_commands.py, and one real browser session in tests/web/test_web_browser.py.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from core.db import session_scope
from models.tables import (
    Cycle,
    CycleState,
    CycleUnit,
    Entry,
    Evidence,
    UnitState,
)
from tests.api_support import (
    PASSWORD,
    World,
    assign_staff_a,
    build_world,
    client,
    make_app,
    set_unit_state,
)
from tests.services.test_evidence import PDF_SIGNED, PDF_UNSIGNED

# Criteria of the Định Hóa framework assigned to staff A: 6.2 (proportional, 5 points, appraised
# by Phòng Tài chính - Kế hoạch), 2.1.1 (levels, Thanh tra huyện), 2.3.4 (levels, may be "không
# phát sinh" for a fixed 1 point).
ASSIGNED = ("6.2", "2.1.1", "2.3.4")
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- helpers shared by the web tests ---------------------------------------------------------


def login(app: FastAPI, username: str, *, next_url: str = "/cycles") -> tuple[TestClient, str]:
    """A client signed in through the login form; the session's CSRF token."""
    http = client(app)
    page = http.get("/login", params={"next": next_url})
    assert page.status_code == 200, page.text
    found = FORM_CSRF.search(page.text)
    assert found is not None
    resp = http.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": found.group(1),
            "next": next_url,
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == next_url
    landing = http.get(next_url)
    assert landing.status_code == 200, landing.text
    token = META_CSRF.search(landing.text)
    assert token is not None
    return http, token.group(1)


def text_of(html: str) -> str:
    """The visible text of a page, tags dropped, spaces collapsed."""
    without = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without))).strip()


def row_of(html: str, code: str) -> str:
    """The visible text of the annex table's row of one criterion."""
    after = html.split(f'<tr id="c-{code}"', 1)[1]
    return text_of(after.split(">", 1)[1].split("</tr>", 1)[0])


def form_of(html: str, form_id: str) -> str:
    """The HTML of one form of the page."""
    return html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def unit_url(world: World, code: str) -> str:
    return f"/cycles/{world.cycle_id}/units/{code}"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(engine) -> World:
    w = build_world(engine, prefix="wp")
    with session_scope(engine) as session:
        assign_staff_a(session, w, ASSIGNED)
    set_unit_state(engine, w.cycle_id, w.unit_a, UnitState.drafting)
    set_unit_state(engine, w.cycle_id, w.unit_b, UnitState.drafting)
    return w


@pytest.fixture(scope="module")
def app(engine, world, tmp_path_factory) -> FastAPI:
    return make_app(engine, tmp_path_factory.mktemp("data"), max_upload_mb=1)


@pytest.fixture(scope="module")
def staff(app) -> tuple[TestClient, str]:
    return login(app, "wp-staff-a")


@pytest.fixture
def drafting(engine, world) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)


A = "wp-unit-a"
B = "wp-unit-b"


# --- sign-in, layout, static -----------------------------------------------------------------


def test_a_page_without_session_sends_to_login_and_back(app, world) -> None:
    http = client(app)
    target = unit_url(world, A)
    resp = http.get(target, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=" + target.replace("/", "%2F")
    signed_in, _csrf = login(app, "wp-staff-a", next_url=target)
    page = signed_in.get(target)
    assert "UBND xã A" in page.text
    # an absolute URL is never a destination after sign-in
    for elsewhere in ("https://example.org/", "//example.org/x", "/\\example.org"):
        form = client(app).get("/login", params={"next": elsewhere})
        assert 'name="next" value="/"' in form.text, elsewhere


def test_pages_are_utf8_with_the_local_stylesheet(app, staff) -> None:
    http, _csrf = staff
    page = http.get("/cycles")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in page.text
    assert '<link rel="stylesheet" href="/static/app.css">' in page.text
    css = http.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "@media print" in css.text
    assert http.get("/static/pages.py").status_code == 404
    assert http.get("/static/..%2Fpages.py").status_code == 404


def test_no_page_loads_anything_from_another_site(app, staff, world) -> None:
    http, _csrf = staff
    for url in ("/cycles", f"/cycles/{world.cycle_id}", unit_url(world, A)):
        html = http.get(url).text
        assert not re.search(r'(src|href)="(https?:)?//', html), url


# --- cycles ----------------------------------------------------------------------------------


def test_cycle_list_and_timeline(app, staff, world) -> None:
    http, _csrf = staff
    listing = text_of(http.get("/cycles").text)
    assert "Kỳ thử nghiệm" in listing and "Đang thực hiện" not in listing  # a draft cycle
    assert "Nháp" in listing
    page = http.get(f"/cycles/{world.cycle_id}")
    assert page.status_code == 200
    text = text_of(page.text)
    for label in ("Mở kỳ đánh giá", "Thời điểm chốt số liệu", "Phần mềm tự động khóa"):
        assert label in text
    assert re.search(r"\d{2}:\d{2} ngày \d{2}/\d{2}/\d{4}", text)
    # staff A sees their unit only, with its state in Vietnamese and its progress
    assert "UBND xã A" in text and "UBND xã B" not in text
    assert "Đang tự chấm điểm" in text
    assert f'href="{unit_url(world, A)}"' in page.text


def test_the_coordinator_sees_every_unit_with_its_link(app, world) -> None:
    http, _csrf = login(app, "wp-coordinator")
    page = http.get(f"/cycles/{world.cycle_id}")
    assert f'href="{unit_url(world, A)}"' in page.text
    assert f'href="{unit_url(world, B)}"' in page.text


def test_a_cycle_without_my_unit_is_404_like_the_api(app, world) -> None:
    http, _csrf = login(app, "wp-office-c")
    outside = http.get(f"/cycles/{world.cycle_id}")
    nowhere = http.get("/cycles/no-such-cycle")
    assert outside.status_code == nowhere.status_code == 404
    assert text_of(outside.text) == text_of(nowhere.text)
    assert "Không tìm thấy kỳ đánh giá." in outside.text
    assert outside.headers["content-type"] == "text/html; charset=utf-8"
    api = http.get(f"/api/cycles/{world.cycle_id}")
    assert api.status_code == 404


# --- the unit's sheet ------------------------------------------------------------------------


def test_another_units_page_is_404(app, staff, world) -> None:
    http, _csrf = staff
    other = http.get(unit_url(world, B))
    unknown = http.get(unit_url(world, "no-such-unit"))
    outside = http.get(unit_url(world, "wp-unit-c"))  # exists, not in the cycle
    assert other.status_code == unknown.status_code == outside.status_code == 404
    assert text_of(other.text) == text_of(unknown.text) == text_of(outside.text)
    assert "Không tìm thấy đơn vị trong kỳ đánh giá." in other.text


def test_the_council_does_not_see_a_unit_before_submission(app, world, drafting) -> None:
    http, _csrf = login(app, "wp-council")
    assert http.get(unit_url(world, A)).status_code == 404
    cycle = text_of(http.get(f"/cycles/{world.cycle_id}").text)
    assert "UBND xã A" not in cycle


def test_the_sheet_is_the_annex_table(app, staff, world, drafting) -> None:
    http, _csrf = staff
    page = http.get(unit_url(world, A))
    assert page.status_code == 200
    text = text_of(page.text)
    for head in (
        "STT/Mã",
        "Tiêu chí, tiêu chí thành phần",
        "Điểm tối đa",
        "Điểm tự chấm",
        "Điểm thẩm định",
        "Giải trình",
        "Tài liệu kiểm chứng",
        "Cơ quan thẩm định",
    ):
        assert head in text
    assert "Kết quả thực hiện kế hoạch phát triển kinh tế - xã hội" in text  # 6.2
    assert "Phòng Tài chính - Kế hoạch" in text
    assert "Hạn gửi kết quả tự chấm điểm" in text
    assert "Đang tự chấm điểm" in text
    # staff A draws forms for their criteria only
    assert 'id="draft-6.2"' in page.text and 'id="draft-2.1.1"' in page.text
    assert 'id="draft-2.1.2"' not in page.text
    assert 'id="evidence-6.2"' in page.text
    # the rule's inputs are the form's fields: 6.2 is proportional (rate or counts)
    form = form_of(page.text, "draft-6.2")
    for name in ("in.rate", "in.numerator", "in.denominator", "explanation", "csrf_token"):
        assert f'name="{name}"' in form
    levels = form_of(page.text, "draft-2.1.1")
    assert '<option value="full"' in levels and "(1 điểm)" in levels
    na = form_of(page.text, "draft-2.3.4")
    assert 'name="in.not_applicable"' in na and "Theo bộ tiêu chí được 1 điểm." in na
    # no workflow command for staff
    for action in ("/start-review", "/submit", "/return", "/start-appraisal", "/finalise"):
        assert f'{unit_url(world, A)}{action}"' not in page.text


def test_staff_save_a_criterion_and_see_the_computed_score(app, staff, world, drafting) -> None:
    http, csrf = staff
    resp = http.post(
        f"{unit_url(world, A)}/criteria/6.2/draft",
        data={
            "csrf_token": csrf,
            "in.numerator": "84",
            "in.denominator": "87",
            "explanation": "Báo cáo số 45/BC-UBND ngày 18/11/2024 của UBND xã, mục II.",
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"{unit_url(world, A)}#c-6.2"
    page = http.get(resp.headers["location"])
    text = text_of(page.text)
    sentence = (
        "84/87 nhiệm vụ của kế hoạch phát triển kinh tế - xã hội hoàn thành (96,55%) × 5 điểm "
        "= 4,828 điểm"
    )
    assert f"Đã lưu tiêu chí 6.2. Điểm tự chấm: 4,828 điểm — {sentence}" in text
    row = row_of(page.text, "6.2")
    assert row.startswith("6.2") and "4,828" in row and sentence in row
    assert "Báo cáo số 45/BC-UBND" in row
    # the form is filled with what was saved
    form = form_of(page.text, "draft-6.2")
    assert 'name="in.numerator" value="84"' in form
    # the one-time message is gone on the next visit
    assert "Đã lưu tiêu chí 6.2" not in http.get(unit_url(world, A)).text
    # the API reads the same entry
    sheet = http.get(f"/api/cycles/{world.cycle_id}/units/{world.unit_a}").json()
    node = next(n for n in sheet["nodes"] if n["code"] == "6.2")
    assert Decimal(node["self_score"]) == Decimal("4.828")


def test_a_rate_with_a_decimal_comma_and_not_applicable(app, staff, world, drafting) -> None:
    http, csrf = staff
    resp = http.post(
        f"{unit_url(world, A)}/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.rate": "96,55", "explanation": "Báo cáo số 45/BC-UBND."},
    )
    assert resp.status_code == 200
    assert "Điểm tự chấm: 4,828 điểm" in text_of(resp.text)
    resp = http.post(
        f"{unit_url(world, A)}/criteria/2.3.4/draft",
        data={
            "csrf_token": csrf,
            "in.not_applicable": "1",
            "explanation": "Năm 2024 không phát sinh đơn thư.",
        },
    )
    assert "Điểm tự chấm: 1 điểm — Không phát sinh, theo quy định của tiêu chí được 1 điểm" in (
        text_of(resp.text)
    )


def test_forms_without_the_csrf_token_are_refused(app, staff, world, drafting, engine) -> None:
    http, csrf = staff
    url = f"{unit_url(world, A)}/criteria/2.1.1/draft"
    body = {"in.level": "full", "explanation": "Kế hoạch số 15/KH-UBND."}
    for token in (None, "", csrf[:-2] + "xx", "mã-sai-ở-đây"):
        data = dict(body) if token is None else {**body, "csrf_token": token}
        resp = http.post(url, data=data)
        assert resp.status_code == 403
        assert "Thiếu hoặc sai mã CSRF" in resp.text
        assert resp.headers["content-type"] == "text/html; charset=utf-8"
    with session_scope(engine) as session:
        saved = session.exec(
            select(Entry).where(Entry.unit_id == world.unit_a, Entry.criterion_code == "2.1.1")
        ).first()
        assert saved is None
    # the logout form is protected the same way
    assert http.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert http.post("/logout", data={"csrf_token": "sai-mã"}).status_code == 403


def test_refusals_are_vietnamese_messages_on_the_page(app, staff, world, drafting) -> None:
    http, csrf = staff
    base = unit_url(world, A)
    # not assigned to this person: the gate says so (403 as in the API)
    resp = http.post(
        f"{base}/criteria/2.1.2/draft",
        data={"csrf_token": csrf, "in.level": "full", "explanation": "x"},
    )
    assert resp.status_code == 403
    assert "Tiêu chí 2.1.2 không được phân công cho wp-staff-a." in text_of(resp.text)
    # a number that is not one
    resp = http.post(
        f"{base}/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.numerator": "tám tư", "in.denominator": "87"},
    )
    assert resp.status_code == 422
    assert "“Số đạt yêu cầu (tử số)”: “tám tư” không phải là số." in text_of(resp.text)
    # the typed values are kept in the form
    form = form_of(resp.text, "draft-6.2")
    assert 'value="tám tư"' in form
    # a rule that does not accept the inputs (the rule's own message)
    resp = http.post(
        f"{base}/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.numerator": "90", "in.denominator": "87"},
    )
    assert resp.status_code == 422
    assert "Tiêu chí 6.2" in text_of(resp.text)
    assert "Traceback" not in resp.text
    # an unknown criterion, an evidence id that is no number
    resp = http.post(f"{base}/criteria/9.9.9/draft", data={"csrf_token": csrf})
    assert resp.status_code == 404
    resp = http.post(f"{base}/criteria/6.2/evidence/abc/delete", data={"csrf_token": csrf})
    assert resp.status_code == 404 and "Không tìm thấy tài nguyên." in resp.text


def test_evidence_upload_shows_its_checks(app, staff, world, drafting, engine) -> None:
    http, csrf = staff
    url = f"{unit_url(world, A)}/criteria/2.1.1/evidence"
    resp = http.post(
        url,
        data={"csrf_token": csrf, "doc_number": "số a, b", "doc_date": "15/01/2024"},
        files={"file": ("Kế hoạch PCTN.pdf", PDF_UNSIGNED, "application/pdf")},
    )
    assert resp.status_code == 200, resp.text
    text = text_of(resp.text)
    assert "Đã đính kèm “Kế hoạch PCTN.pdf” cho tiêu chí 2.1.1." in text
    assert "Số văn bản không hợp lệ hoặc để trống: số a, b." in text
    assert "Tệp PDF không có chữ ký số." in text
    row = row_of(resp.text, "2.1.1")
    assert "Kế hoạch PCTN.pdf" in row and "ngày 15/01/2024" in row
    # a signed document with a real number: no warning
    resp = http.post(
        url,
        data={"csrf_token": csrf, "doc_number": "15/KH-UBND", "doc_date": "15/01/2024"},
        files={"file": ("ke-hoach-ky-so.pdf", PDF_SIGNED, "application/pdf")},
    )
    assert "có chữ ký số" in text_of(resp.text)
    # the download link is the API's, with the cookie session
    with session_scope(engine) as session:
        ev = session.exec(select(Evidence).where(Evidence.filename == "ke-hoach-ky-so.pdf")).one()
        ev_id = ev.id
    link = f"/api/cycles/{world.cycle_id}/units/{world.unit_a}/criteria/2.1.1/evidence/{ev_id}"
    assert f'href="{link}"' in resp.text
    download = http.get(link)
    assert download.status_code == 200 and download.content == PDF_SIGNED
    # a file of the wrong type is refused with the API's reason
    bad = http.post(
        url,
        data={"csrf_token": csrf, "doc_number": "1/QĐ"},
        files={"file": ("a.pdf", b"not a pdf at all", "application/pdf")},
    )
    assert bad.status_code == 415
    assert "Traceback" not in bad.text
    # no file chosen
    none = http.post(url, data={"csrf_token": csrf})
    assert none.status_code == 422 and "Chưa chọn tệp" in none.text
    # detach
    resp = http.post(f"{url}/{ev_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    with session_scope(engine) as session:
        gone = session.get(Evidence, ev_id)
        assert gone is not None and gone.deleted_at is not None


def test_an_upload_over_the_limit_is_refused_on_the_page(app, staff, world, drafting) -> None:
    http, csrf = staff
    resp = http.post(
        f"{unit_url(world, A)}/criteria/2.1.1/evidence",
        data={"csrf_token": csrf, "doc_number": "15/KH-UBND"},
        files={"file": ("lon.pdf", PDF_SIGNED + b"0" * 1_200_000, "application/pdf")},
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert "tối đa 1 MB" in resp.text  # the form says the limit


def test_staff_may_show_only_their_criteria(app, staff, world, drafting) -> None:
    http, csrf = staff
    page = http.get(unit_url(world, A), params={"mine": "1"})
    shown = re.findall(r'<tr id="c-([^"]+)"', page.text)
    # their leaves and the areas, criteria and sections above them, in the annex order
    assert shown == ["II", "2.1", "2.1.1", "2.3", "2.3.4", "VI", "6.2"]
    parts = re.findall(r'<h3 class="part" id="c-([^"]+)"', page.text)
    assert parts == ["NỘI DUNG I", "NỘI DUNG II"]
    assert "Hiện toàn bộ phiếu" in page.text
    # a form sent from the filtered page comes back to it
    resp = http.post(
        f"{unit_url(world, A)}/criteria/2.1.1/draft",
        data={"csrf_token": csrf, "view": "mine", "in.level": "full", "explanation": "KH 15."},
        follow_redirects=False,
    )
    assert resp.headers["location"] == f"{unit_url(world, A)}?mine=1#c-2.1.1"
    full = re.findall(r'<tr id="c-([^"]+)"', http.get(unit_url(world, A)).text)
    assert len(full) > 80


def test_a_submitted_sheet_shows_no_edit_forms(app, staff, world, engine) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.submitted)
    http, csrf = staff
    page = http.get(unit_url(world, A))
    assert page.status_code == 200
    assert "Đã gửi kết quả" in text_of(page.text)
    assert "/draft" not in page.text
    assert '/evidence"' not in page.text
    assert "<textarea" not in page.text
    assert 'type="file"' not in page.text
    # a form sent anyway is refused by the gate, in Vietnamese
    resp = http.post(
        f"{unit_url(world, A)}/criteria/6.2/draft",
        data={"csrf_token": csrf, "in.rate": "100", "explanation": "x"},
    )
    assert resp.status_code == 409
    assert "Không thể sửa phiếu tự chấm điểm khi đơn vị ở trạng thái “Đã gửi kết quả”." in text_of(
        resp.text
    )
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)


def test_the_council_appraises_only_its_agencys_criteria(app, world, engine) -> None:
    set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.appraising)
    try:
        http, csrf = login(app, "wp-council")
        page = http.get(unit_url(world, A))
        assert page.status_code == 200
        assert 'id="appraisal-2.1.1"' in page.text  # Thanh tra huyện
        assert 'id="appraisal-6.2"' not in page.text  # Phòng Tài chính - Kế hoạch
        assert 'id="draft-' not in page.text
        assert 'id="explanation-request"' in page.text
        assert f'{unit_url(world, A)}/finalise"' in page.text
        resp = http.post(
            f"{unit_url(world, A)}/criteria/2.1.1/appraisal",
            data={"csrf_token": csrf, "in.level": "not_full", "comment": "Thiếu văn bản chỉ đạo."},
        )
        assert resp.status_code == 200
        text = text_of(resp.text)
        assert "Đã lưu điểm thẩm định tiêu chí 2.1.1: 0 điểm — Đạt mức “Ban hành không đầy đủ”" in (
            text
        )
        row = row_of(resp.text, "2.1.1")
        assert "Thiếu văn bản chỉ đạo." in row
        refused = http.post(
            f"{unit_url(world, A)}/criteria/6.2/appraisal",
            data={"csrf_token": csrf, "in.rate": "100", "comment": ""},
        )
        assert refused.status_code == 403
        assert "Tiêu chí 6.2 do Phòng Tài chính - Kế hoạch thẩm định." in text_of(refused.text)
        # a deadline that is no date
        bad = http.post(
            f"{unit_url(world, A)}/explanation-requests",
            data={"csrf_token": csrf, "q.2.1.1": "Bổ sung văn bản.", "deadline": "mai"},
        )
        assert bad.status_code == 422
        assert "Dữ liệu không hợp lệ: hạn giải trình." in text_of(bad.text)
        assert "Bổ sung văn bản." in form_of(bad.text, "explanation-request")
        # a workflow command without Temporal: a Vietnamese 503 page, not a stack trace
        down = http.post(f"{unit_url(world, A)}/finalise", data={"csrf_token": csrf})
        assert down.status_code == 503
        assert "Không kết nối được máy chủ quy trình (Temporal)." in text_of(down.text)
    finally:
        set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)


def test_a_role_the_api_forbids_is_403_on_the_page_too(app, staff, world) -> None:
    http, csrf = staff
    # staff may not submit (the API answers 403 for the same person)
    resp = http.post(f"{unit_url(world, A)}/submit", data={"csrf_token": csrf})
    assert resp.status_code == 403
    assert "Vai trò của bạn không được thực hiện thao tác này." in resp.text
    # and another unit's form is 404
    resp = http.post(
        f"{unit_url(world, B)}/criteria/6.2/draft", data={"csrf_token": csrf, "explanation": "x"}
    )
    assert resp.status_code == 404


# --- results ---------------------------------------------------------------------------------


def _publish(engine, world: World, rows: dict[int, dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        cycle = session.get(Cycle, world.cycle_id)
        assert cycle is not None
        cycle.state = CycleState.published
        session.add(cycle)
        for unit_id, values in rows.items():
            cu = session.exec(
                select(CycleUnit).where(
                    CycleUnit.cycle_id == world.cycle_id, CycleUnit.unit_id == unit_id
                )
            ).one()
            for k, v in values.items():
                setattr(cu, k, v)
            session.add(cu)


def test_results_by_group_with_decimal_commas(app, world, engine) -> None:
    http, _csrf = login(app, "wp-staff-b")
    before = text_of(http.get(f"/cycles/{world.cycle_id}/results").text)
    assert "Kết quả chưa được công bố" in before
    assert "UBND xã B" in before and "UBND xã A" not in before
    _publish(
        engine,
        world,
        {
            world.unit_a: dict(
                state=UnitState.published,
                final_total=Decimal("94.500"),
                classification="excellent",
                rank=1,
            ),
            world.unit_b: dict(
                state=UnitState.published,
                final_total=Decimal("88.692"),
                classification="good",
                rank=2,
            ),
        },
    )
    try:
        page = http.get(f"/cycles/{world.cycle_id}/results")
        assert page.status_code == 200
        text = text_of(page.text)
        assert "Nhóm: Xã, phường, thị trấn" in text
        assert "1 wp-unit-a UBND xã A 94,5 Hoàn thành xuất sắc nhiệm vụ" in text
        assert "2 wp-unit-b UBND xã B 88,692 Hoàn thành tốt nhiệm vụ" in text
        assert "Tổng điểm tối đa: 100 điểm." in text
        assert "94.5" not in text
    finally:
        with session_scope(engine) as session:
            cycle = session.get(Cycle, world.cycle_id)
            assert cycle is not None
            cycle.state = CycleState.draft
            session.add(cycle)
        set_unit_state(engine, world.cycle_id, world.unit_a, UnitState.drafting)
        set_unit_state(engine, world.cycle_id, world.unit_b, UnitState.drafting)
