"""Framework pages: the list and the upload form, the preview of a file (the sheet check: rows
placed, rules inferred, inconsistencies — nothing stored), saving it as a draft, one framework
as a tree with maxima and rules, and publishing it (immutable) after a confirmation.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from actions import frameworks as fw_actions
from api.deps import SessionDep, SettingsDep
from core.errors import Invalid
from core.settings import Settings
from models.framework import Framework, FrameworkStatus
from models.tables import Role
from services.frameworks import framework_of, list_frameworks
from web.auth import Caller
from web.common import base, form_of
from web.errors import RefusalPageRoute
from web.flash import flash_shown, redirect_with, take_flash
from web.forms import text_field
from web.render import render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)
FLASH_PATH = "/frameworks"

KIND_VI = {
    "stated_score_differs": "Điểm ghi ở mục cha khác tổng điểm các mục con",
    "score_exceeds_max": "Điểm vượt điểm tối đa",
    "children_max_differs": "Điểm tối đa ghi ở mục cha khác tổng điểm tối đa các mục con",
    "total_differs": "Dòng tổng cộng khác tổng tính được",
}
STATUS_VI = {
    FrameworkStatus.draft.value: "Bản nháp",
    FrameworkStatus.published.value: "Đã ban hành",
}


@router.get("/frameworks", response_class=HTMLResponse)
def frameworks_page(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Every stored version and, for the coordinator, the upload form."""
    page = render(
        request,
        "frameworks.html",
        {
            **base(caller),
            "frameworks": list_frameworks(session),
            "status_vi": STATUS_VI,
            "coordinator": caller.principal.has(Role.coordinator),
            "flash": take_flash(request, settings),
        },
    )
    return flash_shown(request, page, path=FLASH_PATH)


def _file(form: FormData, settings: Settings) -> tuple[bytes, str]:
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        limit = settings.max_upload_mb * 1024 * 1024
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            raise Invalid("too_large", "Tệp quá lớn.", "File too large.", "file")
        return data, upload.filename or "framework.yaml"
    try:  # the preview's hidden copy of the file
        data = base64.b64decode(text_field(form, "content"), validate=True)
    except binascii.Error as exc:
        raise Invalid("invalid_form", "Tệp đã gửi bị hỏng.", "Bad content.", "file") from exc
    return data, text_field(form, "filename") or "framework.yaml"


def _name_year(form: FormData) -> tuple[str | None, int | None]:
    name = text_field(form, "name").strip()[:500] or None
    year_text = text_field(form, "year").strip()
    if not year_text:
        return name, None
    if not year_text.isdigit() or not 2000 <= int(year_text) <= 2100:
        raise Invalid("invalid_form", "Năm áp dụng: từ 2000 đến 2100.", "Bad year.", "year")
    return name, int(year_text)


@router.post("/frameworks/preview", response_class=HTMLResponse)
def preview_page(request: Request, caller: Caller, settings: SettingsDep) -> HTMLResponse:
    """What the file holds and what the sheet check found; nothing is stored yet."""
    form = form_of(caller)
    data, filename = _file(form, settings)
    name, year = _name_year(form)
    found = fw_actions.preview(data=data, filename=filename, name=name, year=year)
    check = found.check
    return render(
        request,
        "framework_preview.html",
        {
            **base(caller),
            "p": found,
            "rows": found.rows,
            "check": check,
            "kind_vi": KIND_VI,
            "content": base64.b64encode(data).decode(),
            "filename": filename,
            "name": name or "",
            "year": year or "",
            "idem": secrets.token_urlsafe(12),
        },
    )


@router.post("/frameworks")
def save_framework(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """Stores the previewed file as a draft; its page follows."""
    form = form_of(caller)
    data, filename = _file(form, settings)
    name, year = _name_year(form)
    record = fw_actions.save(
        session=session,
        principal=caller.principal,
        data=data,
        filename=filename,
        name=name,
        year=year,
    )
    return redirect_with(
        settings,
        f"/frameworks/{record.id}",
        f"Đã lưu bộ tiêu chí “{record.name}” (phiên bản {record.version}, "
        f"{STATUS_VI.get(record.status, record.status).lower()}).",
        path=FLASH_PATH,
    )


@router.get("/frameworks/{framework_id}", response_class=HTMLResponse)
def framework_page(
    request: Request, framework_id: int, caller: Caller, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The tree with maxima and rules; "Ban hành" for a draft."""
    record = fw_actions.load(session=session, framework_id=framework_id)
    framework = framework_of(record)
    page = render(
        request,
        "framework.html",
        {
            **base(caller),
            "record": record,
            "framework": framework,
            "rows": fw_actions.tree(framework),
            "status_vi": STATUS_VI,
            "draft": record.status == FrameworkStatus.draft.value,
            "coordinator": caller.principal.has(Role.coordinator),
            "confirm": request.query_params.get("confirm") == "publish",
            "flash": take_flash(request, settings),
            "idem": secrets.token_urlsafe(12),
            "bands": _bands(framework),
        },
    )
    return flash_shown(request, page, path=FLASH_PATH)


def _bands(framework: Framework) -> list[tuple[str, str, Decimal]]:
    """The levels as the form shows them: the framework's own, else the proposed ones."""
    if framework.classification is not None and len(framework.classification.bands) == len(
        fw_actions.DEFAULT_BANDS
    ):
        return [(b.key, b.label, b.min_total) for b in framework.classification.bands]
    return list(fw_actions.DEFAULT_BANDS)


@router.post("/frameworks/{framework_id}/publish")
def publish_post(
    framework_id: int, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """Publishes the draft (immutable from then on)."""
    record = fw_actions.publish(
        session=session, principal=caller.principal, framework_id=framework_id
    )
    return redirect_with(
        settings,
        f"/frameworks/{record.id}",
        f"Đã ban hành bộ tiêu chí “{record.name}”. Từ nay bộ tiêu chí này không thay đổi.",
        path=FLASH_PATH,
    )


def _decimal(text: str, label: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise Invalid("invalid_form", f"{label}: cần một số.", "Not a number.", field) from exc
    if not value.is_finite() or abs(value) > 10**6:
        raise Invalid("invalid_form", f"{label}: cần một số.", "Not a number.", field)
    return value


@router.post("/frameworks/{framework_id}/classification")
def classification_post(
    framework_id: int, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """The levels' minimum totals (and the top level's quota) of a draft."""
    form = form_of(caller)
    minima = [
        _decimal(text_field(form, f"min.{key}"), label, "min_total")
        for key, label, _ in fw_actions.DEFAULT_BANDS
    ]
    quota_text = text_field(form, "top_quota_percent").strip()
    quota = (
        _decimal(quota_text, "Tỷ lệ tối đa mức cao nhất", "top_quota_percent")
        if quota_text
        else None
    )
    record = fw_actions.set_classification(
        session=session,
        principal=caller.principal,
        framework_id=framework_id,
        minima=minima,
        top_quota_percent=quota,
    )
    return redirect_with(
        settings, f"/frameworks/{record.id}", "Đã lưu các mức xếp loại.", path=FLASH_PATH
    )
