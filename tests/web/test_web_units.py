"""Units and accounts pages: a CSV list of units and an XLSX list of people, checked row by row
(errors by row and column, nothing stored when a row is wrong), one unit and one account by
form; every new person gets a welcome e-mail (real SMTP sink); only the coordinator may.
"""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, select

from models.tables import Unit, User
from tests.api_support import build_world, make_app
from tests.mail_support import link_token, mail_text, set_password
from tests.web.test_web_frameworks import _login
from tests.web.test_web_pages import text_of

UNITS_CSV = (
    "Mã đơn vị,Tên đơn vị,Nhóm,Thư điện tử\n"
    "un-kim-phuong,UBND xã Kim Phượng,Xã,vanphong@kimphuong.vn\n"
    "un-son-phu,UBND xã Sơn Phú,xã,vanphong@sonphu.vn\n"
    "un-tan-duong,UBND xã Tân Dương,commune,\n"
)


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_lists_and_single_entries(engine, smtp, tmp_path) -> None:
    port, sink = smtp
    build_world(engine, prefix="un", cycle_id="un-old")
    app = make_app(engine, tmp_path, smtp_port=port)
    with TestClient(app) as http:
        csrf = _login(http, "un-coordinator")

        # a list with wrong rows: every error by row and column, nothing stored
        bad = (
            "Mã đơn vị;Tên đơn vị;Nhóm\n"
            "un-ok;UBND xã Tốt;xã\n"
            "un ok sai;UBND xã Sai;xã\n"
            "un-ok;UBND xã Trùng;xã\n"
            "un-no-name;;xã\n"
        )
        resp = http.post(
            "/units/import",
            data={"csrf_token": csrf, "kind": "units"},
            files={"file": ("don-vi.csv", bad.encode(), "text/csv")},
        )
        assert resp.status_code == 422
        shown = text_of(resp.text)
        assert "Danh sách có 3 lỗi; chưa lưu dòng nào." in shown
        assert "3 Mã đơn vị mã đơn vị chỉ gồm chữ" in shown
        assert "4 Mã đơn vị trùng với dòng 2" in shown
        assert "5 Tên đơn vị cần tên đơn vị" in shown
        with Session(engine) as s:
            assert s.exec(select(Unit).where(Unit.code == "un-ok")).first() is None

        resp = http.post(
            "/units/import",
            data={"csrf_token": csrf, "kind": "units"},
            files={"file": ("don-vi.csv", UNITS_CSV.encode(), "text/csv")},
            follow_redirects=False,
        )
        assert resp.status_code == 303
        page = text_of(http.get("/units").text)
        assert "Đã tạo 3 đơn vị: UBND xã Kim Phượng, UBND xã Sơn Phú, UBND xã Tân Dương." in page

        people = [
            ["Họ và tên", "Thư điện tử", "Đơn vị", "Vai trò", "Cơ quan thẩm định"],
            ["Nguyễn Thị Hoa", "hoa.nt@kimphuong.vn", "un-kim-phuong", "Văn phòng đơn vị", ""],
            ["Trần Văn Bình", "binh.tv@kimphuong.vn", "un-kim-phuong", "Cán bộ", ""],
            ["Lê Minh Châu", "chau.lm@dinhhoa.vn", "", "Hội đồng", "Phòng Nội vụ"],
        ]
        wrong = [*people, ["Phạm Dũng", "khong-phai-email", "un-nowhere", "Thủ quỹ", ""]]
        resp = http.post(
            "/units/import",
            data={"csrf_token": csrf, "kind": "people"},
            files={"file": ("nguoi.xlsx", _xlsx(wrong), "application/octet-stream")},
        )
        assert resp.status_code == 422
        shown = text_of(resp.text)
        assert "5 Thư điện tử cần một địa chỉ thư điện tử hợp lệ" in shown
        assert "5 Vai trò “Thủ quỹ” không phải vai trò" in shown
        with Session(engine) as s:
            assert s.exec(select(User).where(User.username == "hoa.nt")).first() is None

        resp = http.post(
            "/units/import",
            data={"csrf_token": csrf, "kind": "people"},
            files={"file": ("nguoi.xlsx", _xlsx(people), "application/octet-stream")},
            follow_redirects=False,
        )
        assert resp.status_code == 303
        page = text_of(http.get("/units").text)
        assert "Đã tạo 3 tài khoản: Nguyễn Thị Hoa (hoa.nt), Trần Văn Bình (binh.tv)" in page
        assert "Mỗi người đã nhận thư có liên kết tự đặt mật khẩu." in page
        assert "Hội đồng thẩm định — Phòng Nội vụ" in page
        welcome = [m for m in sink.messages if "Tài khoản mới" in str(m["Subject"])]
        assert len(welcome) == 3
        body = next(m for m in welcome if "hoa.nt@kimphuong.vn" in str(m["To"]))
        text = mail_text(body)
        assert "Tên đăng nhập: hoa.nt" in text and "mật khẩu" in text.lower()
        # the person sets their own password by the link, then signs in
        set_password(http, link_token(body), "Hoa ban nở trên đồi Kim Phượng")
        fresh = TestClient(app)
        page = fresh.get("/login")
        login_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert login_token is not None
        resp = fresh.post(
            "/login",
            data={
                "username": "hoa.nt",
                "password": "Hoa ban nở trên đồi Kim Phượng",
                "csrf_token": login_token[1],
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303

        # one unit and one account by form
        resp = http.post(
            "/units",
            data={"csrf_token": csrf, "code": "un-quy-kim", "name": "UBND xã Quy Kim"},
            follow_redirects=False,
        )
        assert resp.status_code == 303
        resp = http.post(
            "/units/accounts",
            data={
                "csrf_token": csrf,
                "full_name": "Đỗ Thu Hà",
                "email": "ha.dt@quykim.vn",
                "role": "unit_office",
                "unit": "un-quy-kim",
            },
            follow_redirects=False,
        )
        assert resp.status_code == 303
        page = text_of(http.get("/units").text)
        assert "Đã tạo tài khoản Đỗ Thu Hà (ha.dt)." in page
        resp = http.post(
            "/units",
            data={"csrf_token": csrf, "code": "un-quy-kim", "name": "Trùng"},
        )
        assert resp.status_code == 422 and "đã tồn tại" in text_of(resp.text)

        staff = TestClient(app)
        _login(staff, "un-staff-a")
        assert staff.get("/units").status_code == 403
