"""Creating a cycle ("Tạo kỳ đánh giá"): the form (GET), the review screen (GET: nothing is
stored; the timeline and units are checked by the very service that will store them, in a
transaction rolled back) and "Tạo và bắt đầu" (POST → 303 → the console).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from actions import cycles as cycle_actions
from actions.common import to_utc
from api.deps import SessionDep, SettingsDep, get_temporal
from core.db import utcnow, write_apart
from core.errors import Invalid
from core.vn import VN_TZ, vn_datetime
from models.framework import FrameworkStatus
from models.tables import Unit
from services.cycles import DEFAULT_REMINDER_OFFSETS, CycleSpec
from services.frameworks import list_frameworks
from services.units import list_units
from web.auth import Caller, PageCaller
from web.common import base, form_of
from web.errors import RefusalPageRoute, page_refusal
from web.flash import redirect_with
from web.render import GROUP_VI, render

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

CYCLE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TIMES: tuple[tuple[str, str], ...] = (
    ("opens_at", "Mở kỳ đánh giá"),
    ("data_cutoff_at", "Thời điểm chốt số liệu"),
    ("submission_deadline", "Hạn gửi kết quả tự chấm điểm"),
    ("hard_lock_at", "Phần mềm tự động khóa"),
    ("appraisal_deadline", "Hạn thẩm định"),
    ("results_target", "Dự kiến công bố kết quả"),
)
FIELDS_VI = {
    "id": "Mã kỳ đánh giá",
    "cycle_id": "Mã kỳ đánh giá",
    "year": "Năm",
    "title": "Tên kỳ đánh giá",
    "framework_id": "Bộ tiêu chí",
    "units": "Đơn vị",
    "reminder_offsets_hours": "Nhắc hạn",
    "max_explanation_rounds": "Số vòng giải trình",
    "explanation_round_days": "Số ngày mỗi vòng",
    **dict(TIMES),
}


def _local(value: datetime) -> str:
    return value.astimezone(VN_TZ).strftime("%Y-%m-%dT%H:%M")


def _defaults() -> dict[str, Any]:
    """A timeline starting tomorrow at 08:00 local time (the coordinator adjusts it)."""
    day = (utcnow().astimezone(VN_TZ) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    year = day.year
    return {
        "id": f"{year}-",
        "year": str(year),
        "title": f"Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ năm {year}",
        "opens_at": _local(day),
        "data_cutoff_at": _local(day + timedelta(days=19, hours=15, minutes=59)),
        "submission_deadline": _local(day + timedelta(days=21, hours=9)),
        "hard_lock_at": _local(day + timedelta(days=24, hours=9)),
        "appraisal_deadline": _local(day + timedelta(days=39, hours=9)),
        "results_target": _local(day + timedelta(days=49)),
        "reminder_offsets": ", ".join(str(h) for h in DEFAULT_REMINDER_OFFSETS),
        "max_explanation_rounds": "2",
        "explanation_round_days": "5",
        "units": [],
        "group_all": [],
    }


def _choices(session: Session) -> tuple[list[Any], dict[str, list[Unit]]]:
    frameworks = [
        r for r in list_frameworks(session) if r.status == FrameworkStatus.published.value
    ]
    groups: dict[str, list[Unit]] = {}
    for unit in list_units(session):
        groups.setdefault(unit.group, []).append(unit)
    return frameworks, groups


def _values(params: Mapping[str, Any], getlist: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(params.get(k, "")).strip() for k in _defaults() if k not in ("units",)
    }
    values["units"] = [str(v) for v in getlist("unit")]
    values["group_all"] = [str(v) for v in getlist("group_all")]
    values["framework_id"] = str(params.get("framework_id", "")).strip()
    return values


def _int(text: str, field: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise Invalid(
            "invalid_form", f"{FIELDS_VI[field]}: cần một số từ {low} đến {high}.", field, field
        )
    return value


def spec_of(values: dict[str, Any], groups: dict[str, list[Unit]]) -> CycleSpec:
    """The cycle the form describes (times in local Vietnamese time → UTC)."""
    if not CYCLE_ID_RE.match(values["id"]):
        raise Invalid(
            "invalid_form",
            "Mã kỳ đánh giá: chữ thường không dấu, số, dấu chấm, gạch ngang (vd. 2025-dinh-hoa).",
            "Bad cycle id.",
            "id",
        )
    if not values["title"]:
        raise Invalid("invalid_form", "Cần nhập tên kỳ đánh giá.", "Title.", "title")
    times: dict[str, datetime] = {}
    for key, label in TIMES:
        try:
            times[key] = to_utc(datetime.fromisoformat(values[key]))
        except ValueError as exc:
            raise Invalid("invalid_form", f"{label}: ngày giờ không hợp lệ.", key, key) from exc
    try:
        offsets = [int(p) for p in re.split(r"[,;\s]+", values["reminder_offsets"]) if p]
    except ValueError as exc:
        raise Invalid(
            "invalid_form",
            "Nhắc hạn: các số giờ cách nhau bởi dấu phẩy (vd. 168, 72, 24, 0).",
            "Offsets.",
            "reminder_offsets_hours",
        ) from exc
    if len(offsets) > 20 or any(not 0 <= h <= 24 * 366 for h in offsets):
        raise Invalid(
            "invalid_form",
            "Nhắc hạn: tối đa 20 mốc, mỗi mốc từ 0 đến 8784 giờ.",
            "Offsets.",
            "reminder_offsets_hours",
        )
    codes = list(values["units"])
    for group in values["group_all"]:
        codes.extend(u.code for u in groups.get(group, []))
    return CycleSpec(
        cycle_id=values["id"],
        year=_int(values["year"], "year", 2000, 2100),
        title=values["title"][:500],
        framework_id=_int(values["framework_id"] or "0", "framework_id", 1, 2**31 - 1),
        units=list(dict.fromkeys(codes)),
        reminder_offsets_hours=offsets,
        max_explanation_rounds=_int(
            values["max_explanation_rounds"], "max_explanation_rounds", 0, 10
        ),
        explanation_round_days=_int(
            values["explanation_round_days"], "explanation_round_days", 1, 60
        ),
        opens_at=times["opens_at"],
        data_cutoff_at=times["data_cutoff_at"],
        submission_deadline=times["submission_deadline"],
        hard_lock_at=times["hard_lock_at"],
        appraisal_deadline=times["appraisal_deadline"],
        results_target=times["results_target"],
    )


def _form(
    request: Request,
    caller: PageCaller,
    session: Session,
    values: dict[str, Any],
    *,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    frameworks, groups = _choices(session)
    return render(
        request,
        "cycle_new.html",
        {
            **base(caller),
            "v": values,
            "frameworks": frameworks,
            "groups": groups,
            "group_vi": GROUP_VI,
            "times": TIMES,
            "error": error,
        },
        status=status,
    )


@router.get("/cycles/new", response_class=HTMLResponse)
def new_cycle(request: Request, caller: Caller, session: SessionDep) -> HTMLResponse:
    """The form: framework, units by group, timeline (local time), reminders, rounds."""
    values = _defaults()
    if "id" in request.query_params:  # back from the review screen ("Sửa lại")
        values.update(_values(request.query_params, request.query_params.getlist))
    return _form(request, caller, session, values)


@router.get("/cycles/new/review", response_class=HTMLResponse)
def review_cycle(request: Request, caller: Caller, session: SessionDep) -> HTMLResponse:
    """What will be created, checked by the service in a rolled-back transaction."""
    values = _values(request.query_params, request.query_params.getlist)
    frameworks, groups = _choices(session)
    try:
        spec = spec_of(values, groups)
        with Session(request.app.state.engine) as trial:
            try:
                cycle_actions.create(session=trial, principal=caller.principal, spec=spec)
            finally:
                trial.rollback()
    except Exception as exc:
        shown = page_refusal(exc)
        if shown is None:
            raise
        field = str(getattr(exc, "field", "") or "")
        label = FIELDS_VI.get(field, "")
        message = shown[1] if not label or label in shown[1] else f"{label}: {shown[1]}"
        return _form(request, caller, session, values, error=message, status=shown[0])
    names = {u.code: u for us in groups.values() for u in us}
    framework = next((f for f in frameworks if f.id == spec.framework_id), None)
    return render(
        request,
        "cycle_review.html",
        {
            **base(caller),
            "spec": spec,
            "v": values,
            "framework": framework,
            "units": [names[c] for c in spec.units],
            "times": [(label, vn_datetime(getattr(spec, key))) for key, label in TIMES],
            "idem": secrets.token_urlsafe(12),
        },
    )


@router.post("/cycles/new")
async def create_cycle_post(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """Creates the cycle, then starts it; the console shows how many units got a workflow."""
    form = form_of(caller)
    values = _values(form, form.getlist)
    _frameworks, groups = _choices(session)
    spec = spec_of(values, groups)
    cycle = await write_apart(  # committed before the workflows read it from the database
        session,
        lambda own: cycle_actions.create(session=own, principal=caller.principal, spec=spec),
    )
    count = await cycle_actions.start(
        client=get_temporal(request),
        engine=request.app.state.engine,
        task_queue=settings.temporal_task_queue,
        cycle_id=cycle.id,
    )
    return redirect_with(
        settings,
        f"/cycles/{cycle.id}",
        f"Đã tạo và bắt đầu kỳ đánh giá “{cycle.title}”: {count} đơn vị.",
    )
