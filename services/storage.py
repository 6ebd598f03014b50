"""Where evidence bytes live, behind one interface (``Storage``), keyed by their SHA-256.

Today: ``LocalStorage``, a directory (``<root>/<ab>/<cd>/<sha256>``) — on one machine the
data volume, on several API machines one shared volume (NFS or similar) mounted at the same
path. Object storage (S3-compatible, e.g. MinIO) fits the same four operations: ``put`` is an
upload of the verified temporary file under its hash (idempotent: same key, same bytes),
``open`` a streamed GET, ``exists`` a HEAD, ``local_path`` returns None so downloads stream.
Content addressing makes every operation safe to repeat and two uploaders of the same bytes
harmless.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _checked(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


@runtime_checkable
class Storage(Protocol):
    """Content-addressed evidence bytes."""

    def exists(self, sha256: str) -> bool:
        """Whether the content with this hash is stored."""
        ...

    def put(self, sha256: str, source: Path) -> None:
        """Stores a verified local file under its hash (consumes ``source``); idempotent."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes, for reading; FileNotFoundError when absent."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """A path the web server may send directly, or None (stream ``open`` instead)."""
        ...


class LocalStorage:
    """A directory of files named by hash, two levels of fan-out."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        """Where the content with this hash lives."""
        sha = _checked(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def exists(self, sha256: str) -> bool:
        """Whether the content with this hash is stored."""
        return self.path(sha256).is_file()

    def put(self, sha256: str, source: Path) -> None:
        """Moves ``source`` in atomically (a rename); if the content is there, drops source."""
        dest = self.path(sha256)
        if dest.exists():
            source.unlink(missing_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        # A rename within one file system: readers see the whole file or none; two writers of
        # the same content both succeed with the same bytes.
        os.replace(source, dest)

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes, for reading."""
        return self.path(sha256).open("rb")

    def local_path(self, sha256: str) -> Path | None:
        """The file itself (FileResponse sends it)."""
        path = self.path(sha256)
        return path if path.is_file() else None


def local_storage(evidence_dir: Path) -> LocalStorage:
    """The storage used today: the evidence directory of the settings."""
    return LocalStorage(evidence_dir)
