"""Sign-in: the OAuth2 password form gives an expiring bearer token; failures are throttled."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, Problem, problem_doc
from models.tables import User
from services.accounts import (
    InvalidCredentials,
    LoginThrottled,
    UserPublic,
    authenticate,
    issue_token,
    user_public,
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


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (behind a proxy: set proxy headers)."""
    return request.client.host if request.client else ""


def login(session: SessionDep, request: Request, username: str, password: str) -> User:
    """Checks the password, throttling failures; commits the failure count before refusing."""
    try:
        return authenticate(
            session, username=username, password=password, address=client_address(request)
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
    user = login(session, request, form.username, form.password)
    access_token, expires_at = issue_token(
        user, secret_key=settings.secret_key, minutes=settings.token_minutes
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
