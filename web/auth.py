"""Who may open which page: the cookie session, the forms' CSRF token, and the API's own rules.

Every page and form under /cycles names the REST route whose rule it follows (``PAGE_RULES``);
the dependency ``page_caller`` checks that rule with ``api.access.check`` — the very function
the API calls — so a page answers 404 exactly where the API does (another unit, a unit the
council may not see yet, a cycle the person takes no part in), and 403 where the API would.
Finer rules (assignment, agency, state, the hard lock) stay with the edit gate and the
workflows, which the forms call through the API's own route functions.

Refusals become Vietnamese HTML pages (``PageRoute``), never JSON or a stack trace; a missing
or expired session sends the browser to the sign-in page and back.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from sqlmodel import Session, select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from api import access
from api.deps import SESSION_COOKIE, SessionDep, SettingsDep, checks
from api.errors import Problem, not_found
from api.routing import TransactionRoute
from core.db import release, utcnow
from core.errors import Refusal
from core.settings import Settings
from models.tables import Role, Unit, User
from services.accounts import (
    InvalidToken,
    Principal,
    load_principal,
    same_secret,
    verify_token,
)
from services.sessions import check_session, touch_after_read, touch_due
from web.render import error_page

__all__ = [
    "PAGE_RULES",
    "Caller",
    "LoginRequired",
    "PageCaller",
    "PageRefused",
    "PageRoute",
    "read_session",
    "safe_next",
]

_C = "/api/cycles/{cycle_id}"
_U = _C + "/units/{unit_id}"
_P = "/cycles/{cycle_id}"
_PU = _P + "/units/{unit_code}"

# Page or form → the API route whose access rule (api.access.POLICY) it follows.
PAGE_RULES: dict[str, str] = {
    "GET /cycles": "GET /api/cycles",
    f"GET {_P}": f"GET {_C}",
    f"GET {_P}/results": f"GET {_C}/results",
    f"GET {_PU}": f"GET {_U}",
    f"POST {_PU}/criteria/{{code}}/draft": f"PUT {_U}/criteria/{{code}}/draft",
    f"POST {_PU}/criteria/{{code}}/evidence": f"POST {_U}/criteria/{{code}}/evidence",
    f"POST {_PU}/criteria/{{code}}/evidence/{{evidence_id}}/delete": (
        f"DELETE {_U}/criteria/{{code}}/evidence/{{evidence_id}}"
    ),
    f"POST {_PU}/criteria/{{code}}/appraisal": f"PUT {_U}/criteria/{{code}}/appraisal",
    f"POST {_PU}/criteria/{{code}}/answer": (
        f"PUT {_U}/explanation-requests/{{request_id}}/criteria/{{code}}"
    ),
    f"POST {_PU}/start-review": f"POST {_U}/start-review",
    f"POST {_PU}/return": f"POST {_U}/return",
    f"POST {_PU}/submit": f"POST {_U}/submit",
    f"POST {_PU}/reopen": f"POST {_U}/reopen",
    f"POST {_PU}/start-appraisal": f"POST {_U}/start-appraisal",
    f"POST {_PU}/explanation-requests": f"POST {_U}/explanation-requests",
    f"POST {_PU}/close-round": f"POST {_U}/explanation-requests/{{request_id}}/close",
    f"POST {_PU}/finalise": f"POST {_U}/finalise",
    # --- pages of issue 10 (helper "pages"): my criteria, one criterion, assignment, queue ---
    f"GET {_PU}/criteria/{{code}}": f"GET {_U}",
    f"GET {_PU}/assignments": f"GET {_U}",
    f"POST {_PU}/assignments": f"PUT {_U}/assignments",
    f"GET {_P}/council": f"GET {_C}",
    # --- pages of issue 9 (helper "coordinator"): console commands, new cycle, audit, ---
    # --- frameworks, units and accounts ---
    # the console's commands: confirmation (GET) and action (POST) of each
    **{
        f"{m} {_P}/{page}": f"POST {_C}/{api}"
        for page, api in (
            ("start", "start"),
            ("extend", "deadlines"),
            ("close-appraisal", "close-appraisal"),
            ("classify", "classify"),
            ("publish", "publish"),
            ("cancel", "cancel"),
        )
        for m in ("GET", "POST")
    },
    f"GET {_P}/reopen": f"POST {_C}/deadlines",  # the confirmation; it posts to {_PU}/reopen
    "GET /cycles/new": "POST /api/cycles",
    "GET /cycles/new/review": "POST /api/cycles",
    "POST /cycles/new": "POST /api/cycles",
    f"GET {_P}/audit": f"GET {_C}",  # the page itself admits coordinators and viewers only
    "GET /units": "POST /api/units",  # the coordinator's page of units and accounts
    "POST /units": "POST /api/units",
    "POST /units/import": "POST /api/units",  # a units list, or a people list (coordinator)
    "POST /units/accounts": "POST /api/units",  # the coordinator creates every role
    "GET /frameworks": "GET /api/frameworks",
    "POST /frameworks/preview": "POST /api/frameworks/import",
    "POST /frameworks": "POST /api/frameworks/import",
    "GET /frameworks/{framework_id}": "GET /api/frameworks/{framework_id}",
    "POST /frameworks/{framework_id}/publish": "POST /api/frameworks/{framework_id}/publish",
    "POST /frameworks/{framework_id}/classification": "POST /api/frameworks/import",
    # Documents (web/reports.py, issue 11): the rules of the API routes they mirror.
    f"GET {_PU}/reports/self": f"GET {_U}/reports/self",
    f"GET {_PU}/reports/appraisal": f"GET {_U}/reports/appraisal",
    f"GET {_PU}/reports/analysis": f"GET {_U}/reports/analysis",
    f"GET {_P}/reports/results": f"GET {_C}/reports/results",
    f"GET {_PU}/sheet.xlsx": f"GET {_U}/sheet.xlsx",
    f"POST {_PU}/sheet.xlsx": f"POST {_U}/sheet.xlsx",
}


class LoginRequired(Exception):
    """No valid session cookie: the browser goes to the sign-in page."""


class PageRefused(Exception):
    """A refusal shown as a Vietnamese page with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PageCaller:
    """The signed-in person of a page request, the unit of its path and the posted form."""

    user: User
    principal: Principal
    csrf_token: str
    unit: Unit | None = None
    form: FormData | None = None

    def may(self, api_key: str, unit_id: int | None = None) -> bool:
        """Holds a role the API's rule ``api_key`` lets act (for this unit): shows a form."""
        rule = access.POLICY[api_key]
        if unit_id is None:
            return bool(rule.roles & self.principal.roles)
        return any(self.principal.has_for_unit(role, unit_id) for role in rule.roles)

    @property
    def is_coordinator(self) -> bool:
        """Holds the coordinator role."""
        return self.principal.has(Role.coordinator)


def _cookie_session(
    request: Request, session: Session, settings: Settings
) -> tuple[User, dict[str, object], str | None] | None:
    """The user and raw claims of a valid session cookie, and the session's id when it is due a
    last_seen touch (the caller writes it: ``touch_after_read``); None without a valid one."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        claims, raw = verify_token(cookie, secret_key=settings.secret_key, kind="session")
        now = utcnow()
        with checks(request, session):
            user, row = check_session(
                session, claims, idle_minutes=settings.session_idle_minutes, now=now
            )
    except InvalidToken:
        return None
    return user, raw, row.id if touch_due(row, now) else None


def read_session(
    request: Request, session: Session, settings: Settings
) -> tuple[User, dict[str, object]] | None:
    """The user and raw claims of a valid session cookie, or None (for a sync route: the
    session's touch, when due, is written here, in the route's thread)."""
    found = _cookie_session(request, session, settings)
    if found is None:
        return None
    user, raw, due = found
    if due is not None:  # as the API does: never a write inside the page's read
        touch_after_read(session, due, utcnow())
    return user, raw


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in ("/" for anything else: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _unit_id(session: Session, unit_code: str) -> tuple[Unit, str]:
    unit = session.exec(select(Unit).where(Unit.code == unit_code)).first()
    if unit is None or unit.id is None:
        raise not_found("Không tìm thấy đơn vị trong kỳ đánh giá.")
    return unit, str(unit.id)


async def page_caller(request: Request, session: SessionDep, settings: SettingsDep) -> PageCaller:
    """The signed-in caller after the CSRF token (forms) and the page's API rule are checked.

    It runs on the event loop: its reads are short, and the session's touch (a write, which may
    wait for SQLite's write lock) goes to a worker thread."""
    found = _cookie_session(request, session, settings)
    if found is None:
        raise LoginRequired()
    user, raw, due = found
    if due is not None:
        await to_thread.run_sync(touch_after_read, session, due, utcnow())
    csrf = str(raw.get("csrf", ""))
    form: FormData | None = None
    if request.method == "POST":
        release(session)  # no transaction (nor connection) held while the form uploads
        form = await request.form()
        sent = form.get("csrf_token")
        if not isinstance(sent, str) or not sent or not same_secret(sent, csrf):
            raise PageRefused(
                403,
                "Thiếu hoặc sai mã CSRF: biểu mẫu đã cũ hoặc không gửi từ trang này. "
                "Vui lòng tải lại trang và thử lại.",
            )
    route = request.scope.get("route")
    key = f"{request.method} {getattr(route, 'path', '')}"
    api_key = PAGE_RULES.get(key)
    if api_key is None:  # every page route is listed; guards pages added later
        raise RuntimeError(f"no access rule for page {key}")
    params = {k: str(v) for k, v in request.path_params.items()}
    unit: Unit | None = None
    with checks(request, session):
        principal = load_principal(session, user, session_id=str(raw.get("sid", "")))
        if "unit_code" in params:
            unit, params["unit_id"] = _unit_id(session, params["unit_code"])
        access.check(session, principal, access.POLICY[api_key], params)
    return PageCaller(user=user, principal=principal, csrf_token=csrf, unit=unit, form=form)


Caller = Annotated[PageCaller, Depends(page_caller, scope="function")]


class PageRoute(TransactionRoute):
    """A page route: sign-in redirects and refusals as Vietnamese HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path if request.method == "GET" else "/cycles"
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            except PageRefused as exc:
                return error_page(request, exc.status, exc.message)
            except Problem as exc:
                return error_page(request, exc.status, exc.detail or exc.title)
            except Refusal as exc:
                return error_page(request, exc.status, exc.message_vi)
            except RequestValidationError:  # a path naming nothing (an id that is no number)
                return error_page(request, 404, "Không tìm thấy tài nguyên.")
            except HTTPException as exc:  # e.g. a body cut off while streaming (413)
                detail = exc.detail if isinstance(exc.detail, str) else ""
                return error_page(request, exc.status_code, detail or "Yêu cầu không hợp lệ.")

        return page_handler
