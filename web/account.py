"""Vietnamese pages for one's own password (change it, ask for a reset link, set it by the link)
and the coordinator's check of the audit trail (/audit).

They call the same services as the API (``services.passwords``); the change form carries the
session's CSRF token; the reset pages need no session (the link's secret is the proof) and say
the same thing whether or not an account exists.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from actions.passwords import RESET_ANSWER, link_mail_job
from api.deps import HashingPlace, SessionDep, SettingsDep, client_address
from api.routing import TransactionRoute
from core.vn import vn_datetime
from models.tables import Cycle, Role
from services.accounts import (
    AccountError,
    InvalidCredentials,
    LoginThrottled,
    authenticate,
    hash_password,
    same_secret,
    user_public,
)
from services.audit import chains, verify
from services.passwords import (
    MIN_PASSWORD,
    check_strength,
    find_for_reset,
    redeem_link,
    sent_lately,
    set_password,
    unit_codes_of,
)
from services.sessions import list_sessions
from web.auth import read_session
from web.nav import nav_links
from web.render import error_page, templates

router = APIRouter(route_class=TransactionRoute, include_in_schema=False)

TITLES = {"change": "Đổi mật khẩu", "forgot": "Quên mật khẩu", "reset": "Đặt mật khẩu mới"}


def _page(request: Request, mode: str, status: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "password.html",
        {"mode": mode, "title": TITLES[mode], "min_length": MIN_PASSWORD, **context},
        status_code=status,
    )


def _change_page(
    request: Request, session: SessionDep, settings: SettingsDep, status: int = 200, **extra: object
) -> Response:
    found = read_session(request, session, settings)
    if found is None:
        return RedirectResponse("/login?next=%2Fpassword%2Fchange", status_code=303)
    user, raw = found
    assert user.id is not None
    sid = str(raw.get("sid", ""))
    rows = list_sessions(session, user.id, idle_minutes=settings.session_idle_minutes)
    sessions = [
        {"started": vn_datetime(r.created_at), "address": r.address, "current": r.id == sid}
        for r in rows
    ]
    public = user_public(session, user)
    return _page(
        request,
        "change",
        status,
        user=public,
        nav=nav_links(g.role for g in public.roles),
        csrf_token=str(raw.get("csrf", "")),
        sessions=sessions,
        **extra,
    )


@router.get("/password/change", response_class=HTMLResponse)
def change_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The form to change one's own password, with one's open sessions."""
    return _change_page(request, session, settings)


@router.post("/password/change", response_class=HTMLResponse)
def change_submit(
    _hashing: HashingPlace,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Checks the CSRF token and the current password, then sets the new one."""
    found = read_session(request, session, settings)
    if found is None:
        return RedirectResponse("/login?next=%2Fpassword%2Fchange", status_code=303)
    user, raw = found
    if not same_secret(csrf_token, str(raw.get("csrf", ""))):
        return _change_page(request, session, settings, 403, error="Thiếu hoặc sai mã CSRF.")
    session.commit()  # nothing written yet: hand the connection back before argon2 runs
    try:
        authenticate(
            session,
            username=user.username,
            password=current_password,
            address=client_address(request, settings),
        )
        assert user.id is not None
        check_strength(
            new_password, username=user.username, unit_codes=unit_codes_of(session, user.id)
        )
    except InvalidCredentials:
        return _change_page(request, session, settings, 422, error="Mật khẩu hiện tại không đúng.")
    except LoginThrottled as exc:
        return _change_page(
            request,
            session,
            settings,
            429,
            error=f"Nhập sai quá nhiều lần. Vui lòng thử lại sau {exc.retry_after} giây.",
        )
    except AccountError as exc:
        return _change_page(request, session, settings, 422, error=exc.reason_vi)
    session.commit()
    new_hash = hash_password(new_password)
    set_password(
        session,
        user,
        new_hash=new_hash,
        actor=user.username,
        reason="change_password",
        keep_session=str(raw.get("sid", "")),
    )
    return _change_page(
        request,
        session,
        settings,
        notice="Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc.",
    )


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> HTMLResponse:
    """The form asking for a reset link."""
    return _page(request, "forgot")


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    login: Annotated[str, Form(max_length=255)] = "",
) -> HTMLResponse:
    """Mails a reset link if the account exists; the page is the same either way."""
    user = find_for_reset(session, login)
    if user is not None and user.email and not sent_lately(session, user):
        tasks.add_task(
            link_mail_job(session=session, settings=settings, user=user, purpose="reset")
        )
    return _page(request, "forgot", notice=RESET_ANSWER)


@router.get("/password/reset", response_class=HTMLResponse)
def reset_form(request: Request, token: str = "") -> HTMLResponse:
    """The form to set a new password with the link's secret."""
    if not token or len(token) > 200:
        return _page(request, "reset", 422, error="Liên kết đặt mật khẩu không hợp lệ.")
    response = _page(request, "reset", token=token)
    return response


@router.post("/password/reset", response_class=HTMLResponse)
def reset_submit(
    _hashing: HashingPlace,
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    """Sets the password once; a weak one shows the form again with the reason."""
    try:
        redeem_link(session, token, new_password)
    except AccountError as exc:
        keep = token if exc.field == "password" else ""
        return _page(request, "reset", 422, error=exc.reason_vi, token=keep)
    return _page(
        request,
        "reset",
        notice="Đã đặt mật khẩu mới. Mọi phiên đăng nhập cũ đã kết thúc; hãy đăng nhập lại.",
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The coordinator's check of the audit trail: each chain "verified" or its broken row."""
    found = read_session(request, session, settings)
    if found is None:
        return RedirectResponse("/login?next=%2Faudit", status_code=303)
    user, raw = found
    public = user_public(session, user)
    if not any(g.role is Role.coordinator for g in public.roles):
        return error_page(request, 403, "Chỉ cơ quan thường trực xem được trang này.", user=public)
    reports = []
    titles = {c.id: c.title for c in session.exec(select(Cycle)).all()}
    for cycle_id in chains(session):
        report = verify(session, cycle_id)
        reports.append(
            {
                "cycle_id": cycle_id,
                "name": titles.get(cycle_id or "", "")
                or cycle_id
                or "(ngoài kỳ đánh giá: tài khoản, đăng nhập)",
                "rows": report.rows,
                "verified": report.verified,
                "broken_id": report.broken_id,
                "reason": report.reason,
            }
        )
    return templates.TemplateResponse(
        request,
        "audit.html",
        {
            "user": public,
            "csrf_token": str(raw.get("csrf", "")),
            "nav": nav_links(g.role for g in public.roles),
            "reports": reports,
        },
    )
