"""Operator commands for units and accounts.

appraisal unit create CODE --name NAME [--group GROUP] [--email EMAIL]
appraisal unit list
appraisal user create USERNAME --role ROLE [--unit CODE] [--agency NAME] [--full-name NAME]
                      (--email EMAIL | --print-link)
appraisal user grant USERNAME --role ROLE [--unit CODE] [--agency NAME]
appraisal user reset-password USERNAME [--print-link]

`user create` takes no password: the account is created without one and its owner sets it
through a one-time link that expires (a week), e-mailed to ``--email`` over SMTP at once, as
the pages and the API do. ``--print-link`` (the first coordinator of a fresh install, before
mail works) prints the link on the operator's terminal instead, for the operator to hand over
or open; the audit trail records that it was printed. Either way nobody but the account's
owner ever chooses or knows its password. `user reset-password` likewise takes none: the old
password stops working, every session ends, and a one-time link (valid a week) goes out the
same way (a new welcome link for an account whose owner never set one).
Exit codes: 0 done, 1 refused or the mail not sent (the reason is printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from actions.passwords import link_mail_job, password_link
from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import Settings, get_settings
from models.tables import Role, RoleGrant, User
from services.accounts import (
    UNUSABLE_HASH,
    AccountError,
    RoleGrantIn,
    UserCreate,
    create_user,
    get_user,
)
from services.audit import record
from services.passwords import set_password
from services.units import UnitCreate, create_unit, get_unit_by_code, list_units

ACTOR = "cli"


def _engine() -> Engine:
    return make_engine(get_settings().sqlalchemy_url)


def _fail(message: str) -> int:
    print(f"Lỗi: {message}", file=sys.stderr)
    return 1


def _validation(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _unit_create(args: argparse.Namespace) -> int:
    try:
        unit_in = UnitCreate(code=args.code, name=args.name, group=args.group, email=args.email)
    except ValidationError as exc:
        return _fail(_validation(exc))
    engine = _engine()
    try:
        with session_scope(engine) as session:
            unit = create_unit(session, unit_in=unit_in, actor=ACTOR)
            print(f"Đã tạo đơn vị {unit.code} (số {unit.id}): {unit.name}, nhóm {unit.group}.")
    except Refusal as exc:
        return _fail(exc.message_vi)
    finally:
        engine.dispose()
    return 0


def _unit_list(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        with session_scope(engine) as session:
            for unit in list_units(session):
                print(f"{unit.id}\t{unit.code}\t{unit.group}\t{unit.name}")
    finally:
        engine.dispose()
    return 0


def _grant(args: argparse.Namespace) -> RoleGrantIn:
    return RoleGrantIn(role=Role(args.role), unit_code=args.unit, agency=args.agency)


Mailing = Callable[[], Awaitable[Exception | None]]


def _link(
    session: Session, settings: Settings, user: User, *, purpose: str, printed: bool
) -> tuple[str, int] | Mailing:
    """The one-time link to print and its minutes (audited as printed), or its mailing to run
    after the commit."""
    if not printed:
        return link_mail_job(
            session=session, settings=settings, user=user, purpose=purpose, actor=ACTOR
        )
    link, minutes = password_link(
        session=session, settings=settings, user=user, purpose=purpose, actor=ACTOR
    )
    record(
        session,
        actor=ACTOR,
        entity="user",
        action=f"{purpose}_link_printed",
        entity_key=user.username,
    )
    return link, minutes


def _deliver(sent: tuple[str, int] | Mailing, *, username: str, email: str) -> int:
    """Prints the link for the operator, or mails it now (SMTP, as the pages do)."""
    if isinstance(sent, tuple):
        link, minutes = sent
        print(
            f"Liên kết đặt mật khẩu (dùng được một lần, trong {minutes // (24 * 60)} ngày; chỉ "
            f"trao cho chính chủ tài khoản, không gửi qua kênh công khai):\n{link}"
        )
        return 0

    async def mail() -> Exception | None:
        return await sent()

    error = asyncio.run(mail())
    if error is not None:
        return _fail(
            f"chưa gửi được thư tới {email} ({error}). Gửi lại: "
            f"`appraisal user reset-password {username}` (hoặc thêm --print-link)."
        )
    print(f"Đã gửi liên kết đặt mật khẩu (dùng được một lần) tới {email}.")
    return 0


def _user_create(args: argparse.Namespace) -> int:
    try:
        user_in = UserCreate(
            username=args.username,
            full_name=args.full_name,
            email=args.email,
            roles=[_grant(args)],
        )
    except ValidationError as exc:
        return _fail(_validation(exc))
    if not user_in.email and not args.print_link:
        return _fail(
            "cần --email để gửi liên kết đặt mật khẩu lần đầu "
            "(hoặc --print-link để in liên kết ra màn hình)."
        )
    settings = get_settings()
    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            user = create_user(session, user_in=user_in, actor=ACTOR)
            sent = _link(session, settings, user, purpose="welcome", printed=args.print_link)
    except AccountError as exc:
        return _fail(exc.reason_vi)
    finally:
        engine.dispose()
    print(f"Đã tạo tài khoản {user_in.username} (vai trò {args.role}); chưa có mật khẩu.")
    return _deliver(sent, username=user_in.username, email=user_in.email)


def _user_grant(args: argparse.Namespace) -> int:
    try:
        grant = _grant(args)
    except ValidationError as exc:
        return _fail(_validation(exc))
    engine = _engine()
    try:
        with session_scope(engine) as session:
            user = get_user(session, username=args.username)
            if user is None or user.id is None:
                return _fail(f"Không có tài khoản '{args.username}'.")
            unit_id = None
            if grant.unit_code:
                unit = get_unit_by_code(session, code=grant.unit_code)
                if unit is None:
                    return _fail(f"Không có đơn vị mã '{grant.unit_code}'.")
                unit_id = unit.id
            exists = any(
                g.role == grant.role and g.unit_id == unit_id and g.agency == grant.agency
                for g in session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()
            )
            if not exists:
                session.add(
                    RoleGrant(
                        user_id=user.id, role=grant.role, unit_id=unit_id, agency=grant.agency
                    )
                )
                record(
                    session,
                    actor=ACTOR,
                    entity="user",
                    action="grant",
                    entity_key=user.username,
                    after=grant.model_dump(mode="json", exclude_none=True),
                )
            print(f"Tài khoản {user.username} có vai trò {grant.role.value}.")
    finally:
        engine.dispose()
    return 0


def _user_reset(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            user = get_user(session, username=args.username)
            if user is None:
                return _fail(f"Không có tài khoản '{args.username}'.")
            if not user.email and not args.print_link:
                return _fail(
                    f"tài khoản '{user.username}' không có thư điện tử: dùng --print-link."
                )
            # never set (its welcome link was lost): a new welcome link; else the old password
            # stops working and every session ends before the reset link goes out
            purpose = "welcome" if user.password_hash == UNUSABLE_HASH else "operator_reset"
            if purpose == "operator_reset":
                set_password(
                    session, user, new_hash=UNUSABLE_HASH, actor=ACTOR, reason="reset_password"
                )
            sent = _link(session, settings, user, purpose=purpose, printed=args.print_link)
            username, email = user.username, user.email
    finally:
        engine.dispose()
    print(f"Đã đặt lại mật khẩu của {username}: mật khẩu cũ hết hiệu lực, các phiên đã kết thúc.")
    return _deliver(sent, username=username, email=email)


def _role_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--unit", default=None, help="mã đơn vị (unit_office, staff)")
    parser.add_argument("--agency", default=None, help="cơ quan thẩm định (council)")


def register(subparsers: Any) -> None:
    """Adds the `unit` and `user` commands."""
    unit = subparsers.add_parser("unit", help="đơn vị").add_subparsers(
        dest="unit_command", required=True
    )
    create = unit.add_parser("create", help="tạo đơn vị")
    create.add_argument("code")
    create.add_argument("--name", required=True)
    create.add_argument("--group", default="commune", help="nhóm xếp hạng (commune, department…)")
    create.add_argument("--email", default="")
    create.set_defaults(func=_unit_create)
    unit.add_parser("list", help="danh sách đơn vị").set_defaults(func=_unit_list)

    user = subparsers.add_parser("user", help="tài khoản").add_subparsers(
        dest="user_command", required=True
    )
    ucreate = user.add_parser("create", help="tạo tài khoản")
    ucreate.add_argument("username")
    _role_args(ucreate)
    ucreate.add_argument("--full-name", default="")
    ucreate.add_argument(
        "--email", default="", help="thư điện tử: nhận liên kết tự đặt mật khẩu (dùng một lần)"
    )
    ucreate.add_argument(
        "--print-link",
        action="store_true",
        help="in liên kết đặt mật khẩu ra màn hình thay vì gửi thư (tài khoản đầu tiên)",
    )
    ucreate.set_defaults(func=_user_create)

    grant = user.add_parser("grant", help="thêm vai trò")
    grant.add_argument("username")
    _role_args(grant)
    grant.set_defaults(func=_user_grant)

    reset = user.add_parser("reset-password", help="đặt lại mật khẩu: gửi liên kết tự đặt")
    reset.add_argument("username")
    reset.add_argument(
        "--print-link", action="store_true", help="in liên kết ra màn hình thay vì gửi thư"
    )
    reset.set_defaults(func=_user_reset)
