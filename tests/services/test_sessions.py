"""Server-side sessions: logout ends a cookie or a bearer token at once; timeouts; session lists.

Each test first replays an attack of the security review (issue 14): before sessions were
stored, a logged-out cookie still read and wrote for 8 hours and a bearer token could not be
ended at all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.db import session_scope
from models.tables import AuditLog, AuthSession, User
from services.sessions import start_session
from tests.api_support import PASSWORD, SECRET, assert_problem, build_world, client, make_app


@pytest.fixture(scope="module")
def world(engine):
    return build_world(engine, prefix="ses")


@pytest.fixture(scope="module")
def app(engine, tmp_path_factory):
    return make_app(engine, tmp_path_factory.mktemp("data"))


def _token(http, username: str) -> str:
    resp = http.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _web_login(http, username: str) -> tuple[str, str]:
    """Signs in through the login form: (the session cookie, the session's CSRF token)."""
    form = http.get("/login").text
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert login_csrf
    resp = http.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": login_csrf.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    cookie = http.cookies.get("appraisal_session")
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', http.get("/").text)
    assert cookie and meta
    return cookie, meta.group(1)


def test_a_cookie_kept_after_logout_no_longer_reads_or_writes(app, world) -> None:
    browser = client(app)
    cookie, csrf = _web_login(browser, "ses-coordinator")
    assert browser.get("/api/auth/me").status_code == 200
    out = browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    # The attacker kept a copy of the cookie (the browser forgot it): replay it.
    thief = client(app)
    thief.cookies.set("appraisal_session", cookie)
    assert_problem(thief.get("/api/auth/me"), 401)
    unit = {"code": "ses-after-logout", "name": "UBND xã Sau Đăng Xuất"}
    assert_problem(thief.post("/api/units", json=unit, headers={"X-CSRF-Token": csrf}), 401)
    assert thief.get("/", follow_redirects=False).headers["location"] == "/login"


def test_api_logout_ends_the_bearer_token_at_once(app, world) -> None:
    http = client(app)
    token = _token(http, "ses-viewer")
    assert http.get("/api/auth/me", headers=_bearer(token)).status_code == 200
    assert http.post("/api/auth/logout", headers=_bearer(token)).status_code == 204
    body = assert_problem(http.get("/api/auth/me", headers=_bearer(token)), 401)
    assert body["detail"] == "Mã truy cập không hợp lệ."
    # a second logout with the ended token is refused, not an error
    assert_problem(http.post("/api/auth/logout", headers=_bearer(token)), 401)


def test_api_logout_of_a_cookie_session_needs_csrf_and_ends_it(app, world) -> None:
    browser = client(app)
    _cookie, csrf = _web_login(browser, "ses-office-a")
    assert_problem(browser.post("/api/auth/logout"), 403)  # no CSRF header: refused
    assert browser.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert_problem(browser.get("/api/auth/me"), 401)


def test_log_out_everywhere_ends_every_session_of_the_user_only(app, world) -> None:
    http = client(app)
    first, second = _token(http, "ses-staff-a"), _token(http, "ses-staff-a")
    other = _token(http, "ses-staff-b")
    resp = http.post("/api/auth/logout-all", headers=_bearer(second))
    assert resp.status_code == 200 and resp.json()["ended"] >= 2
    for token in (first, second):
        assert_problem(http.get("/api/auth/me", headers=_bearer(token)), 401)
    assert http.get("/api/auth/me", headers=_bearer(other)).status_code == 200


def test_a_session_left_idle_ends_even_before_its_absolute_end(engine, app, world) -> None:
    with session_scope(engine) as session:
        user = session.get(User, world.users["council"])
        assert user is not None
        # Signed in 61 minutes ago for 8 hours, unused since: past the 60-minute idle limit.
        token, expires_at, _ = start_session(
            session,
            user,
            secret_key=SECRET,
            minutes=8 * 60,
            kind="api",
            now=datetime.now(UTC) - timedelta(minutes=61),
        )
    assert expires_at > datetime.now(UTC)
    body = assert_problem(client(app).get("/api/auth/me", headers=_bearer(token)), 401)
    assert "hết hạn" in body["detail"]


def test_a_used_session_stays_alive_and_is_touched(engine, app, world) -> None:
    with session_scope(engine) as session:
        user = session.get(User, world.users["council"])
        assert user is not None
        token, _, row = start_session(
            session,
            user,
            secret_key=SECRET,
            minutes=8 * 60,
            kind="api",
            now=datetime.now(UTC) - timedelta(minutes=59),
        )
        sid = row.id
    assert client(app).get("/api/auth/me", headers=_bearer(token)).status_code == 200
    with session_scope(engine) as session:
        touched = session.get(AuthSession, sid)
        assert touched is not None
        assert datetime.now(UTC) - touched.last_seen_at < timedelta(minutes=1)


def test_sessions_listed_to_their_owner_and_to_the_coordinator_only(app, world) -> None:
    http = client(app)
    mine = _token(http, "ses-office-b")
    listed = http.get("/api/auth/sessions", headers=_bearer(mine))
    assert listed.status_code == 200
    rows = listed.json()
    assert [r["current"] for r in rows].count(True) == 1
    assert all("token" not in r for r in rows)
    uid = world.users["office_b"]
    coordinator = _bearer(world.tokens["coordinator"])
    seen = http.get(f"/api/users/{uid}/sessions", headers=coordinator)
    assert seen.status_code == 200
    assert {r["id"] for r in rows} <= {r["id"] for r in seen.json()}
    # nobody else may list them
    for who in ("office_b", "staff_b", "viewer", "council"):
        resp = http.get(f"/api/users/{uid}/sessions", headers=world.auth(who))
        assert_problem(resp, 403)
    assert_problem(http.get("/api/users/999999/sessions", headers=coordinator), 404)


def test_the_coordinator_ends_every_session_of_an_account(engine, app, world) -> None:
    http = client(app)
    token = _token(http, "ses-office-c")
    uid = world.users["office_c"]
    coordinator = _bearer(world.tokens["coordinator"])
    assert_problem(http.delete(f"/api/users/{uid}/sessions", headers=world.auth("office_a")), 403)
    resp = http.delete(f"/api/users/{uid}/sessions", headers=coordinator)
    assert resp.status_code == 200 and resp.json()["ended"] >= 1
    assert_problem(http.get("/api/auth/me", headers=_bearer(token)), 401)
    with session_scope(engine) as session:
        rows = session.exec(
            select(AuditLog).where(
                AuditLog.entity == "session", AuditLog.entity_key == "ses-office-c"
            )
        ).all()
        assert [r.action for r in rows][-1] == "revoke_all:coordinator"


def test_a_token_without_a_session_is_refused(engine, app, world) -> None:
    from services.accounts import issue_token

    with session_scope(engine) as session:
        user = session.get(User, world.users["viewer"])
        assert user is not None
        # well signed, unexpired, but names no stored session (as every token did before)
        token, _ = issue_token(user, secret_key=SECRET, minutes=60)
    assert_problem(client(app).get("/api/auth/me", headers=_bearer(token)), 401)
