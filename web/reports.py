"""The "Tải về" (download) links of the unit, results and cycle pages: the documents of
``actions.reports`` as files, or as print pages (``format=html``), and the unit's sheet through
Excel (``actions.sheet_xlsx``), after the same access rule as the API route they mirror
(``web.auth.PAGE_RULES``).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from actions import reports, sheet_xlsx
from actions.reports import ReportFile
from api.deps import SessionDep, SettingsDep
from web.auth import Caller
from web.common import form_of, unit_ref, unit_url
from web.errors import REFUSALS, RefusalPageRoute
from web.flash import redirect_with
from web.forms import FormError
from web.unit_page import refused_page

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

MAX_SHEET_BYTES = 5 * 1024 * 1024


def _file(file: ReportFile) -> Response:
    disposition = "inline" if file.media_type.startswith("text/html") else "attachment"
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(file.filename)}",
            "Cache-Control": "private, no-store",
        },
    )


def _unit_page(kind: str) -> None:
    @router.get(f"/cycles/{{cycle_id}}/units/{{unit_code}}/reports/{kind}", name=f"page_{kind}")
    def unit_document(
        request: Request, cycle_id: str, caller: Caller, session: SessionDep, format: str = "docx"
    ) -> Response:
        """The unit's document in the chosen format (html: the print page)."""
        ref = unit_ref(caller, cycle_id)
        back = unit_url(cycle_id, ref.unit_code)
        return _file(reports.unit_file(session, unit=ref, kind=kind, fmt=format, back_url=back))


for _kind in reports.UnitReportKind:
    _unit_page(_kind.value)


@router.get("/cycles/{cycle_id}/reports/results")
def results_document(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep, format: str = "xlsx"
) -> Response:
    """The cycle's results (XLSX, DOCX annex, PDF or the print page)."""
    back = f"/cycles/{cycle_id}/results"
    return _file(
        reports.cycle_report(
            session, principal=caller.principal, cycle_id=cycle_id, fmt=format, back_url=back
        )
    )


@router.get("/cycles/{cycle_id}/units/{unit_code}/sheet.xlsx")
def sheet_download(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep, mode: str | None = None
) -> Response:
    """The person's criteria as an XLSX to fill in offline (locked cells where they may not)."""
    ref = unit_ref(caller, cycle_id)
    return _file(sheet_xlsx.download(session, principal=caller.principal, unit=ref, mode=mode))


@router.post("/cycles/{cycle_id}/units/{unit_code}/sheet.xlsx")
def sheet_upload(
    request: Request,
    cycle_id: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
    mode: str | None = None,
) -> Response:
    """The filled-in XLSX: all rows through the edit gate, or the errors on the unit page."""
    ref = unit_ref(caller, cycle_id)
    upload = form_of(caller).get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError("file", "Chưa chọn tệp Excel.")
        data = upload.file.read(MAX_SHEET_BYTES + 1)
        if len(data) > MAX_SHEET_BYTES:
            raise FormError("file", "Tệp Excel quá lớn (tối đa 5 MB).")
        result = sheet_xlsx.upload(
            session, principal=caller.principal, unit=ref, data=data, mode=mode
        )
    except REFUSALS as exc:
        return refused_page(request, session, caller, cycle_id, exc, None)
    done = ", ".join(result.changed) or "không có thay đổi"
    message = f"Đã cập nhật từ tệp Excel {len(result.changed)} tiêu chí: {done}."
    return redirect_with(settings, unit_url(cycle_id, ref.unit_code), message)
