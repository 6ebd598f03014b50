"""The benchmark's code paths with N = 3 on the session's dev server: every measurement does
exactly the work it claims (no timing is asserted, only that the numbers measure real work)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.load import LoadSizes, load_table, run_load
from bench.run import Report, markdown, run_benchmarks
from bench.scoring import bench_scoring, scale_table

N = 3


def _actual(report: Report, key: str, what: str) -> object:
    return next(c.actual for c in report.result(key).checks if c.what == what)


async def test_benchmark_does_the_work_it_times(
    temporal_dev: WorkflowEnvironment, tmp_path: Path
) -> None:
    report = await run_benchmarks(N, tmp_path, client=temporal_dev.client, lock_setup_s=12)

    failed = [(r.key, c) for r in report.results for c in r.checks if not c.ok]
    assert failed == []
    assert [r.key for r in report.results] == ["start", "mail", "mail-replay", "edit", "score"]
    assert all(r.project.count == N for r in report.results)
    # 0. the transition row: N submits through the API, every unit submitted; the lock row:
    # nothing accepted from the lock instant, every unit workflow locked
    [transition, lock] = report.load
    assert transition.clients == 1 and transition.errors == 0
    assert transition.project_rate > 0 and transition.raw_rate > 0
    assert "back to back: not measured" in transition.detail  # N = 3: no units for it
    assert lock.measurement.startswith(f"lock precision: {N} units")
    assert lock.errors == 0

    # 1. every unit workflow of the cycle exists, and every baseline workflow too
    assert _actual(report, "start", "units started (start_cycle's answer)") == N
    assert _actual(report, "start", "unit workflows running") == N
    assert _actual(report, "start", "baseline workflows running (run before and after)") == 2 * N
    # 2. the sink got exactly N digests, once each; the replay sent none; the raw side sent N
    assert _actual(report, "mail", "messages the sink received") == N
    assert _actual(report, "mail", "distinct idempotency keys received") == N
    assert _actual(report, "mail", "outbox rows marked sent") == N
    assert _actual(report, "mail-replay", "messages the sink received on replay") == 0
    assert _actual(report, "mail-replay", "messages the activity reported sent on replay") == 0
    assert _actual(report, "mail", "raw sends the sink received") == N
    # … and the outbox's own transactions, timed alone, stored and settled a copy of each row
    assert _actual(report, "mail", "outbox alone: rows stored and marked sent") == N
    assert "the outbox's own two transactions per message alone" in report.result("mail").detail
    # 3. the edit gate saved (and audited) every row; the raw UPDATE rewrote the same rows
    assert _actual(report, "edit", "rows saved through the gate") == N
    assert _actual(report, "edit", "audit rows written") == N
    assert _actual(report, "edit", "rows the raw UPDATE touched") == N
    assert _actual(report, "edit", "raw UPDATE wrote the same values") is True
    # 4. the whole Định Hóa sheet: 80 leaves, a diligent commune scores the full 100
    assert _actual(report, "score", "leaves in the sheet") == 80
    assert str(_actual(report, "score", "score_sheet total equals the raw sum")) == "100.000"

    text = markdown(report, ".venv/bin/python -m bench.run --units 3")
    assert "## How to read it" in text
    assert "| Start a cycle: every unit workflow exists | 3 |" in text
    assert "`.venv/bin/python -m bench.run --units 3`" in text
    assert "SOME FAILED" not in text


async def test_load_rows_measure_real_http_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline-rush rows with two clients: every save answered and audited (through the
    API and through the unit page's form), the raw side did the same transactions, the storm's
    readers all answered; the issue's exact columns."""
    databases: tuple[str, ...] = ("sqlite",)
    if os.environ.get("TEST_DATABASE_URL"):
        monkeypatch.setenv("BENCH_POSTGRES_URL", os.environ["TEST_DATABASE_URL"])
        databases += ("postgresql",)
    sizes = LoadSizes(
        clients=(2,),
        edits_per_client=3,
        units=2,
        storm_logins=3,
        storm_readers=2,
        reads_per_reader=2,
        databases=databases,
    )
    rows = await run_load(sizes, tmp_path)

    kinds = ["draft edits", "the HTTP floor", "draft edits", "login storm"]
    assert [
        (r.database, r.clients, r.measurement.split(":")[0].split(" through")[0]) for r in rows
    ] == [(db, 2, kind) for db in databases for kind in kinds]
    failed = [c for r in rows for c in r.checks if not c.ok]
    assert failed == []
    edits = [r for r in rows if r.measurement == "draft edits through the API"]
    assert all(r.errors == 0 and r.project_rate > 0 and r.raw_rate > 0 for r in edits)
    pages = [r for r in rows if r.measurement.startswith("draft edits through the pages")]
    assert len(pages) == len(databases)
    assert all(r.errors == 0 and r.project_rate > 0 and r.raw_rate > 0 for r in pages)
    assert all("GET /healthz meanwhile" in r.detail for r in [*edits, *pages])
    floors = [r for r in rows if r.measurement.startswith("the HTTP floor")]
    assert [r.raw_rate for r in floors] == [r.raw_rate for r in edits]  # the same raw side
    assert all(r.errors == 0 and r.project_rate > 0 for r in floors)
    storm = [r for r in rows if r.measurement.startswith("login storm")]
    assert all("401" in r.detail or "503" in r.detail for r in storm)
    assert load_table(rows).splitlines()[0] == (
        "| measurement | database | clients | project /s | raw /s | raw ÷ project "
        "| p50 ms | p95 ms | p99 ms | errors |"
    )


def test_scoring_at_scale_classifies_every_unit() -> None:
    """Scoring rows at 30 and 60 units: every unit classified, time and memory measured."""
    rows = bench_scoring([30, 60])
    assert [(r.units, r.classified, r.criteria) for r in rows] == [(30, 30, 80), (60, 60, 80)]
    assert all(r.project_s > 0 and r.raw_s > 0 and r.peak_mib > 0 for r in rows)
    assert scale_table(rows).splitlines()[2].startswith("| 30 × 80 |")
