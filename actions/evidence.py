"""Evidence of a criterion: attach a document, detach one.

Both pass the same edit gate as a draft. The file is checked (size, type by content, empty) and
stored once per sha256 before the gate takes the unit's write lock, so a large upload never
holds that lock while it is copied.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlmodel import Session

from actions.common import UnitRef, editor_for
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.settings import Settings
from models.tables import Cycle, Evidence
from services.accounts import Principal
from services.evidence import (
    EvidenceMeta,
    EvidencePublic,
    add_evidence,
    delete_evidence,
    evidence_public,
    parse_doc_date,
    store_file,
)
from services.sheet import check_draft_gate

__all__ = ["FormInvalid", "delete", "evidence_row", "upload"]


class FormInvalid(Invalid):
    """An invalid multipart form field (the problem document says ``in: form``)."""

    location = "form"


def _meta(doc_number: str, doc_date: str, issuer: str) -> EvidenceMeta:
    try:
        parsed = parse_doc_date(doc_date) if doc_date.strip() else None
    except ValueError as exc:
        raise FormInvalid(
            "invalid_date",
            "Ngày văn bản không hợp lệ (dd/mm/yyyy).",
            "The document date is not a valid date (dd/mm/yyyy).",
            field="doc_date",
        ) from exc
    return EvidenceMeta(doc_number=doc_number, doc_date=parsed, issuer=issuer)


def upload(
    session: Session,
    *,
    principal: Principal,
    settings: Settings,
    unit: UnitRef,
    code: str,
    file: BinaryIO,
    filename: str,
    doc_number: str = "",
    doc_date: str = "",
    issuer: str = "",
) -> EvidencePublic:
    """Attaches a document to a criterion; its checks (date, signature, …) come back."""
    meta = _meta(doc_number, doc_date, issuer)
    # The request's clock, read before the upload is copied; the file is stored (content-
    # addressed, an orphan is harmless) BEFORE the gate takes the unit's write lock.
    now = utcnow()
    stored = store_file(
        file,
        filename=filename,
        evidence_dir=settings.evidence_dir,
        max_bytes=settings.max_upload_mb * 1024 * 1024,
    )
    check_draft_gate(
        session,
        cycle_id=unit.cycle_id,
        unit_code=unit.unit_code,
        criterion_code=code,
        editor=editor_for(principal, unit.unit_id),
        now=now,
    )
    row = add_evidence(
        session,
        cycle_id=unit.cycle_id,
        unit_id=unit.unit_id,
        criterion_code=code,
        stored=stored,
        meta=meta,
        actor=principal.username,
    )
    cycle = session.get(Cycle, unit.cycle_id)
    return evidence_public(
        session, row, data_cutoff_at=cycle.data_cutoff_at if cycle is not None else None
    )


def evidence_row(session: Session, *, unit: UnitRef, code: str, evidence_id: int) -> Evidence:
    """A document attached to the criterion and not detached (404 otherwise)."""
    row = session.get(Evidence, evidence_id)
    if (
        row is None
        or row.deleted_at is not None
        or row.cycle_id != unit.cycle_id
        or row.unit_id != unit.unit_id
        or row.criterion_code != code
    ):
        raise NotFound(
            "not_found", "Không tìm thấy tài liệu kiểm chứng.", "No such evidence document."
        )
    return row


def delete(
    session: Session, *, principal: Principal, unit: UnitRef, code: str, evidence_id: int
) -> None:
    """Detaches a document (through the edit gate); snapshots keep their copy of its hash."""
    row = evidence_row(session, unit=unit, code=code, evidence_id=evidence_id)
    check_draft_gate(
        session,
        cycle_id=unit.cycle_id,
        unit_code=unit.unit_code,
        criterion_code=code,
        editor=editor_for(principal, unit.unit_id),
        now=utcnow(),
    )
    delete_evidence(session, evidence=row, actor=principal.username)
