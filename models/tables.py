"""SQLModel tables: the database owns the content (docs/architecture.md, "Who owns what").

The workflow owns the process; `CycleUnit` is the projection of each unit's workflow state that
pages and the edit gate read. All times are aware UTC (UTCDateTime), all points Decimal
(DecimalType). Each field's description carries the Vietnamese term.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import DecimalType, UTCDateTime, utcnow
from models.states import CycleState, UnitState


def _dec(nullable: bool = True, **kw: Any) -> Any:
    return Field(sa_type=DecimalType, nullable=nullable, **kw)


def _ts(nullable: bool = True, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


def _json(**kw: Any) -> Any:
    return Field(sa_type=JSON, **kw)


class Role(StrEnum):
    """Roles a person may hold (several at once)."""

    coordinator = "coordinator"  # cơ quan thường trực
    unit_office = "unit_office"  # lãnh đạo / văn phòng đơn vị
    staff = "staff"  # cán bộ, công chức phụ trách
    council = "council"  # cơ quan thẩm định / hội đồng thẩm định
    viewer = "viewer"  # lãnh đạo UBND (xem)


class Unit(SQLModel, table=True):
    """A unit of local government (cơ quan, đơn vị, địa phương)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64, description="Mã đơn vị")
    name: str = Field(max_length=255, description="Tên đơn vị")
    group: str = Field(default="commune", max_length=64, description="Nhóm xếp hạng")
    email: str = Field(default="", max_length=255, description="Thư điện tử văn phòng")
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class User(SQLModel, table=True):
    """A person with their own account (tài khoản cá nhân)."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64, description="Tên đăng nhập")
    full_name: str = Field(default="", max_length=255, description="Họ và tên")
    email: str = Field(default="", max_length=255, description="Thư điện tử")
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class RoleGrant(SQLModel, table=True):
    """One role of a user, scoped to a unit (unit_office, staff) or an agency (council)."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "unit_id", "agency"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: Role = Field(max_length=32, description="Vai trò")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", description="Đơn vị")
    agency: str | None = Field(default=None, max_length=255, description="Cơ quan thẩm định")


class LoginThrottle(SQLModel, table=True):
    """Failed logins per key (a username or a client address): temporary throttling, no lockout."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=320)
    failures: int = Field(default=0, description="Số lần đăng nhập sai liên tiếp")
    first_failure_at: datetime | None = _ts()
    locked_until: datetime | None = _ts(description="Tạm khóa đăng nhập đến")


class AuthSession(SQLModel, table=True):
    """A sign-in (phiên đăng nhập): a browser cookie or an API token names one; revocable."""

    __tablename__ = "auth_session"

    id: str = Field(primary_key=True, max_length=64, description="Random id carried by the token")
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=16, description="session (cookie) | api (bearer token)")
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    last_seen_at: datetime = _ts(nullable=False, default_factory=utcnow)
    expires_at: datetime = _ts(nullable=False, description="Absolute end of the session")
    revoked_at: datetime | None = _ts(description="Ended (logout, password change, coordinator)")
    revoked_reason: str = Field(default="", max_length=32)
    address: str = Field(default="", max_length=64, description="Địa chỉ đăng nhập")
    user_agent: str = Field(default="", max_length=255, description="Trình duyệt")


class PasswordLink(SQLModel, table=True):
    """A one-time, expiring link to set a password (đặt lại mật khẩu / tài khoản mới)."""

    __tablename__ = "password_link"

    id: str = Field(primary_key=True, max_length=64, description="SHA-256 of the link's secret")
    user_id: int = Field(foreign_key="user.id", index=True)
    purpose: str = Field(max_length=16, description="reset | welcome")
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts()


class FrameworkRecord(SQLModel, table=True):
    """A stored framework version (bộ tiêu chí); published versions are immutable."""

    __tablename__ = "framework"
    __table_args__ = (UniqueConstraint("name", "year", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=500, description="Tên bộ tiêu chí")
    year: int = Field(description="Năm áp dụng")
    unit_kind: str = Field(max_length=64, description="Loại đơn vị áp dụng")
    version: int = Field(default=1, description="Phiên bản")
    status: str = Field(default="draft", max_length=16, description="Trạng thái: nháp/ban hành")
    spec: dict[str, Any] = _json(description="Cây tiêu chí (JSON)")
    spec_hash: str = Field(max_length=64, description="SHA-256 của cây tiêu chí")
    max_total: Decimal = _dec(nullable=False, description="Tổng điểm tối đa")
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    published_at: datetime | None = _ts()


class Cycle(SQLModel, table=True):
    """A yearly cycle (kỳ đánh giá) run by a coordinator for a set of units."""

    id: str = Field(primary_key=True, max_length=64, description="Mã kỳ đánh giá")
    year: int = Field(description="Năm đánh giá")
    title: str = Field(max_length=500, description="Tên kỳ đánh giá")
    framework_id: int = Field(foreign_key="framework.id")
    state: CycleState = Field(default=CycleState.draft, max_length=32)
    opens_at: datetime = _ts(nullable=False, description="Mở kỳ")
    data_cutoff_at: datetime = _ts(nullable=False, description="Thời điểm chốt số liệu")
    submission_deadline: datetime = _ts(nullable=False, description="Hạn gửi kết quả")
    hard_lock_at: datetime = _ts(nullable=False, description="Khóa phần mềm")
    appraisal_deadline: datetime = _ts(nullable=False, description="Hạn thẩm định")
    results_target: datetime = _ts(nullable=False, description="Dự kiến công bố kết quả")
    explanation_round_days: int = Field(default=5, description="Số ngày mỗi vòng giải trình")
    max_explanation_rounds: int = Field(default=2, description="Số vòng giải trình tối đa")
    reminder_offsets_hours: list[int] = _json(description="Nhắc trước hạn (giờ)")
    followup_analysis_days: int = Field(default=10, description="Báo cáo phân tích (ngày)")
    followup_plan_days: int = Field(default=20, description="Kế hoạch khắc phục (ngày)")
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    published_at: datetime | None = _ts()


class CycleUnit(SQLModel, table=True):
    """A unit in a cycle: the projection of its workflow (state, deadlines, results)."""

    __tablename__ = "cycle_unit"
    __table_args__ = (UniqueConstraint("cycle_id", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", index=True, max_length=64)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    group: str = Field(default="commune", max_length=64, description="Nhóm xếp hạng")
    state: UnitState = Field(default=UnitState.assigning, max_length=32, description="Trạng thái")
    workflow_id: str = Field(max_length=200)
    submission_deadline: datetime = _ts(nullable=False, description="Hạn gửi kết quả")
    hard_lock_at: datetime = _ts(nullable=False, description="Khóa phần mềm")
    submitted_at: datetime | None = _ts(description="Thời điểm gửi")
    days_late: int = Field(default=0, description="Số ngày gửi chậm")
    snapshot_id: int | None = Field(default=None)
    round_no: int = Field(default=0, description="Vòng giải trình hiện tại")
    explanation_deadline: datetime | None = _ts(description="Hạn giải trình")
    proposed_class: str | None = Field(default=None, max_length=32, description="Đề xuất xếp loại")
    self_total: Decimal | None = _dec(description="Tổng điểm tự chấm")
    final_total: Decimal | None = _dec(description="Tổng điểm thẩm định")
    classification: str | None = Field(default=None, max_length=32, description="Xếp loại")
    rank: int | None = Field(default=None, description="Xếp hạng")
    quota_exception: str | None = Field(
        default=None,
        max_length=64,
        description="Số quyết định cho phép giữ mức xuất sắc ngoài tỷ lệ (cấp có thẩm quyền)",
    )
    veto: str | None = Field(
        default=None,
        max_length=500,
        description="Trường hợp buộc xếp loại không hoàn thành nhiệm vụ (căn cứ)",
    )
    analysis_due: datetime | None = _ts(description="Hạn báo cáo phân tích sau công bố")
    plan_due: datetime | None = _ts(description="Hạn kế hoạch khắc phục sau công bố")
    analysis_done_at: datetime | None = _ts(description="Đã gửi báo cáo phân tích")
    plan_done_at: datetime | None = _ts(description="Đã gửi kế hoạch khắc phục")
    updated_at: datetime = _ts(nullable=False, default_factory=utcnow)


class Assignment(SQLModel, table=True):
    """Who drafts a criterion (phân công); exactly one responsible per criterion."""

    __table_args__ = (UniqueConstraint("cycle_id", "unit_id", "criterion_code", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    criterion_code: str = Field(max_length=32, description="Mã tiêu chí")
    user_id: int = Field(foreign_key="user.id", index=True)
    responsible: bool = Field(default=False, description="Chịu trách nhiệm chính")


class Entry(SQLModel, table=True):
    """One criterion of one unit's sheet: draft and appraisal (phiếu chấm điểm)."""

    __table_args__ = (UniqueConstraint("cycle_id", "unit_id", "criterion_code"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    criterion_code: str = Field(max_length=32, description="Mã tiêu chí")
    status: str = Field(default="open", max_length=16, description="open | returned | done")
    return_comment: str = Field(default="", sa_type=Text, description="Ý kiến trả lại")
    inputs: dict[str, Any] = _json(default_factory=dict, description="Số liệu tự chấm")
    self_score: Decimal | None = _dec(description="Điểm tự chấm")
    self_reason: str = Field(default="", sa_type=Text, description="Cách tính điểm tự chấm")
    explanation: str = Field(default="", sa_type=Text, description="Giải trình")
    appraised_inputs: dict[str, Any] | None = _json(default=None, description="Số liệu thẩm định")
    appraised_score: Decimal | None = _dec(description="Điểm thẩm định")
    appraisal_comment: str = Field(default="", sa_type=Text, description="Ý kiến thẩm định")
    updated_at: datetime = _ts(nullable=False, default_factory=utcnow)
    updated_by: str = Field(default="", max_length=64)


class Evidence(SQLModel, table=True):
    """An evidence document (tài liệu kiểm chứng), stored content-addressed by sha256."""

    # A sheet reads its unit's evidence, an upload a criterion's: no scan of every unit's.
    __table_args__ = (Index("ix_evidence_unit", "cycle_id", "unit_id", "criterion_code"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    criterion_code: str = Field(max_length=32)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    size: int
    doc_number: str = Field(default="", max_length=128, description="Số văn bản")
    doc_date: datetime | None = _ts(description="Ngày văn bản")
    issuer: str = Field(default="", max_length=255, description="Cơ quan ban hành")
    signed: bool = Field(default=False, description="Có chữ ký số")
    uploaded_by: str = Field(default="", max_length=64)
    uploaded_at: datetime = _ts(nullable=False, default_factory=utcnow)
    deleted_at: datetime | None = _ts()


class Snapshot(SQLModel, table=True):
    """An immutable, hashed copy of a unit's sheet (at submission, at each round's close)."""

    __table_args__ = (UniqueConstraint("cycle_id", "unit_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=32, description="submission | round-1 | … | final")
    content: dict[str, Any] = _json()
    content_hash: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)


class ExplanationRequest(SQLModel, table=True):
    """A round of explanation requests for one unit (yêu cầu giải trình)."""

    __tablename__ = "explanation_request"
    __table_args__ = (UniqueConstraint("cycle_id", "unit_id", "round_no"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle_id: str = Field(foreign_key="cycle.id", max_length=64)
    unit_id: int = Field(foreign_key="unit.id")
    round_no: int
    deadline: datetime = _ts(nullable=False, description="Hạn giải trình")
    state: str = Field(default="open", max_length=16, description="open | closed")
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    closed_at: datetime | None = _ts()


class ExplanationItem(SQLModel, table=True):
    """One flagged criterion of a round: the council's question and the unit's answer."""

    __tablename__ = "explanation_item"
    __table_args__ = (UniqueConstraint("request_id", "criterion_code"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="explanation_request.id", index=True)
    criterion_code: str = Field(max_length=32)
    question: str = Field(sa_type=Text, description="Nội dung yêu cầu giải trình")
    answer: str = Field(default="", sa_type=Text, description="Nội dung giải trình")
    answered_at: datetime | None = _ts()
    answered_by: str = Field(default="", max_length=64)


class AuditLog(SQLModel, table=True):
    """Append-only audit trail: who changed what, when, before and after (nhật ký)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_cycle_unit", "cycle_id", "unit_id"),
        # The end of a chain (services.audit seals each row after the last): one index probe,
        # not a sort of the cycle's whole trail on every write.
        Index("ix_audit_chain", "cycle_id", "chain_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False, default_factory=utcnow)
    actor: str = Field(max_length=64, description="Người thực hiện")
    cycle_id: str | None = Field(default=None, max_length=64)
    unit_id: int | None = Field(default=None)
    entity: str = Field(max_length=32, description="entry | assignment | state | deadline | …")
    entity_key: str = Field(default="", max_length=128)
    action: str = Field(max_length=64)
    before: dict[str, Any] | None = _json(default=None)
    after: dict[str, Any] | None = _json(default=None)
    request_key: str | None = Field(
        default=None, max_length=200, unique=True, description="Idempotency key of the change"
    )
    chain_seq: int | None = Field(default=None, description="Position in its cycle's chain")
    prev_hash: str | None = Field(
        default=None, max_length=64, description="row_hash of the previous row of its cycle"
    )
    row_hash: str | None = Field(
        default=None, max_length=64, description="SHA-256 of this row and prev_hash"
    )


class OutboxMessage(SQLModel, table=True):
    """An e-mail to send exactly once (per idempotency key), with its send status."""

    __tablename__ = "outbox_message"
    # The backlog (metrics, readiness) counts the pending messages: no scan of all sent mail.
    # A notice's attempt finds its own rows by ``notice_key``: no scan of all mail either.
    __table_args__ = (
        Index("ix_outbox_status", "status", "created_at"),
        Index("ix_outbox_notice", "notice_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=300, unique=True)
    notice_key: str = Field(
        default="",
        max_length=300,
        description="The notice the message belongs to (activities.mail.notice_prefix), or ''",
    )
    to_addr: str = Field(max_length=255)
    subject: str = Field(max_length=500)
    body_text: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    status: str = Field(
        default="pending",
        max_length=16,
        description="pending | sending (claimed) | sent | dropped | failed",
    )
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = _ts(nullable=False, default_factory=utcnow)
    expires_at: datetime | None = _ts(description="Not sent after this instant (a passed deadline)")
    sent_at: datetime | None = _ts()
    claimed_by: str | None = Field(
        default=None, max_length=200, description="The send attempt holding the row (sending)"
    )
    claimed_at: datetime | None = _ts(description="When that attempt claimed it (wall clock)")


__all__ = [
    "Assignment",
    "AuditLog",
    "Column",
    "Cycle",
    "CycleState",
    "CycleUnit",
    "Entry",
    "Evidence",
    "ExplanationItem",
    "ExplanationRequest",
    "FrameworkRecord",
    "LoginThrottle",
    "OutboxMessage",
    "Role",
    "RoleGrant",
    "Snapshot",
    "Unit",
    "UnitState",
    "User",
]
