"""PDF of a DOCX through LibreOffice (``soffice --headless --convert-to pdf``), when installed.

LibreOffice is optional at run time: without it a PDF is refused with a clear 503 in
Vietnamese (``core.errors.Unavailable``) and the DOCX stays available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.errors import Unavailable

__all__ = ["docx_to_pdf", "office_to_pdf", "soffice"]

TIMEOUT_S = 180


def soffice() -> str | None:
    """The LibreOffice executable (``APPRAISAL_SOFFICE`` or ``soffice`` on PATH), if any."""
    configured = os.environ.get("APPRAISAL_SOFFICE")
    if configured and Path(configured).exists():
        return configured
    return shutil.which("soffice") or shutil.which("libreoffice")


def _unavailable(reason_en: str) -> Unavailable:
    return Unavailable(
        "pdf_unavailable",
        "Máy chủ chưa cài LibreOffice nên không tạo được tệp PDF; vui lòng tải bản DOCX.",
        f"PDF conversion is unavailable ({reason_en}); download the DOCX instead.",
    )


def docx_to_pdf(docx: bytes) -> bytes:
    """The PDF of a DOCX; ``Unavailable`` when LibreOffice is absent or fails."""
    return office_to_pdf(docx, suffix=".docx")


def office_to_pdf(content: bytes, *, suffix: str) -> bytes:
    """The PDF of an office document (``.docx`` or ``.xlsx``) printed by LibreOffice."""
    binary = soffice()
    if binary is None:
        raise _unavailable("LibreOffice is not installed")
    with tempfile.TemporaryDirectory(prefix="appraisal-pdf-") as tmp:
        work = Path(tmp)
        source = work / f"report{suffix}"
        source.write_bytes(content)
        # A private profile: concurrent conversions must not share (and lock) one user profile.
        profile = (work / "profile").as_uri()
        try:
            subprocess.run(
                [binary, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                 "--outdir", str(work), str(source)],
                check=True,
                capture_output=True,
                timeout=TIMEOUT_S,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            raise _unavailable(f"LibreOffice failed: {type(exc).__name__}") from exc
        pdf = work / "report.pdf"
        if not pdf.exists():
            raise _unavailable("LibreOffice wrote no PDF")
        return pdf.read_bytes()
