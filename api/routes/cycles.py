"""Cycles (kỳ đánh giá): create, start, read, extend deadlines, classify, publish, results.

Times are accepted as ISO 8601; a time without a zone is Vietnamese local time
(Asia/Ho_Chi_Minh) and is converted to UTC here, at the edge. Commands that move the process go
to the cycle's workflow as updates (refusals: 409 with the reason in Vietnamese and English).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from actions import cycles as actions
from actions.common import LocalTime
from api.access import MAX_ID, cycle_visible
from api.commands import IdempotencyKey
from api.deps import CurrentUser, SessionDep, SettingsDep, TemporalDep
from api.errors import COMMON_RESPONSES, CONFLICT
from api.routing import TransactionRoute
from api.views import CycleSummary, CycleView, ResultsView, cycle_summary, cycle_view, results_view
from contracts.messages import CycleStatus
from services.classification import classification_preview, set_classification_decision
from services.cycles import DEFAULT_REMINDER_OFFSETS, CycleSpec

router = APIRouter(
    route_class=TransactionRoute,
    prefix="/api/cycles",
    tags=["cycles"],
    responses={**COMMON_RESPONSES, **CONFLICT},
)


CYCLE_ID_RE = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class CycleCreate(BaseModel):
    """A new cycle: the framework, the units and the timeline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "2024-dinh-hoa",
                    "year": 2024,
                    "title": "Đánh giá CCHC năm 2024 các xã huyện Định Hóa",
                    "framework_id": 1,
                    "units": ["binh-thanh", "phuong-tien"],
                    "opens_at": "2024-11-01T08:00:00",
                    "data_cutoff_at": "2024-11-20T23:59:59",
                    "submission_deadline": "2024-11-22T17:00:00",
                    "hard_lock_at": "2024-11-25T17:00:00",
                    "appraisal_deadline": "2024-12-10T17:00:00",
                    "results_target": "2024-12-20T08:00:00",
                }
            ]
        },
    )

    id: str = Field(pattern=CYCLE_ID_RE, description="Mã kỳ đánh giá")
    year: int = Field(ge=2000, le=2100, description="Năm đánh giá")
    title: str = Field(min_length=1, max_length=500, description="Tên kỳ đánh giá")
    framework_id: int = Field(ge=1, le=MAX_ID, description="Bộ tiêu chí đã ban hành")
    units: list[str] = Field(min_length=1, max_length=10000, description="Mã các đơn vị")
    opens_at: LocalTime = Field(description="Mở kỳ (giờ Việt Nam nếu không ghi múi giờ)")
    data_cutoff_at: LocalTime = Field(description="Thời điểm chốt số liệu")
    submission_deadline: LocalTime = Field(description="Hạn gửi kết quả")
    hard_lock_at: LocalTime = Field(description="Phần mềm tự động khóa")
    appraisal_deadline: LocalTime = Field(description="Hạn thẩm định")
    results_target: LocalTime = Field(description="Dự kiến công bố kết quả")
    explanation_round_days: int = Field(default=5, ge=1, le=60)
    max_explanation_rounds: int = Field(default=2, ge=0, le=10)
    reminder_offsets_hours: list[Annotated[int, Field(ge=0, le=24 * 366)]] = Field(
        default=list(DEFAULT_REMINDER_OFFSETS),
        max_length=20,
        description="Nhắc trước mỗi hạn (giờ); 0 = sáng ngày hết hạn",
    )
    followup_analysis_days: int = Field(default=10, ge=1, le=365)
    followup_plan_days: int = Field(default=20, ge=1, le=365)


class DeadlinesIn(BaseModel):
    """An extension of the submission deadline and/or the hard lock, for all or some units."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "units": ["binh-thanh"],
                    "submission_deadline": "2024-11-27T17:00:00",
                    "hard_lock_at": "2024-11-29T17:00:00",
                    "reason": "Gia hạn do mất điện kéo dài",
                }
            ]
        },
    )

    units: list[str] | None = Field(default=None, max_length=10000, description="None: mọi đơn vị")
    submission_deadline: LocalTime | None = None
    hard_lock_at: LocalTime | None = None
    reason: str = Field(default="", max_length=2000, description="Lý do gia hạn")


class ReasonIn(BaseModel):
    """A reason (cancel)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "…"}]})

    reason: str = Field(min_length=1, max_length=2000, description="Lý do")


@router.get("", response_model=list[CycleSummary], summary="Danh sách kỳ đánh giá")
def list_cycles(principal: CurrentUser, session: SessionDep) -> list[CycleSummary]:
    """The cycles the caller takes part in (all of them for coordinators, viewers, council)."""
    return [cycle_summary(c) for c in actions.visible_cycles(session, principal)]


@router.post(
    "", response_model=CycleView, status_code=status.HTTP_201_CREATED, summary="Tạo kỳ đánh giá"
)
def post_cycle(cycle_in: CycleCreate, principal: CurrentUser, session: SessionDep) -> CycleView:
    """Creates a draft cycle with its units and timeline (a published framework is required)."""
    cycle = actions.create(
        session=session,
        principal=principal,
        spec=CycleSpec(
            cycle_id=cycle_in.id,
            year=cycle_in.year,
            title=cycle_in.title,
            framework_id=cycle_in.framework_id,
            units=cycle_in.units,
            opens_at=cycle_in.opens_at,
            data_cutoff_at=cycle_in.data_cutoff_at,
            submission_deadline=cycle_in.submission_deadline,
            hard_lock_at=cycle_in.hard_lock_at,
            appraisal_deadline=cycle_in.appraisal_deadline,
            results_target=cycle_in.results_target,
            explanation_round_days=cycle_in.explanation_round_days,
            max_explanation_rounds=cycle_in.max_explanation_rounds,
            reminder_offsets_hours=cycle_in.reminder_offsets_hours,
            followup_analysis_days=cycle_in.followup_analysis_days,
            followup_plan_days=cycle_in.followup_plan_days,
        ),
    )
    return cycle_view(session, cycle, principal, with_progress=False)


@router.get("/{cycle_id}", response_model=CycleView, summary="Một kỳ đánh giá")
def get_cycle(cycle_id: str, principal: CurrentUser, session: SessionDep) -> CycleView:
    """Timeline, state, and each visible unit's state, deadlines and progress."""
    return cycle_view(session, cycle_visible(session, principal, cycle_id), principal)


@router.post(
    "/{cycle_id}/start",
    response_model=CycleView,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Bắt đầu kỳ đánh giá",
)
async def start(
    cycle_id: str,
    request: Request,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    client: TemporalDep,
) -> CycleView:
    """Starts one workflow per unit (safe to retry: business-key ids, no twins)."""
    await actions.start(
        client=client,
        engine=request.app.state.engine,
        task_queue=settings.temporal_task_queue,
        cycle_id=cycle_id,
    )
    session.expire_all()
    return cycle_view(session, cycle_visible(session, principal, cycle_id), principal)


@router.post("/{cycle_id}/deadlines", response_model=actions.ExtendResult, summary="Gia hạn")
async def deadlines(
    cycle_id: str,
    body: DeadlinesIn,
    request: Request,
    principal: CurrentUser,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> actions.ExtendResult:
    """Extends the submission deadline and/or the hard lock, for every unit or some.

    The units' timers move and their reminders are re-planned; a deadline in the past is
    refused (409). The answer lists each extended unit's new deadlines (``units``).
    """
    return await actions.extend(
        client=client,
        engine=request.app.state.engine,
        principal=principal,
        cycle_id=cycle_id,
        units=body.units,
        submission_deadline=body.submission_deadline,
        hard_lock_at=body.hard_lock_at,
        reason=body.reason,
        key=key,
    )


@router.post(
    "/{cycle_id}/close-appraisal", response_model=CycleStatus, summary="Kết thúc thẩm định"
)
async def close_appraisal(
    cycle_id: str, principal: CurrentUser, client: TemporalDep, key: IdempotencyKey = None
) -> CycleStatus:
    """Closes the appraisal: every unit still under appraisal is finalised."""
    return await actions.close_appraisal(
        client=client, principal=principal, cycle_id=cycle_id, key=key
    )


@router.post("/{cycle_id}/classify", response_model=CycleStatus, summary="Xếp loại")
async def classify(
    cycle_id: str, principal: CurrentUser, client: TemporalDep, key: IdempotencyKey = None
) -> CycleStatus:
    """Computes totals, bands, quotas and ranks per group."""
    return await actions.classify(client=client, principal=principal, cycle_id=cycle_id, key=key)


class ClassificationDecisionIn(BaseModel):
    """The competent level's decisions on one unit's classification (None clears)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"quota_exception": "125/QĐ-UBND", "veto": None}]},
    )

    quota_exception: str | None = Field(
        default=None,
        max_length=64,
        description="Số quyết định cho phép giữ mức xuất sắc ngoài tỷ lệ 20%",
    )
    veto: str | None = Field(
        default=None,
        max_length=500,
        description="Căn cứ buộc xếp loại không hoàn thành nhiệm vụ (vd. quyết định kỷ luật)",
    )


class ClassificationPreviewRow(BaseModel):
    """One unit as classifying now would place it."""

    unit: str
    group: str
    total: str
    measure: str = Field(description="Giá trị so với mức xếp loại (tỷ lệ trên điểm áp dụng)")
    natural_band: str = Field(description="Mức theo điểm số")
    band: str = Field(description="Mức sau tỷ lệ và trường hợp buộc")
    band_label: str
    rank: int
    quota_demoted: bool = Field(description="Bị hạ một mức do vượt tỷ lệ xuất sắc")
    quota_exception: str
    vetoed: bool
    reasons: list[str]


@router.get(
    "/{cycle_id}/classification-preview",
    response_model=list[ClassificationPreviewRow],
    summary="Xem trước xếp loại",
)
def get_classification_preview(
    cycle_id: str, principal: CurrentUser, session: SessionDep
) -> list[ClassificationPreviewRow]:
    """What classifying now would give: who the quota moves down and why (nothing written)."""
    rows = classification_preview(session, cycle_id=cycle_id)
    return [ClassificationPreviewRow.model_validate(r) for r in rows]


@router.put(
    "/{cycle_id}/units/{unit_id}/classification-decision",
    summary="Căn cứ xếp loại của đơn vị",
)
def put_classification_decision(
    cycle_id: str,
    unit_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ClassificationDecisionIn,
    principal: CurrentUser,
    session: SessionDep,
) -> dict[str, str | None]:
    """Records the decision number of an approved quota exception and/or a veto (audited)."""
    return set_classification_decision(
        session,
        cycle_id=cycle_id,
        unit_id=unit_id,
        quota_exception=body.quota_exception,
        veto=body.veto,
        actor=principal.username,
        at=datetime.now(UTC),
    )


@router.post("/{cycle_id}/publish", response_model=CycleStatus, summary="Công bố kết quả")
async def publish(
    cycle_id: str, principal: CurrentUser, client: TemporalDep, key: IdempotencyKey = None
) -> CycleStatus:
    """Publishes the results: everyone is told; the follow-up deadlines start."""
    return await actions.publish(client=client, principal=principal, cycle_id=cycle_id, key=key)


@router.post("/{cycle_id}/cancel", response_model=CycleStatus, summary="Hủy kỳ đánh giá")
async def cancel(
    cycle_id: str,
    body: ReasonIn,
    principal: CurrentUser,
    client: TemporalDep,
    key: IdempotencyKey = None,
) -> CycleStatus:
    """Cancels the whole cycle, with a reason."""
    return await actions.cancel(
        client=client, principal=principal, cycle_id=cycle_id, reason=body.reason, key=key
    )


@router.get("/{cycle_id}/results", response_model=ResultsView, summary="Kết quả")
def results(cycle_id: str, principal: CurrentUser, session: SessionDep) -> ResultsView:
    """Totals, classification and rank by group: everyone's once published, else what the
    caller may see."""
    return results_view(session, cycle_visible(session, principal, cycle_id), principal)
