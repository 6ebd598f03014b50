"""Evidence documents (tài liệu kiểm chứng): content-addressed files plus metadata and checks.

Files are stored once per content under ``<evidence_dir>/<ab>/<cd>/<sha256>``; the database keeps
one ``Evidence`` row per attachment to a criterion (the same file may prove several criteria).
The type is decided by the content (pdf, docx, xlsx, odt, jpg, png), never by the name alone;
the stored name is sanitised and given the extension of the detected type.
Checks shown to staff and council: a placeholder or missing document number, a document dated
after the data cut-off, the same file attached to several criteria, a PDF without a signature
dictionary (the certificate chain is not verified).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from core.db import utcnow
from core.errors import Invalid
from core.vn import VN_TZ, vn_date, vn_decimal
from models.tables import Evidence
from services import audit
from services.storage import Storage, local_storage

__all__ = [
    "EVIDENCE_TYPES",
    "CheckCode",
    "EvidenceCheck",
    "EvidenceMeta",
    "EvidencePublic",
    "EvidenceRejected",
    "EvidenceTooLarge",
    "EvidenceType",
    "EvidenceWrongType",
    "StoredFile",
    "add_evidence",
    "check_evidence",
    "delete_evidence",
    "evidence_public",
    "file_path",
    "is_placeholder_number",
    "list_evidence",
    "parse_doc_date",
    "pdf_has_signature",
    "sanitise_filename",
    "sniff",
    "store_file",
]

CHUNK = 1 << 16
# One file attached to at least this many criteria of a sheet is flagged.
REUSE_THRESHOLD = 2


@dataclass(frozen=True)
class EvidenceType:
    """An accepted kind of document."""

    ext: str
    content_type: str
    label: str


EVIDENCE_TYPES: dict[str, EvidenceType] = {
    t.ext: t
    for t in (
        EvidenceType("pdf", "application/pdf", "PDF"),
        EvidenceType(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word (docx)",
        ),
        EvidenceType(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel (xlsx)",
        ),
        EvidenceType("odt", "application/vnd.oasis.opendocument.text", "OpenDocument (odt)"),
        EvidenceType("jpg", "image/jpeg", "JPEG"),
        EvidenceType("png", "image/png", "PNG"),
    )
}


class EvidenceRejected(Invalid):
    """A refused upload (422; ``code``: empty, …); the field at fault was sent in the form."""

    location = "form"


class EvidenceTooLarge(EvidenceRejected):
    """The file is over the size limit: 413."""

    status = 413


class EvidenceWrongType(EvidenceRejected):
    """The file's content is of no accepted type: 415."""

    status = 415


# --- content ---------------------------------------------------------------------------------


def _zip_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                with zf.open("mimetype") as fh:
                    mimetype = fh.read(100).decode("ascii", "replace").strip()
                if mimetype == EVIDENCE_TYPES["odt"].content_type:
                    return "odt"
                return None
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return "docx"
                if "xl/workbook.xml" in names:
                    return "xlsx"
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def sniff(path: Path) -> EvidenceType | None:
    """The accepted type of the file's content, or None (the name plays no part)."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"%PDF-"):
        return EVIDENCE_TYPES["pdf"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return EVIDENCE_TYPES["png"]
    if head.startswith(b"\xff\xd8\xff"):
        return EVIDENCE_TYPES["jpg"]
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(path)
        return EVIDENCE_TYPES[kind] if kind else None
    return None


_SIG_TYPE = re.compile(rb"/Type\s*/Sig\b")
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[")


def pdf_has_signature(path: Path) -> bool:
    """True when the PDF carries a signature dictionary (/Type /Sig with a /ByteRange)."""
    data = path.read_bytes()
    return bool(_SIG_TYPE.search(data)) and bool(_BYTE_RANGE.search(data))


_UNSAFE = re.compile(r'[<>:"|?*\x00]')


def sanitise_filename(name: str, ext: str) -> str:
    """A safe display name: no folders, no control characters, the detected type's extension."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    stem, dot, _suffix = name.rpartition(".")
    if not dot:
        stem = name
    stem = re.sub(r"\s+", " ", stem).strip()[:200] or "tai-lieu"
    return f"{stem}.{ext}"


@dataclass(frozen=True)
class StoredFile:
    """A file kept under its sha256, with what the content says about it."""

    sha256: str
    size: int
    type: EvidenceType
    filename: str
    signed: bool


def file_path(evidence_dir: Path, sha256: str) -> Path:
    """Where the content with this hash lives (the local storage's layout)."""
    return local_storage(evidence_dir).path(sha256)


def store_file(
    source: BinaryIO,
    *,
    filename: str,
    evidence_dir: Path,
    max_bytes: int,
    storage: Storage | None = None,
) -> StoredFile:
    """Streams ``source`` into the store; ``EvidenceRejected`` if empty, too large or mistyped.

    The bytes are checked in a temporary file under ``evidence_dir/.tmp`` and then handed to
    ``storage`` (default: the local storage at ``evidence_dir``) under their hash.
    """
    store = storage if storage is not None else local_storage(evidence_dir)
    tmp_dir = evidence_dir / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / uuid.uuid4().hex
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    mb = max_bytes / (1024 * 1024)
                    raise EvidenceTooLarge(
                        "too_large",
                        f"Tệp vượt quá dung lượng cho phép ({vn_decimal(Decimal(str(mb)))} MB).",
                        f"The file is over the size limit ({mb:g} MB).",
                        field="file",
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise EvidenceRejected(
                "empty", "Tệp rỗng (0 byte).", "The file is empty (0 bytes).", field="file"
            )
        kind = sniff(tmp)
        if kind is None:
            allowed = ", ".join(t.label for t in EVIDENCE_TYPES.values())
            raise EvidenceWrongType(
                "wrong_type",
                f"Nội dung tệp không thuộc loại được chấp nhận ({allowed}).",
                f"The file's content is of no accepted type ({allowed}).",
                field="file",
            )
        signed = kind.ext == "pdf" and pdf_has_signature(tmp)
        sha = digest.hexdigest()
        store.put(sha, tmp)
        return StoredFile(
            sha256=sha,
            size=size,
            type=kind,
            filename=sanitise_filename(filename, kind.ext),
            signed=signed,
        )
    finally:
        if tmp.exists():
            tmp.unlink()


# --- metadata and checks ---------------------------------------------------------------------


def parse_doc_date(text: str) -> date:
    """A document date written 25/11/2024 or 2024-11-25; ValueError otherwise."""
    text = text.strip()
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    return date.fromisoformat(text)


class EvidenceMeta(BaseModel):
    """What the uploader says about the document."""

    model_config = ConfigDict(extra="forbid")

    doc_number: str = Field(default="", max_length=128, description="Số văn bản, vd. 125/QĐ-UBND")
    doc_date: date | None = Field(default=None, description="Ngày văn bản")
    issuer: str = Field(default="", max_length=255, description="Cơ quan ban hành")


_ELLIPSIS = re.compile(r"…|\.\.")


def is_placeholder_number(doc_number: str) -> bool:
    """True for an empty or placeholder number: "", "số a, b", "số …/QĐ", "/QĐ-UBND"."""
    text = unicodedata.normalize("NFC", doc_number).strip()
    text = re.sub(r"^(số|so)\s*[:.]?\s*", "", text, flags=re.IGNORECASE).strip()
    if not text or _ELLIPSIS.search(text):
        return True
    number = text.split("/", 1)[0]
    return not any(ch.isdigit() for ch in number)


class CheckCode(StrEnum):
    """The kinds of evidence check."""

    placeholder_number = "placeholder_number"
    after_cutoff = "after_cutoff"
    reused = "reused"
    unsigned_pdf = "unsigned_pdf"


class EvidenceCheck(BaseModel):
    """One warning about an evidence document."""

    code: CheckCode
    message: str = Field(description="Cảnh báo (tiếng Việt)")


def check_evidence(
    session: Session, evidence: Evidence, *, data_cutoff_at: datetime | None
) -> list[EvidenceCheck]:
    """The warnings to show for one attached document."""
    out: list[EvidenceCheck] = []
    if is_placeholder_number(evidence.doc_number):
        shown = evidence.doc_number.strip() or "(để trống)"
        out.append(
            EvidenceCheck(
                code=CheckCode.placeholder_number,
                message=f"Số văn bản không hợp lệ hoặc để trống: {shown}.",
            )
        )
    if evidence.doc_date is not None and data_cutoff_at is not None:
        doc_day = evidence.doc_date.astimezone(VN_TZ).date()
        cutoff_day = data_cutoff_at.astimezone(VN_TZ).date()
        if doc_day > cutoff_day:
            out.append(
                EvidenceCheck(
                    code=CheckCode.after_cutoff,
                    message=(
                        f"Văn bản ngày {vn_date(doc_day)} sau thời điểm chốt số liệu "
                        f"{vn_date(cutoff_day)}."
                    ),
                )
            )
    others = sorted(
        set(
            session.exec(
                select(Evidence.criterion_code).where(
                    Evidence.cycle_id == evidence.cycle_id,
                    Evidence.unit_id == evidence.unit_id,
                    Evidence.sha256 == evidence.sha256,
                    col(Evidence.deleted_at).is_(None),
                )
            ).all()
        )
    )
    if len(others) >= REUSE_THRESHOLD:
        out.append(
            EvidenceCheck(
                code=CheckCode.reused,
                message=(
                    f"Cùng một tệp được đính kèm ở {len(others)} tiêu chí: {', '.join(others)}."
                ),
            )
        )
    if evidence.content_type == EVIDENCE_TYPES["pdf"].content_type and not evidence.signed:
        out.append(
            EvidenceCheck(
                code=CheckCode.unsigned_pdf,
                message="Tệp PDF không có chữ ký số.",
            )
        )
    return out


class EvidencePublic(BaseModel):
    """An attached document as the API shows it, with its checks."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "criterion_code": "1.1",
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "filename": "Kế hoạch CCHC 2024.pdf",
                    "content_type": "application/pdf",
                    "size": 183204,
                    "doc_number": "12/KH-UBND",
                    "doc_date": "2024-01-15",
                    "issuer": "UBND xã Bình Thành",
                    "signed": True,
                    "uploaded_by": "nguyenvana",
                    "uploaded_at": "2024-11-18T02:15:00Z",
                    "checks": [],
                }
            ]
        }
    )

    id: int
    criterion_code: str
    sha256: str
    filename: str
    content_type: str
    size: int
    doc_number: str
    doc_date: date | None
    issuer: str
    signed: bool
    uploaded_by: str
    uploaded_at: datetime
    checks: list[EvidenceCheck]


def evidence_public(
    session: Session, evidence: Evidence, *, data_cutoff_at: datetime | None
) -> EvidencePublic:
    """The public view of an attachment with its current checks."""
    assert evidence.id is not None
    return EvidencePublic(
        id=evidence.id,
        criterion_code=evidence.criterion_code,
        sha256=evidence.sha256,
        filename=evidence.filename,
        content_type=evidence.content_type,
        size=evidence.size,
        doc_number=evidence.doc_number,
        doc_date=evidence.doc_date.astimezone(VN_TZ).date() if evidence.doc_date else None,
        issuer=evidence.issuer,
        signed=evidence.signed,
        uploaded_by=evidence.uploaded_by,
        uploaded_at=evidence.uploaded_at,
        checks=check_evidence(session, evidence, data_cutoff_at=data_cutoff_at),
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=VN_TZ)


def add_evidence(
    session: Session,
    *,
    cycle_id: str,
    unit_id: int,
    criterion_code: str,
    stored: StoredFile,
    meta: EvidenceMeta,
    actor: str,
) -> Evidence:
    """Attaches a stored file to a criterion (audited); the same file twice is attached once."""
    existing = session.exec(
        select(Evidence).where(
            Evidence.cycle_id == cycle_id,
            Evidence.unit_id == unit_id,
            Evidence.criterion_code == criterion_code,
            Evidence.sha256 == stored.sha256,
            col(Evidence.deleted_at).is_(None),
        )
    ).first()
    if existing is not None:
        return existing
    row = Evidence(
        cycle_id=cycle_id,
        unit_id=unit_id,
        criterion_code=criterion_code,
        sha256=stored.sha256,
        filename=stored.filename,
        content_type=stored.type.content_type,
        size=stored.size,
        doc_number=meta.doc_number.strip(),
        doc_date=_local_midnight(meta.doc_date) if meta.doc_date else None,
        issuer=meta.issuer.strip(),
        signed=stored.signed,
        uploaded_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="evidence",
        action="attach",
        entity_key=f"{criterion_code}#{row.id}",
        cycle_id=cycle_id,
        unit_id=unit_id,
        after=_audit_view(row),
    )
    return row


def _audit_view(row: Evidence) -> dict[str, object]:
    return {
        "id": row.id,
        "criterion": row.criterion_code,
        "sha256": row.sha256,
        "filename": row.filename,
        "doc_number": row.doc_number,
        "doc_date": row.doc_date.astimezone(VN_TZ).date().isoformat() if row.doc_date else None,
        "issuer": row.issuer,
    }


def delete_evidence(session: Session, *, evidence: Evidence, actor: str) -> Evidence:
    """Detaches a document (soft delete: snapshots keep its hash, the file stays); audited."""
    if evidence.deleted_at is None:
        evidence.deleted_at = utcnow()
        session.add(evidence)
        session.flush()
        audit.record(
            session,
            actor=actor,
            entity="evidence",
            action="detach",
            entity_key=f"{evidence.criterion_code}#{evidence.id}",
            cycle_id=evidence.cycle_id,
            unit_id=evidence.unit_id,
            before=_audit_view(evidence),
        )
    return evidence


def list_evidence(
    session: Session, *, cycle_id: str, unit_id: int, codes: Iterable[str] | None = None
) -> list[Evidence]:
    """The attached (not deleted) documents of a sheet, optionally of some criteria."""
    query = select(Evidence).where(
        Evidence.cycle_id == cycle_id,
        Evidence.unit_id == unit_id,
        col(Evidence.deleted_at).is_(None),
    )
    if codes is not None:
        query = query.where(col(Evidence.criterion_code).in_(list(codes)))
    return list(session.exec(query.order_by(col(Evidence.id))).all())
