"""`appraisal`: the one command-line tool for operators.

appraisal dev [--demo]          the whole embedded stack (Temporal, SMTP sink, worker, API)
appraisal api | worker | mailsink   one process of the stack
appraisal db upgrade            migrate the database (idempotent)
appraisal backup DIR | restore DIR   the embedded stack's data as one consistent set
…and the framework, sheet, unit, user and cycle commands registered by their modules.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from core.settings import get_settings

# Modules that add their own sub-commands with `register(subparsers)`.
COMMAND_MODULES = (
    "cli.sheet",
    "cli.frameworks",
    "cli.accounts",
    "cli.audit",
    "cli.backup",
    "cli.cycle",
    "cli.demo",
    "cli.report",
)


def _db_upgrade(args: argparse.Namespace) -> int:
    from core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.sqlalchemy_url)
    print(f"Cơ sở dữ liệu đã ở phiên bản mới nhất ({settings.sqlalchemy_url.split('@')[-1]}).")
    return 0


def _api(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    import uvicorn

    from core.logs import configure, log_config

    settings = get_settings()
    configure(settings.log_format)
    if settings.api_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before any process imports prometheus_client: each writes its samples here and
        # /metrics merges them (core.metrics); a fresh directory per start.
        metrics_dir = tempfile.mkdtemp(prefix="appraisal-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    else:
        metrics_dir = ""
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host or settings.api_host,
            port=args.port or settings.api_port,
            workers=settings.api_workers,
            log_config=log_config(settings.log_format),
            # X-Forwarded-For/-Proto only from the configured proxies (none by default): a forged
            # header must not give each login guess a new address (services.throttle).
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=settings.trusted_proxies or None,
            timeout_graceful_shutdown=20,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    _exit_now(0)  # served and shut down: the app's Temporal client must not abort the exit


def _worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.check:
        from cli.health import check_worker

        _exit_now(check_worker(settings))
    from core.logs import configure
    from workflows.worker import run_worker

    configure(settings.log_format)
    try:
        asyncio.run(run_worker(settings))
    except Exception:
        logging.getLogger("workflows.worker").exception("worker failed")
        _exit_now(1)
    _exit_now(0)


def _exit_now(code: int) -> NoReturn:
    """Ends a process that holds a Temporal client once its own work is finished and flushed.

    The client's native runtime keeps threads of its own; the interpreter's teardown can race
    them and abort (SIGABRT, exit -6: seen for a worker that had drained cleanly after SIGTERM,
    and for the health check), which an orchestrator would report as a crash. Nothing is left
    to finalise here: the worker has shut down and disposed of its engine.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _mailsink(args: argparse.Namespace) -> int:
    from cli.dev import run_mailsink

    return run_mailsink(get_settings())


def _dev(args: argparse.Namespace) -> int:
    from cli.dev import run_dev

    return run_dev(get_settings(), demo=args.demo)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="appraisal", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="start the whole embedded stack")
    dev.add_argument("--demo", action="store_true", help="load the demo data (idempotent)")
    dev.set_defaults(func=_dev)

    api = sub.add_parser("api", help="serve the REST API and pages")
    api.add_argument("--host", default=None)
    api.add_argument("--port", type=int, default=None)
    api.set_defaults(func=_api)

    worker = sub.add_parser("worker", help="run the Temporal worker")
    worker.add_argument(
        "--check", action="store_true", help="health check: database and this host's pollers"
    )
    worker.set_defaults(func=_worker)
    sub.add_parser("mailsink", help="run the local SMTP sink").set_defaults(func=_mailsink)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations (idempotent)").set_defaults(func=_db_upgrade)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
