"""What a coordinator does to accounts: create one, or a whole list of people from a CSV/XLSX
file (name, e-mail, unit, role; agency for the council) — checked row by row, nothing stored if
any row is wrong — and e-mail each new person a one-time link to set their own password
(``actions.passwords.link_mail_job``, purpose "welcome"): the coordinator never types or sends
a password.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import Session

from actions.passwords import link_mail_job
from actions.units import MAX_ROWS, RowError, RowsRefused, columns, fold, read_table
from core.errors import Conflict, Invalid
from core.settings import Settings
from models.tables import Role, User
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
    """An account just created and the mailing of its set-password link (run after commit)."""

    user: User
    mail: Callable[[], Awaitable[Exception | None]]


def username_for(email: str) -> str:
    """The sign-in name an e-mail suggests: "Nguyen.An@x.vn" → "nguyen.an"."""
    local = fold(email.split("@", 1)[0]).replace(" ", ".")
    name = re.sub(r"[^a-z0-9._-]", "", local).strip("._-")
    return (name + "000")[: max(3, len(name))][:64] if len(name) < 3 else name[:64]


def create_one(
    *, session: Session, settings: Settings, principal: Principal, user_in: UserCreate
) -> NewAccount:
    """Creates one account without a password and issues its welcome link; Conflict when the
    name is taken. The link is mailed by ``send_welcome`` once the account is committed."""
    if not user_in.email:
        raise Invalid(
            "email_required",
            "Cần địa chỉ thư điện tử để gửi liên kết đặt mật khẩu lần đầu.",
            "An e-mail address is needed for the first-password link.",
            "email",
        )
    try:
        user = create_user(session, user_in=user_in, actor=principal.username)
    except AccountError as exc:
        cls = Conflict if exc.conflict else Invalid
        raise cls("account_refused", exc.reason_vi, str(exc), exc.field) from exc
    job = link_mail_job(session=session, settings=settings, user=user, purpose="welcome")
    return NewAccount(user, job)


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
            roles=[grant],
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
        column = {"username": "Tên đăng nhập", "email": "Thư điện tử"}.get(field, "Vai trò")
        return [RowError(line, column, "giá trị không hợp lệ")]


def import_people(
    *, session: Session, settings: Settings, principal: Principal, data: bytes, filename: str
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
    return [
        create_one(session=session, settings=settings, principal=principal, user_in=u)
        for u in wanted
    ]


async def send_welcome(accounts: Sequence[NewAccount]) -> list[str]:
    """Mails each new person their set-password link (after the commit); who was not reached."""
    failed = []
    for account in accounts:
        if await account.mail() is not None:
            failed.append(account.user.username)
    return failed
