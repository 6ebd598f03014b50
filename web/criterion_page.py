"""One criterion on its own page: its rule, its form, its evidence and its history, and the
previous and next of the person's own criteria of the unit.

The rows and the forms are those of the sheet (``web.unit_page.unit_context``): the same
rules decide which forms are drawn, and the forms post to the same paths; a form sent from here
(``view=criterion``) comes back here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, or_, select

from actions.my_tasks import my_codes
from api.deps import SessionDep, SettingsDep
from core.errors import NotFound
from models.tables import AuditLog
from web.auth import Caller, PageCaller
from web.common import criterion_url, unit_ref
from web.errors import RefusalPageRoute
from web.flash import flash_shown, take_flash
from web.render import render
from web.unit_page import Posted, unit_context

__all__ = ["HISTORY_VI", "criterion_context", "router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

# What a line of the criterion's history says (audit entity, action).
HISTORY_VI: dict[tuple[str, str], str] = {
    ("entry", "draft"): "Tự chấm điểm, giải trình",
    ("entry", "appraise"): "Chấm điểm thẩm định",
    ("explanation", "answer"): "Giải trình theo yêu cầu",
    ("evidence", "attach"): "Đính kèm tài liệu kiểm chứng",
    ("evidence", "detach"): "Gỡ tài liệu kiểm chứng",
}


def _history(session: Session, cycle_id: str, unit_id: int, code: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(AuditLog)
        .where(
            AuditLog.cycle_id == cycle_id,
            AuditLog.unit_id == unit_id,
            col(AuditLog.entity).in_(["entry", "explanation", "evidence"]),
            or_(AuditLog.entity_key == code, col(AuditLog.entity_key).startswith(f"{code}#")),
        )
        .order_by(col(AuditLog.id).desc())
        .limit(50)
    ).all()
    out = []
    for r in rows:
        after = r.after or {}
        score = after.get("appraised_score") if r.action == "appraise" else after.get("self_score")
        out.append(
            {
                "at": r.at,
                "actor": r.actor,
                "what": HISTORY_VI.get((r.entity, r.action), "Thay đổi"),
                "score": score,
                "file": after.get("filename") or (r.before or {}).get("filename", ""),
            }
        )
    return out


def criterion_context(
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    code: str,
    *,
    posted: Posted | None = None,
    max_upload_mb: int = 20,
) -> dict[str, Any]:
    """Everything ``criterion.html`` draws for this person now."""
    context = unit_context(session, caller, cycle_id, posted=posted, max_upload_mb=max_upload_mb)
    row = next((r for r in context["rows"] if r.node.code == code and r.node.is_leaf), None)
    if row is None:
        raise NotFound(
            "no_criterion",
            f"Không có tiêu chí {code} để chấm điểm trong bộ tiêu chí.",
            f"No criterion {code} to score in the framework.",
        )
    ref = unit_ref(caller, cycle_id)
    row.open = True
    mine = my_codes(
        session, user_id=caller.principal.user_id, cycle_id=cycle_id, unit_id=ref.unit_id
    )
    leaves = [r.node.code for r in context["rows"] if r.node.is_leaf]
    routed = [r.node.code for r in context["request_leaves"]]
    order = mine if code in mine else routed if code in routed else leaves
    at = order.index(code)
    prev_code = order[at - 1] if at > 0 else ""
    next_code = order[at + 1] if at + 1 < len(order) else ""
    return {
        **context,
        "row": row,
        "in_mine": code in mine,
        "in_routed": code not in mine and code in routed,
        "position": (at + 1, len(order)),
        "prev_code": prev_code,
        "next_code": next_code,
        "prev_url": criterion_url(cycle_id, ref.unit_code, prev_code) if prev_code else "",
        "next_url": criterion_url(cycle_id, ref.unit_code, next_code) if next_code else "",
        "history": _history(session, cycle_id, ref.unit_id, code),
        "sheet_url": context["page_url"] + f"#c-{quote(code)}",
    }


@router.get("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}", response_class=HTMLResponse)
def criterion_page(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """One criterion: its rule, its form, its evidence and history; previous and next."""
    flash = take_flash(request, settings)
    context = criterion_context(
        session, caller, cycle_id, code, max_upload_mb=settings.max_upload_mb
    )
    response = render(request, "criterion.html", {**context, "flash": flash})
    return flash_shown(request, response)
