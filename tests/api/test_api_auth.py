"""Sign-in over HTTP: bearer tokens, expiry, throttling (429, temporary), cookie session + CSRF."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.db import session_scope
from models.tables import LoginThrottle, User
from services.accounts import MAX_FAILURES_PER_USER, get_user, issue_token
from services.passwords import issue_link, redeem_link
from services.sessions import start_session
from tests.api_support import (
    PASSWORD,
    SECRET,
    assert_problem,
    build_world,
    client,
    make_app,
)


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="auth")


@pytest.fixture(scope="module")
def http(engine, world, tmp_path_factory):
    return client(make_app(engine, tmp_path_factory.mktemp("data")))


def login(http, username: str, password: str):
    return http.post("/api/auth/token", data={"username": username, "password": password})


def test_token_then_me(http, world) -> None:
    resp = login(http, "auth-office-a", PASSWORD)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=470) < expires - datetime.now(UTC) <= timedelta(minutes=480)
    me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "auth-office-a"
    assert me.json()["roles"] == [
        {"role": "unit_office", "unit_id": world.unit_a, "unit_code": "auth-unit-a", "agency": None}
    ]
    assert "password_hash" not in me.text


def test_wrong_password_is_401_problem(http) -> None:
    body = assert_problem(login(http, "auth-viewer", "khong-dung"), 401)
    assert body["detail"] == "Sai tên đăng nhập hoặc mật khẩu."


def test_missing_form_field_is_422_with_field(http) -> None:
    body = assert_problem(http.post("/api/auth/token", data={"username": "x"}), 422)
    assert {"field": "password", "in": "body", "reason": "Field required"} in body["errors"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
def test_bad_authorization_is_401(http, header) -> None:
    resp = http.get("/api/auth/me", headers={"Authorization": header})
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"] == "Bearer"


def test_no_credentials_is_401(http) -> None:
    body = assert_problem(http.get("/api/units"), 401)
    assert body["detail"] == "Chưa đăng nhập."


def test_expired_token_is_401(engine, http, world) -> None:
    with session_scope(engine) as session:
        user = session.get(User, world.users["viewer"])
        assert user is not None
        token, _, _ = start_session(
            session,
            user,
            secret_key=SECRET,
            minutes=60,
            kind="api",
            now=datetime.now(UTC) - timedelta(minutes=61),
        )
    body = assert_problem(http.get("/api/units", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "hết hạn" in body["detail"]


def test_token_signed_with_another_key_is_401(engine, http, world) -> None:
    with Session(engine) as session:
        user = session.get(User, world.users["coordinator"])
        assert user is not None
        token, _ = issue_token(user, secret_key="someone-elses-secret-key-0123456789", minutes=60)
    assert_problem(http.get("/api/units", headers={"Authorization": f"Bearer {token}"}), 401)


def test_reset_password_revokes_token(engine, http, world) -> None:
    with session_scope(engine) as session:
        user = get_user(session, username="auth-staff-b")
        assert user is not None
        secret = issue_link(session, user, purpose="reset", minutes=60, actor="system")
    with session_scope(engine) as session:  # the owner follows the link
        redeem_link(session, secret, PASSWORD + "-moi")
    assert_problem(http.get("/api/units", headers=world.auth("staff_b")), 401)
    assert login(http, "auth-staff-b", PASSWORD + "-moi").status_code == 200


def test_throttled_after_repeated_failures_but_not_forever(engine, http) -> None:
    for _ in range(MAX_FAILURES_PER_USER):
        assert login(http, "auth-office-c", "sai-mat-khau").status_code == 401
    resp = login(http, "auth-office-c", PASSWORD)  # even the right password waits
    body = assert_problem(resp, 429)
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert "thử lại sau" in body["detail"]
    # the lock is temporary: once its time has passed the real user gets in
    with session_scope(engine) as session:
        row = session.get(LoginThrottle, "user:auth-office-c")
        assert row is not None and row.locked_until is not None
        row.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
    assert login(http, "auth-office-c", PASSWORD).status_code == 200


# --- web pages: cookie session and CSRF -----------------------------------------------------


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


@pytest.fixture
def browser(engine, world, tmp_path):
    return client(make_app(engine, tmp_path))


def test_login_form_is_vietnamese_with_csrf(browser) -> None:
    page = browser.get("/login")
    assert page.status_code == 200
    assert "Đăng nhập hệ thống đánh giá, xếp loại" in page.text
    assert _csrf(page.text)
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_login_without_csrf_is_refused(browser) -> None:
    browser.get("/login")
    resp = browser.post("/login", data={"username": "auth-viewer", "password": PASSWORD})
    assert resp.status_code == 403
    assert "CSRF" in resp.text
    assert "appraisal_session" not in resp.headers.get("set-cookie", "")


def test_login_with_forged_csrf_is_refused(browser) -> None:
    browser.get("/login")
    resp = browser.post(
        "/login",
        data={"username": "auth-viewer", "password": PASSWORD, "csrf_token": "forged.token"},
    )
    assert resp.status_code == 403


def test_login_csrf_is_bound_to_this_browsers_own_login_cookie(engine, world, tmp_path) -> None:
    """A correctly signed token taken from another browser's login form is refused (login CSRF:
    an attacker must not sign the victim's browser into the attacker's account)."""
    app = make_app(engine, tmp_path)
    attacker, victim = client(app), client(app)
    stolen = _csrf(attacker.get("/login").text)  # well signed, bound to the attacker's cookie
    victim.get("/login")  # the victim's browser has a login cookie of its own
    assert victim.cookies.get("appraisal_login_csrf") != stolen
    resp = victim.post(
        "/login",
        data={"username": "auth-viewer", "password": PASSWORD, "csrf_token": stolen},
        follow_redirects=False,
    )
    assert resp.status_code == 403
    assert "appraisal_session" not in resp.headers.get("set-cookie", "")
    # a browser with no login cookie at all: refused as well
    bare = client(app)
    resp = bare.post(
        "/login", data={"username": "auth-viewer", "password": PASSWORD, "csrf_token": stolen}
    )
    assert resp.status_code == 403
    # and its own token works (the refusals above are about the binding, nothing else)
    own = _csrf(victim.get("/login").text)
    ok = victim.post(
        "/login",
        data={"username": "auth-viewer", "password": PASSWORD, "csrf_token": own},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_cookie_session_reads_and_needs_csrf_to_write(browser) -> None:
    token = _csrf(browser.get("/login").text)
    resp = browser.post(
        "/login",
        data={"username": "auth-coordinator", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"]
    assert "appraisal_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = browser.get("/")
    assert "Xin chào, coordinator" in home.text and "Cơ quan thường trực" in home.text
    session_csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text)
    assert session_csrf
    # reads work with the cookie alone
    assert browser.get("/api/units").status_code == 200
    # a write with the cookie but without the CSRF header is refused
    unit = {"code": "auth-csrf-unit", "name": "UBND xã Kiểm Thử"}
    body = assert_problem(browser.post("/api/units", json=unit), 403)
    assert body["type"] == "/problems/csrf"
    assert_problem(browser.post("/api/units", json=unit, headers={"X-CSRF-Token": "wrong"}), 403)
    ok = browser.post("/api/units", json=unit, headers={"X-CSRF-Token": session_csrf.group(1)})
    assert ok.status_code == 201, ok.text
    # logging out needs the token too
    assert browser.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    out = browser.post(
        "/logout", data={"csrf_token": session_csrf.group(1)}, follow_redirects=False
    )
    assert out.status_code == 303
    browser.cookies.clear()
    assert browser.get("/", follow_redirects=False).headers["location"] == "/login"


def test_web_login_wrong_password_shows_error(browser) -> None:
    token = _csrf(browser.get("/login").text)
    resp = browser.post(
        "/login", data={"username": "auth-viewer", "password": "sai", "csrf_token": token}
    )
    assert resp.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in resp.text


def test_production_start_up_makes_no_account_from_a_password(engine, tmp_path) -> None:
    """Production: the first coordinator comes from `appraisal user create … --print-link`,
    never from an environment password (and the settings refuse one: tests/core)."""
    from fastapi.testclient import TestClient

    with session_scope(engine) as session:  # runs before the dev start-up test below
        assert session.exec(select(User).where(User.username == "admin")).first() is None
    app = make_app(
        engine,
        tmp_path,
        temporal=object(),
        mode="production",
        database_url="postgresql://app@db:5432/app",  # the engine is the test's own
        smtp_host="smtp.tinh.gov.vn",
        smtp_port=587,
        base_url="https://danhgia.tinh.gov.vn",
    )
    with TestClient(app, base_url="https://danhgia.tinh.gov.vn") as http:
        assert login(http, "admin", "admin").status_code == 401
    with session_scope(engine) as session:
        assert session.exec(select(User).where(User.username == "admin")).first() is None


def test_start_up_creates_the_dev_coordinator_once(engine, tmp_path) -> None:
    """dev (the embedded stack): "admin" with APPRAISAL_ADMIN_PASSWORD, for the demo."""
    from fastapi.testclient import TestClient

    app = make_app(engine, tmp_path, temporal=object(), admin_password="mat-khau-quan-tri")
    with TestClient(app) as http:
        resp = login(http, "admin", "mat-khau-quan-tri")
        assert resp.status_code == 200
        me = http.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {resp.json()['access_token']}"}
        ).json()
        assert [r["role"] for r in me["roles"]] == ["coordinator"]
    # a second start changes nothing (the password stays what it was)
    again = make_app(engine, tmp_path, temporal=object(), admin_password="another-password")
    with TestClient(again) as http:
        assert login(http, "admin", "mat-khau-quan-tri").status_code == 200
