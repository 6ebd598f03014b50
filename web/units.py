"""Units and accounts pages: the lists, one unit or one account at a time, and a CSV/XLSX list of
units or of people checked row by row (errors by row and column, nothing stored if any row is
wrong). Every new account is e-mailed a one-time link to set its own password.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from actions import accounts as account_actions
from actions import units as unit_actions
from actions.units import RowError, RowsRefused
from api.deps import SessionDep, SettingsDep
from core.db import write_apart
from core.errors import Invalid, Refusal
from core.settings import Settings
from models.tables import Role
from services.accounts import RoleGrantIn, UserCreate, list_users, user_public
from services.units import UnitCreate, list_units
from web.auth import Caller, PageCaller
from web.common import base, form_of
from web.errors import RefusalPageRoute
from web.flash import flash_shown, redirect_with, take_flash
from web.forms import text_field
from web.render import GROUP_VI, render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)
FLASH_PATH = "/units"
ROLE_VI: dict[str, str] = {
    Role.coordinator.value: "Cơ quan thường trực",
    Role.unit_office.value: "Văn phòng đơn vị",
    Role.staff.value: "Cán bộ phụ trách",
    Role.council.value: "Hội đồng thẩm định",
    Role.viewer.value: "Lãnh đạo (xem)",
}


def _page(
    request: Request,
    caller: PageCaller,
    session: Session,
    settings: Settings,
    *,
    errors: tuple[RowError, ...] = (),
    error: str = "",
    which: str = "",
    status: int = 200,
) -> HTMLResponse:
    users = [user_public(session, u) for u in list_users(session)]
    page = render(
        request,
        "units.html",
        {
            **base(caller),
            "units": list_units(session),
            "users": users,
            "role_vi": ROLE_VI,
            "groups": GROUP_VI,
            "errors": errors,
            "error": error,
            "which": which,
            "flash": take_flash(request, settings),
        },
        status=status,
    )
    return flash_shown(request, page, path=FLASH_PATH)


@router.get("/units", response_class=HTMLResponse)
def units_page(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Units, accounts, and the forms to add them one by one or by a list."""
    return _page(request, caller, session, settings)


def _upload(form: FormData, settings: Settings) -> tuple[bytes, str]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid("no_file", "Chưa chọn tệp danh sách.", "No file.", "file")
    limit = settings.max_upload_mb * 1024 * 1024
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise Invalid("too_large", "Tệp quá lớn.", "File too large.", "file")
    return data, upload.filename or "list.csv"


async def _welcome(made: list[account_actions.NewAccount]) -> str:
    failed = await account_actions.send_welcome(made)
    if failed:
        return f" Chưa gửi được thư cho: {', '.join(failed)} (máy chủ thư lỗi)."
    return " Mỗi người đã nhận thư có liên kết tự đặt mật khẩu."


@router.post("/units/import")
async def import_list(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """A list of units or of people: all rows stored, or none and the errors by row."""
    form = form_of(caller)
    which = text_field(form, "kind")
    try:
        data, filename = _upload(form, settings)
        if which == "people":
            made = await write_apart(  # the accounts exist before their e-mails go out
                session,
                lambda own: account_actions.import_people(
                    session=own,
                    settings=settings,
                    principal=caller.principal,
                    data=data,
                    filename=filename,
                ),
            )
            note = await _welcome(made)
            message = f"Đã tạo {len(made)} tài khoản: " + ", ".join(
                f"{a.user.full_name} ({a.user.username})" for a in made
            )
            return redirect_with(settings, "/units", message + "." + note, path=FLASH_PATH)
        units = await write_apart(
            session,
            lambda own: unit_actions.import_units(
                session=own, principal=caller.principal, data=data, filename=filename
            ),
        )
    except RowsRefused as exc:  # rolled back by write_apart
        return _page(
            request,
            caller,
            session,
            settings,
            errors=exc.errors,
            which=which,
            status=422,
            error=exc.message_vi,
        )
    message = f"Đã tạo {len(units)} đơn vị: " + ", ".join(u.name for u in units) + "."
    return redirect_with(settings, "/units", message, path=FLASH_PATH)


@router.post("/units")
def create_unit_post(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """One unit."""
    form = form_of(caller)
    try:
        unit_in = UnitCreate.model_validate(
            {
                "code": text_field(form, "code").strip(),
                "name": text_field(form, "name").strip(),
                "group": text_field(form, "group").strip() or "commune",
                "email": text_field(form, "email").strip(),
            }
        )
        unit = unit_actions.create_one(session=session, principal=caller.principal, unit_in=unit_in)
    except (ValidationError, Refusal) as exc:
        session.rollback()
        message = getattr(exc, "message_vi", "") or "Mã đơn vị hoặc tên đơn vị không hợp lệ."
        return _page(request, caller, session, settings, error=message, status=422)
    return redirect_with(settings, "/units", f"Đã tạo đơn vị {unit.name}.", path=FLASH_PATH)


@router.post("/units/accounts")
async def create_account_post(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """One account: its name, e-mail, role (and unit or agency); e-mailed how to sign in."""
    form = form_of(caller)
    email = text_field(form, "email").strip()
    role_text = text_field(form, "role")
    try:
        role = Role(role_text)
        unit = text_field(form, "unit").strip() or None
        agency = text_field(form, "agency").strip() or None
        user_in = UserCreate(
            username=text_field(form, "username").strip() or account_actions.username_for(email),
            full_name=text_field(form, "full_name").strip(),
            email=email,
            roles=[
                RoleGrantIn(
                    role=role,
                    unit_code=unit if role in (Role.unit_office, Role.staff) else None,
                    agency=agency if role is Role.council else None,
                )
            ],
        )
        made = await write_apart(
            session,
            lambda own: account_actions.create_one(
                session=own, settings=settings, principal=caller.principal, user_in=user_in
            ),
        )
    except (ValidationError, ValueError, Refusal) as exc:  # rolled back by write_apart
        message = getattr(exc, "message_vi", "") or (
            "Kiểm tra lại: thư điện tử, vai trò (văn phòng và cán bộ cần đơn vị, hội đồng cần "
            "cơ quan thẩm định)."
        )
        return _page(request, caller, session, settings, error=message, status=422)
    note = await _welcome([made])
    return redirect_with(
        settings,
        "/units",
        f"Đã tạo tài khoản {made.user.full_name} ({made.user.username}).{note}",
        path=FLASH_PATH,
    )
