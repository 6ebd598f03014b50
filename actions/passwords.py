"""Password links: the one-time link a person follows to set a password (a reset, or a new
account's first password), issued here and mailed after the response by the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from sqlmodel import Session

from core.db import utcnow
from core.settings import Settings
from models.tables import User
from services.password_mail import link_mail, send_link_mail
from services.passwords import WELCOME_MINUTES, issue_link

__all__ = ["RESET_ANSWER", "link_mail_job", "password_link"]

# The same answer whether the name or address exists or not (no account probing).
RESET_ANSWER = (
    "Nếu tên đăng nhập hoặc địa chỉ thư điện tử này thuộc một tài khoản đang hoạt động, "
    "một thư có liên kết đặt lại mật khẩu đã được gửi tới địa chỉ thư của tài khoản."
)


def password_link(
    *, session: Session, settings: Settings, user: User, purpose: str, actor: str = "system"
) -> tuple[str, int]:
    """Issues a one-time link for ``user`` (audited as ``actor``'s): (its address, minutes)."""
    minutes = settings.reset_link_minutes if purpose == "reset" else WELCOME_MINUTES
    secret = issue_link(session, user, purpose=purpose, minutes=minutes, actor=actor)
    return f"{settings.base_url.rstrip('/')}/password/reset?token={secret}", minutes


def link_mail_job(
    *, session: Session, settings: Settings, user: User, purpose: str, actor: str = "system"
) -> Callable[[], Awaitable[Exception | None]]:
    """Issues a link for ``user``; returns its mailing, run after the response (no timing tell)."""
    link, minutes = password_link(
        session=session, settings=settings, user=user, purpose=purpose, actor=actor
    )
    subject, text, body = link_mail(
        purpose=purpose,
        full_name=user.full_name,
        username=user.username,
        link=link,
        minutes=minutes,
    )
    return partial(
        send_link_mail,
        settings,
        key=f"password-{purpose}:{link.rsplit('=', 1)[1][:12]}",
        to_name=user.full_name,
        to_email=user.email,
        subject=subject,
        text=text,
        body=body,
        at=utcnow(),
    )
