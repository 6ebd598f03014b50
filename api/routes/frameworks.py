"""Frameworks (bộ tiêu chí): list, read, import a file, publish, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from api.deps import CurrentUser, DbId, SessionDep, SettingsDep
from api.errors import COMMON_RESPONSES, field_problem, not_found
from api.routing import TransactionRoute
from core.errors import Refusal
from services.frameworks import (
    ExportFormat,
    FrameworkPublic,
    FrameworkSummary,
    export_framework,
    get_framework,
    list_frameworks,
    load_framework_bytes,
    public,
    publish_framework,
    store_framework,
    summary,
)


class FrameworkImported(FrameworkPublic):
    """An imported framework with what the importer could not place (line: message)."""

    warnings: list[str]


router = APIRouter(
    route_class=TransactionRoute,
    prefix="/api/frameworks",
    tags=["frameworks"],
    responses=COMMON_RESPONSES,
)


@router.get("", response_model=list[FrameworkSummary], summary="Danh sách bộ tiêu chí")
def get_frameworks(principal: CurrentUser, session: SessionDep) -> list[FrameworkSummary]:
    """Every stored version, newest year first."""
    return [summary(r) for r in list_frameworks(session)]


@router.post(
    "/import",
    response_model=FrameworkImported,
    status_code=status.HTTP_201_CREATED,
    summary="Nhập bộ tiêu chí từ tệp",
)
def import_framework(
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="YAML, hoặc bảng phụ lục TSV/CSV/XLSX")],
    name: Annotated[
        str | None, Form(max_length=500, description="Tên bộ tiêu chí (bắt buộc với bảng)")
    ] = None,
    year: Annotated[int | None, Form(ge=2000, le=2100, description="Năm áp dụng")] = None,
) -> FrameworkImported:
    """Imports a framework as a draft (the same formats as `appraisal framework import`).

    The same content again returns the stored version; a changed framework of the same name and
    year replaces the draft, or makes the next version when the current one is published.
    """
    data = file.file.read(settings.max_upload_mb * 1024 * 1024 + 1)
    if len(data) > settings.max_upload_mb * 1024 * 1024:
        raise field_problem(413, "file", "Tệp quá lớn.")
    if not data:
        raise field_problem(422, "file", "Tệp rỗng.")
    try:
        loaded = load_framework_bytes(
            data, filename=file.filename or "framework.yaml", name=name, year=year
        )
        record, _changed = store_framework(
            session, framework=loaded.framework, actor=principal.username
        )
    except Refusal as exc:  # the import's own problem shape: a form field problem, no code
        raise field_problem(exc.status, exc.field, exc.message_vi, location="form") from exc
    return FrameworkImported(**public(record).model_dump(), warnings=list(loaded.warnings))


@router.get("/{framework_id}", response_model=FrameworkPublic, summary="Một bộ tiêu chí")
def get_one(framework_id: DbId, principal: CurrentUser, session: SessionDep) -> FrameworkPublic:
    """One version with its whole tree of criteria and rules."""
    record = get_framework(session, framework_id)
    if record is None:
        raise not_found("Không tìm thấy bộ tiêu chí.")
    return public(record)


@router.get(
    "/{framework_id}/export",
    summary="Xuất bộ tiêu chí",
    response_class=Response,
    responses={
        200: {
            "description": "The framework as a YAML or XLSX file",
            "content": {
                "application/yaml": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
        }
    },
)
def export(
    framework_id: DbId,
    principal: CurrentUser,
    session: SessionDep,
    format: Annotated[ExportFormat, Query(description="yaml | xlsx")] = ExportFormat.yaml,
) -> Response:
    """Downloads one version as YAML (the canonical format) or as an annex table (XLSX)."""
    record = get_framework(session, framework_id)
    if record is None:
        raise not_found("Không tìm thấy bộ tiêu chí.")
    content, media_type, filename = export_framework(record, format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/{framework_id}/publish", response_model=FrameworkPublic, summary="Ban hành bộ tiêu chí"
)
def publish(framework_id: DbId, principal: CurrentUser, session: SessionDep) -> FrameworkPublic:
    """Publishes a draft; from then on it never changes (idempotent)."""
    if get_framework(session, framework_id) is None:
        raise not_found("Không tìm thấy bộ tiêu chí.")
    return public(publish_framework(session, framework_id=framework_id, actor=principal.username))
