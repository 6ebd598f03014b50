"""`appraisal report …`: the documents of a cycle, written to a file by an operator.

    appraisal report unit 2024-dinhhoa binh-thanh --kind self --format docx -o bc-binh-thanh.docx
    appraisal report unit 2024-dinhhoa binh-thanh --kind appraisal --format pdf -o kq.pdf
    appraisal report cycle 2024-dinhhoa --format xlsx -o ket-qua.xlsx

The operator reads as the coordinator does (every unit, published or not). Exit 0 when the
file was written, 2 with the reason in Vietnamese on stderr when it could not be.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlmodel import select

from actions.common import UnitRef
from actions.reports import ReportFile, cycle_report, unit_file
from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import get_settings
from models.tables import Role, Unit
from services.accounts import Principal

__all__ = ["OPERATOR", "register"]

# The operator at the console: a coordinator's reach, without an account in the database.
OPERATOR = Principal(user_id=0, username="operator", grants=((Role.coordinator, None, None),))


def register(subparsers: Any) -> None:
    """Adds `report unit` and `report cycle` to the main CLI."""
    report = subparsers.add_parser("report", help="tải về báo cáo, kết quả (DOCX, XLSX, PDF)")
    sub = report.add_subparsers(dest="report_command", required=True)
    unit = sub.add_parser("unit", help="báo cáo tự đánh giá hoặc kết quả thẩm định của đơn vị")
    unit.add_argument("cycle", help="mã kỳ đánh giá")
    unit.add_argument("unit", help="mã đơn vị")
    unit.add_argument("--kind", choices=("self", "appraisal", "analysis"), default="self")
    unit.add_argument("--format", choices=("docx", "xlsx", "pdf", "html"), default="docx")
    unit.add_argument("-o", "--output", required=True, help="tệp ghi ra")
    unit.set_defaults(func=run_unit)
    cycle = sub.add_parser("cycle", help="kết quả xếp loại của kỳ theo nhóm")
    cycle.add_argument("cycle", help="mã kỳ đánh giá")
    cycle.add_argument("--format", choices=("docx", "xlsx", "pdf", "html"), default="xlsx")
    cycle.add_argument("-o", "--output", required=True, help="tệp ghi ra")
    cycle.set_defaults(func=run_cycle)


def _write(file: ReportFile, output: str) -> int:
    path = Path(output)
    path.write_bytes(file.content)
    print(f"Đã ghi {path} ({len(file.content)} byte).")
    return 0


def run_unit(args: argparse.Namespace) -> int:
    """Handler of `report unit`."""
    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            unit = session.exec(select(Unit).where(Unit.code == args.unit)).first()
            if unit is None or unit.id is None:
                print(f"Không tìm thấy đơn vị {args.unit}.", file=sys.stderr)
                return 2
            ref = UnitRef(cycle_id=args.cycle, unit_id=unit.id, unit_code=unit.code)
            file = unit_file(session, unit=ref, kind=args.kind, fmt=args.format)
        return _write(file, args.output)
    except Refusal as exc:
        print(exc.message_vi, file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def run_cycle(args: argparse.Namespace) -> int:
    """Handler of `report cycle`."""
    engine = make_engine(get_settings().sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            file = cycle_report(session, principal=OPERATOR, cycle_id=args.cycle, fmt=args.format)
        return _write(file, args.output)
    except Refusal as exc:
        print(exc.message_vi, file=sys.stderr)
        return 2
    finally:
        engine.dispose()
