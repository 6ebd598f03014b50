"""`appraisal cycle …`: create, start, extend and inspect a yearly cycle from the command line.

Times are local (Asia/Ho_Chi_Minh): "25/11/2024 17:00", "17:00 25/11/2024", "2024-11-25 17:00"
or ISO 8601 with an offset; a date alone means 17:00 that day.

    appraisal cycle create 2024-dinhhoa --year 2024 --title "…" --framework-id 1 \\
        --units binh-thanh,phuong-tien --opens "01/11/2024 08:00" --cutoff "20/11/2024 23:59" \\
        --submission "22/11/2024 17:00" --lock "25/11/2024 17:00" \\
        --appraisal "10/12/2024 17:00" --results "20/12/2024 17:00"
    appraisal cycle start 2024-dinhhoa
    appraisal cycle extend 2024-dinhhoa --lock "27/11/2024 17:00" [--units binh-thanh] --reason "…"
    appraisal cycle status 2024-dinhhoa
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import get_settings
from core.temporal import connect
from core.vn import VN_TZ, vn_datetime, vn_decimal
from models.labels import CYCLE_STATE_VI, UNIT_STATE_VI
from models.tables import CycleState, UnitState
from services.cycles import (
    DEFAULT_REMINDER_OFFSETS,
    CycleSpec,
    create_cycle,
    cycle_units,
    get_cycle,
)
from workflows.commands import ExtendCommand, cycle_command, start_cycle

__all__ = ["parse_local", "register"]

_FORMATS = ("%d/%m/%Y %H:%M", "%H:%M %d/%m/%Y", "%Y-%m-%d %H:%M", "%d/%m/%Y", "%Y-%m-%d")


def parse_local(text: str) -> datetime:
    """A local wall time (or an ISO time with its own offset) as an aware datetime."""
    cleaned = re.sub(r"\s+", " ", text.strip().replace("ngày", " ").replace("giờ", ":"))
    cleaned = re.sub(r"\s*:\s*", ":", cleaned)
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        pass
    else:
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VN_TZ)
    for fmt in _FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        if "%H" not in fmt:
            naive = naive.replace(hour=17)
        return naive.replace(tzinfo=VN_TZ)
    raise argparse.ArgumentTypeError(
        f'không đọc được thời gian {text!r} (ví dụ: "25/11/2024 17:00")'
    )


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _console_process() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return Path(sys.argv[0]).name == "appraisal" or getattr(spec, "name", "") == "cli.main"


def _finish(code: int) -> int:
    """Ends a console process at once after using the Temporal client.

    The client's Rust threads can abort CPython's finalisation ("PyGILState_Release … must be
    current", SIGABRT; temporalio/sdk-python#300), which would turn a success into exit -6.
    Called in-process (tests), it just returns the code.
    """
    if _console_process():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _fail(message_vi: str, code: int = 1) -> int:
    print(f"Lỗi: {message_vi}", file=sys.stderr)
    return code


def _create(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    spec = CycleSpec(
        cycle_id=args.cycle_id,
        year=args.year,
        title=args.title,
        framework_id=args.framework_id,
        units=_codes(args.units),
        opens_at=args.opens,
        data_cutoff_at=args.cutoff,
        submission_deadline=args.submission,
        hard_lock_at=args.lock,
        appraisal_deadline=args.appraisal,
        results_target=args.results,
        explanation_round_days=args.round_days,
        max_explanation_rounds=args.rounds,
        reminder_offsets_hours=tuple(int(h) for h in _codes(args.offsets)),
        followup_analysis_days=args.analysis_days,
        followup_plan_days=args.plan_days,
    )
    try:
        with session_scope(engine) as session:
            cycle = create_cycle(session, spec=spec, actor=args.actor)
            print(f"Đã tạo kỳ đánh giá {cycle.id} ({len(spec.units)} đơn vị).")
    except Refusal as exc:
        return _fail(exc.message_vi)
    finally:
        engine.dispose()
    return 0


def _start(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)

    async def run() -> int:
        client = await connect(settings)
        return await start_cycle(
            client, engine, args.cycle_id, task_queue=settings.temporal_task_queue, wait=args.wait
        )

    try:
        count = asyncio.run(run())
    except Refusal as exc:
        return _finish(_fail(exc.message_vi))
    finally:
        engine.dispose()
    print(f"Đã bắt đầu kỳ đánh giá {args.cycle_id}: {count} đơn vị.")
    return _finish(0)


def _extend(args: argparse.Namespace) -> int:
    if args.submission is None and args.lock is None:
        return _fail("cần --submission và/hoặc --lock", 2)
    settings = get_settings()
    command = ExtendCommand(
        actor=args.actor,
        units=tuple(_codes(args.units)) if args.units else None,
        submission_deadline=args.submission,
        hard_lock_at=args.lock,
        reason=args.reason,
    )

    async def run() -> None:
        client = await connect(settings)
        status = await cycle_command(client, args.cycle_id, command)
        for line in status.skipped:
            print(f"  bỏ qua: {line}")

    try:
        asyncio.run(run())
    except Refusal as exc:
        return _finish(_fail(exc.message_vi))
    parts = []
    if args.submission is not None:
        parts.append(f"hạn gửi {vn_datetime(args.submission)}")
    if args.lock is not None:
        parts.append(f"khóa {vn_datetime(args.lock)}")
    print(f"Đã gia hạn kỳ đánh giá {args.cycle_id}: {', '.join(parts)}.")
    return _finish(0)


def _status(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_scope(engine) as session:
            cycle = get_cycle(session, args.cycle_id)
            print(f"{cycle.id} — {cycle.title}")
            print(f"Trạng thái: {CYCLE_STATE_VI[CycleState(cycle.state)]}")
            print(f"Hạn gửi kết quả: {vn_datetime(cycle.submission_deadline)}")
            print(f"Khóa phần mềm:   {vn_datetime(cycle.hard_lock_at)}")
            rows = cycle_units(session, cycle.id)
            for cu, unit in rows:
                extra = []
                if cu.days_late:
                    extra.append(f"chậm {cu.days_late} ngày")
                if cu.final_total is not None:
                    extra.append(f"{vn_decimal(cu.final_total)} điểm")
                if cu.classification:
                    extra.append(f"{cu.classification}, hạng {cu.rank}")
                tail = f" ({'; '.join(extra)})" if extra else ""
                print(
                    f"  {unit.code:<24} {UNIT_STATE_VI[UnitState(cu.state)]:<32} "
                    f"khóa {vn_datetime(cu.hard_lock_at)}{tail}"
                )
    except Refusal as exc:
        return _fail(exc.message_vi)
    finally:
        engine.dispose()
    return 0


def register(subparsers: Any) -> None:
    """Adds `cycle create|start|extend|status`."""
    cycle = subparsers.add_parser("cycle", help="kỳ đánh giá").add_subparsers(
        dest="cycle_command", required=True
    )
    when = {"type": parse_local, "metavar": '"dd/mm/yyyy HH:MM"'}

    create = cycle.add_parser("create", help="tạo kỳ đánh giá (nháp)")
    create.add_argument("cycle_id")
    create.add_argument("--year", type=int, required=True)
    create.add_argument("--title", required=True)
    create.add_argument("--framework-id", type=int, required=True, help="bộ tiêu chí đã ban hành")
    create.add_argument("--units", required=True, help="mã đơn vị, cách nhau bởi dấu phẩy")
    create.add_argument("--opens", required=True, **when)
    create.add_argument("--cutoff", required=True, help="thời điểm chốt số liệu", **when)
    create.add_argument("--submission", required=True, help="hạn gửi kết quả", **when)
    create.add_argument("--lock", required=True, help="phần mềm tự động khóa", **when)
    create.add_argument("--appraisal", required=True, help="hạn thẩm định", **when)
    create.add_argument("--results", required=True, help="dự kiến công bố", **when)
    create.add_argument("--round-days", type=int, default=5, help="số ngày mỗi vòng giải trình")
    create.add_argument("--rounds", type=int, default=2, help="số vòng giải trình tối đa")
    create.add_argument(
        "--offsets",
        default=",".join(str(h) for h in DEFAULT_REMINDER_OFFSETS),
        help="nhắc trước hạn (giờ); 0 = 07:00 sáng ngày hết hạn",
    )
    create.add_argument("--analysis-days", type=int, default=10)
    create.add_argument("--plan-days", type=int, default=20)
    create.add_argument("--actor", default="coordinator")
    create.set_defaults(func=_create)

    start = cycle.add_parser("start", help="bắt đầu kỳ đánh giá (một quy trình cho mỗi đơn vị)")
    start.add_argument("cycle_id")
    start.add_argument("--no-wait", dest="wait", action="store_false")
    start.set_defaults(func=_start)

    extend = cycle.add_parser("extend", help="gia hạn cho cả kỳ hoặc một số đơn vị")
    extend.add_argument("cycle_id")
    extend.add_argument("--units", default="", help="mã đơn vị (mặc định: tất cả)")
    extend.add_argument("--submission", default=None, **when)
    extend.add_argument("--lock", default=None, **when)
    extend.add_argument("--reason", default="")
    extend.add_argument("--actor", default="coordinator")
    extend.set_defaults(func=_extend)

    status = cycle.add_parser("status", help="tình trạng kỳ đánh giá và các đơn vị")
    status.add_argument("cycle_id")
    status.set_defaults(func=_status)
