"""The e-mail carrying a one-time password link, sent at once (never stored)."""

from __future__ import annotations

import html
import logging
from datetime import datetime

from core.settings import Settings
from notifications.mailer import SmtpMailer, build_message, mailbox

log = logging.getLogger(__name__)

__all__ = ["link_mail", "send_link_mail"]

_SUBJECTS = {
    "reset": "Đặt lại mật khẩu hệ thống đánh giá, xếp loại",
    "welcome": "Tài khoản mới trên hệ thống đánh giá, xếp loại: đặt mật khẩu",
    "operator_reset": "Mật khẩu hệ thống đánh giá, xếp loại đã được đặt lại",
}
_LEADS = {
    "reset": "Có yêu cầu đặt lại mật khẩu cho tài khoản của anh/chị.",
    "welcome": "Anh/chị vừa được cấp tài khoản trên hệ thống đánh giá, xếp loại.",
    "operator_reset": (
        "Quản trị hệ thống đã đặt lại mật khẩu tài khoản của anh/chị: mật khẩu cũ không còn "
        "dùng được và mọi phiên đăng nhập đã kết thúc."
    ),
}
_TAILS = {
    "reset": "Nếu anh/chị không yêu cầu, xin bỏ qua thư này: mật khẩu hiện tại vẫn giữ nguyên.",
    "welcome": "Nếu anh/chị không yêu cầu, xin bỏ qua thư này: mật khẩu hiện tại vẫn giữ nguyên.",
    "operator_reset": "Nếu anh/chị không biết vì sao, xin liên hệ cơ quan thường trực.",
}


def link_mail(
    *, purpose: str, full_name: str, username: str, link: str, minutes: int
) -> tuple[str, str, str]:
    """(subject, text, html) of the link's message, in Vietnamese."""
    subject, lead, tail = _SUBJECTS[purpose], _LEADS[purpose], _TAILS[purpose]
    hours = f"{minutes // 60} giờ" if minutes % 60 == 0 else f"{minutes} phút"
    text = (
        f"Kính gửi {full_name or username},\n\n{lead}\n"
        f"Tên đăng nhập: {username}\n\n"
        f"Mở liên kết sau để đặt mật khẩu (dùng được một lần, trong {hours}):\n{link}\n\n"
        f"{tail}\n"
    )
    body = (
        f"<p>Kính gửi {html.escape(full_name or username)},</p><p>{lead}<br>"
        f"Tên đăng nhập: <strong>{html.escape(username)}</strong></p>"
        f'<p><a href="{html.escape(link)}">Đặt mật khẩu</a> (dùng được một lần, trong {hours}).</p>'
        f"<p>{tail}</p>"
    )
    return subject, text, body


async def send_link_mail(
    settings: Settings,
    *,
    key: str,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    body: str,
    at: datetime,
) -> Exception | None:
    """Sends the message at once; the error, if any (the person may ask again).

    Not kept in the outbox: a stored body would keep a usable link in the database, where
    only the link's hash is meant to be.
    """
    message = build_message(
        from_addr=settings.mail_from,
        to_addr=mailbox(to_name, to_email),
        subject=subject,
        text=text,
        html=body,
        key=key,
        date=at,
    )
    (error,) = await SmtpMailer(settings).send_many([message])
    if error is not None:
        log.warning("password link mail %s not sent: %s", key, error)
    return error
