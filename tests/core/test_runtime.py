"""Start-up objects frozen out of the garbage collector in a serving process, never in a test's."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from core.migrate import upgrade
from core.runtime import freeze_startup_objects
from tests.api_support import make_app, make_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Cycle:
    """Garbage held only by a reference cycle: only a collection frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("unfrozen")
def test_the_survivors_of_start_up_are_frozen_and_its_garbage_collected_first() -> None:
    kept = {"alive": [1, 2, 3]}
    _Cycle()  # unreachable at once
    frozen = freeze_startup_objects()

    assert frozen == gc.get_freeze_count() > 0
    assert not any(isinstance(o, _Cycle) for o in gc.get_objects())  # collected, not frozen
    assert not any(o is kept for o in gc.get_objects())  # frozen: out of the collector's scans
    gc.unfreeze()
    assert any(o is kept for o in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_an_app_given_its_engine_freezes_nothing(engine: Engine, tmp_path: Path) -> None:
    # A test process builds hundreds of apps: what they freeze would never be collected.
    with TestClient(make_app(engine, tmp_path)) as http:
        assert http.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("unfrozen")
def test_an_app_that_made_its_own_engine_freezes_its_start_up(tmp_path: Path) -> None:
    # What uvicorn serves (`appraisal api`): the app makes its engine from the settings.
    url = f"sqlite:///{(tmp_path / 'served.db').as_posix()}"
    upgrade(url)
    app = create_app(make_settings(tmp_path, database_url=url))
    with TestClient(app) as http:
        assert gc.get_freeze_count() > 0
        assert http.get("/healthz").status_code == 200
