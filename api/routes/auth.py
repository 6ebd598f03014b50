"""Sign-in and sign-out: the OAuth2 password form gives an expiring bearer token naming a
server-side session; failures are throttled; logout ends the session at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, SessionDep, SettingsDep, client_address
from api.errors import COMMON_RESPONSES, Problem, problem_doc
from models.tables import User
from services.accounts import (
    InvalidCredentials,
    LoginThrottled,
    UserPublic,
    authenticate,
    user_public,
)
from services.sessions import (
    SessionPublic,
    list_sessions,
    revoke_all,
    revoke_session,
    session_public,
    start_session,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


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
