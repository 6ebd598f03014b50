"""Operator commands for units and accounts.

appraisal unit create CODE --name NAME [--group GROUP] [--email EMAIL]
appraisal unit list
appraisal user create USERNAME --role ROLE [--unit CODE] [--agency NAME] [--password-stdin]
appraisal user grant USERNAME --role ROLE [--unit CODE] [--agency NAME]
appraisal user reset-password USERNAME [--password-stdin]

Without --password-stdin a random password is generated and printed once.
Exit codes: 0 done, 1 refused (the reason is printed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.db import make_engine, session_scope
from core.errors import Refusal
from core.settings import get_settings
from models.tables import Role, RoleGrant
from services.accounts import (
    AccountError,
    RoleGrantIn,
    UserCreate,
    create_user,
    get_user,
    reset_password,
)
from services.audit import record
from services.units import UnitCreate, create_unit, get_unit_by_code, list_units

ACTOR = "cli"


def _engine() -> Engine:
    return make_engine(get_settings().sqlalchemy_url)


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated): from the first line of stdin, or a new random one."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(12), True


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


def _user_create(args: argparse.Namespace) -> int:
    password, generated = _password(args)
    try:
        user_in = UserCreate(
            username=args.username,
            full_name=args.full_name,
            email=args.email,
            password=password,
            roles=[_grant(args)],
        )
    except ValidationError as exc:
        return _fail(_validation(exc))
    engine = _engine()
    try:
        with session_scope(engine) as session:
            user = create_user(session, user_in=user_in, actor=ACTOR)
            print(f"Đã tạo tài khoản {user.username} (vai trò {args.role}).")
            if generated:
                print(f"Mật khẩu: {password}")
    except AccountError as exc:
        return _fail(exc.reason_vi)
    finally:
        engine.dispose()
    return 0


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
    password, generated = _password(args)
    engine = _engine()
    try:
        with session_scope(engine) as session:
            user = reset_password(session, username=args.username, password=password, actor=ACTOR)
            print(f"Đã đặt lại mật khẩu của {user.username}; các phiên cũ hết hiệu lực.")
            if generated:
                print(f"Mật khẩu: {password}")
    except AccountError as exc:
        return _fail(exc.reason_vi)
    finally:
        engine.dispose()
    return 0


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
    ucreate.add_argument("--email", default="")
    ucreate.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ stdin")
    ucreate.set_defaults(func=_user_create)

    grant = user.add_parser("grant", help="thêm vai trò")
    grant.add_argument("username")
    _role_args(grant)
    grant.set_defaults(func=_user_grant)

    reset = user.add_parser("reset-password", help="đặt lại mật khẩu")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ stdin")
    reset.set_defaults(func=_user_reset)
