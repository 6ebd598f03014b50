"""Operator commands for frameworks (bộ tiêu chí).

appraisal framework import FILE [--name NAME] [--year YEAR] [--publish]
appraisal framework list
appraisal framework publish ID
appraisal framework export ID [--format yaml|xlsx] [--output PATH]

FILE is a framework YAML or an annex table (TSV/TXT, CSV, XLSX; these need --name and --year).
Exit codes: 0 done, 1 refused (the reason is printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import get_settings
from core.vn import vn_decimal
from services.frameworks import (
    ExportFormat,
    export_framework,
    get_framework,
    list_frameworks,
    load_framework_bytes,
    publish_framework,
    store_framework,
)

ACTOR = "cli"


def _engine() -> Engine:
    return make_engine(get_settings().sqlalchemy_url)


def _fail(message: str) -> int:
    print(f"Lỗi: {message}", file=sys.stderr)
    return 1


def _import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        return _fail(f"không có tệp {path}")
    engine = _engine()
    try:
        loaded = load_framework_bytes(
            path.read_bytes(), filename=path.name, name=args.name, year=args.year
        )
        with session_scope(engine) as session:
            record, changed = store_framework(session, framework=loaded.framework, actor=ACTOR)
            if args.publish:
                assert record.id is not None
                record = publish_framework(session, framework_id=record.id, actor=ACTOR)
            verb = "Đã nhập" if changed else "Không thay đổi"
            print(
                f"{verb}: bộ tiêu chí số {record.id} “{record.name}” năm {record.year}, "
                f"phiên bản {record.version} ({record.status}), tổng điểm tối đa "
                f"{vn_decimal(record.max_total)}, sha256 {record.spec_hash}."
            )
        if loaded.rows_placed or loaded.rows_skipped:
            print(
                f"Số dòng: {loaded.rows_placed} đã đặt vào cây ({loaded.rows_guessed} theo phỏng "
                f"đoán), {loaded.rows_skipped} bỏ qua (xem cảnh báo)."
            )
        for warning in loaded.warnings:
            print(f"Cảnh báo: {warning}", file=sys.stderr)
    except Refusal as exc:
        return _fail(exc.message_vi)
    finally:
        engine.dispose()
    return 0


def _list(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine) as session:
            for r in list_frameworks(session):
                print(f"{r.id}\t{r.year}\tv{r.version}\t{r.status}\t{r.name}")
    finally:
        engine.dispose()
    return 0


def _publish(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine) as session:
            record = publish_framework(session, framework_id=args.id, actor=ACTOR)
            print(f"Đã ban hành bộ tiêu chí số {record.id}, phiên bản {record.version}.")
    except Refusal as exc:
        return _fail(exc.message_vi)
    finally:
        engine.dispose()
    return 0


def _export(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine) as session:
            record = get_framework(session, args.id)
            if record is None:
                return _fail(f"Không có bộ tiêu chí số {args.id}.")
            content, _media, filename = export_framework(record, ExportFormat(args.format))
    finally:
        engine.dispose()
    if args.output == "-" or (args.output is None and args.format == "yaml"):
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return 0
    out = Path(args.output or filename)
    out.write_bytes(content)
    print(f"Đã ghi {out}.")
    return 0


def register(subparsers: Any) -> None:
    """Adds the `framework` commands."""
    fw = subparsers.add_parser("framework", help="bộ tiêu chí").add_subparsers(
        dest="framework_command", required=True
    )
    imp = fw.add_parser("import", help="nhập bộ tiêu chí (YAML, TSV, CSV, XLSX)")
    imp.add_argument("file")
    imp.add_argument("--name", default=None, help="tên bộ tiêu chí (bắt buộc với bảng phụ lục)")
    imp.add_argument("--year", type=int, default=None, help="năm áp dụng")
    imp.add_argument("--publish", action="store_true", help="ban hành ngay sau khi nhập")
    imp.set_defaults(func=_import)

    fw.add_parser("list", help="danh sách bộ tiêu chí").set_defaults(func=_list)

    pub = fw.add_parser("publish", help="ban hành (không sửa được nữa)")
    pub.add_argument("id", type=int)
    pub.set_defaults(func=_publish)

    exp = fw.add_parser("export", help="xuất bộ tiêu chí")
    exp.add_argument("id", type=int)
    exp.add_argument("--format", choices=[f.value for f in ExportFormat], default="yaml")
    exp.add_argument("--output", default=None, help="tệp đích; '-' là stdout")
    exp.set_defaults(func=_export)
