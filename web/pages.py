"""Vietnamese pages: sign-in with a signed, HttpOnly, SameSite cookie session and CSRF tokens.

The session cookie is a signed token naming a server-side session (``services.sessions``, kind
"session") and carrying a random CSRF token; logout ends the session on the server. Every form
carries that token in a hidden field; API calls made with the cookie send it in
``X-CSRF-Token``. Before sign-in, the login form is protected by a signed double-submit cookie.
After sign-in the browser returns to the page it came from (``next``, a local path only),
so a link in an e-mail lands on its page.

``router`` also carries the cycle and unit pages (``PAGE_ROUTERS``: ``web.cycles``,
``web.unit_page``, ``web.unit_forms``, ``web.unit_commands``) and the stylesheet under /static.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, Signer
from sqlmodel import Session, col, select

from actions.my_tasks import my_tasks
from api.deps import SESSION_COOKIE, HashingPlace, SessionDep, SettingsDep, client_address
from api.errors import not_found
from api.routing import TransactionRoute
from core.settings import Mode, Settings
from core.vn import vn_datetime
from models.labels import UNIT_STATE_VI
from models.tables import Cycle, CycleState, CycleUnit, Role, Unit, UnitState, User
from services.accounts import (
    InvalidCredentials,
    LoginThrottled,
    authenticate,
    load_principal,
    same_secret,
    user_public,
)
from services.sessions import revoke_session, start_session
from web import (
    assignment_page,
    council_queue,
    criterion_page,
    cycles,
    reload,
    reports,
    unit_commands,
    unit_forms,
    unit_page,
)
from web.account import router as account_router
from web.auth import read_session, safe_next
from web.nav import nav_links
from web.render import STATIC_DIR, render, templates

router = APIRouter(route_class=TransactionRoute, include_in_schema=False)

LOGIN_CSRF_COOKIE = "appraisal_login_csrf"
ROLE_LABELS = {
    Role.coordinator: "Cơ quan thường trực",
    Role.unit_office: "Văn phòng đơn vị",
    Role.staff: "Cán bộ phụ trách",
    Role.council: "Hội đồng thẩm định",
    Role.viewer: "Lãnh đạo (xem)",
}


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, salt="login-csrf")


def _secure(settings: Settings) -> bool:
    return settings.mode is Mode.production


def _login_csrf(request: Request, settings: Settings) -> str:
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    try:
        _signer(settings).unsign(current)
        return current
    except BadSignature:
        return _signer(settings).sign(secrets.token_urlsafe(24)).decode()


def _login_page(
    request: Request,
    settings: Settings,
    *,
    error: str = "",
    username: str = "",
    status: int = 200,
    next_url: str = "/",
) -> HTMLResponse:
    token = _login_csrf(request, settings)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf_token": token,
            "error": error,
            "username": username,
            "next": safe_next(next_url),
        },
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:
    """The sign-in form (``next``: the local page to return to)."""
    return _login_page(request, settings, next_url=next)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    _hashing: HashingPlace,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Checks the CSRF token and the password, then opens a cookie session."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    try:
        _signer(settings).unsign(csrf_token)
        valid = same_secret(cookie, csrf_token)
    except BadSignature:
        valid = False
    if not valid:
        return _login_page(
            request,
            settings,
            error="Phiên biểu mẫu không hợp lệ (thiếu mã CSRF). Vui lòng thử lại.",
            username=username,
            status=403,
            next_url=next,
        )
    address = client_address(request, settings)
    try:
        user = authenticate(session, username=username, password=password, address=address)
    except InvalidCredentials:
        session.commit()
        return _login_page(
            request,
            settings,
            error="Sai tên đăng nhập hoặc mật khẩu.",
            username=username,
            status=401,
            next_url=next,
        )
    except LoginThrottled as exc:
        page = _login_page(
            request,
            settings,
            error=f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {exc.retry_after} giây.",
            username=username,
            status=429,
            next_url=next,
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    token, _expires, _row = start_session(
        session,
        user,
        secret_key=settings.secret_key,
        minutes=settings.token_minutes,
        kind="session",
        address=address,
        user_agent=request.headers.get("user-agent", ""),
        extra={"csrf": secrets.token_urlsafe(24)},
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The signed-in person's start page; the sign-in form otherwise."""
    found = read_session(request, session, settings)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    user, raw = found
    expires = datetime.fromtimestamp(int(str(raw["exp"])), tz=UTC)
    assert user.id is not None
    public = user_public(session, user)
    return render(
        request,
        "home.html",
        {
            "user": public,
            "nav": nav_links(g.role for g in public.roles),
            "csrf_token": str(raw.get("csrf", "")),
            "role_labels": ROLE_LABELS,
            "expires_at": vn_datetime(expires),
            "groups": my_tasks(session, user_id=user.id),
            "queues": _queues(session, user),
            "offices": _offices(session, user),
        },
    )


def _queues(session: Session, user: User) -> list[Cycle]:
    """The running cycles whose appraisal queue the person works in (council, coordinator)."""
    principal = load_principal(session, user)
    if not (principal.agencies or principal.has(Role.coordinator)):
        return []
    live = [CycleState.running, CycleState.appraisal_closed]
    return list(session.exec(select(Cycle).where(col(Cycle.state).in_(live))).all())


def _offices(session: Session, user: User) -> list[dict[str, object]]:
    """The units whose office the person is, in the cycles still running: links to the sheet
    and the assignment page."""
    principal = load_principal(session, user)
    units = principal.units(Role.unit_office)
    if not units:
        return []
    live = [CycleState.draft, CycleState.running, CycleState.appraisal_closed]
    rows = session.exec(
        select(CycleUnit, Cycle, Unit)
        .join(Cycle, col(Cycle.id) == CycleUnit.cycle_id)
        .join(Unit, col(Unit.id) == CycleUnit.unit_id)
        .where(col(CycleUnit.unit_id).in_(list(units)), col(Cycle.state).in_(live))
    ).all()
    return [
        {
            "cycle": cycle,
            "unit": unit,
            "state_label": UNIT_STATE_VI[UnitState(cu.state)],
            "deadline": cu.submission_deadline,
        }
        for cu, cycle, unit in rows
    ]


@router.get("/logout")
def logout_page() -> Response:
    """A reload of the sign-out address: back to the start page (signing out needs the form)."""
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Ends the cookie session on the server (the form must carry the session's CSRF token)."""
    found = read_session(request, session, settings)
    if found is not None:
        user, raw = found
        if not same_secret(csrf_token, str(raw.get("csrf", ""))):
            return HTMLResponse("<p>Thiếu hoặc sai mã CSRF.</p>", status_code=403)
        # Ends the session on the server: the cookie is worthless even if kept.
        revoke_session(session, str(raw.get("sid", "")), reason="logout", actor=user.username)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# Served by the app itself (no CDN): the one stylesheet of the pages.
STATIC_FILES = {"app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """A file of web/static (only the listed ones)."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise not_found()
    return FileResponse(
        STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The site's icon (an SVG: every browser the pages support draws it)."""
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


# The pages under /cycles, each following an API rule (web.auth.PAGE_RULES).
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    *cycles.ROUTERS,
    unit_page.router,
    unit_forms.router,
    unit_commands.router,
    criterion_page.router,
    assignment_page.router,
    council_queue.router,
    reports.router,
)
for _pages in PAGE_ROUTERS:
    router.include_router(_pages)
router.include_router(account_router)
# After the pages: a GET of a form's address goes to the form's page (Post/Redirect/Get).
router.include_router(reload.router)
