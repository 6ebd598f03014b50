"""The benchmark: ``.venv/bin/python -m bench.run [--units N] [--quick] [--output P | --no-write]``.

Starts its own services in a temporary folder (``bench.stack``), runs the four measurements of
``bench.cases`` against their raw baselines, prints a Markdown table with the checks and, for a
full run, writes it with the machine's facts and the command into BENCHMARKS.md. Exits 1 when a
check fails (the numbers of a run that did not do the work are worthless).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from temporalio.client import Client

from bench.cases import Result, bench_edit_gate, bench_mail, bench_score, bench_start
from bench.load import LoadRow, LoadSizes, load_table, run_load
from bench.lock import bench_lock
from bench.rows import rerun_note, update_load_rows
from bench.scoring import ScaleRow, bench_scoring, scale_table
from bench.stack import open_stack, seed, temporal_binary
from bench.transition import bench_transition
from core.vn import VN_TZ

__all__ = ["Machine", "Report", "main", "markdown", "run_benchmarks"]

DEFAULT_UNITS = 500
QUICK_UNITS = 50
TRANSITIONS = 100  # submits timed one after another (at most N - 1: one more warms up)
LOCK_UNITS = 1000  # units sharing the hard lock (at most N)
BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
COMMAND = ".venv/bin/python -m bench.run"


@dataclass(frozen=True)
class Machine:
    """Facts about the machine and the software a run measured."""

    cores: int
    python: str
    system: str
    versions: str
    date: str
    load_start: float
    load_end: float


@dataclass
class Report:
    """Everything one run measured."""

    units: int
    results: list[Result]
    machine: Machine
    seconds: float
    load: list[LoadRow] = field(default_factory=list)
    larger: list[Report] = field(default_factory=list)  # the same rows at larger N
    scale: list[ScaleRow] = field(default_factory=list)  # scoring at 1,000 … 10,000 units

    @property
    def ok(self) -> bool:
        """Every check of every row passed."""
        return (
            all(r.ok for r in self.results)
            and all(r.ok for r in self.load)
            and all(r.ok for r in self.larger)
            and all(r.classified == r.units for r in self.scale)
        )

    def result(self, key: str) -> Result:
        """The row with this key."""
        return next(r for r in self.results if r.key == key)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _temporal_version() -> str:
    try:
        out = subprocess.run(
            [temporal_binary(), "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return "temporal CLI ?"
    return out.stdout.strip() or "temporal CLI ?"


def _machine(load_start: float) -> Machine:
    libs = ", ".join(
        f"{name} {version(name)}" for name in ("temporalio", "sqlalchemy", "aiosmtplib", "aiosmtpd")
    )
    return Machine(
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        versions=f"{libs}, SQLite {sqlite3.sqlite_version}; {_temporal_version()}",
        date=datetime.now(VN_TZ).strftime("%Y-%m-%d %H:%M (UTC+07:00)"),
        load_start=load_start,
        load_end=_load(),
    )


async def run_benchmarks(
    units: int, workdir: Path, *, client: Client | None = None, lock_setup_s: float | None = None
) -> Report:
    """Runs every measurement with ``units`` as N; ``client``: use this Temporal server;
    ``lock_setup_s``: how far ahead the shared hard lock is set (default: from N)."""
    load_start = _load()
    start = time.perf_counter()
    async with open_stack(workdir, client=client) as stack:
        seeded = seed(stack.engine, units)
        results = [await bench_start(stack, seeded, units)]
        results += await bench_mail(stack, seeded, units)
        results.append(bench_edit_gate(stack, seeded, units))
        results.append(bench_score(units))
        transition = await bench_transition(stack, seeded, min(units - 1, TRANSITIONS))
        lock = await bench_lock(stack, seeded, min(units, LOCK_UNITS), setup_s=lock_setup_s)
    return Report(
        units=units,
        results=results,
        load=[transition, lock],
        machine=_machine(load_start),
        seconds=time.perf_counter() - start,
    )


# --- the report ------------------------------------------------------------------------------


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _factor(value: float) -> str:
    return f"{value:,.0f}×" if value >= 100 else f"{value:,.2f}×"


def table(report: Report) -> str:
    """The results as a Markdown table."""
    lines = [
        "| measurement | N | project /s | raw /s | raw ÷ project | project path | raw baseline |",
        "|---|--:|--:|--:|--:|---|---|",
    ]
    for r in report.results:
        lines.append(
            f"| {r.title} | {r.project.count} | {_rate(r.project.rate)} {r.per}s "
            f"| {_rate(r.baseline.rate)} | **{_factor(r.factor)}** "
            f"| {r.project_label} | {r.baseline_label} |"
        )
    return "\n".join(lines)


def checks(report: Report) -> str:
    """Every correctness check as a Markdown list."""
    lines = []
    for r in report.results:
        for c in r.checks:
            mark = "x" if c.ok else " "
            tail = "" if c.ok else f" — expected {c.expected}"
            lines.append(f"- [{mark}] {r.key}: {c.what}: {c.actual}{tail}")
    for row in report.load:
        for c in row.checks:
            mark = "x" if c.ok else " "
            tail = "" if c.ok else f" — expected {c.expected}"
            lines.append(f"- [{mark}] load: {c.what}: {c.actual}{tail}")
    return "\n".join(lines)


HOW_TO_READ = """\
- Every row times the project's own code path and, **in the same run, on the same services**,
  a raw baseline doing the same work with nothing of the project around it (raw Temporal, raw
  SQL, raw SMTP, a plain `sum`). Rates are operations per wall-clock second of the measured
  loop only; setup, warm-up and checks are outside the timers.
- **raw ÷ project** is the price of what the project adds: 1.00× means no overhead, 3.00×
  means the raw baseline does the same work three times as fast. Compare these ratios between
  runs and machines; the absolute rates depend on the machine and its load.
- *Start a cycle*: from `workflows.commands.start_cycle` to its answer that every unit workflow
  exists (cycle workflow, `cycle.step` and `cycle.start_units` activities, database reads,
  business-key ids with `REJECT_DUPLICATE`, four search attributes each) against
  `client.start_workflow` of a trivial workflow N times with the same concurrency, same server,
  same client, timed once before and once after the project's run (the table shows both
  together, the line under it each). A worker runs both kinds of workflow while they start;
  between two timings the benchmark waits, untimed, until it has run the first task of every
  workflow started, so no backlog spills into the next timing.
- *Reminder digests*: one `mail.notify` activity per unit (run in-process with
  `ActivityEnvironment`: build the notice from the database, render the Jinja templates,
  store it in the outbox under its idempotency key, already claimed, send it over the
  mailer's reused SMTP connection, mark it sent) against a plain `aiosmtplib` loop sending
  the very same messages over one reused connection (the same connection policy on both
  sides). *Replayed*: the
  same N notices again, as after a worker crash or a history replay; the sink must receive
  nothing. Its ratio is against the raw send: below 1× means recognising a duplicate is
  cheaper than sending it.
- *Edit gate*: `services.sheet.save_draft` in one transaction per save (as N API requests:
  unit row lock, state, assignment and hard-lock checks, rule evaluation, audit row) against a
  raw `UPDATE` of the same rows with the same values, one transaction per row. SQLite file
  (WAL); PostgreSQL will differ.
- *Score a sheet*: `scoring.rules.evaluate` on all 80 leaves of the Định Hóa framework and
  `scoring.aggregate.score_sheet`, against a `sum()` of the same 80 Decimal scores (the baseline
  loop runs 20 times as often so that its timer reads something).
- *Load* (`bench/load.py`): the API served by a real `uvicorn` process on a free port (what
  `appraisal api` runs), each client an `httpx.AsyncClient` with its own user and bearer
  token, clients spread over the units. *Draft edits*: every client saves its unit's criteria
  one after another (`PUT …/criteria/{code}/draft`); raw: the same read-check-update
  transactions (lock and read the unit's state, check it, update the entry) straight through an
  engine made by `core.db.make_engine` on the same database, one thread per client. The rate is
  2xx answers per second of the whole run; p50/p95/p99 are of the 2xx answers; errors are the
  answers that were not 2xx. *Draft edits through the pages*: the same saves as people make
  them in the browser, each client signed in with its own session cookie, posting the unit
  page's form (`POST /cycles/…/criteria/{code}/draft` with the CSRF token; answered 303, not
  followed); same raw side. During both, one more client sends `GET /healthz` every 10 ms:
  its p99 and max (in the note) show how long the event loop kept every other request waiting.
  *The HTTP floor*: the same clients each send as many
  `GET /healthz` (async, no sign-in, no database) to the same process: no route can be faster
  here, so its raw ÷ project (beside the draft row's raw) is the least any route could reach on
  this machine with this client. The clients share one TLS context (httpx builds one per
  client otherwise, ~25 ms of the load generator's CPU each, which stalled it for seconds when
  200 clients started and showed up as the API's latency). *Login storm*: the readers read
  their unit's sheet alone (raw), then again while wrong-password logins arrive at once from
  different addresses; a login answered 503 (hashing queue full, `Retry-After`) is load shed on
  purpose, not an error.
- *Transition* (`bench/transition.py`): `POST …/submit` through the API (in-process ASGI; the
  unit workflow's update and its `unit.transition` activity on the run's worker and dev
  server), one at a time, against a raw `execute_update` whose handler runs one no-op
  activity, same server, same client; the note gives p95 ÷ raw p95 (target ≤ 1.5×). Each
  side's first call is an untimed warm-up; the submits wait, untimed, until the set-up's
  assignment e-mails are sent, and each timed submit until the previous one's e-mail is sent
  (each raw update, too, runs with nothing else on the worker). The note adds a second series
  of submits back to back, each while the previous submit's e-mail is still being sent.
- *Lock precision* (`bench/lock.py`): N units share one hard lock; 10 clients save drafts
  through the API from 5 s before it to 3 s after it. Checked: 0 saves accepted at or after
  the lock instant; reported: N s from the lock instant until every unit workflow has applied
  it (`not_submitted` or `appraising` in the projection, polled every 0.1 s). Raw N, just
  before on the same server and database: as many raw workflows sleep until one shared instant,
  then run one activity, a raw `UPDATE` of their row through the same engine (same activity
  slots and workflow cache as the project's worker), polled the same way; the measurement
  gives N ÷ raw N (the lock's own work: the transition transaction, the e-mail, the editors).
- The dev server keeps its state in a SQLite file with a write-ahead log, as `make dev` does
  (`core.temporal.DEV_SERVER_PRAGMAS`).
- One run on a machine shared with other processes: differences under about 20 % are noise.
  The load average at the start and the end of the run is printed below for that reason.
"""


def details(report: Report) -> str:
    """Where the project's time goes, for the rows that measure it."""
    return "\n".join(f"- {r.key}: {r.detail}" for r in report.results if r.detail)


def _load_rows(rows: Sequence[LoadRow]) -> str:
    notes = "\n".join(f"- {r.measurement}, {r.database}, {r.clients}: {r.detail}" for r in rows)
    return f"{load_table(rows)}\n\n{notes}\n\n"


def _larger_sections(report: Report) -> str:
    # A larger N runs the transition and lock rows too (the lock with up to LOCK_UNITS units):
    # their rows go with it, before its checks (the load section keeps the main N's rows).
    return "".join(
        f"## Results (N = {r.units})\n\n{table(r)}\n\n{details(r)}\n\n"
        + (f"Over HTTP with this N:\n\n{_load_rows(r.load)}" if r.load else "")
        + f"Checks ({'all passed' if r.ok else 'SOME FAILED: the numbers are void'}):\n\n"
        f"{checks(r)}\n\n"
        for r in report.larger
    )


def _scale_section(report: Report) -> str:
    if not report.scale:
        return ""
    return (
        "## Scoring at scale: classify and rank a whole cycle\n\n"
        "`score_sheet` of every unit from its 80 leaf scores (Định Hóa), then `classify` (bands, "
        "vetoes, quotas, ranks per group), against a `sum` per unit and one `sorted`; peak "
        "memory from `tracemalloc` in a second, untimed pass. Linear if ms per unit stays flat."
        f"\n\n{scale_table(report.scale)}\n\n"
    )


def _load_section(report: Report) -> str:
    if not report.load:
        return ""
    return f"## Load: the deadline rush over HTTP\n\n{_load_rows(report.load)}"


def markdown(report: Report, command: str) -> str:
    """BENCHMARKS.md: how to read it, the table, the checks, the machine and the command."""
    m = report.machine
    return (
        "# Benchmarks\n\n"
        "Written by `bench/run.py`; reproduce with `make bench` (the command and the time this "
        "run took are at the end).\n\n"
        "## How to read it\n\n"
        f"{HOW_TO_READ}\n"
        f"## Results (N = {report.units})\n\n"
        f"{table(report)}\n\n"
        f"{details(report)}\n\n"
        f"{_larger_sections(report)}"
        f"{_load_section(report)}"
        f"{_scale_section(report)}"
        f"### Checks ({'all passed' if report.ok else 'SOME FAILED: the numbers are void'})\n\n"
        f"{checks(report)}\n\n"
        "## Machine and command\n\n"
        f"- command: `{command}`\n"
        f"- date: {m.date}; whole run {report.seconds:.0f} s\n"
        f"- {m.cores} CPU cores, {m.system}; load average (1 min) {m.load_start:.2f} at the "
        f"start, {m.load_end:.2f} at the end\n"
        f"- Python {m.python}; {m.versions}\n"
    )


# --- the command -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--units", type=int, help=f"N (default {DEFAULT_UNITS}; {QUICK_UNITS} quick)")
    p.add_argument("--quick", action="store_true", help="small N, print only (no BENCHMARKS.md)")
    p.add_argument("--output", type=Path, help="write the report here (default BENCHMARKS.md)")
    p.add_argument("--no-write", action="store_true", help="print only")
    d = LoadSizes()
    p.add_argument("--clients", default=_csv(d.clients), help="load: client counts (10,50,200)")
    p.add_argument("--edits", type=int, default=d.edits_per_client, help="load: saves per client")
    p.add_argument("--load-units", type=int, default=d.units, help="load: units (20)")
    p.add_argument("--storm-logins", type=int, default=d.storm_logins, help="wrong logins (50)")
    p.add_argument("--storm-readers", type=int, default=d.storm_readers, help="readers (20)")
    p.add_argument("--reads", type=int, default=d.reads_per_reader, help="reads per reader")
    p.add_argument(
        "--databases",
        default=_csv(d.databases),
        help="load: sqlite,postgresql (BENCH_POSTGRES_URL)",
    )
    p.add_argument("--no-load", action="store_true", help="skip the HTTP load rows")
    p.add_argument(
        "--only-load",
        action="store_true",
        help="only the HTTP load rows (no Temporal, no scoring); --clients '' skips the edits, "
        "--storm-logins 0 the storm",
    )
    p.add_argument(
        "--update-rows",
        action="store_true",
        help="with --only-load: replace the rows it re-ran in BENCHMARKS.md (or --output)",
    )
    p.add_argument("--larger", default="", help="the same rows again at these N (1000,5000)")
    p.add_argument(
        "--lock-setup", type=float, help="seconds from creating the lock cycle to its lock"
    )
    p.add_argument("--scoring", default="1000,5000,10000", help="scoring at these unit counts")
    return p


def _csv(values: tuple[object, ...]) -> str:
    return ",".join(str(v) for v in values)


def load_sizes(args: argparse.Namespace) -> LoadSizes:
    """The load sizes the command line asked for (PostgreSQL: BENCH_POSTGRES_URL)."""
    if args.quick:
        return LoadSizes(
            clients=(2, 5), edits_per_client=5, storm_logins=10, storm_readers=5, reads_per_reader=5
        )
    return LoadSizes(
        clients=tuple(int(c) for c in args.clients.split(",") if c),
        edits_per_client=args.edits,
        units=args.load_units,
        storm_logins=args.storm_logins,
        storm_readers=args.storm_readers,
        reads_per_reader=args.reads,
        databases=tuple(d for d in args.databases.split(",") if d),
    )


def only_load(args: argparse.Namespace, command: str) -> int:
    """``--only-load``: the HTTP load rows alone, printed; ``--update-rows`` writes just those
    rows into BENCHMARKS.md (bench.rows). 0 when every check passed."""
    load_start = _load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="appraisal-bench-") as tmp:
        rows = asyncio.run(run_load(load_sizes(args), Path(tmp)))
    seconds = time.perf_counter() - started
    machine = _machine(load_start)
    print(load_table(rows))
    for r in rows:
        print(f"- {r.measurement}, {r.database}, {r.clients}: {r.detail}")
    failed = [c for r in rows for c in r.checks if not c.ok]
    for c in failed:
        print(f"- [ ] {c.what}: {c.actual} — expected {c.expected}")
    note = rerun_note(
        rows,
        f"on {machine.date} with `{command}` ({seconds:.0f} s; load average "
        f"{machine.load_start:.2f} → {machine.load_end:.2f}; checks "
        f"{'all passed' if not failed else 'SOME FAILED'}); the other rows are the full run's",
    )
    print(f"\n{note}")
    if args.update_rows:
        path = args.output or BENCHMARKS_MD
        done = update_load_rows(path, rows, note)
        print(f"replaced in {path}: {'; '.join(done)}")
    return 0 if not failed else 1


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; 0 when every check passed."""
    args_list = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(args_list)
    command = " ".join([COMMAND, *map(shlex.quote, args_list)])  # as typed, quotes kept
    if args.only_load:
        return only_load(args, command)
    units = args.units or (QUICK_UNITS if args.quick else DEFAULT_UNITS)
    if units < 1:
        _parser().error("--units must be at least 1")
    output: Path | None = None
    if not args.no_write:
        output = args.output or (None if args.quick else BENCHMARKS_MD)
    with tempfile.TemporaryDirectory(prefix="appraisal-bench-") as tmp:
        setup = args.lock_setup
        report = asyncio.run(run_benchmarks(units, Path(tmp), lock_setup_s=setup))
        for n in (int(n) for n in args.larger.split(",") if n):
            own = Path(tmp) / f"n{n}"  # a database of its own: the seeded unit codes repeat
            own.mkdir()
            report.larger.append(asyncio.run(run_benchmarks(n, own, lock_setup_s=setup)))
            report.seconds += report.larger[-1].seconds
        sizes = [int(n) for n in ("100,200" if args.quick else args.scoring).split(",") if n]
        started = time.perf_counter()
        report.scale = bench_scoring(sizes)
        report.seconds += time.perf_counter() - started
        if not args.no_load:
            started = time.perf_counter()
            report.load += asyncio.run(run_load(load_sizes(args), Path(tmp)))
            report.seconds += time.perf_counter() - started
    print(table(report))
    print()
    print(details(report))
    for bigger in report.larger:
        print(f"\nN = {bigger.units}\n{table(bigger)}\n{details(bigger)}")
        if bigger.load:
            print(load_table(bigger.load))
    if report.load:
        print()
        print(load_table(report.load))
    if report.scale:
        print()
        print(scale_table(report.scale))
    print(checks(report))
    print(
        f"\n{report.seconds:.0f} s; load average {report.machine.load_start:.2f} → "
        f"{report.machine.load_end:.2f}; {command}"
    )
    if output is not None:
        output.write_text(markdown(report, command), encoding="utf-8")
        print(f"written to {output}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
