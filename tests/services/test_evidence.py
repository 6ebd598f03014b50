"""Evidence service: type by content, sanitised names, content-addressed storage, the checks."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.db import session_scope
from models.tables import AuditLog, Cycle, FrameworkRecord, Unit
from services.evidence import (
    CheckCode,
    EvidenceMeta,
    EvidenceRejected,
    add_evidence,
    check_evidence,
    delete_evidence,
    file_path,
    is_placeholder_number,
    parse_doc_date,
    pdf_has_signature,
    sanitise_filename,
    sniff,
    store_file,
)
from tests.conftest import SEEDS

DINH_HOA = SEEDS / "dinh-hoa-commune-2024-framework-and-assignment.txt"

# --- sample files ----------------------------------------------------------------------------

PDF_UNSIGNED = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF\n"
PDF_SIGNED = (
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
    b"5 0 obj << /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached "
    b"/ByteRange [0 840 17224 1200] /Contents <308006092a864886f70d010702a0> >> endobj\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def docx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Mã số", "Tiêu chí", "Điểm tối đa"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def odt() -> bytes:
    return _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})


SAMPLES = {
    "pdf": PDF_UNSIGNED,
    "png": PNG,
    "jpg": JPG,
    "docx": docx(),
    "xlsx": xlsx(),
    "odt": odt(),
}


@pytest.mark.parametrize("ext", sorted(SAMPLES))
def test_type_is_read_from_the_content(tmp_path: Path, ext: str) -> None:
    path = tmp_path / "whatever.bin"
    path.write_bytes(SAMPLES[ext])
    kind = sniff(path)
    assert kind is not None and kind.ext == ext


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows program
        b"<html><script>alert(1)</script></html>",
        b"GIF89a\x01\x00\x01\x00",
        _zip({"payload.exe": b"MZ"}),  # a zip that is no office document
        _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}),  # ods
        b"PK\x03\x04 broken zip",
    ],
)
def test_other_content_is_refused_whatever_its_name(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(EvidenceRejected) as exc:
        store_file(
            io.BytesIO(content), filename="bao-cao.pdf", evidence_dir=tmp_path, max_bytes=10**6
        )
    assert exc.value.code == "wrong_type"
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_signature_dictionary_is_detected(tmp_path: Path) -> None:
    signed, unsigned = tmp_path / "s.pdf", tmp_path / "u.pdf"
    signed.write_bytes(PDF_SIGNED)
    unsigned.write_bytes(PDF_UNSIGNED)
    assert pdf_has_signature(signed)
    assert not pdf_has_signature(unsigned)
    # /ByteRange alone (no signature dictionary) is not a signature
    half = tmp_path / "h.pdf"
    half.write_bytes(PDF_UNSIGNED + b"/ByteRange [0 1 2 3]")
    assert not pdf_has_signature(half)


@pytest.mark.parametrize(
    ("name", "ext", "expected"),
    [
        ("../../etc/passwd", "pdf", "passwd.pdf"),
        ("C:\\Users\\lan\\Báo cáo CCHC.PDF", "pdf", "Báo cáo CCHC.pdf"),
        ("/var/tmp/.hidden.docx", "docx", "hidden.docx"),
        ("ke\x00hoach\n2024.jpeg", "jpg", "kehoach2024.jpg"),
        ('a<b>:c"d|e?f*.pdf', "pdf", "a_b__c_d_e_f_.pdf"),
        ("..", "png", "tai-lieu.png"),
        ("", "xlsx", "tai-lieu.xlsx"),
        ("report.exe", "pdf", "report.pdf"),
    ],
)
def test_file_names_are_sanitised(name: str, ext: str, expected: str) -> None:
    assert sanitise_filename(name, ext) == expected


def test_long_names_are_cut() -> None:
    assert len(sanitise_filename("Quyết định " * 100 + ".pdf", "pdf")) <= 204


def test_store_is_content_addressed_and_limited(tmp_path: Path) -> None:
    a = store_file(io.BytesIO(PDF_SIGNED), filename="a.pdf", evidence_dir=tmp_path, max_bytes=10**6)
    b = store_file(io.BytesIO(PDF_SIGNED), filename="b.pdf", evidence_dir=tmp_path, max_bytes=10**6)
    assert a.sha256 == b.sha256 and a.signed and a.size == len(PDF_SIGNED)
    path = file_path(tmp_path, a.sha256)
    assert path.read_bytes() == PDF_SIGNED
    assert path.relative_to(tmp_path).parts == (a.sha256[:2], a.sha256[2:4], a.sha256)
    with pytest.raises(EvidenceRejected) as exc:
        store_file(io.BytesIO(b""), filename="x.pdf", evidence_dir=tmp_path, max_bytes=10)
    assert exc.value.code == "empty"
    with pytest.raises(EvidenceRejected) as exc:
        store_file(io.BytesIO(PDF_SIGNED), filename="x.pdf", evidence_dir=tmp_path, max_bytes=100)
    assert exc.value.code == "too_large"
    assert list((tmp_path / ".tmp").iterdir()) == []
    with pytest.raises(ValueError):
        file_path(tmp_path, "../../etc/passwd")


def test_placeholder_numbers_from_the_seed_are_flagged() -> None:
    text = DINH_HOA.read_text(encoding="utf-8")
    # the seed's own example writes "Kế hoạch số....." and "Báo cáo số/UBND-BC"
    written = re.findall(r"(số[./][^\s,]*)", text)
    assert "số....." in written and "số/UBND-BC" in written
    for number in ["số.....", "số/UBND-BC", "số a, b", "số …/QĐ", "số .../QĐ-UBND", "", "   "]:
        assert is_placeholder_number(number), number
    for number in ["12/KH-UBND", "Số: 125/QĐ-UBND", "số 01/2024/QĐ-UBND", "45/BC-UBND"]:
        assert not is_placeholder_number(number), number


def test_doc_dates_parse_both_ways() -> None:
    assert parse_doc_date("20/11/2024") == date(2024, 11, 20)
    assert parse_doc_date("2024-11-20") == date(2024, 11, 20)
    with pytest.raises(ValueError):
        parse_doc_date("31/02/2024")


@pytest.fixture(scope="module")
def sheet(engine: Engine) -> tuple[str, int]:
    # the Định Hóa data cut-off: "chốt số liệu hết ngày 20/11/2024"
    assert "chốt số liệu hết ngày 20/11/2024" in DINH_HOA.read_text(encoding="utf-8")
    t = datetime(2024, 11, 20, 16, 59, 59, tzinfo=UTC)  # 23:59:59 local
    with session_scope(engine) as session:
        unit = Unit(code="ev-binh-thanh", name="UBND xã Bình Thành")
        fw = FrameworkRecord(
            name="x", year=2024, unit_kind="commune", spec={}, spec_hash="0", max_total=Decimal(100)
        )
        session.add_all([unit, fw])
        session.flush()
        session.add(
            Cycle(
                id="ev-2024",
                year=2024,
                title="x",
                framework_id=fw.id or 0,
                opens_at=t - timedelta(days=30),
                data_cutoff_at=t,
                submission_deadline=t + timedelta(days=2),
                hard_lock_at=t + timedelta(days=5),
                appraisal_deadline=t + timedelta(days=20),
                results_target=t + timedelta(days=30),
                reminder_offsets_hours=[24],
            )
        )
        return "ev-2024", unit.id or 0


def test_checks_on_attached_documents(engine: Engine, tmp_path: Path, sheet) -> None:
    cycle_id, unit_id = sheet
    cutoff = datetime(2024, 11, 20, 16, 59, 59, tzinfo=UTC)
    signed = store_file(
        io.BytesIO(PDF_SIGNED), filename="kh.pdf", evidence_dir=tmp_path, max_bytes=10**6
    )
    unsigned = store_file(
        io.BytesIO(PDF_UNSIGNED), filename="bc.pdf", evidence_dir=tmp_path, max_bytes=10**6
    )
    photo = store_file(io.BytesIO(PNG), filename="anh.png", evidence_dir=tmp_path, max_bytes=10**6)
    with session_scope(engine) as session:
        good = add_evidence(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            criterion_code="1.1",
            stored=signed,
            meta=EvidenceMeta(doc_number="12/KH-UBND", doc_date=date(2024, 11, 20), issuer="UBND"),
            actor="lan",
        )
        assert check_evidence(session, good, data_cutoff_at=cutoff) == []
        late = add_evidence(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            criterion_code="1.2",
            stored=unsigned,
            meta=EvidenceMeta(doc_number="số a, b", doc_date=date(2024, 11, 21)),
            actor="lan",
        )
        checks = check_evidence(session, late, data_cutoff_at=cutoff)
        assert [c.code for c in checks] == [
            CheckCode.placeholder_number,
            CheckCode.after_cutoff,
            CheckCode.unsigned_pdf,
        ]
        assert checks[0].message == "Số văn bản không hợp lệ hoặc để trống: số a, b."
        assert checks[1].message == (
            "Văn bản ngày 21/11/2024 sau thời điểm chốt số liệu 20/11/2024."
        )
        assert checks[2].message == "Tệp PDF không có chữ ký số."
        # the same signed plan attached to a second criterion: both show it
        again = add_evidence(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            criterion_code="2.1.1",
            stored=signed,
            meta=EvidenceMeta(doc_number="12/KH-UBND", doc_date=date(2024, 1, 15)),
            actor="lan",
        )
        for ev in (good, again):
            reuse = [
                c for c in check_evidence(session, ev, data_cutoff_at=cutoff) if c.code == "reused"
            ]
            assert [c.message for c in reuse] == [
                "Cùng một tệp được đính kèm ở 2 tiêu chí: 1.1, 2.1.1."
            ]
        # the same file twice on one criterion is attached once
        same = add_evidence(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            criterion_code="1.1",
            stored=signed,
            meta=EvidenceMeta(),
            actor="lan",
        )
        assert same.id == good.id
        # an image has no signature check and an empty number is flagged
        img = add_evidence(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            criterion_code="1.3",
            stored=photo,
            meta=EvidenceMeta(),
            actor="lan",
        )
        assert [c.message for c in check_evidence(session, img, data_cutoff_at=cutoff)] == [
            "Số văn bản không hợp lệ hoặc để trống: (để trống)."
        ]
        # detaching removes the reuse warning; the audit trail keeps both
        delete_evidence(session, evidence=again, actor="lan")
        assert check_evidence(session, good, data_cutoff_at=cutoff) == []
        from sqlmodel import select

        rows = session.exec(
            select(AuditLog).where(AuditLog.cycle_id == cycle_id, AuditLog.entity == "evidence")
        ).all()
        assert [r.action for r in rows] == ["attach", "attach", "attach", "attach", "detach"]
        assert rows[-1].before is not None and rows[-1].before["criterion"] == "2.1.1"
