"""Passwords people set themselves: the strength rule, change, reset by a one-time e-mailed link
(also a new account's first password), and the same answer for an unknown address."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.db import session_scope
from models.tables import PasswordLink, User
from services.accounts import AccountError
from services.passwords import check_strength
from tests.api_support import PASSWORD, assert_problem, build_world, client, make_app
from tests.mail_support import link_token, mail_text

STRONG = "Hoa sen nở giữa đầm 2024"


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="pw")


@pytest.fixture
def mail(smtp, engine, world, tmp_path):
    port, sink = smtp
    app = make_app(engine, tmp_path, smtp_port=port, base_url="https://danhgia.example.vn")
    return client(app), sink


def _token(http, username: str, password: str = PASSWORD) -> str:
    resp = http.post("/api/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("123456789", "ít nhất 10"),
        ("1234567890", "phổ biến"),
        ("password12", "phổ biến"),
        ("qwertyuiop", "phổ biến"),
        ("pw-staff-a-2024", "tên đăng nhập"),
        ("xa-binh-thanh!!", "mã đơn vị"),
        ("aaaaaaaaaaaa", "phổ biến"),
        ("matkhau123", "phổ biến"),
        ("anhyeuem2024", "phổ biến"),
    ],
)
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    with pytest.raises(AccountError) as exc:
        check_strength(password, username="pw-staff-a", unit_codes=["xa-binh-thanh"])
    assert exc.value.field == "password" and why in exc.value.reason_vi


def test_a_long_uncommon_password_is_taken() -> None:
    check_strength(STRONG, username="pw-staff-a", unit_codes=["xa-binh-thanh"])


def test_the_api_takes_no_password_for_a_new_account(engine, world, tmp_path) -> None:
    """Weak or strong, a password chosen for someone else is refused: 422 naming the field."""
    http = client(make_app(engine, tmp_path))
    coordinator = _bearer(world.tokens["coordinator"])
    for password in ("12345678", "pw-weak-2024", STRONG):
        user = {
            "username": "pw-chosen",
            "email": "pw-chosen@example.vn",
            "password": password,
            "roles": [{"role": "viewer"}],
        }
        body = assert_problem(http.post("/api/users", json=user, headers=coordinator), 422)
        assert [e["field"] for e in body["errors"]] == ["password"]
    with session_scope(engine) as session:
        assert session.exec(select(User).where(User.username == "pw-chosen")).first() is None


def test_change_needs_the_current_password_and_ends_the_other_sessions(engine, world, tmp_path):
    http = client(make_app(engine, tmp_path))
    here, elsewhere = _token(http, "pw-office-b"), _token(http, "pw-office-b")
    wrong = {"current_password": "khong-dung-dau", "new_password": STRONG}
    body = assert_problem(http.post("/api/auth/password", json=wrong, headers=_bearer(here)), 422)
    assert "current_password" in str(body)
    weak = {"current_password": PASSWORD, "new_password": "1234567890"}
    body = assert_problem(http.post("/api/auth/password", json=weak, headers=_bearer(here)), 422)
    assert "new_password" in str(body)
    ok = {"current_password": PASSWORD, "new_password": STRONG}
    assert http.post("/api/auth/password", json=ok, headers=_bearer(here)).status_code == 204
    assert http.get("/api/auth/me", headers=_bearer(here)).status_code == 200
    assert_problem(http.get("/api/auth/me", headers=_bearer(elsewhere)), 401)
    assert _token(http, "pw-office-b", STRONG)
    bad = http.post("/api/auth/token", data={"username": "pw-office-b", "password": PASSWORD})
    assert bad.status_code == 401


def test_reset_by_mail_is_one_time_and_ends_every_session(mail, engine, world) -> None:
    http, sink = mail
    old = _token(http, "pw-staff-b")
    known = http.post("/api/auth/password-reset", json={"login": "pw-staff-b@example.vn"})
    unknown = http.post("/api/auth/password-reset", json={"login": "ai-do@example.vn"})
    # The answer says nothing about whether the address exists.
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(sink.messages) == 1
    # asking again at once: the same answer, no second mail (the form cannot flood a mailbox)
    again = http.post("/api/auth/password-reset", json={"login": "pw-staff-b"})
    assert again.status_code == 202 and again.json() == known.json()
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert "pw-staff-b@example.vn" in message["To"]
    assert "Đặt lại mật khẩu" in str(message["Subject"])
    assert "https://danhgia.example.vn/password/reset?token=" in mail_text(message)
    secret = link_token(message)
    with session_scope(engine) as session:  # only the hash of the secret is stored
        assert session.exec(select(PasswordLink).where(PasswordLink.id == secret)).first() is None
    confirm = {"token": secret, "new_password": STRONG}
    assert http.post("/api/auth/password-reset/confirm", json=confirm).status_code == 204
    again = http.post("/api/auth/password-reset/confirm", json=confirm)
    assert "token" in str(assert_problem(again, 422))
    assert_problem(http.get("/api/auth/me", headers=_bearer(old)), 401)
    assert _token(http, "pw-staff-b", STRONG)


def test_an_expired_link_is_refused(mail, engine, world) -> None:
    http, sink = mail
    assert http.post("/api/auth/password-reset", json={"login": "pw-council"}).status_code == 202
    secret = link_token(sink.messages[-1])
    with session_scope(engine) as session:
        for link in session.exec(select(PasswordLink).where(PasswordLink.used_at == None)):  # noqa: E711
            link.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(link)
    resp = http.post(
        "/api/auth/password-reset/confirm", json={"token": secret, "new_password": STRONG}
    )
    assert_problem(resp, 422)
    assert _token(http, "pw-council")  # the old password still works


def test_a_new_account_sets_its_first_password_through_the_link(mail, engine, world) -> None:
    http, sink = mail
    new = {
        "username": "pw-new-staff",
        "full_name": "Trần Văn Mới",
        "email": "tran.van.moi@example.vn",
        "roles": [{"role": "viewer"}],
    }
    coordinator = _bearer(world.tokens["coordinator"])
    created = http.post("/api/users", json=new, headers=coordinator)
    assert created.status_code == 201, created.text
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "pw-new-staff")).one()
        assert not user.password_hash.startswith("$argon2")  # nobody knows a password yet
    message = sink.messages[-1]
    assert "tran.van.moi@example.vn" in message["To"]
    assert "Tài khoản mới" in str(message["Subject"])
    # without a password the account needs an address for its link
    no_mail = {**new, "username": "pw-no-mail", "email": ""}
    body = assert_problem(http.post("/api/users", json=no_mail, headers=coordinator), 422)
    assert body["errors"][0]["field"] == "email"
    secret = link_token(message)
    confirm = {"token": secret, "new_password": STRONG}
    assert http.post("/api/auth/password-reset/confirm", json=confirm).status_code == 204
    assert _token(http, "pw-new-staff", STRONG)


def test_the_vietnamese_pages_forgot_reset_and_change(mail, engine, world) -> None:
    http, sink = mail
    assert 'href="/password/forgot"' in http.get("/login").text
    forgot = http.get("/password/forgot")
    assert forgot.status_code == 200 and "Quên mật khẩu" in forgot.text
    before = len(sink.messages)
    unknown = http.post("/password/forgot", data={"login": "khong-co-ai"})
    known = http.post("/password/forgot", data={"login": "pw-viewer"})
    assert unknown.status_code == known.status_code == 200
    assert "Nếu tên đăng nhập hoặc địa chỉ thư điện tử" in known.text
    assert unknown.text == known.text
    assert len(sink.messages) == before + 1
    secret = link_token(sink.messages[-1])
    form = http.get(f"/password/reset?token={secret}")
    assert form.status_code == 200 and "Đặt mật khẩu mới" in form.text
    weak = http.post("/password/reset", data={"token": secret, "new_password": "matkhau123"})
    assert weak.status_code == 422 and "phổ biến" in weak.text
    done = http.post("/password/reset", data={"token": secret, "new_password": STRONG})
    assert done.status_code == 200 and "Đã đặt mật khẩu mới" in done.text
    # signed in with the new password, the change page lists the sessions and changes it
    page = http.get("/login").text
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert login_csrf
    signed = http.post(
        "/login",
        data={"username": "pw-viewer", "password": STRONG, "csrf_token": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    change = http.get("/password/change")
    assert "Đổi mật khẩu" in change.text and "(phiên này)" in change.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', change.text)
    assert csrf
    data = {"current_password": "sai-mat-khau-roi", "new_password": STRONG + "!"}
    refused = http.post("/password/change", data={**data, "csrf_token": csrf.group(1)})
    assert refused.status_code == 422 and "Mật khẩu hiện tại không đúng" in refused.text
    forged = http.post("/password/change", data={**data, "csrf_token": "gia-mao"})
    assert forged.status_code == 403
    data["current_password"] = STRONG
    ok = http.post("/password/change", data={**data, "csrf_token": csrf.group(1)})
    assert ok.status_code == 200 and "Đã đổi mật khẩu" in ok.text
    assert http.get("/api/auth/me").status_code == 200  # this session goes on
