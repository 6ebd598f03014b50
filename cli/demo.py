"""Demo data for the embedded stack (`appraisal dev --demo`, `appraisal demo load`).

Idempotent: a second run finds everything in place and changes nothing. It loads the built-in
Định Hóa commune framework (2024), three communes of Định Hóa district, personal accounts
(the unit offices, the staff of the seed's assignment table, one council member per appraising
agency), a cycle whose deadlines fall in the coming days, starts it in Temporal and assigns the
criteria — so reminders appear in data/mail/ and the workflows in the Temporal Web UI.
Refused in production mode.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import DEMO_LOADED_KEY
from cli.demo_stages import load_last_year, stage_units
from contracts.messages import AssignCommand, AssignmentSpec
from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import Mode, Settings, get_settings
from core.temporal import connect
from core.vn import VN_TZ
from frameworks.yaml_io import load_framework_yaml
from models.framework import Framework
from models.tables import Cycle, CycleUnit, Role, Unit, UnitState
from services import audit
from services.accounts import (
    RoleGrantIn,
    UserCreate,
    create_user,
    ensure_admin,
    get_user,
    hash_password,
)
from services.cycles import CycleSpec, create_cycle
from services.frameworks import publish_framework, store_framework
from services.units import UnitCreate, create_unit, get_unit_by_code
from workflows.commands import start_cycle, unit_command

BUILTIN = Path(__file__).resolve().parent.parent / "frameworks" / "builtin"
FRAMEWORK_FILE = BUILTIN / "dinh-hoa-commune-2024.yaml"
ASSIGNMENTS_FILE = BUILTIN / "dinh-hoa-commune-2024-assignments.yaml"

DEMO_PASSWORD = "demo-matkhau"  # development data only; production refuses to load the demo
CYCLE_ID = "demo-dinh-hoa"
UNITS = (
    ("binh-thanh", "UBND xã Bình Thành"),
    ("dinh-bien", "UBND xã Định Biên"),
    ("phu-dinh", "UBND xã Phú Đình"),
    ("kim-phuong", "UBND xã Kim Phượng"),
)
# The unit offices' staff (văn phòng – thống kê), one per commune.
OFFICES = {
    "binh-thanh": "Nguyễn Thị Thu Hà",
    "dinh-bien": "Hoàng Văn Thắng",
    "phu-dinh": "Ma Thị Lý",
    "kim-phuong": "Đặng Thị Hồng Nhung",
}
# The seed's assignment table names people by their given name, or names a group; the demo
# gives each a full name (the usernames keep the seed's names: lan.binh-thanh, …).
STAFF_NAMES = {
    "Lan": "Nguyễn Thị Lan",
    "Phạm Sơn": "Phạm Văn Sơn",
    "P Sơn": "Phạm Ngọc Sơn",
    "Tuân": "Hoàng Văn Tuân",
    "Cát": "Ma Văn Cát",
    "Dung": "Lê Thị Dung",
    "Hiệu": "Đàm Văn Hiệu",
    "Huy": "Trần Quốc Huy",
    "Hùng": "Đặng Văn Hùng",
    "Hường": "Ma Thị Hường",
    "Nguyên": "Nông Văn Nguyên",
    "Nguyễn": "Nguyễn Thị Nhàn",
    "Pháp": "Lưu Văn Pháp",
    "Quỳnh": "Hà Thị Quỳnh",
    "Đồng": "Trần Văn Đồng",
    "đoàn thể": "Ma Thị Thảo",
    "bộ phận liên quan": "Dương Văn Khánh",
    "Các bộ phận được kiểm tra, thanh tra": "Lý Văn Toàn",
}
# One appraiser per agency of the district (Vietnamese names; cycled over the agencies).
COUNCIL_NAMES = (
    "Trần Thị Mai",
    "Nguyễn Văn Quân",
    "Lê Thị Thanh Hương",
    "Phạm Minh Đức",
    "Hoàng Thị Yến",
    "Vũ Văn Long",
    "Đinh Thị Ngọc",
    "Bùi Văn Tiến",
)


@dataclass
class DemoSummary:
    """What the demo load created or found."""

    framework_id: int = 0
    cycle_id: str = CYCLE_ID
    created: list[str] = field(default_factory=list)
    assigned_units: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """ASCII slug of a Vietnamese name: "Phạm Sơn" → "pham-son", "Đoàn thể" → "doan-the"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _local(day: datetime, days: int, hour: int, minute: int = 0) -> datetime:
    local = day.astimezone(VN_TZ) + timedelta(days=days)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0).astimezone(UTC)


def _assignment_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = yaml.safe_load(ASSIGNMENTS_FILE.read_text(encoding="utf-8"))
    return rows


_DEMO_HASH: dict[str, str] = {}


def _demo_hash() -> str:
    """The argon2 hash of the documented demo password, computed once (hashing is slow)."""
    if "h" not in _DEMO_HASH:
        _DEMO_HASH["h"] = hash_password(DEMO_PASSWORD)
    return _DEMO_HASH["h"]


def _ensure_user(
    session: Session, summary: DemoSummary, username: str, full_name: str, grant: RoleGrantIn
) -> None:
    if get_user(session, username=username) is not None:
        return
    create_user(
        session,
        user_in=UserCreate(
            username=username,
            full_name=full_name,
            email=f"{username}@demo.dinhhoa.gov.vn",
            roles=[grant],
        ),
        actor="demo",
        password_hash=_demo_hash(),
    )
    summary.created.append(f"user {username}")


def _staff_username(name: str, unit_code: str) -> str:
    return f"{slug(name)}.{unit_code}"


def _load_rows(session: Session, settings: Settings, fw: Framework, summary: DemoSummary) -> None:
    ensure_admin(session, password=settings.admin_password)
    record, changed = store_framework(session, framework=fw, actor="demo")
    assert record.id is not None
    publish_framework(session, framework_id=record.id, actor="demo")
    summary.framework_id = record.id
    if changed:
        summary.created.append(f"framework {record.id}")

    for code, name in UNITS:
        if get_unit_by_code(session, code=code) is None:
            create_unit(
                session,
                unit_in=UnitCreate(
                    code=code, name=name, group="commune", email=f"vanphong@{code}.demo.gov.vn"
                ),
                actor="demo",
            )
            summary.created.append(f"unit {code}")
        _ensure_user(
            session,
            summary,
            f"vp.{code}",
            OFFICES[code],
            RoleGrantIn(role=Role.unit_office, unit_code=code),
        )
        for staff in sorted({row["staff"] for row in _assignment_rows()}):
            _ensure_user(
                session,
                summary,
                _staff_username(staff, code),
                STAFF_NAMES.get(staff, staff),
                RoleGrantIn(role=Role.staff, unit_code=code),
            )
    agencies = sorted({n.agency for n in fw.leaves() if n.agency})
    for i, agency in enumerate(agencies):
        _ensure_user(
            session,
            summary,
            f"td.{slug(agency)}"[:64],
            COUNCIL_NAMES[i % len(COUNCIL_NAMES)],
            RoleGrantIn(role=Role.council, agency=agency),
        )
    _ensure_user(session, summary, "lanhdao", "Đỗ Văn Bảy", RoleGrantIn(role=Role.viewer))
    year = datetime.now(UTC).astimezone(VN_TZ).year
    if load_last_year(
        session,
        cycle_id=f"{CYCLE_ID}-{year - 1}",
        framework_id=record.id,
        framework=fw,
        year=year - 1,
    ):
        summary.created.append(f"cycle {CYCLE_ID}-{year - 1}")

    if session.get(Cycle, CYCLE_ID) is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        # The cycle's submission deadline passed yesterday (the lock is three days ahead): the
        # demo then extends every unit but one, which stays late (`cli.demo_stages`).
        submission = _local(now, -1, 17)
        create_cycle(
            session,
            spec=CycleSpec(
                cycle_id=CYCLE_ID,
                year=now.astimezone(VN_TZ).year,
                title="Đánh giá, xếp loại mức độ hoàn thành nhiệm vụ UBND cấp xã (demo)",
                framework_id=record.id,
                units=[code for code, _ in UNITS],
                opens_at=now - timedelta(days=14),
                data_cutoff_at=now - timedelta(days=3),
                submission_deadline=submission,
                hard_lock_at=_local(now, 3, 17),
                appraisal_deadline=_local(now, 17, 17),
                results_target=_local(now, 24, 17),
            ),
            actor="admin",
        )
        summary.created.append(f"cycle {CYCLE_ID}")


def _assignments(unit_code: str) -> tuple[AssignmentSpec, ...]:
    """The seed's table for this unit; one responsible per criterion (the first row naming it)."""
    specs: list[AssignmentSpec] = []
    responsible_for: set[tuple[str, ...]] = set()
    for row in _assignment_rows():
        codes = tuple(row["codes"])
        responsible = bool(row["responsible"]) and codes not in responsible_for
        if responsible:
            responsible_for.add(codes)
        specs.append(
            AssignmentSpec(
                codes=codes,
                username=_staff_username(row["staff"], unit_code),
                responsible=responsible,
            )
        )
    return tuple(specs)


async def _start_and_assign(
    settings: Settings, engine: Engine, summary: DemoSummary, fw: Framework
) -> None:
    client = await connect(settings)
    await start_cycle(client, engine, CYCLE_ID, task_queue=settings.temporal_task_queue)
    for code, _ in UNITS:
        with session_scope(engine) as session:
            unit = get_unit_by_code(session, code=code)
            assert unit is not None
            state = _unit_state(session, unit)
        if state is not UnitState.assigning:
            continue
        try:
            await unit_command(
                client,
                CYCLE_ID,
                code,
                AssignCommand(actor=f"vp.{code}", assignments=_assignments(code)),
                update_id=f"demo-assign-{CYCLE_ID}-{code}",
            )
            summary.assigned_units.append(code)
        except Refusal as exc:  # already moved on (a 409): nothing to do
            if exc.status != 409:
                raise
    await stage_units(client, engine, settings, CYCLE_ID, fw)


def _unit_state(session: Session, unit: Unit) -> UnitState:
    row = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == CYCLE_ID, CycleUnit.unit_id == unit.id)
    ).one()
    return UnitState(row.state)


def load_demo(settings: Settings) -> DemoSummary:
    """Loads (or finds) the demo data and starts the demo cycle; idempotent."""
    if settings.mode is Mode.production:
        raise RuntimeError("refusing to load demo data in production mode")
    fw = load_framework_yaml(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    summary = DemoSummary()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with session_scope(engine, write=True) as session:
            _load_rows(session, settings, fw, summary)
        asyncio.run(_start_and_assign(settings, engine, summary, fw))
        # /readyz waits for this row (`dev --demo`)
        with session_scope(engine, write=True) as session:
            audit.record(
                session, actor="demo", entity="demo", action="loaded", request_key=DEMO_LOADED_KEY
            )
    finally:
        engine.dispose()
    print(
        f"Dữ liệu mẫu: kỳ đánh giá {CYCLE_ID} ({len(UNITS)} xã: đã gửi, làm dở, chưa bắt đầu, "
        f"chậm hạn) và kỳ năm trước đã công bố; tài khoản admin "
        f"(mật khẩu APPRAISAL_ADMIN_PASSWORD), vp.binh-thanh, lan.binh-thanh, … "
        f"(mật khẩu {DEMO_PASSWORD}); mới tạo: {len(summary.created)} mục."
    )
    return summary


def _cmd_load(args: argparse.Namespace) -> int:
    load_demo(get_settings())
    return 0


def register(subparsers: Any) -> None:
    """Adds `appraisal demo load`."""
    demo = subparsers.add_parser("demo", help="demo data for the embedded stack")
    sub = demo.add_subparsers(dest="demo_command", required=True)
    sub.add_parser("load", help="load the demo data and start the demo cycle").set_defaults(
        func=_cmd_load
    )
