"""`appraisal backup DIR` / `appraisal restore DIR`: the embedded default (SQLite) as one set.

A backup holds the app database and Temporal's dev-server database (each copied with SQLite's
online backup API, so a running stack is copied page-consistently), then the evidence files,
and a manifest with every file's SHA-256. Order matters: evidence files are content-addressed
and never deleted, so copying them after the database means every row in the copy has its file.
The two databases are copied one after the other: for an exact pair (no workflow step between
the two copies) stop `appraisal dev` first; `backup` says which it did.

Restore checks the whole manifest before it touches anything, refuses while the stack runs
(Temporal's port answers) and refuses a data directory that is not empty unless `--force`.
Production (PostgreSQL) uses deploy/backup.sh and deploy/restore.sh instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.settings import Settings, get_settings

MANIFEST = "manifest.json"
APP_DB = "appraisal.db"
TEMPORAL_DB = "temporal.db"
EVIDENCE = "evidence"
FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore that cannot be done safely (nothing was changed)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_path(settings: Settings) -> Path:
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite:///"):
        raise BackupError(
            "appraisal backup is for the embedded SQLite default; "
            "PostgreSQL: deploy/backup.sh (README, Backups)"
        )
    return Path(url.removeprefix("sqlite:///"))


def _copy_sqlite(src: Path, dest: Path) -> None:
    """SQLite's online backup: a consistent copy even while another process writes."""
    source = sqlite3.connect(src, timeout=30)
    target = sqlite3.connect(dest)
    try:
        with target:
            source.backup(target)
        check = target.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"integrity check failed on the copy of {src}")
    finally:
        source.close()
        target.close()


def _temporal_running(settings: Settings) -> bool:
    host, _, port = settings.temporal_address.rpartition(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host or "127.0.0.1", int(port))) == 0


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    """Writes a backup set into ``dest`` (must not exist yet) and returns its manifest."""
    app_db = _sqlite_path(settings)
    if not app_db.exists():
        raise BackupError(f"no database at {app_db}")
    if dest.exists():
        raise BackupError(f"{dest} already exists: choose a new folder")
    online = _temporal_running(settings)
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        _copy_sqlite(app_db, work / APP_DB)
        temporal_db = settings.data_dir / TEMPORAL_DB
        if temporal_db.exists():
            _copy_sqlite(temporal_db, work / TEMPORAL_DB)
        if settings.evidence_dir.exists():
            shutil.copytree(
                settings.evidence_dir, work / EVIDENCE, ignore=shutil.ignore_patterns(".tmp")
            )
        files = {
            p.relative_to(work).as_posix(): _sha256(p)
            for p in sorted(work.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "online": online,
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        work.rename(dest)  # a set exists only once it is complete
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def verify(src: Path) -> dict[str, Any]:
    """The manifest of a backup set, after checking every file against it."""
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a backup set ({MANIFEST}: {exc})") from exc
    if manifest.get("format") != FORMAT or APP_DB not in manifest.get("files", {}):
        raise BackupError(f"{src}: unknown backup format")
    for name, digest in manifest["files"].items():
        path = src / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{src}: {name} is missing or damaged")
    return manifest


def restore(settings: Settings, src: Path, *, force: bool = False) -> dict[str, Any]:
    """Puts a verified backup set back into the data directory (the stack must be stopped)."""
    app_db = _sqlite_path(settings)
    manifest = verify(src)
    if _temporal_running(settings):
        raise BackupError("the stack is running (Temporal answers): stop `appraisal dev` first")
    data = settings.data_dir
    targets = [app_db, data / TEMPORAL_DB, settings.evidence_dir]
    present = [t for t in targets if t.exists()]
    if present and not force:
        raise BackupError(
            "the data directory is not empty ("
            + ", ".join(str(p) for p in present)
            + "): restore with --force to replace it"
        )
    for target in present:
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    for suffix in ("-wal", "-shm"):  # stale journals of the replaced databases
        for db in (app_db, data / TEMPORAL_DB):
            Path(str(db) + suffix).unlink(missing_ok=True)
    app_db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / APP_DB, app_db)
    if (src / TEMPORAL_DB).exists():
        shutil.copy2(src / TEMPORAL_DB, data / TEMPORAL_DB)
    if (src / EVIDENCE).exists():
        shutil.copytree(src / EVIDENCE, settings.evidence_dir)
    return manifest


def _backup_cmd(args: argparse.Namespace) -> int:
    try:
        manifest = backup(get_settings(), Path(args.dest))
    except BackupError as exc:
        print(f"Không sao lưu được / backup failed: {exc}", file=sys.stderr)
        return 1
    how = "khi hệ thống đang chạy (online)" if manifest["online"] else "khi hệ thống đã dừng"
    print(f"Đã sao lưu {len(manifest['files'])} tệp vào {args.dest} {how}.")
    return 0


def _restore_cmd(args: argparse.Namespace) -> int:
    try:
        manifest = restore(get_settings(), Path(args.src), force=args.force)
    except BackupError as exc:
        print(f"Không khôi phục được / restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"Đã khôi phục {len(manifest['files'])} tệp (bản sao lưu {manifest['created_at']}).")
    return 0


def register(sub: Any) -> None:
    """Adds `appraisal backup` and `appraisal restore`."""
    b = sub.add_parser("backup", help="back up the embedded stack (SQLite, evidence, Temporal)")
    b.add_argument("dest", help="a new folder for the backup set")
    b.set_defaults(func=_backup_cmd)
    r = sub.add_parser("restore", help="restore a backup set into the data directory")
    r.add_argument("src", help="the backup set's folder")
    r.add_argument("--force", action="store_true", help="replace existing data")
    r.set_defaults(func=_restore_cmd)
