"""The "Tải về" (download) links of the unit, results and cycle pages: the documents of
``actions.reports`` as files, or as print pages (``format=html``), after the same access rule
as the API route they mirror (``web.auth.PAGE_RULES``).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from actions import reports
from actions.reports import ReportFile
from api.deps import SessionDep
from web.auth import Caller
from web.common import unit_ref, unit_url
from web.errors import RefusalPageRoute

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)


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
