"""`appraisal audit verify [CYCLE]`: recomputes the audit trail's hash chains.

Exit status 0 when every chain checked is intact, 1 when one is broken (the first broken row
is named), so a cron job or an auditor's script can rely on it.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlmodel import Session

from core.db import make_engine
from core.settings import get_settings
from services.audit import chains, verify


def _verify(args: argparse.Namespace) -> int:
    engine = make_engine(get_settings().sqlalchemy_url)
    broken = 0
    try:
        with Session(engine) as session:
            targets = [args.cycle] if args.cycle else chains(session)
            for cycle_id in targets:
                report = verify(session, cycle_id)
                name = f"kỳ {cycle_id}" if cycle_id else "ngoài kỳ đánh giá"
                if report.verified:
                    print(f"Nhật ký {name}: toàn vẹn ({report.rows} dòng) — verified")
                else:
                    broken += 1
                    print(
                        f"Nhật ký {name}: HỎNG tại dòng #{report.broken_id} "
                        f"({report.reason}) — broken"
                    )
    finally:
        engine.dispose()
    return 1 if broken else 0


def register(subparsers: Any) -> None:
    """Adds the `audit verify` command."""
    audit = subparsers.add_parser("audit", help="nhật ký thay đổi").add_subparsers(
        dest="audit_command", required=True
    )
    check = audit.add_parser("verify", help="kiểm tra chuỗi băm của nhật ký")
    check.add_argument("cycle", nargs="?", default=None, help="mã kỳ (bỏ trống: mọi kỳ)")
    check.set_defaults(func=_verify)
