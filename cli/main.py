"""`appraisal`: the one command-line tool for operators.

appraisal dev [--demo]          the whole embedded stack (Temporal, SMTP sink, worker, API)
appraisal api | worker | mailsink   one process of the stack
appraisal db upgrade            migrate the database (idempotent)
…and the framework, sheet, unit, user and cycle commands registered by their modules.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from core.settings import get_settings

# Modules that add their own sub-commands with `register(subparsers)`.
COMMAND_MODULES = (
    "cli.sheet",
    "cli.frameworks",
    "cli.accounts",
    "cli.audit",
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
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="info",
        # X-Forwarded-For only from the configured proxies (none by default): a forged header
        # must not give each login guess a new address (services.throttle).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from workflows.worker import run_worker

    asyncio.run(run_worker(get_settings()))
    return 0


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

    sub.add_parser("worker", help="run the Temporal worker").set_defaults(func=_worker)
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
