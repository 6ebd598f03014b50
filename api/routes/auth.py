"""Sign-in and sign-out: the OAuth2 password form gives an expiring bearer token naming a
server-side session; failures are throttled; logout ends the session at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from actions.passwords import RESET_ANSWER, link_mail_job
from api.deps import CurrentUser, HashingPlace, SessionDep, SettingsDep, client_address
from api.errors import COMMON_RESPONSES, Problem, field_problem, problem_doc
from api.routing import TransactionRoute
from models.tables import User
from services.accounts import (
    AccountError,
    InvalidCredentials,
    LoginThrottled,
    UserPublic,
    authenticate,
    hash_password,
    user_public,
)
from services.passwords import (
    check_strength,
    find_for_reset,
    redeem_link,
    sent_lately,
    set_password,
    unit_codes_of,
)
from services.sessions import (
    SessionPublic,
    list_sessions,
    revoke_all,
    revoke_session,
    session_public,
    start_session,
)

router = APIRouter(route_class=TransactionRoute, prefix="/api/auth", tags=["auth"])


class Token(BaseModel):
    """A bearer token and when it expires."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJleHAiOjE3MzI1MDAwMDAsInB3diI6Ij….Qm9n…",
                    "token_type": "bearer",
                    "expires_at": "2024-11-25T10:00:00Z",
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


def login(
    session: SessionDep, request: Request, settings: SettingsDep, username: str, password: str
) -> User:
    """Checks the password, throttling failures; commits the failure count before refusing."""
    try:
        return authenticate(
            session,
            username=username,
            password=password,
            address=client_address(request, settings),
        )
    except InvalidCredentials as exc:
        session.commit()
        raise Problem(
            401,
            "Sai tên đăng nhập hoặc mật khẩu.",
            slug="invalid-credentials",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    except LoginThrottled as exc:
        raise Problem(
            429,
            f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {exc.retry_after} giây.",
            slug="login-throttled",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


@router.post(
    "/token",
    response_model=Token,
    summary="Đăng nhập, nhận mã truy cập",
    responses={
        401: problem_doc(401, "Sai tên đăng nhập hoặc mật khẩu"),
        422: COMMON_RESPONSES[422],
        429: problem_doc(429, "Đăng nhập sai quá nhiều lần: thử lại sau Retry-After giây"),
    },
)
def token(
    _hashing: HashingPlace,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password form (`username`, `password`) → a bearer token that expires.

    After 5 failed attempts for a username (or 30 from one address) within 15 minutes, logins
    are refused with 429 for 1 minute, doubling on repeated locks up to 15 minutes.
    """
    user = login(session, request, settings, form.username, form.password)
    access_token, expires_at, _row = start_session(
        session,
        user,
        secret_key=settings.secret_key,
        minutes=settings.token_minutes,
        kind="api",
        address=client_address(request, settings),
        user_agent=request.headers.get("user-agent", ""),
    )
    return Token(access_token=access_token, expires_at=expires_at)


@router.get(
    "/me", response_model=UserPublic, summary="Tài khoản đang đăng nhập", responses=COMMON_RESPONSES
)
def me(principal: CurrentUser, session: SessionDep) -> UserPublic:
    """The signed-in user with their roles."""
    user = session.get(User, principal.user_id)
    assert user is not None
    return user_public(session, user)


class Ended(BaseModel):
    """How many sessions were ended."""

    ended: int


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Đăng xuất (kết thúc phiên hiện tại)",
    responses=COMMON_RESPONSES,
)
def logout(principal: CurrentUser, session: SessionDep) -> Response:
    """Ends the caller's own session (bearer token or cookie) at once."""
    revoke_session(session, principal.session_id, reason="logout", actor=principal.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/logout-all",
    response_model=Ended,
    summary="Đăng xuất khỏi mọi thiết bị",
    responses=COMMON_RESPONSES,
)
def logout_all(principal: CurrentUser, session: SessionDep) -> Ended:
    """Ends every session of the caller, this one included."""
    count = revoke_all(session, principal.user_id, reason="logout_all", actor=principal.username)
    return Ended(ended=count)


@router.get(
    "/sessions",
    response_model=list[SessionPublic],
    summary="Các phiên đăng nhập của tôi",
    responses=COMMON_RESPONSES,
)
def my_sessions(
    principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> list[SessionPublic]:
    """The caller's live sessions; ``current`` marks the one this request uses."""
    rows = list_sessions(session, principal.user_id, idle_minutes=settings.session_idle_minutes)
    return [session_public(r, current=principal.session_id) for r in rows]


# --- passwords ------------------------------------------------------------------------------


class PasswordChange(BaseModel):
    """The current password and the new one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": "mat-khau-cu-cua-toi", "new_password": "Hoa sen nở 2024"}
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=256, description="Mật khẩu hiện tại")
    new_password: str = Field(min_length=1, max_length=256, description="Mật khẩu mới")


class ResetRequest(BaseModel):
    """The username or e-mail address of the account to reset."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"login": "nguyenvana@dinhhoa.gov.vn"}]}
    )

    login: str = Field(min_length=1, max_length=255, description="Tên đăng nhập hoặc thư điện tử")


class ResetConfirm(BaseModel):
    """The secret of a reset (or first-password) link and the new password."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "Zp3k…trong-lien-ket", "new_password": "Hoa sen nở 2024"}]
        },
    )

    token: str = Field(min_length=1, max_length=200, description="Mã trong liên kết")
    new_password: str = Field(min_length=1, max_length=256, description="Mật khẩu mới")


class Accepted(BaseModel):
    """The same answer whether or not the account exists."""

    detail: str


def _password_problem(exc: AccountError, field: str) -> Problem:
    return field_problem(422, field if exc.field == "password" else exc.field, exc.reason_vi)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Đổi mật khẩu",
    responses={**COMMON_RESPONSES, 429: problem_doc(429, "Nhập sai mật khẩu quá nhiều lần")},
)
def change_password(
    _hashing: HashingPlace,
    body: PasswordChange,
    principal: CurrentUser,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Changes one's own password (the current one is required); ends one's other sessions."""
    # Hand the connection back before argon2 runs (twice): nothing is written yet.
    session.commit()
    try:
        user = authenticate(
            session,
            username=principal.username,
            password=body.current_password,
            address=client_address(request, settings),
        )
    except InvalidCredentials as exc:
        raise field_problem(422, "current_password", "Mật khẩu hiện tại không đúng.") from exc
    except LoginThrottled as exc:
        raise Problem(
            429,
            f"Nhập sai quá nhiều lần. Vui lòng thử lại sau {exc.retry_after} giây.",
            slug="login-throttled",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    assert user.id is not None
    try:
        check_strength(
            body.new_password,
            username=user.username,
            unit_codes=unit_codes_of(session, user.id),
        )
    except AccountError as exc:
        raise _password_problem(exc, "new_password") from exc
    session.commit()  # the rule read the unit codes: release the connection before hashing
    new_hash = hash_password(body.new_password)
    set_password(
        session,
        user,
        new_hash=new_hash,
        actor=user.username,
        reason="change_password",
        keep_session=principal.session_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password-reset",
    response_model=Accepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Quên mật khẩu: gửi liên kết đặt lại",
    responses={422: COMMON_RESPONSES[422]},
)
def request_reset(
    body: ResetRequest, session: SessionDep, settings: SettingsDep, tasks: BackgroundTasks
) -> Accepted:
    """Mails a one-time, expiring reset link; answers the same whether the account exists."""
    user = find_for_reset(session, body.login)
    if user is not None and user.email and not sent_lately(session, user):
        tasks.add_task(
            link_mail_job(session=session, settings=settings, user=user, purpose="reset")
        )
    return Accepted(detail=RESET_ANSWER)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Đặt mật khẩu bằng liên kết",
    responses={422: COMMON_RESPONSES[422]},
)
def confirm_reset(_hashing: HashingPlace, body: ResetConfirm, session: SessionDep) -> Response:
    """Sets the password of a live link's account (once) and ends all of its sessions."""
    try:
        redeem_link(session, body.token, body.new_password)
    except AccountError as exc:
        raise _password_problem(exc, "new_password") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
