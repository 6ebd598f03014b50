"""Re-running some load rows (``--only-load --update-rows``) replaces exactly those rows of
BENCHMARKS.md and their notes, adds the new ones, and says which rows were re-run and how."""

from __future__ import annotations

from pathlib import Path

from bench.load import LoadRow, load_table
from bench.rows import RERUN_MARK, rerun_note, update_load_rows

OLD = [
    LoadRow("a transition through the API (submit), one at a time", "sqlite", 1, 9.9, 19.5,
            99.4, 144, 326, 0, detail="raw p95 67 ms"),
    LoadRow("draft edits through the API", "sqlite", 10, 90.1, 2882, 101, 216, 276, 0,
            detail="statuses {200: 200}"),
    LoadRow("draft edits through the API", "sqlite", 50, 103, 3343, 437, 603, 948, 0,
            detail="statuses {200: 1000}"),
    LoadRow("login storm: readers during 50 wrong logins", "sqlite", 20, 41.8, 45.9,
            377, 1255, 1671, 0, detail="login answers {401: 8, 503: 42}"),
]  # fmt: skip
TABLE = (
    "# Benchmarks\n\n## Load: the deadline rush over HTTP\n\n"
    + load_table(OLD)
    + "\n\n"
    + "".join(f"- {r.measurement}, {r.database}, {r.clients}: {r.detail}\n" for r in OLD)
    + "\n## Scoring at scale\n\nkept as it was\n"
)


def _row(name: str, db: str, clients: int, rate: float, detail: str) -> LoadRow:
    return LoadRow(name, db, clients, rate, 3000.0, 40.0, 80.0, 120.0, 0, detail=detail)


def test_only_the_rows_re_run_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(TABLE, encoding="utf-8")
    done = update_load_rows(
        path,
        [
            _row("draft edits through the API", "sqlite", 50, 250.0, "statuses {200: 999}"),
            _row("login storm: readers during 50 wrong logins", "sqlite", 20, 60.0, "storm!"),
            _row(
                "a transition through the API (submit), one at a time "
                "(raw p95 60 ms; p95 ÷ raw p95 = 1.20×)",
                "sqlite",
                1,
                11.0,
                "raw p95 60 ms",
            ),
            _row("draft edits through the API", "postgresql", 10, 70.0, "statuses {200: 7}"),
        ],
        "NOTE",
    )
    text = path.read_text(encoding="utf-8")
    assert done == [
        "a transition through the API (submit), one at a time / sqlite / 1",
        "draft edits through the API / sqlite / 50",
        "login storm: readers during 50 wrong logins / sqlite / 20",
        "draft edits through the API / postgresql / 10",
    ]
    # replaced in place, untouched rows kept, a new row added to the table
    assert "| draft edits through the API | sqlite | 50 | 250 |" in text
    assert "| draft edits through the API | sqlite | 10 | 90.1 |" in text
    assert "| draft edits through the API | sqlite | 50 | 103 |" not in text
    assert "(raw p95 60 ms; p95 ÷ raw p95 = 1.20×) | sqlite | 1 | 11.0 |" in text
    assert "| draft edits through the API | postgresql | 10 | 70.0 |" in text
    # notes follow their rows; the re-run line says how; the rest of the file is kept
    assert "- draft edits through the API, sqlite, 50: statuses {200: 999}" in text
    assert "- draft edits through the API, sqlite, 10: statuses {200: 200}" in text
    assert "login answers {401: 8" not in text and "sqlite, 20: storm!" in text
    assert "- draft edits through the API, postgresql, 10: statuses {200: 7}" in text
    assert f"{RERUN_MARK} NOTE" in text
    assert text.endswith("## Scoring at scale\n\nkept as it was\n")
    assert text.count("| draft edits through the API |") == 3


def test_a_re_run_of_the_same_rows_replaces_the_earlier_re_run_line(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(TABLE, encoding="utf-8")
    first = [
        _row("draft edits through the API", "sqlite", 10, 95.0, "a"),
        _row("draft edits through the API", "sqlite", 50, 200.0, "b"),
    ]
    update_load_rows(path, first, "the rows above for sqlite 10, sqlite 50 on day 1 with `x`")
    update_load_rows(path, first[1:], "the rows above for sqlite 50 on day 2 with `y`")
    text = path.read_text(encoding="utf-8")
    assert "on day 1" in text and "on day 2" in text  # day 1's sqlite 10 row still stands
    update_load_rows(path, first, rerun_note(first, "on day 3 with `z`"))  # as bench.run writes
    text = path.read_text(encoding="utf-8")
    assert text.count(RERUN_MARK) == 1 and "on day 3" in text
    assert text.endswith("## Scoring at scale\n\nkept as it was\n")


def test_a_larger_run_reports_its_own_transition_and_lock_rows() -> None:
    """``--larger 1000,5000`` runs the transition and lock rows again (the lock with 1,000
    units): BENCHMARKS.md shows them in that N's section, not only the main N's."""
    from bench.run import Machine, Report, markdown

    machine = Machine(2, "3.11", "Linux", "temporalio ?", "2026-12-01", 1.0, 1.0)

    def run(units: int, lock_s: float) -> Report:
        lock = LoadRow(
            f"lock precision: {min(units, 1000)} units, one hard lock (N = {lock_s} s)",
            "sqlite", 10, 66.0, 0.0, 100.0, 150.0, 900.0, 0, detail=f"locked after {lock_s} s",
        )  # fmt: skip
        return Report(units=units, results=[], machine=machine, seconds=1.0, load=[lock])

    report = run(500, 10.4)
    report.larger = [run(1000, 21.5), run(5000, 22.0)]
    text = markdown(report, "bench")
    n1000 = text[text.index("## Results (N = 1000)") : text.index("## Results (N = 5000)")]
    n5000 = text[text.index("## Results (N = 5000)") : text.index("## Load: the deadline rush")]
    assert "lock precision: 1000 units, one hard lock (N = 21.5 s)" in n1000
    assert "locked after 21.5 s" in n1000 and "22.0" not in n1000
    assert "lock precision: 1000 units, one hard lock (N = 22.0 s)" in n5000
    load = text[text.index("## Load: the deadline rush") :]
    assert "(N = 10.4 s)" in load and "(N = 21.5 s)" not in load
