"""Evidence storage behind one interface: the local (shared-volume) storage, content-addressed,
atomic and idempotent; store_file hands verified bytes to whichever storage it is given."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.evidence import EvidenceRejected, file_path, store_file
from services.storage import LocalStorage, Storage, local_storage

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SHA = hashlib.sha256(PDF).hexdigest()


def test_local_storage_is_a_storage_and_keeps_the_layout(tmp_path: Path) -> None:
    store = local_storage(tmp_path)
    assert isinstance(store, Storage)
    assert store.path(SHA) == tmp_path / SHA[:2] / SHA[2:4] / SHA == file_path(tmp_path, SHA)
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    assert not store.exists(SHA) and store.local_path(SHA) is None
    with pytest.raises(FileNotFoundError):
        store.open(SHA)


def test_put_is_atomic_and_idempotent_under_concurrent_writers(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "shared")

    def one_writer(i: int) -> None:
        tmp = tmp_path / f"upload-{i}"
        tmp.write_bytes(PDF)
        store.put(SHA, tmp)
        assert not tmp.exists()  # consumed either way

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one_writer, range(16)))
    with store.open(SHA) as fh:
        assert fh.read() == PDF
    assert [p.name for p in (tmp_path / "shared").rglob("*") if p.is_file()] == [SHA]


def test_store_file_uses_the_given_storage(tmp_path: Path) -> None:
    # two API machines: each stages in its own directory, both store into the shared one
    shared = LocalStorage(tmp_path / "shared")
    for machine in ("api-1", "api-2"):
        stored = store_file(
            io.BytesIO(PDF),
            filename="Quyết định số 12.pdf",
            evidence_dir=tmp_path / machine,
            max_bytes=1 << 20,
            storage=shared,
        )
        assert stored.sha256 == SHA
        assert not file_path(tmp_path / machine, SHA).exists()
        assert list((tmp_path / machine / ".tmp").iterdir()) == []
    assert shared.local_path(SHA) is not None
    # refused content never reaches the storage
    with pytest.raises(EvidenceRejected):
        store_file(
            io.BytesIO(b"MZ not a document"),
            filename="x.exe",
            evidence_dir=tmp_path / "api-1",
            max_bytes=1 << 20,
            storage=shared,
        )
    assert [p.name for p in (tmp_path / "shared").rglob("*") if p.is_file()] == [SHA]
