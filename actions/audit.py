"""The audit trail of a cycle as the coordinator reads it: filtered by unit, person, action and
criterion, with the before → after of every score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, func, select

from core.vn import VN_TZ, vn_decimal
from models.labels import COMMAND_LABELS, CYCLE_STATE_VI, UNIT_STATE_VI
from models.states import CycleState, UnitState
from models.tables import AuditLog, Unit

__all__ = ["PAGE_SIZE", "AuditFilters", "AuditLine", "AuditPage", "action_vi", "entity_vi", "trail"]

# What an audit row is about, and what was done, in the words of the pages.
ENTITY_VI: dict[str, str] = {
    "cycle": "Kỳ đánh giá",
    "state": "Trạng thái đơn vị",
    "entry": "Tiêu chí",
    "deadline": "Thời hạn",
    "classification": "Xếp loại",
    "evidence": "Tài liệu kiểm chứng",
    "unit": "Đơn vị",
    "user": "Tài khoản",
    "framework": "Bộ tiêu chí",
    "assignment": "Phân công",
    "explanation": "Giải trình",
    "session": "Phiên đăng nhập",
    "login": "Đăng nhập",
    "demo": "Dữ liệu mẫu",
}
# Every action the code writes has its words here, in COMMAND_LABELS or in a state's label
# (tests/web/test_audit_labels.py finds each one in the code and checks it).
ACTION_VI: dict[str, str] = {
    "create": "tạo",
    "draft": "tự chấm điểm",
    "appraisal": "thẩm định",
    "appraise": "thẩm định",
    "answer": "giải trình",
    "upload": "tải tài liệu lên",
    "delete": "xóa",
    "import": "nhập",
    "publish": "công bố / ban hành",
    "replace_draft": "thay bản nháp",
    "replace": "phân công lại",
    "attach": "đính kèm tài liệu",
    "detach": "gỡ tài liệu",
    "decision": "ghi quyết định ngoại lệ chỉ tiêu, phủ quyết",
    "finalise_override": "kết thúc thẩm định khi còn cơ quan chưa thẩm định xong",
    "state": "chuyển trạng thái",
    "loaded": "nạp dữ liệu mẫu",
    # accounts: what only the owner does, and the links that let them
    "grant": "cấp vai trò",
    "welcome_link": "gửi thư có liên kết đặt mật khẩu lần đầu",
    "reset_link": "gửi thư có liên kết đặt lại mật khẩu",
    "welcome_link_printed": "in liên kết đặt mật khẩu lần đầu ra màn hình người vận hành",
    "reset_link_printed": "in liên kết đặt lại mật khẩu ra màn hình người vận hành",
    "operator_reset_link": "gửi thư có liên kết đặt lại mật khẩu (người vận hành yêu cầu)",
    "operator_reset_link_printed": (
        "in liên kết đặt lại mật khẩu (người vận hành yêu cầu) ra màn hình"
    ),
    "password_link": "tự đặt mật khẩu qua liên kết",
    "change_password": "tự đổi mật khẩu",
    "reset_password": "hủy mật khẩu cũ (người vận hành đặt lại)",
    "login_throttled": "từ chối đăng nhập đang bị tạm khóa",
    "login_locked": "tạm khóa đăng nhập sau nhiều lần sai",
}
# Why sessions ended: "revoke:<reason>" (one) and "revoke_all:<reason>" (every one of a user).
REVOKE_VI: dict[str, str] = {
    "logout": "đăng xuất",
    "logout_all": "đăng xuất mọi nơi",
    "coordinator": "điều phối viên kết thúc",
    "change_password": "đổi mật khẩu",
    "password_link": "đặt mật khẩu qua liên kết",
    "reset_password": "người vận hành đặt lại mật khẩu",
}


def entity_vi(entity: str) -> str:
    """The Vietnamese name of what a row is about (the stored word if none)."""
    return ENTITY_VI.get(entity, entity)


def action_vi(action: str) -> str:
    """The Vietnamese name of what was done: "state:published" → "chuyển sang: Đã công bố…"."""
    if action.startswith("state:"):
        value = action.split(":", 1)[1]
        if value in CycleState.__members__:
            return f"kỳ đánh giá chuyển sang “{CYCLE_STATE_VI[CycleState(value)]}”"
    if action in COMMAND_LABELS:
        return COMMAND_LABELS[action][0]
    if action in UnitState.__members__:  # a transition with no command (lock, publication)
        return f"đơn vị chuyển sang “{UNIT_STATE_VI[UnitState(action)]}”"
    kind, _, reason = action.partition(":")
    if kind in ("revoke", "revoke_all") and reason in REVOKE_VI:
        what = "kết thúc phiên đăng nhập" if kind == "revoke" else "kết thúc mọi phiên đăng nhập"
        return f"{what} ({REVOKE_VI[reason]})"
    return ACTION_VI.get(action, action)


# Fields of an audit row's before/after worth showing as "before → after".
SHOWN = (
    "self_score",
    "appraised_score",
    "state",
    "submission_deadline",
    "hard_lock_at",
    "classification",
    "rank",
    "total",
    "explanation",
    "appraisal_comment",
    "reason",
    "before_deadlines",
)
PAGE_SIZE = 500


@dataclass(frozen=True)
class AuditFilters:
    """The page's filters ("" = any)."""

    unit: str = ""
    actor: str = ""
    action: str = ""
    criterion: str = ""


@dataclass(frozen=True)
class AuditLine:
    """One audit row: when, who, which unit and criterion, what, and before → after."""

    at: datetime
    actor: str
    unit: str
    entity: str
    entity_key: str
    action: str
    changes: tuple[tuple[str, str, str], ...]  # (field, before, after)


def _text(value: Any) -> str:
    """A stored value as read: times in Vietnamese local time, nested values one per key."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            return f"{datetime.fromisoformat(value).astimezone(VN_TZ):%d/%m/%Y %H:%M}"
        except ValueError:
            return value
    return str(value)


def _state(value: Any) -> str:
    """A stored state as the pages name it (unit states, else cycle states)."""
    text = str(value)
    if text in UnitState.__members__:
        return UNIT_STATE_VI[UnitState(text)]
    if text in CycleState.__members__:
        return CYCLE_STATE_VI[CycleState(text)]
    return _text(value)


# Fields holding a number of points: written with the decimal comma ("1.000" reads as a thousand).
POINTS = frozenset({"self_score", "appraised_score", "total"})


def _points(value: Any) -> str:
    """A stored number of points as the pages write it: "1.500" → "1,5"; anything else as is."""
    try:
        return vn_decimal(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return _text(value)


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Any, ...]:
    b, a = before or {}, after or {}
    keys = [k for k in SHOWN if k in a or k in b] or [k for k in a if k not in ("units",)][:4]
    out = []
    for k in keys:
        if b.get(k) == a.get(k) and k not in a:
            continue
        show = _state if k == "state" else _points if k in POINTS else _text
        out.append((k, show(b.get(k)), show(a.get(k))))
    return tuple(out)


@dataclass(frozen=True)
class AuditPage:
    """One page of the trail, newest first: its rows, where it sits among the filtered rows
    (``first`` is the 1-based position of its first row in ``total``), and the cursors of the
    pages next to it (``newer``: show rows with a greater id; ``older``: with a smaller id)."""

    lines: list[AuditLine]
    total: int
    first: int
    newer: int | None
    older: int | None
    people: list[str]
    actions: list[str]

    @property
    def last(self) -> int:
        """The position of the page's last row."""
        return self.first + len(self.lines) - 1


def _filtered(query: Any, cycle_id: str, filters: AuditFilters) -> Any:
    """``query`` (over AuditLog outer-joined to Unit) narrowed to the cycle and the filters."""
    query = query.where(AuditLog.cycle_id == cycle_id)
    if filters.unit:
        query = query.where(Unit.code == filters.unit)
    if filters.actor:
        query = query.where(AuditLog.actor == filters.actor)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.criterion:
        query = query.where(AuditLog.entity_key == filters.criterion)
    return query


def _count(session: Session, cycle_id: str, filters: AuditFilters, *where: Any) -> int:
    query = select(func.count(col(AuditLog.id))).select_from(AuditLog)
    query = query.outerjoin(Unit, col(Unit.id) == AuditLog.unit_id)
    return int(session.exec(_filtered(query, cycle_id, filters).where(*where)).one())


def trail(
    session: Session,
    *,
    cycle_id: str,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
) -> AuditPage:
    """A page of the cycle's rows, newest first (keyset paging on the row id, which only grows):
    the newest ``PAGE_SIZE``; with ``before``, those just older than that row; with ``after``,
    those just newer. The people and the actions seen in the cycle come with it."""
    query = select(AuditLog, Unit).outerjoin(Unit, col(Unit.id) == AuditLog.unit_id)
    query = _filtered(query, cycle_id, filters)
    if after is not None:
        query = query.where(col(AuditLog.id) > after).order_by(col(AuditLog.id).asc())
        rows = list(reversed(session.exec(query.limit(PAGE_SIZE)).all()))
    else:
        if before is not None:
            query = query.where(col(AuditLog.id) < before)
        rows = list(session.exec(query.order_by(col(AuditLog.id).desc()).limit(PAGE_SIZE)).all())
    people = session.exec(
        select(AuditLog.actor).where(AuditLog.cycle_id == cycle_id).distinct()
    ).all()
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.cycle_id == cycle_id).distinct()
    ).all()
    lines = [
        AuditLine(
            at=r.at,
            actor=r.actor,
            unit=u.name if u is not None else "",
            entity=r.entity,
            entity_key=r.entity_key,
            action=r.action,
            changes=_changes(r.before, r.after),
        )
        for r, u in rows
    ]
    total = _count(session, cycle_id, filters)
    newer_rows = older_rows = 0
    if rows:
        newer_rows = _count(session, cycle_id, filters, col(AuditLog.id) > rows[0][0].id)
        older_rows = _count(session, cycle_id, filters, col(AuditLog.id) < rows[-1][0].id)
    return AuditPage(
        lines=lines,
        total=total,
        first=newer_rows + 1 if rows else 0,
        newer=rows[0][0].id if newer_rows else None,
        older=rows[-1][0].id if older_rows else None,
        people=sorted(people),
        actions=sorted(actions),
    )
