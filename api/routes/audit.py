"""The audit trail's integrity: the coordinator checks that a cycle's hash chain is intact."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from api.errors import COMMON_RESPONSES
from api.routing import TransactionRoute
from services.audit import verify

router = APIRouter(
    route_class=TransactionRoute, prefix="/api/audit", tags=["audit"], responses=COMMON_RESPONSES
)


class AuditVerification(BaseModel):
    """Whether a chain of the audit trail recomputes; the first row that breaks it if not."""

    cycle_id: str | None
    verified: bool
    rows: int
    broken_row_id: int | None = None
    reason: str = ""
    status_vi: str


@router.get("/verify", response_model=AuditVerification, summary="Kiểm tra toàn vẹn nhật ký")
def verify_audit(
    principal: CurrentUser,
    session: SessionDep,
    cycle_id: Annotated[str | None, Query(max_length=64, description="Mã kỳ")] = None,
) -> AuditVerification:
    """Recomputes the hash chain of a cycle's audit rows (no cycle: rows outside cycles)."""
    report = verify(session, cycle_id)
    status_vi = (
        f"Đã xác minh: {report.rows} dòng nhật ký toàn vẹn."
        if report.verified
        else f"Nhật ký bị sửa hoặc xóa: dòng #{report.broken_id} không khớp."
    )
    return AuditVerification(
        cycle_id=cycle_id,
        verified=report.verified,
        rows=report.rows,
        broken_row_id=report.broken_id,
        reason=report.reason,
        status_vi=status_vi,
    )
