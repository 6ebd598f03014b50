"""Evidence documents of a criterion: upload (multipart), download (attachment), detach.

Uploads pass the same edit gate as drafts. Files are checked by content (pdf, docx, xlsx, odt,
jpg, png), limited in size (``APPRAISAL_MAX_UPLOAD_MB``), stored once per sha256, and their
names sanitised. The response carries the checks shown to staff and council.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status
from fastapi.responses import FileResponse

from api.deps import CurrentUser, DbId, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, CONFLICT, Problem, field_problem, not_found, problem_doc
from api.routes.sheet import editor_for, load_unit
from core.db import utcnow
from models.tables import Evidence
from services.evidence import (
    EvidenceError,
    EvidenceMeta,
    EvidencePublic,
    add_evidence,
    delete_evidence,
    evidence_public,
    file_path,
    parse_doc_date,
    store_file,
)
from services.sheet import check_draft_gate

router = APIRouter(
    prefix="/api/cycles/{cycle_id}/units/{unit_id}/criteria/{code}/evidence",
    tags=["evidence"],
    responses={**COMMON_RESPONSES, **CONFLICT},
)

_STATUS = {"too_large": 413, "wrong_type": 415, "empty": 422, "invalid": 422}


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
    cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    try:
        meta = EvidenceMeta(
            doc_number=doc_number,
            doc_date=parse_doc_date(doc_date) if doc_date.strip() else None,
            issuer=issuer,
        )
    except ValueError as exc:
        raise field_problem(
            422, "doc_date", "Ngày văn bản không hợp lệ (dd/mm/yyyy).", location="form"
        ) from exc
    # The request's clock, read before the upload streams in; the file is stored (content-
    # addressed, an orphan is harmless) BEFORE the gate takes the unit's write lock, so a large
    # upload never holds that lock (on SQLite: the database's) while it is copied and checked.
    now = utcnow()
    try:
        stored = store_file(
            file.file,
            filename=file.filename or "",
            evidence_dir=settings.evidence_dir,
            max_bytes=settings.max_upload_mb * 1024 * 1024,
        )
    except EvidenceError as exc:
        raise field_problem(
            _STATUS.get(exc.kind, 422), exc.field, exc.reason_vi, location="form"
        ) from exc
    check_draft_gate(
        session,
        cycle_id=cycle_id,
        unit_code=unit.code,
        criterion_code=code,
        editor=editor_for(principal, unit_id),
        now=now,
    )
    row = add_evidence(
        session,
        cycle_id=cycle_id,
        unit_id=unit_id,
        criterion_code=code,
        stored=stored,
        meta=meta,
        actor=principal.username,
    )
    return evidence_public(session, row, data_cutoff_at=cycle.data_cutoff_at)


def _evidence(session: SessionDep, cycle_id: str, unit_id: int, code: str, eid: int) -> Evidence:
    row = session.get(Evidence, eid)
    if (
        row is None
        or row.deleted_at is not None
        or row.cycle_id != cycle_id
        or row.unit_id != unit_id
        or row.criterion_code != code
    ):
        raise not_found("Không tìm thấy tài liệu kiểm chứng.")
    return row


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
    load_unit(session, principal, cycle_id, unit_id)
    row = _evidence(session, cycle_id, unit_id, code, evidence_id)
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
    _cycle, _cu, unit = load_unit(session, principal, cycle_id, unit_id)
    row = _evidence(session, cycle_id, unit_id, code, evidence_id)
    check_draft_gate(
        session,
        cycle_id=cycle_id,
        unit_code=unit.code,
        criterion_code=code,
        editor=editor_for(principal, unit_id),
        now=utcnow(),
    )
    delete_evidence(session, evidence=row, actor=principal.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
