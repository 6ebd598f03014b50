"""The cycle console (``/cycles/{id}``): counters, the units table that sorts and filters,
per-staff and per-agency progress, server-drawn charts — and the coordinator's cycle commands,
each a confirmation page (GET: what will happen) and a form (POST → 303 → the console with what
did happen). A command is drawn only where ``models.states.CYCLE_ALLOWED`` allows it.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session

from actions import cycles as cycle_actions
from actions.common import to_utc
from actions.console import SORTS, ConsoleFilters, console
from api.deps import SessionDep, SettingsDep, get_temporal
from api.views import TIMELINE_VI, visible_units
from core.db import utcnow
from core.errors import Invalid
from core.vn import VN_TZ, vn_datetime, vn_decimal
from models.labels import CYCLE_STATE_VI, UNIT_STATE_VI
from models.states import CYCLE_ALLOWED, CycleState, UnitCommand, UnitState, allowed
from models.tables import Cycle, Role
from services.cycles import cycle_units
from services.sheet import framework_for, score_entries
from web import charts
from web.auth import Caller, PageCaller
from web.common import base, form_of, idem_key, load_cycle
from web.errors import RefusalPageRoute
from web.flash import flash_shown, redirect_with, take_flash
from web.forms import text_field
from web.render import GROUP_VI, render

__all__ = ["COMMAND_VI", "router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

# Command → (button, what will happen). The confirmation page reads the second.
COMMAND_VI: dict[str, tuple[str, str]] = {
    "start": ("Bắt đầu", "Mỗi đơn vị được giao một quy trình; văn phòng đơn vị nhận thư mời."),
    "extend": (
        "Gia hạn",
        "Hạn gửi kết quả và/hoặc thời điểm khóa của các đơn vị được chọn được dời; "
        "nhắc hạn được lập lại và đơn vị nhận thư báo thời hạn mới.",
    ),
    "close_appraisal": (
        "Kết thúc thẩm định",
        "Mọi đơn vị đang thẩm định được chốt kết quả; đơn vị chưa gửi kết quả mà đã khóa "
        "được ghi nhận “Không gửi kết quả”. Sau bước này mới xếp loại được.",
    ),
    "classify": (
        "Xếp loại",
        "Tính tổng điểm, mức xếp loại, tỷ lệ khống chế và thứ hạng theo nhóm. "
        "Có thể xếp loại lại cho đến khi công bố.",
    ),
    "publish": (
        "Công bố",
        "Kết quả được công bố cho mọi người; các đơn vị nhận thư và bắt đầu thời hạn báo cáo "
        "phân tích, kế hoạch khắc phục. Không thể hoàn tác.",
    ),
    "cancel": (
        "Hủy kỳ",
        "Mọi quy trình của kỳ đánh giá dừng lại; không thể hoàn tác.",
    ),
}
# Command → path segment.
PATHS = {c: c.replace("_", "-") for c in COMMAND_VI}


def _commands(caller: PageCaller, cycle: Cycle) -> list[tuple[str, str, str]]:
    """(command, button, path) the coordinator may send now."""
    if not caller.principal.has(Role.coordinator):
        return []
    state = CycleState(cycle.state)
    return [
        (c, COMMAND_VI[c][0], PATHS[c]) for c in COMMAND_VI if state in CYCLE_ALLOWED.get(c, ())
    ]


def _charts(cycle: Cycle, units: list[Any], max_total: Decimal) -> list[Markup]:
    states = Counter(u.state for u in units)
    out = [
        charts.bars(
            "Số đơn vị theo trạng thái",
            [(UNIT_STATE_VI[s], states[s]) for s in UnitState if states[s]],
        )
    ]
    totals = [
        u.final_total if u.final_total is not None else u.self_total
        for u in units
        if u.final_total is not None or u.self_total is not None
    ]
    if totals:
        out.append(
            charts.histogram("Phân bố tổng điểm", [Decimal(t) for t in totals], maximum=max_total)
        )
    groups: dict[str, list[Any]] = {}
    for u in units:
        total = u.final_total if u.final_total is not None else u.self_total
        if total is not None:
            groups.setdefault(u.group, []).append((u.name, Decimal(total)))
    for i, (group, rows) in enumerate(sorted(groups.items())):
        rows.sort(key=lambda r: r[1], reverse=True)
        title = f"Xếp hạng theo tổng điểm — {GROUP_VI.get(group, group)}"
        out.append(charts.bars(title, rows, maximum=max_total, color=i + 2))
    return [c for c in out if c]


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
def console_page(
    request: Request,
    cycle_id: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
    state: str = Query("", max_length=32),
    group: str = Query("", max_length=64),
    flag: str = Query("", max_length=32),
    agency: str = Query("", max_length=255),
    sort: str = Query("code", max_length=16),
    desc: bool = False,
) -> HTMLResponse:
    """Counters, the units table (sort, filter), progress, charts and the allowed commands."""
    cycle = load_cycle(session, cycle_id)
    now = utcnow()
    filters = ConsoleFilters(
        state=state if state in UnitState.__members__ else "",
        group=group,
        flag=flag if flag in ("late", "not_started") else "",
        agency=agency,
        sort=sort if sort in SORTS else "code",
        desc=desc,
    )
    rows = visible_units(session, caller.principal, cycle.id)
    view = console(session, cycle=cycle, rows=rows, now=now, filters=filters)
    framework = framework_for(session, cycle)
    max_total = score_entries(framework, [], appraised=False).max_total
    coordinator = caller.principal.has(Role.coordinator)
    reopenable = {
        u.code
        for u in view.all_units
        if coordinator and allowed(UnitCommand.reopen, u.state, now, u.hard_lock_at)
    }
    timeline = [(label, getattr(cycle, key)) for key, label in TIMELINE_VI.items()]
    page = render(
        request,
        "console.html",
        {
            **base(caller),
            "cycle": cycle,
            "state_label": CYCLE_STATE_VI[CycleState(cycle.state)],
            "timeline": timeline,
            "now": now,
            "view": view,
            "filters": filters,
            "state_choices": [(s.value, UNIT_STATE_VI[s]) for s in UnitState],
            "sorts": SORT_VI,
            "commands": _commands(caller, cycle),
            "charts": _charts(cycle, view.all_units, max_total),
            "reopenable": reopenable,
            "coordinator": coordinator,
            "flash": take_flash(request, settings),
        },
    )
    return flash_shown(request, page)


SORT_VI: dict[str, str] = {
    "code": "Mã đơn vị",
    "name": "Tên đơn vị",
    "group": "Nhóm",
    "state": "Trạng thái",
    "progress": "Tiến độ",
    "late": "Số ngày chậm",
    "deadline": "Hạn kế tiếp",
    "total": "Tổng điểm",
}


# --- commands: confirmation (GET) and action (POST) -------------------------------------------


def _confirm(
    request: Request,
    caller: PageCaller,
    cycle: Cycle,
    command: str,
    extra: dict[str, Any] | None = None,
    *,
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    if CycleState(cycle.state) not in CYCLE_ALLOWED[command]:
        raise Invalid(
            "not_allowed_now",
            f"Không thể {COMMAND_VI[command][0].lower()} khi kỳ đánh giá ở trạng thái "
            f"“{CYCLE_STATE_VI[CycleState(cycle.state)]}”.",
            f"{command} is not allowed while the cycle is {cycle.state}.",
        )
    return render(
        request,
        "confirm.html",
        {
            **base(caller),
            "cycle": cycle,
            "command": command,
            "button": COMMAND_VI[command][0],
            "explain": COMMAND_VI[command][1],
            "action": f"/cycles/{cycle.id}/{PATHS[command]}",
            "error": error,
            **(extra or {}),
        },
        status=status,
    )


def _local_input(value: datetime) -> str:
    """A UTC instant as an ``<input type="datetime-local">`` value in Vietnamese local time."""
    return value.astimezone(VN_TZ).strftime("%Y-%m-%dT%H:%M")


@router.get("/cycles/{cycle_id}/extend", response_class=HTMLResponse)
def extend_confirm(
    request: Request,
    cycle_id: str,
    caller: Caller,
    session: SessionDep,
) -> HTMLResponse:
    """Which units, the new deadlines (local time) and a reason; then "Gia hạn"."""
    unit = request.query_params.getlist("unit")[:10000]
    cycle = load_cycle(session, cycle_id)
    rows = [(cu, u) for cu, u in visible_units(session, caller.principal, cycle.id)]
    chosen = set(unit)
    units = [
        {
            "code": u.code,
            "name": u.name,
            "state_label": UNIT_STATE_VI[UnitState(cu.state)],
            "submission_deadline": cu.submission_deadline,
            "hard_lock_at": cu.hard_lock_at,
            "checked": u.code in chosen,
        }
        for cu, u in rows
        if UnitState(cu.state) not in (UnitState.published, UnitState.cancelled)
    ]
    return _confirm(
        request,
        caller,
        cycle,
        "extend",
        {
            "units": units,
            "all_units": not chosen,
            "submission_value": _local_input(cycle.submission_deadline),
            "lock_value": _local_input(cycle.hard_lock_at),
            "idem": _idem(),
        },
    )


def _idem() -> str:
    """A fresh idempotency key for a form (a double click acts once)."""
    return secrets.token_urlsafe(12)


def _parse_local(text: str, field: str, label: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError as exc:
        raise Invalid(
            "invalid_form", f"{label}: ngày giờ không hợp lệ.", "Bad time.", field
        ) from exc


@router.post("/cycles/{cycle_id}/extend")
async def extend_post(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep, settings: SettingsDep
) -> Response:
    """Extends the deadlines; the console then lists each unit's new deadlines."""
    form = form_of(caller)
    cycle = load_cycle(session, cycle_id)
    scope = text_field(form, "scope")
    codes = [str(v) for v in form.getlist("unit")] if scope == "some" else None
    if codes is not None and not codes:
        raise Invalid("no_units", "Chưa chọn đơn vị nào để gia hạn.", "No unit.", "units")
    old_sub = cycle.submission_deadline
    old_lock = cycle.hard_lock_at
    submission = _parse_local(
        text_field(form, "submission_deadline"), "submission_deadline", "Hạn gửi kết quả mới"
    )
    lock = _parse_local(text_field(form, "hard_lock_at"), "hard_lock_at", "Thời điểm khóa mới")
    # Only what changed is sent: an unchanged field keeps each unit's own deadline.
    if submission == old_sub and codes is None:
        submission = None
    if lock == old_lock and codes is None:
        lock = None
    result = await cycle_actions.extend(
        client=get_temporal(request),
        engine=request.app.state.engine,
        principal=caller.principal,
        cycle_id=cycle.id,
        units=codes,
        submission_deadline=submission,
        hard_lock_at=lock,
        reason=text_field(form, "reason").strip()[:2000],
        key=idem_key(form),
    )
    lines = [f"Đã gia hạn cho {len(result.units)} đơn vị:"]
    for u in result.units[:25]:
        lines.append(
            f"{u.name}: hạn gửi kết quả {vn_datetime(u.submission_deadline)}, "
            f"khóa {vn_datetime(u.hard_lock_at)}"
        )
    if len(result.units) > 25:
        lines.append(f"… và {len(result.units) - 25} đơn vị khác.")
    return redirect_with(settings, f"/cycles/{cycle.id}", "\n".join(lines))


@router.get("/cycles/{cycle_id}/classify", response_class=HTMLResponse)
def classify_confirm(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """The preview: each unit's total, class and rank in its group, the classes' counts."""
    cycle = load_cycle(session, cycle_id)
    preview = []
    if CycleState(cycle.state) in CYCLE_ALLOWED["classify"]:
        preview = cycle_actions.classify_preview(session=session, cycle_id=cycle.id)
    names = {u.code: u.name for _, u in visible_units(session, caller.principal, cycle.id)}
    rows = sorted(
        (
            {
                "code": r["unit"],
                "name": names.get(r["unit"], r["unit"]),
                "group": r["group"],
                "total": vn_decimal(Decimal(r["total"])),
                "band_label": r["band_label"],
                "rank": r["rank"],
                "demoted": bool(r.get("quota_demoted")),
                "reasons": r.get("reasons", []),
            }
            for r in preview
        ),
        key=lambda r: (r["group"], r["rank"] or 10**9),
    )
    bands = Counter((r["group"], r["band_label"]) for r in rows)
    return _confirm(
        request,
        caller,
        cycle,
        "classify",
        {"preview": rows, "bands": sorted(bands.items()), "idem": _idem()},
    )


def _simple_confirm(command: str) -> Any:
    def page(request: Request, cycle_id: str, caller: Caller, session: SessionDep) -> HTMLResponse:
        cycle = load_cycle(session, cycle_id)
        return _confirm(request, caller, cycle, command, {"idem": _idem()})

    page.__doc__ = f"The confirmation of “{COMMAND_VI[command][0]}”."
    return page


for _command in ("start", "close_appraisal", "publish", "cancel"):
    router.add_api_route(
        f"/cycles/{{cycle_id}}/{PATHS[_command]}",
        _simple_confirm(_command),
        methods=["GET"],
        response_class=HTMLResponse,
    )


def _what_happened(request: Request, cycle_id: str, command: str) -> str:
    """The units' states (and, after classifying, their classes) as the command left them."""
    if command in ("start", "cancel"):
        return ""
    with Session(request.app.state.engine) as session:
        rows = cycle_units(session, cycle_id)
        if command == "classify":
            framework = framework_for(session, load_cycle(session, cycle_id))
            labels = {}
            if framework.classification is not None:
                labels = {b.key: b.label for b in framework.classification.bands}
            counts = Counter(labels.get(cu.classification or "", "chưa xếp loại") for cu, _ in rows)
        else:
            counts = Counter(UNIT_STATE_VI[UnitState(cu.state)] for cu, _ in rows)
    return "\n" + "; ".join(f"{label}: {n} đơn vị" for label, n in sorted(counts.items())) + "."


DONE_VI = {
    "start": "Đã bắt đầu kỳ đánh giá: {n} đơn vị nhận quy trình.",
    "close_appraisal": "Đã kết thúc thẩm định. Kỳ đánh giá chuyển sang “Đã kết thúc thẩm định”.",
    "classify": "Đã xếp loại. Xem kết quả, xếp loại và thứ hạng ở trang Kết quả.",
    "publish": "Đã công bố kết quả; mọi đơn vị đã được thông báo.",
    "cancel": "Đã hủy kỳ đánh giá.",
}


def _command_post(command: str) -> Any:
    async def post(
        request: Request, cycle_id: str, caller: Caller, session: SessionDep, settings: SettingsDep
    ) -> Response:
        form = form_of(caller)
        cycle = load_cycle(session, cycle_id)
        client = get_temporal(request)
        key = idem_key(form)
        n = 0
        if command == "start":
            n = await cycle_actions.start(
                client=client,
                engine=request.app.state.engine,
                task_queue=settings.temporal_task_queue,
                cycle_id=cycle.id,
            )
        elif command == "cancel":
            reason = text_field(form, "reason").strip()
            if not reason:
                raise Invalid("invalid_form", "Cần ghi lý do hủy kỳ đánh giá.", "Reason.", "reason")
            await cycle_actions.cancel(
                client=client, principal=caller.principal, cycle_id=cycle.id, reason=reason, key=key
            )
        else:
            act = {
                "close_appraisal": cycle_actions.close_appraisal,
                "classify": cycle_actions.classify,
                "publish": cycle_actions.publish,
            }[command]
            await act(client=client, principal=caller.principal, cycle_id=cycle.id, key=key)
        message = DONE_VI[command].format(n=n) + _what_happened(request, cycle.id, command)
        return redirect_with(settings, f"/cycles/{cycle.id}", message)

    post.__doc__ = f"Sends “{COMMAND_VI[command][0]}” to the cycle's workflow."
    return post


for _command in ("start", "close_appraisal", "classify", "publish", "cancel"):
    router.add_api_route(
        f"/cycles/{{cycle_id}}/{PATHS[_command]}", _command_post(_command), methods=["POST"]
    )


@router.get("/cycles/{cycle_id}/reopen", response_class=HTMLResponse)
def reopen_confirm(
    request: Request,
    cycle_id: str,
    caller: Caller,
    session: SessionDep,
    unit: str = Query(max_length=64),
) -> HTMLResponse:
    """What reopening a unit does; the form posts to the unit's own "Mở lại" command."""
    cycle = load_cycle(session, cycle_id)
    found = [
        (cu, u) for cu, u in visible_units(session, caller.principal, cycle.id) if u.code == unit
    ]
    if not found:
        raise Invalid("unknown_unit", "Không có đơn vị này trong kỳ đánh giá.", "No unit.", "unit")
    cu, u = found[0]
    if not allowed(UnitCommand.reopen, cu.state, utcnow(), cu.hard_lock_at):
        raise Invalid(
            "not_allowed_now",
            f"Không thể mở lại đơn vị ở trạng thái “{UNIT_STATE_VI[UnitState(cu.state)]}”.",
            "Reopen not allowed now.",
            "unit",
        )
    return render(
        request,
        "reopen.html",
        {
            **base(caller),
            "cycle": cycle,
            "unit": u,
            "state_label": UNIT_STATE_VI[UnitState(cu.state)],
            "idem": _idem(),
        },
    )
