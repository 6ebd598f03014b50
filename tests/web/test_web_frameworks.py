"""Framework pages: upload the Định Hóa annex, read the preview (rows placed, rules inferred,
what could not be placed) with nothing stored, save it as a draft, read its tree, publish it
after the confirmation; a broken file is refused with the reason and nothing stored.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.tables import FrameworkRecord
from tests.api_support import PASSWORD, build_world, make_app
from tests.web.test_web_pages import text_of

ANNEX = (
    Path(__file__).parent.parent
    / "fixtures/seeds/dinh-hoa-commune-2024-framework-and-assignment.txt"
)
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _login(http: TestClient, username: str) -> str:
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    resp = http.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    found = CSRF.search(http.get("/frameworks").text)
    assert found is not None
    return found[1]


def test_import_preview_save_and_publish(engine, tmp_path) -> None:
    build_world(engine, prefix="fw", cycle_id="fw-old")
    app = make_app(engine, tmp_path)
    with TestClient(app) as http:
        csrf = _login(http, "fw-coordinator")
        with Session(engine) as s:
            before = len(s.exec(select(FrameworkRecord)).all())
        resp = http.post(
            "/frameworks/preview",
            data={"csrf_token": csrf, "name": "Bộ tiêu chí xã Định Hóa 2025", "year": "2025"},
            files={"file": ("dinh-hoa.txt", ANNEX.read_bytes(), "text/plain")},
        )
        assert resp.status_code == 200, text_of(resp.text)[:500]
        shown = text_of(resp.text)
        assert "Kiểm tra tệp: Bộ tiêu chí xã Định Hóa 2025" in shown
        assert "113 dòng đã đọc, trong đó 80 tiêu chí chấm điểm" in shown
        assert "Theo kết quả điều tra, khảo sát" in shown  # a rule inferred
        assert "Dòng không xếp được vào cây tiêu chí" in shown
        with Session(engine) as s:
            assert len(s.exec(select(FrameworkRecord)).all()) == before  # nothing stored

        content = re.search(r'name="content" value="([^"]+)"', resp.text)
        assert content is not None
        resp = http.post(
            "/frameworks",
            data={
                "csrf_token": csrf,
                "content": content[1],
                "filename": "dinh-hoa.txt",
                "name": "Bộ tiêu chí xã Định Hóa 2025",
                "year": "2025",
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303
        page = text_of(http.get(resp.headers["location"]).text)
        assert "Đã lưu bộ tiêu chí “Bộ tiêu chí xã Định Hóa 2025” (phiên bản 1, bản nháp)." in page
        assert "Ban hành" in page and "Năng lực lãnh đạo, quản lý" in page
        url = resp.headers["location"]
        # the annex carries no classification: the coordinator sets the levels on the draft
        assert "Tệp chưa quy định mức xếp loại" in page
        resp = http.post(
            url + "/classification",
            data={
                "csrf_token": csrf,
                "min.excellent": "90",
                "min.good": "70",
                "min.pass": "50",
                "min.fail": "0",
                "top_quota_percent": "20",
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303
        page = text_of(http.get(url).text)
        assert "Đã lưu các mức xếp loại." in page
        assert "Hoàn thành xuất sắc nhiệm vụ từ 90 điểm" in page
        assert "Tỷ lệ tối đa mức cao nhất 20% mỗi nhóm" in page
        resp = http.post(
            url + "/classification",
            data={"csrf_token": csrf, "min.excellent": "50", "min.good": "70"},
        )
        assert resp.status_code == 422
        confirm = text_of(http.get(url + "?confirm=publish").text)
        assert "Sẽ thực hiện: ban hành bộ tiêu chí này." in confirm
        resp = http.post(url + "/publish", data={"csrf_token": csrf}, follow_redirects=False)
        assert resp.status_code == 303
        page = text_of(http.get(url).text)
        assert "Đã ban hành bộ tiêu chí" in page and "Đã ban hành" in page

        # a broken file: the reason, nothing stored
        resp = http.post(
            "/frameworks/preview",
            data={"csrf_token": csrf},
            files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
        )
        assert resp.status_code == 422 and "không được hỗ trợ" in text_of(resp.text)

        staff = TestClient(app)
        staff_csrf = _login(staff, "fw-staff-a")
        resp = staff.post(
            "/frameworks/preview",
            data={"csrf_token": staff_csrf},
            files={"file": ("a.yaml", b"x", "text/plain")},
        )
        assert resp.status_code == 403
