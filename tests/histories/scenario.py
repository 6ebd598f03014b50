"""Shared helpers of the workflow tests: seed a cycle of Định Hóa communes and drive it.

Used by tests/test_workflow_*.py and by ``python -m tests.histories.generate`` (which rewrites
the committed histories replayed by tests/workflows/test_workflow_replay.py).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

import frameworks
from contracts.messages import AssignmentSpec
from core.db import session_scope
from core.settings import Settings
from core.vn import VN_TZ
from frameworks.yaml_io import load_framework_yaml
from models.framework import (
    DerivedRule,
    Framework,
    Node,
)
from models.tables import Role, RoleGrant, Unit, User
from notifications.sink import MailSink
from scoring.rules import full_marks_inputs
from services.cycles import CycleSpec, create_cycle
from services.frameworks import publish_framework, store_framework
from services.sheet import Editor, save_appraisal, save_draft
from workflows.worker import AppWorkers, build_worker

BUILTIN = Path(frameworks.__file__).parent / "builtin"
FRAMEWORK_FILE = BUILTIN / "dinh-hoa-commune-2024.yaml"
ASSIGNMENTS_FILE = BUILTIN / "dinh-hoa-commune-2024-assignments.yaml"
HISTORIES = Path(__file__).parent

# Three communes of Định Hóa district; Bình Thành is the commune of the seed document.
COMMUNES = (
    ("binh-thanh", "UBND xã Bình Thành"),
    ("phuong-tien", "UBND xã Phượng Tiến"),
    ("dinh-bien", "UBND xã Định Biên"),
)

_framework_cache: dict[str, Framework] = {}


def dinh_hoa() -> Framework:
    """The built-in Định Hóa commune framework 2024."""
    if "fw" not in _framework_cache:
        _framework_cache["fw"] = load_framework_yaml(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    return _framework_cache["fw"]


def slug(name: str) -> str:
    """ "Phạm Sơn" → "pham-son" (usernames from the seed's staff names)."""
    text = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def seed_assignments() -> list[tuple[tuple[str, ...], str, bool]]:
    """The seed's assignment table (codes, staff name, responsible) in its order."""
    rows = yaml.safe_load(ASSIGNMENTS_FILE.read_text(encoding="utf-8"))
    return [(tuple(r["codes"]), r["staff"], bool(r["responsible"])) for r in rows]


def local(y: int, m: int, d: int, hh: int = 17, mm: int = 0) -> datetime:
    """A local (Asia/Ho_Chi_Minh) wall time as an aware UTC instant."""
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ).astimezone(UTC)


@dataclass
class Seeded:
    """What a seeded cycle consists of."""

    cycle_id: str
    year: int
    framework_id: int
    units: list[str]
    staff: dict[str, list[str]] = field(default_factory=dict)  # unit → usernames
    specs: dict[str, list[AssignmentSpec]] = field(default_factory=dict)
    office: dict[str, str] = field(default_factory=dict)  # unit → username
    coordinator: str = "coordinator"
    council: str = "council-noi-vu"


def _user(session: Any, username: str, full_name: str, email: str) -> User:
    user: User | None = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, full_name=full_name, email=email, password_hash="!")
        session.add(user)
        session.flush()
    return user


def _grant(
    session: Any, user: User, role: Role, unit_id: int | None = None, agency: str | None = None
) -> None:
    exists = session.exec(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == role,
            RoleGrant.unit_id == unit_id,
            RoleGrant.agency == agency,
        )
    ).first()
    if exists is None:
        assert user.id is not None
        session.add(RoleGrant(user_id=user.id, role=role, unit_id=unit_id, agency=agency))
        session.flush()


def seed_cycle(
    engine: Engine,
    *,
    year: int,
    opens_at: datetime,
    units: Sequence[tuple[str, str]] = COMMUNES,
    real_table_for: Iterable[str] = ("binh-thanh",),
    cycle_id: str | None = None,
    submission: datetime | None = None,
    hard_lock: datetime | None = None,
    cutoff: datetime | None = None,
    appraisal: datetime | None = None,
    results: datetime | None = None,
    offsets: Sequence[int] = (168, 72, 24, 0),
    rounds: int = 2,
    round_days: int = 5,
) -> Seeded:
    """Units, staff (the seed's table for ``real_table_for``, two staff elsewhere), office,
    coordinator, council, the published Định Hóa framework and a draft cycle of the year:
    data cut-off 20/11, submission 17:00 22/11, hard lock 17:00 25/11 (as in the seed)."""
    cycle_id = cycle_id or f"{year}-dinhhoa-{uuid.uuid4().hex[:6]}"
    real = set(real_table_for)
    fw = dinh_hoa()
    with session_scope(engine) as s:
        record, _ = store_framework(s, framework=fw, actor="test")
        assert record.id is not None
        publish_framework(s, framework_id=record.id, actor="test")
        framework_id = record.id
        coord = _user(s, "coordinator", "Phòng Nội vụ huyện Định Hóa", "noivu@dinhhoa.test")
        _grant(s, coord, Role.coordinator)
        council = _user(s, "council-noi-vu", "Hội đồng thẩm định (Phòng Nội vụ)", "hd@dinhhoa.test")
        _grant(s, council, Role.council, agency="Phòng Nội vụ")
        seeded = Seeded(cycle_id=cycle_id, year=year, framework_id=framework_id, units=[])
        for code, name in units:
            unit = s.exec(select(Unit).where(Unit.code == code)).first()
            if unit is None:
                unit = Unit(code=code, name=name, group="commune", email=f"vanphong@{code}.test")
                s.add(unit)
                s.flush()
            assert unit.id is not None
            seeded.units.append(code)
            office = _user(s, f"vp-{code}", f"Văn phòng – Thống kê {name}", f"vp@{code}.test")
            _grant(s, office, Role.unit_office, unit.id)
            seeded.office[code] = office.username
            if code in real:
                table = seed_assignments()
            else:
                table = [
                    (("NỘI DUNG I",), "Lan", True),
                    (("NỘI DUNG II", "NỘI DUNG III"), "Dung", True),
                ]
            specs: list[AssignmentSpec] = []
            names: list[str] = []
            for codes, staff_name, responsible in table:
                username = f"{code}-{slug(staff_name)}"[:64]
                user = _user(s, username, staff_name, f"{slug(staff_name)}@{code}.test")
                _grant(s, user, Role.staff, unit.id)
                if username not in names:
                    names.append(username)
                specs.append(
                    AssignmentSpec(codes=codes, username=username, responsible=responsible)
                )
            seeded.staff[code] = names
            seeded.specs[code] = specs
        create_cycle(
            s,
            spec=CycleSpec(
                cycle_id=cycle_id,
                year=year,
                title=f"Đánh giá mức độ hoàn thành nhiệm vụ năm {year} — xã huyện Định Hóa",
                framework_id=framework_id,
                units=[c for c, _ in units],
                opens_at=opens_at,
                data_cutoff_at=cutoff or local(year, 11, 20, 23, 59),
                submission_deadline=submission or local(year, 11, 22),
                hard_lock_at=hard_lock or local(year, 11, 25),
                appraisal_deadline=appraisal or local(year, 12, 10),
                results_target=results or local(year, 12, 20),
                reminder_offsets_hours=offsets,
                max_explanation_rounds=rounds,
                explanation_round_days=round_days,
            ),
            actor="coordinator",
        )
    return seeded


full_inputs = full_marks_inputs  # the scenarios' diligent unit


def seed_open_cycle(engine: Engine, *, year: int, units: Sequence[tuple[str, str]]) -> Seeded:
    """A cycle of ``units`` (two staff each, no real table, no reminders) that opened a minute
    ago: data cut-off an hour ago, submission in 5 days, hard lock in 8, appraisal in 20,
    results in 30 — for tests that run commands now on the dev server."""
    now = datetime.now(UTC)
    return seed_cycle(
        engine,
        year=year,
        opens_at=now - timedelta(minutes=1),
        units=units,
        real_table_for=(),
        cutoff=now - timedelta(hours=1),
        submission=now + timedelta(days=5),
        hard_lock=now + timedelta(days=8),
        appraisal=now + timedelta(days=20),
        results=now + timedelta(days=30),
        offsets=(),
    )


def draft_everything(engine: Engine, cycle_id: str, unit: str, now: datetime) -> Decimal:
    """The unit office fills in every leaf it may score with full inputs and an explanation."""
    total = Decimal(0)
    editor = Editor(username=f"vp-{unit}", office=True)
    for node in dinh_hoa().leaves():
        if isinstance(node.rule, DerivedRule):
            continue  # supplied by the system or the council, never self-scored
        with session_scope(engine) as s:
            res = save_draft(
                s,
                cycle_id=cycle_id,
                unit_code=unit,
                criterion_code=node.code,
                editor=editor,
                now=now,
                inputs=full_inputs(node),
                explanation=f"Năm {now.year}, đơn vị đã thực hiện đầy đủ (Báo cáo số 12/BC-UBND).",
            )
            total += res.score or 0
    return total


def appraise_derived(engine: Engine, cycle_id: str, unit: str, now: datetime) -> None:
    """The council supplies the derived criteria (8.x: its decision, rank and score change)."""
    editor = Editor(username="hoi-dong", coordinator=True)
    for node in dinh_hoa().leaves():
        if isinstance(node.rule, DerivedRule):
            with session_scope(engine) as s:
                save_appraisal(
                    s,
                    cycle_id=cycle_id,
                    unit_code=unit,
                    criterion_code=node.code,
                    editor=editor,
                    now=now,
                    inputs=full_inputs(node),
                    comment="Hội đồng thẩm định quyết định.",
                )


def worker_for(client: Client, engine: Engine, settings: Settings, task_queue: str) -> AppWorkers:
    """A worker with the real activities on a test task queue."""
    return build_worker(client, engine=engine, settings=settings, task_queue=task_queue)


def settings_for(smtp_port: int) -> Settings:
    """Settings pointing at the test SMTP sink."""
    return Settings(
        smtp_host="127.0.0.1", smtp_port=smtp_port, base_url="https://danhgia.dinhhoa.test"
    )


def after(instant: datetime, **delta: float) -> datetime:
    """``instant`` + a timedelta."""
    return instant + timedelta(**delta)


# --- driving a cycle in the tests ------------------------------------------------------------


def iso(t: datetime) -> str:
    """The UTC ISO form used in idempotency keys."""
    return t.astimezone(UTC).isoformat()


def leaves_under(*codes: str) -> list[str]:
    """The leaf codes under these nodes that the unit scores itself (derived ones excluded)."""
    fw = dinh_hoa()
    out: list[str] = []
    for code in codes:
        out.extend(
            n.code
            for n in _walk(fw.node(code))
            if n.is_leaf and not isinstance(n.rule, DerivedRule)
        )
    return out


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


class Mails:
    """The keys of every mail the SMTP server received, checked against expectations."""

    def __init__(self, sink: MailSink, cycle_id: str) -> None:
        self.sink = sink
        self.cycle_id = cycle_id
        self.expected: set[str] = set()

    def key(self, unit: str | None, kind: str, key: str, who: str) -> str:
        return f"{self.cycle_id}|{unit or '-'}|{kind}|{key}|{who}"

    def expect(self, unit: str | None, kind: str, key: str, people: Iterable[str]) -> None:
        for who in people:
            self.expected.add(self.key(unit, kind, key, who))

    def reminder(
        self,
        unit: str,
        dkind: str,
        deadline: datetime,
        offset: str,
        people: Iterable[str],
        kind: str = "reminder",
    ) -> None:
        self.expect(unit, kind, f"{dkind}|{iso(deadline)}|{offset}", people)

    async def check(self) -> None:
        await self.sink.wait_for(len(self.expected), timeout=20)
        got = [str(m["X-Appraisal-Key"]).strip() for m in self.sink.messages]
        assert len(got) == len(set(got)), "a message was sent twice"
        missing = self.expected - set(got)
        extra = set(got) - self.expected
        assert not missing and not extra, (sorted(missing), sorted(extra))

    def find(self, key: str) -> EmailMessage:
        return next(m for m in self.sink.messages if str(m["X-Appraisal-Key"]).strip() == key)


def text_of(msg: EmailMessage) -> str:
    """The plain-text body of a received mail."""
    part = msg.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


async def sleep_until(env: WorkflowEnvironment, when: datetime) -> None:
    """Skips the test server's time to ``when``."""
    await env.sleep(when - await env.get_current_time())


def user_editor(engine: Engine, username: str) -> Editor:
    """A staff member as the API would pass them to the edit gate."""
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        return Editor(username=username, user_id=user.id)


def draft(
    engine: Engine, cycle_id: str, unit: str, editor: Editor, codes: list[str], now: datetime
) -> None:
    """Drafts these criteria with full inputs and an explanation."""
    fw = dinh_hoa()
    for code in codes:
        with session_scope(engine) as s:
            save_draft(
                s,
                cycle_id=cycle_id,
                unit_code=unit,
                criterion_code=code,
                editor=editor,
                now=now,
                inputs=full_inputs(fw.node(code)),
                explanation="Đã thực hiện đầy đủ theo Kế hoạch số 12/KH-UBND.",
            )


async def completed(env: WorkflowEnvironment, *wf_ids: str) -> None:
    """Waits for the workflows' results and checks they completed (not failed)."""
    for wf_id in wf_ids:
        handle = env.client.get_workflow_handle(wf_id)
        await handle.result()
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED, wf_id


async def write_histories(env: WorkflowEnvironment, cycle_id: str, names: dict[str, str]) -> None:
    """Saves the histories of the main paths for the replay test (on demand only).

    ``APPRAISAL_WRITE_HISTORIES=1`` writes ``<name>.json``; any other value ``v`` writes
    ``<name>-v.json`` beside them (a new generation after a ``workflow.patched`` change: the
    older files stay, as the proof that workflows begun before it still replay).
    """
    generation = os.environ.get("APPRAISAL_WRITE_HISTORIES")
    if not generation:
        return
    suffix = "" if generation == "1" else f"-{generation}"
    for name, wf_id in names.items():
        history = await env.client.get_workflow_handle(wf_id).fetch_history()
        compact = json.dumps(json.loads(history.to_json()), separators=(",", ":"))
        (HISTORIES / f"{name}{suffix}.json").write_text(compact + "\n", encoding="utf-8")
