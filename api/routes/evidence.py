"""Evidence documents of a criterion: upload (multipart), download (attachment), detach.

Uploads pass the same edit gate as drafts. Files are checked by content (pdf, docx, xlsx, odt,
jpg, png), limited in size (``APPRAISAL_MAX_UPLOAD_MB``), stored once per sha256, and their
names sanitised. The response carries the checks shown to staff and council.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from fastapi.responses import FileResponse

from actions import evidence as documents
from api.deps import CurrentUser, DbId, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, CONFLICT, Problem, problem_doc
from api.routes.sheet import unit_ref
from api.routing import TransactionRoute
from services.evidence import EvidencePublic, file_path

router = APIRouter(
    route_class=TransactionRoute,
    prefix="/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/evidence",
    tags=["evidence"],
    responses={**COMMON_RESPONSES, **CONFLICT},
)


@router.post(
    "",
    response_model=EvidencePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Đính kèm tài liệu kiểm chứng",
    responses={
        413: problem_doc(413, "Tệp vượt quá dung lượng cho phép"),
        415: problem_doc(415, "Nội dung tệp không thuộc loại được chấp nhận"),
    },
)
def upload(
    cycle_id: str,
    unit_id: DbId,
    code: str,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, ODT, JPG hoặc PNG")],
    doc_number: Annotated[str, Form(max_length=128, description="Số văn bản")] = "",
    doc_date: Annotated[
        str, Form(max_length=32, description="Ngày văn bản: 25/11/2024 hoặc 2024-11-25")
    ] = "",
    issuer: Annotated[str, Form(max_length=255, description="Cơ quan ban hành")] = "",
) -> EvidencePublic:
    """Attaches a document to a criterion (with its number, date and issuer).

    Checked: the edit gate (409), the size (413), the type by content (415), an empty file
    (422). The same file twice on one criterion is attached once.
    """
    unit = unit_ref(session, principal, cycle_id, unit_id)
    return documents.upload(
        session,
        principal=principal,
        settings=settings,
        unit=unit,
        code=code,
        file=file.file,
        filename=file.filename or "",
        doc_number=doc_number,
        doc_date=doc_date,
        issuer=issuer,
    )


@router.get(
    "/{evidence_id}",
    summary="Tải tài liệu kiểm chứng",
    response_class=FileResponse,
    responses={200: {"description": "The file, as an attachment", "content": {"*/*": {}}}},
)
def download(
    cycle_id: str,
    unit_id: DbId,
    code: str,
    evidence_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    """Downloads the document as an attachment with its type (never rendered inline)."""
    unit = unit_ref(session, principal, cycle_id, unit_id)
    row = documents.evidence_row(session, unit=unit, code=code, evidence_id=evidence_id)
    path = file_path(settings.evidence_dir, row.sha256)
    if not path.is_file():
        raise Problem(
            410, "Tệp không còn trong kho lưu trữ.", slug="evidence-missing", title="Mất tệp"
        )
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


@router.delete(
    "/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Gỡ tài liệu kiểm chứng",
)
def remove(
    cycle_id: str,
    unit_id: DbId,
    code: str,
    evidence_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
) -> Response:
    """Detaches a document (through the edit gate); snapshots keep their copy of its hash."""
    unit = unit_ref(session, principal, cycle_id, unit_id)
    documents.delete(session, principal=principal, unit=unit, code=code, evidence_id=evidence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
