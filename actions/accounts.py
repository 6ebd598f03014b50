"""What a coordinator does to accounts: create one, or a whole list of people from a CSV/XLSX
file (name, e-mail, unit, role; agency for the council) — checked row by row, nothing stored if
any row is wrong — and e-mail each new person how to sign in.

The coordinator never types or sends a password. Until the one-time set-password link of the
accounts work lands, the account gets a random password through the existing reset path
(``services.accounts``) and the welcome e-mail carries it, sent at once and never stored (not
in the outbox). When the link lands: replace ``_interim_secret`` and ``welcome_message`` by
``services.passwords.issue_link(purpose="welcome")`` and ``services.password_mail.link_mail``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from pydantic import ValidationError
from sqlmodel import Session

from actions.units import MAX_ROWS, RowError, RowsRefused, columns, fold, read_table
from core.db import utcnow
from core.errors import Conflict, Invalid
from core.settings import Settings
from models.tables import Role, User
from notifications.mailer import SmtpMailer, build_message, mailbox
from services.accounts import (
    AccountError,
    Principal,
    RoleGrantIn,
    UserCreate,
    create_user,
    get_user,
)
from services.units import get_unit_by_code

__all__ = [
    "ROLE_WORDS",
    "NewAccount",
    "create_one",
    "import_people",
    "send_welcome",
    "username_for",
    "welcome_message",
]

PEOPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "full_name": ("ho va ten", "ho ten", "ten", "name", "full name"),
    "email": ("thu dien tu", "email", "e mail"),
    "unit": ("don vi", "ma don vi", "unit", "unit code"),
    "role": ("vai tro", "role"),
    "agency": ("co quan tham dinh", "co quan", "agency"),
    "username": ("ten dang nhap", "username"),
}
PEOPLE_COLUMN_VI = {
    "full_name": "Họ và tên",
    "email": "Thư điện tử",
    "unit": "Đơn vị",
    "role": "Vai trò",
    "agency": "Cơ quan thẩm định",
    "username": "Tên đăng nhập",
}
ROLE_WORDS: dict[str, Role] = {
    "van phong don vi": Role.unit_office,
    "van phong": Role.unit_office,
    "unit office": Role.unit_office,
    "can bo": Role.staff,
    "can bo phu trach": Role.staff,
    "staff": Role.staff,
    "hoi dong": Role.council,
    "hoi dong tham dinh": Role.council,
    "council": Role.council,
    "lanh dao": Role.viewer,
    "lanh dao xem": Role.viewer,
    "viewer": Role.viewer,
    "co quan thuong truc": Role.coordinator,
    "coordinator": Role.coordinator,
}
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NewAccount:
    """An account just created and the secret its welcome e-mail carries (never stored)."""

    user: User
    secret: str


def username_for(email: str) -> str:
    """The sign-in name an e-mail suggests: "Nguyen.An@x.vn" → "nguyen.an"."""
    local = fold(email.split("@", 1)[0]).replace(" ", ".")
    name = re.sub(r"[^a-z0-9._-]", "", local).strip("._-")
    return (name + "000")[: max(3, len(name))][:64] if len(name) < 3 else name[:64]


def _interim_secret() -> str:
    """A random first password (interim: the set-password link replaces it)."""
    return secrets.token_urlsafe(12)


def create_one(*, session: Session, principal: Principal, user_in: UserCreate) -> NewAccount:
    """Creates one account with a system-made secret; Conflict when the name is taken."""
    secret = _interim_secret()
    data = user_in.model_copy(update={"password": secret})
    try:
        user = create_user(session, user_in=data, actor=principal.username)
    except AccountError as exc:
        cls = Conflict if exc.conflict else Invalid
        raise cls("account_refused", exc.reason_vi, str(exc), exc.field) from exc
    return NewAccount(user, secret)


def _person(
    session: Session, row: Sequence[str], cols: dict[str, int], line: int
) -> UserCreate | list[RowError]:
    def cell(key: str) -> str:
        i = cols.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    errors: list[RowError] = []
    full_name, email = cell("full_name"), cell("email")
    if not full_name:
        errors.append(RowError(line, "Họ và tên", "cần họ và tên"))
    if not EMAIL_RE.fullmatch(email):
        errors.append(RowError(line, "Thư điện tử", "cần một địa chỉ thư điện tử hợp lệ"))
    role = ROLE_WORDS.get(fold(cell("role")))
    if role is None:
        errors.append(
            RowError(
                line,
                "Vai trò",
                f"“{cell('role')}” không phải vai trò (Văn phòng đơn vị, Cán bộ, Hội đồng, "
                "Lãnh đạo, Cơ quan thường trực)",
            )
        )
    unit_code = cell("unit")
    if role in (Role.unit_office, Role.staff):
        if not unit_code:
            errors.append(RowError(line, "Đơn vị", "vai trò này cần mã đơn vị"))
        elif get_unit_by_code(session, code=unit_code) is None:
            errors.append(RowError(line, "Đơn vị", f"không có đơn vị “{unit_code}”"))
    agency = cell("agency")
    if role is Role.council and not agency:
        errors.append(RowError(line, "Cơ quan thẩm định", "hội đồng cần cơ quan thẩm định"))
    username = cell("username").lower() or username_for(email)
    if errors or role is None:
        return errors
    try:
        grant = RoleGrantIn(
            role=role,
            unit_code=unit_code if role in (Role.unit_office, Role.staff) else None,
            agency=agency if role is Role.council else None,
        )
        return UserCreate(
            username=username,
            full_name=full_name[:255],
            email=email,
            password="x" * 12,  # replaced by the system's secret in create_one
            roles=[grant],
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        column = {"username": "Tên đăng nhập", "email": "Thư điện tử"}.get(field, "Vai trò")
        return [RowError(line, column, "giá trị không hợp lệ")]


def import_people(
    *, session: Session, principal: Principal, data: bytes, filename: str
) -> list[NewAccount]:
    """Creates every account of the list, or none: RowsRefused lists every wrong cell."""
    rows = [r for r in read_table(data, filename) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise RowsRefused([RowError(1, "", "Danh sách không có dòng dữ liệu nào.")])
    if len(rows) > MAX_ROWS + 1:
        raise RowsRefused([RowError(MAX_ROWS + 2, "", f"Tối đa {MAX_ROWS} dòng.")])
    cols = columns(rows[0], PEOPLE_COLUMNS, {"full_name", "email", "role"}, PEOPLE_COLUMN_VI)
    errors: list[RowError] = []
    wanted: list[UserCreate] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        found = _person(session, row, cols, line)
        if isinstance(found, list):
            errors.extend(found)
            continue
        if found.username in seen:
            errors.append(
                RowError(
                    line, "Tên đăng nhập", f"“{found.username}” trùng dòng {seen[found.username]}"
                )
            )
        elif get_user(session, username=found.username) is not None:
            errors.append(RowError(line, "Tên đăng nhập", f"“{found.username}” đã có người dùng"))
        seen.setdefault(found.username, line)
        wanted.append(found)
    if errors:
        raise RowsRefused(errors)
    return [create_one(session=session, principal=principal, user_in=u) for u in wanted]


def welcome_message(settings: Settings, account: NewAccount) -> tuple[str, str, str]:
    """(subject, text, html) of the welcome e-mail (interim: the first password)."""
    user = account.user
    login = f"{settings.base_url.rstrip('/')}/login"
    subject = "Tài khoản mới trên hệ thống đánh giá, xếp loại"
    text = (
        f"Kính gửi {user.full_name or user.username},\n\n"
        "Anh/chị vừa được cấp tài khoản trên hệ thống đánh giá, xếp loại mức độ hoàn thành "
        "nhiệm vụ.\n"
        f"Tên đăng nhập: {user.username}\n"
        f"Mật khẩu lần đầu (do hệ thống tạo): {account.secret}\n"
        f"Đăng nhập tại: {login}\n\n"
        "Xin giữ kín mật khẩu này.\n"
    )
    html = (
        f"<p>Kính gửi {_esc(user.full_name or user.username)},</p>"
        "<p>Anh/chị vừa được cấp tài khoản trên hệ thống đánh giá, xếp loại mức độ hoàn thành "
        f"nhiệm vụ.<br>Tên đăng nhập: <strong>{_esc(user.username)}</strong><br>"
        f"Mật khẩu lần đầu (do hệ thống tạo): <code>{_esc(account.secret)}</code></p>"
        f'<p><a href="{_esc(login)}">Đăng nhập</a>. Xin giữ kín mật khẩu này.</p>'
    )
    return subject, text, html


def _esc(text: str) -> str:
    return escape(text)


async def send_welcome(
    settings: Settings, accounts: Sequence[NewAccount], *, at: datetime | None = None
) -> list[str]:
    """Sends each new person their welcome e-mail at once; the usernames it could not reach."""
    messages = []
    targets = [a for a in accounts if a.user.email]
    for a in targets:
        subject, text, html = welcome_message(settings, a)
        messages.append(
            build_message(
                from_addr=settings.mail_from,
                to_addr=mailbox(a.user.full_name, a.user.email),
                subject=subject,
                text=text,
                html=html,
                key=f"welcome:{a.user.username}",
                date=at or utcnow(),
            )
        )
    outcomes = await SmtpMailer(settings).send_many(messages)
    return [a.user.username for a, err in zip(targets, outcomes, strict=True) if err is not None]
