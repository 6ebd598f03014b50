"""The pages' Jinja2 environment: Vietnamese number, date and time filters, and the error page.

Every template extends ``base.html`` (``<meta charset="utf-8">``, the local stylesheet
``/static/app.css``); responses are ``text/html; charset=utf-8``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.db import utcnow
from core.vn import (
    GROUP_VI,
    group_vi,
    snapshot_kind_vi,
    vn_countdown,
    vn_date,
    vn_datetime,
    vn_decimal,
)

__all__ = ["GROUP_VI", "STATIC_DIR", "error_page", "render", "templates"]

STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _num(value: Decimal | int | str | None, places: int | None = None) -> str:
    """2.897 → "2,897"; None → "—"."""
    if value is None or value == "":
        return "—"
    return vn_decimal(Decimal(value), places)


def _dt(value: datetime | None) -> str:
    """A deadline as the e-mails write it: "17:00 ngày 25/11/2024"."""
    return "—" if value is None else vn_datetime(value)


def _dts(value: datetime | None) -> str:
    """A time stamp in a table cell: the one format of ``core.vn.vn_datetime``."""
    return "—" if value is None else vn_datetime(value)


def _countdown(value: datetime | None) -> str:
    """The time left until a deadline: "còn 3 ngày 4 giờ" or "đã quá hạn 2 giờ"."""
    return "" if value is None else vn_countdown(value, utcnow())


def _date(value: date | None) -> str:
    return "—" if value is None else vn_date(value)


templates.env.filters["num"] = _num
templates.env.filters["dt"] = _dt
templates.env.filters["dts"] = _dts
templates.env.filters["vdate"] = _date
templates.env.filters["group"] = group_vi
templates.env.filters["countdown"] = _countdown
templates.env.filters["snapshot_kind"] = snapshot_kind_vi


def render(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """A page from a template (``text/html; charset=utf-8``)."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


ERROR_TITLES: dict[int, str] = {
    400: "Yêu cầu không hợp lệ",
    403: "Không có quyền thực hiện",
    404: "Không tìm thấy",
    409: "Không thể thực hiện ở trạng thái hiện tại",
    413: "Tệp quá lớn",
    415: "Loại tệp không được chấp nhận",
    422: "Dữ liệu không hợp lệ",
    503: "Dịch vụ tạm thời không sẵn sàng",
}


def error_page(
    request: Request, status: int, message: str, *, user: Any = None, csrf_token: str = ""
) -> HTMLResponse:
    """A Vietnamese error page (never a stack trace)."""
    return render(
        request,
        "error.html",
        {
            "title": ERROR_TITLES.get(status, "Đã xảy ra lỗi"),
            "message": message,
            "status": status,
            "user": user,
            "csrf_token": csrf_token,
        },
        status=status,
    )
