"""Documents: a unit's reports, the cycle's results, and the unit's sheet as XLSX (download and
upload). Each route runs its access rule (``api.access.POLICY``: another unit's report is a
404, like its sheet) and calls ``actions.reports`` / ``actions.sheet_xlsx``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from actions import reports, sheet_xlsx
from actions.reports import ReportFile
from api.deps import CurrentUser, DbId, SessionDep
from api.errors import COMMON_RESPONSES, CONFLICT, FieldError, Problem, field_problem
from api.routes.sheet import unit_ref
from api.routing import TransactionRoute

__all__ = ["router"]

router = APIRouter(
    route_class=TransactionRoute,
    prefix="/api/cycles/{cycle_id}",
    tags=["reports"],
    responses=COMMON_RESPONSES,
)

FORMAT_DOC = "docx | xlsx | pdf (LibreOffice on the server, else 503) | html (the print page)"
MAX_SHEET_BYTES = 5 * 1024 * 1024
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {m: {} for m in reports.MEDIA.values()}, "description": "the file"}
}


def download(file: ReportFile) -> Response:
    """The file as an attachment (the Vietnamese-safe name in RFC 5987 form)."""
    inline = file.media_type.startswith("text/html")
    disposition = "inline" if inline else "attachment"
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(file.filename)}",
            "Cache-Control": "private, no-store",
        },
    )


SUMMARIES = {
    "self": "báo cáo tự đánh giá, chấm điểm",
    "appraisal": "kết quả thẩm định",
    "analysis": "dự thảo báo cáo phân tích tiêu chí bị trừ điểm",
}


def _unit_report(kind: str) -> None:
    @router.get(
        f"/units/{{unit_id}}/reports/{kind}",
        summary=f"Tải về {SUMMARIES[kind]}",
        response_class=Response,
        responses=_FILES,
        name=f"unit_report_{kind}",
    )
    def unit_report(
        cycle_id: str,
        unit_id: DbId,
        principal: CurrentUser,
        session: SessionDep,
        format: Annotated[str, Query(description=FORMAT_DOC, max_length=8)] = "docx",
    ) -> Response:
        """The unit's document; "DỰ THẢO" while unfinished, the snapshot's hash once submitted."""
        ref = unit_ref(session, principal, cycle_id, unit_id)
        back = f"/cycles/{quote(cycle_id)}/units/{quote(ref.unit_code)}"
        return download(reports.unit_file(session, unit=ref, kind=kind, fmt=format, back_url=back))


for _kind in reports.UnitReportKind:
    _unit_report(_kind.value)


@router.get(
    "/reports/results",
    summary="Tải về kết quả xếp loại của kỳ",
    response_class=Response,
    responses=_FILES,
)
def results_report(
    cycle_id: str,
    principal: CurrentUser,
    session: SessionDep,
    format: Annotated[str, Query(description=FORMAT_DOC, max_length=8)] = "xlsx",
) -> Response:
    """Per group: every area's score, total, rank with ties, class and the quota note."""
    back = f"/cycles/{quote(cycle_id)}/results"
    return download(
        reports.cycle_report(
            session, principal=principal, cycle_id=cycle_id, fmt=format, back_url=back
        )
    )


# --- the unit's sheet through Excel --------------------------------------------------------

MODE_DOC = "self (the unit's people) | appraisal (the council); default from the caller's roles"


class UploadOut(BaseModel):
    """An accepted upload: the criteria it changed (one audit row each)."""

    mode: str
    changed: list[str]


@router.get(
    "/units/{unit_id}/sheet.xlsx",
    summary="Tải phiếu chấm điểm (Excel) để nhập ngoại tuyến",
    response_class=Response,
    responses=_FILES,
)
def sheet_download(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    mode: Annotated[str | None, Query(description=MODE_DOC, max_length=16)] = None,
) -> Response:
    """The caller's criteria (the office: the whole sheet), locked cells where they may not edit."""
    ref = unit_ref(session, principal, cycle_id, unit_id)
    return download(sheet_xlsx.download(session, principal=principal, unit=ref, mode=mode))


@router.post(
    "/units/{unit_id}/sheet.xlsx",
    summary="Gửi phiếu chấm điểm (Excel) đã nhập",
    response_model=UploadOut,
    responses=CONFLICT,
)
def sheet_upload(
    cycle_id: str,
    unit_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    file: UploadFile,
    mode: Annotated[str | None, Query(description=MODE_DOC, max_length=16)] = None,
) -> UploadOut:
    """Checked row by row, applied through the edit gate; any error: 422 and nothing saved."""
    ref = unit_ref(session, principal, cycle_id, unit_id)
    data = file.file.read(MAX_SHEET_BYTES + 1)
    if len(data) > MAX_SHEET_BYTES:
        raise field_problem(413, "file", "Tệp Excel quá lớn (tối đa 5 MB).")
    try:
        result = sheet_xlsx.upload(session, principal=principal, unit=ref, data=data, mode=mode)
    except sheet_xlsx.SheetUploadInvalid as exc:
        errors = [
            FieldError(field=f"{e.sheet}!{e.column}{e.row}", reason=e.message(), location="file")
            for e in exc.errors
        ]
        raise Problem(
            422,
            f"Tệp có {len(errors)} lỗi, chưa lưu nội dung nào.",
            slug="validation",
            errors=errors,
            code=exc.code,
        ) from exc
    return UploadOut(mode=result.mode, changed=result.changed)
