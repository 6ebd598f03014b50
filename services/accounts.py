"""Accounts: users with argon2 passwords, role grants scoped to units and agencies, bearer tokens,
and throttling of failed logins (temporary: the real user is never locked out for good)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import utcnow
from core.errors import Unavailable
from core.hashing import bounded
from models.tables import Role, RoleGrant, Unit, User
from services import audit, throttle
from services.throttle import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER

__all__ = [
    "MAX_FAILURES_PER_ADDRESS",
    "MAX_FAILURES_PER_USER",
    "AccountError",
    "InvalidCredentials",
    "InvalidToken",
    "LoginThrottled",
    "Principal",
    "RoleGrantIn",
    "RoleGrantPublic",
    "TokenClaims",
    "UserCreate",
    "UserPublic",
    "authenticate",
    "create_user",
    "ensure_admin",
    "get_user",
    "hash_password",
    "issue_token",
    "list_users",
    "load_principal",
    "password_version",
    "user_public",
    "verify_password",
    "verify_token",
]

USERNAME_RE = r"^[a-z0-9][a-z0-9._-]{2,63}$"

UNIT_ROLES = frozenset({Role.unit_office, Role.staff})
GLOBAL_ROLES = frozenset({Role.coordinator, Role.viewer})

_hasher = PasswordHasher()
# Not an argon2 hash: no password verifies against it (an account waiting for its first one).
UNUSABLE_HASH = "!unset"
# Verifying against this keeps the time of "unknown user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


class AccountError(ValueError):
    """A refused account operation; ``field`` names the input at fault."""

    def __init__(self, field: str, reason_vi: str, *, conflict: bool = False) -> None:
        super().__init__(reason_vi)
        self.field = field
        self.reason_vi = reason_vi
        self.conflict = conflict


class InvalidCredentials(Exception):
    """Wrong username or password (never says which)."""


class LoginThrottled(Exception):
    """Too many failed logins: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class InvalidToken(Exception):
    """A bearer token or session that is forged, malformed, expired or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``, in the bounded hashing queue (``core.hashing``)."""
    return bounded(_hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the argon2 ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_version(password_hash: str) -> str:
    """A short fingerprint of the password hash: a reset changes it and revokes old tokens."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --- schemas ---------------------------------------------------------------------------------


class RoleGrantIn(BaseModel):
    """One role to grant: unit_office and staff need a unit, council needs an agency."""

    model_config = ConfigDict(extra="forbid")

    role: Role = Field(description="Vai trò")
    unit_code: str | None = Field(default=None, max_length=64, description="Mã đơn vị")
    agency: str | None = Field(
        default=None, min_length=1, max_length=255, description="Cơ quan thẩm định"
    )

    @model_validator(mode="after")
    def _scope_fits_role(self) -> RoleGrantIn:
        if self.role in UNIT_ROLES and not self.unit_code:
            raise ValueError(f"role {self.role.value} needs unit_code")
        if self.role not in UNIT_ROLES and self.unit_code:
            raise ValueError(f"role {self.role.value} takes no unit_code")
        if self.role is Role.council and not self.agency:
            raise ValueError("role council needs agency")
        if self.role is not Role.council and self.agency:
            raise ValueError(f"role {self.role.value} takes no agency")
        return self


class UserCreate(BaseModel):
    """A new account with its roles, and no password: the person sets their own through the
    one-time link mailed to them (nobody else ever chooses one; ``password`` is refused)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "nguyenvana",
                    "full_name": "Nguyễn Văn A",
                    "email": "nguyenvana@dinhhoa.gov.vn",
                    "roles": [{"role": "staff", "unit_code": "binh-thanh"}],
                }
            ]
        },
    )

    username: str = Field(pattern=USERNAME_RE, description="Tên đăng nhập (chữ thường, số, . _ -)")
    full_name: str = Field(default="", max_length=255, description="Họ và tên")
    email: str = Field(default="", max_length=255, description="Thư điện tử")
    roles: list[RoleGrantIn] = Field(min_length=1, max_length=50, description="Các vai trò")

    @field_validator("username", mode="before")
    @classmethod
    def _lowercase(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("email")
    @classmethod
    def _email_shape(cls, v: str) -> str:
        if v and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("not an e-mail address")
        return v


class RoleGrantPublic(BaseModel):
    """A granted role as the API shows it."""

    role: Role
    unit_id: int | None = None
    unit_code: str | None = None
    agency: str | None = None


class UserPublic(BaseModel):
    """An account as the API shows it (never the password hash)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "username": "nguyenvana",
                    "full_name": "Nguyễn Văn A",
                    "email": "nguyenvana@dinhhoa.gov.vn",
                    "is_active": True,
                    "roles": [{"role": "staff", "unit_id": 3, "unit_code": "binh-thanh"}],
                }
            ]
        }
    )

    id: int
    username: str
    full_name: str
    email: str
    is_active: bool
    roles: list[RoleGrantPublic]


# --- principal -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """The signed-in person and what their grants let them reach."""

    user_id: int
    username: str
    grants: tuple[tuple[Role, int | None, str | None], ...] = field(default=())
    session_id: str = ""

    @property
    def roles(self) -> frozenset[Role]:
        """Every role held, whatever its scope."""
        return frozenset(g[0] for g in self.grants)

    def has(self, role: Role) -> bool:
        """Holds ``role`` in some scope."""
        return role in self.roles

    def has_for_unit(self, role: Role, unit_id: int) -> bool:
        """Holds ``role`` for this unit (unit roles) or globally (the others)."""
        if role in UNIT_ROLES:
            return any(r is role and u == unit_id for r, u, _ in self.grants)
        return self.has(role)

    def units(self, *roles: Role) -> frozenset[int]:
        """The units where the person holds one of ``roles`` (default: any unit role)."""
        wanted = frozenset(roles) or UNIT_ROLES
        return frozenset(u for r, u, _ in self.grants if r in wanted and u is not None)

    @property
    def agencies(self) -> frozenset[str]:
        """The appraising agencies the person sits on the council for."""
        return frozenset(a for r, _, a in self.grants if r is Role.council and a)

    @property
    def is_global(self) -> bool:
        """Coordinators and viewers see every unit."""
        return bool(self.roles & GLOBAL_ROLES)


def load_principal(session: Session, user: User, *, session_id: str = "") -> Principal:
    """The principal of an active user with all of their grants (signed in by ``session_id``)."""
    assert user.id is not None
    grants = session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id)).all()
    return Principal(
        user_id=user.id,
        username=user.username,
        grants=tuple(sorted(((Role(g.role), g.unit_id, g.agency) for g in grants), key=str)),
        session_id=session_id,
    )


# --- users -----------------------------------------------------------------------------------


def get_user(session: Session, *, username: str) -> User | None:
    """The user with this username (case-insensitive), or None."""
    return session.exec(select(User).where(User.username == username.strip().lower())).first()


def _unit_by_code(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise AccountError("roles.unit_code", f"Không có đơn vị mã '{code}'.")
    return unit


def user_public(session: Session, user: User) -> UserPublic:
    """The public view of a user with their roles."""
    assert user.id is not None
    rows = session.exec(
        select(RoleGrant, Unit)
        .join(Unit, col(RoleGrant.unit_id) == col(Unit.id), isouter=True)
        .where(RoleGrant.user_id == user.id)
        .order_by(col(RoleGrant.id))
    ).all()
    return UserPublic(
        id=user.id,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        is_active=user.is_active,
        roles=[
            RoleGrantPublic(
                role=Role(g.role),
                unit_id=g.unit_id,
                unit_code=u.code if u is not None else None,
                agency=g.agency,
            )
            for g, u in rows
        ],
    )


def create_user(
    session: Session, *, user_in: UserCreate, actor: str, password_hash: str = UNUSABLE_HASH
) -> User:
    """Creates an account with its role grants and an audit row; AccountError on a clash.

    The account has no usable password (``UNUSABLE_HASH``) until its owner follows the welcome
    link; only the demo data passes ``password_hash`` (its documented demo password).
    """
    username = user_in.username.lower()
    if get_user(session, username=username) is not None:
        raise AccountError(
            "username", f"Tên đăng nhập '{username}' đã có người dùng.", conflict=True
        )
    user = User(
        username=username,
        full_name=user_in.full_name,
        email=user_in.email,
        password_hash=password_hash,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    seen: set[tuple[Role, int | None, str | None]] = set()
    for grant in user_in.roles:
        unit_id = _unit_by_code(session, grant.unit_code).id if grant.unit_code else None
        key = (grant.role, unit_id, grant.agency)
        if key in seen:
            continue
        seen.add(key)
        session.add(
            RoleGrant(user_id=user.id, role=grant.role, unit_id=unit_id, agency=grant.agency)
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="user",
        action="create",
        entity_key=username,
        after={
            "username": username,
            "roles": [g.model_dump(mode="json", exclude_none=True) for g in user_in.roles],
        },
    )
    return user


def list_users(session: Session, *, unit_ids: Iterable[int] | None = None) -> list[User]:
    """All users, or those holding a role in one of ``unit_ids``."""
    query = select(User).order_by(col(User.username))
    if unit_ids is not None:
        ids = list(unit_ids)
        query = query.where(
            col(User.id).in_(select(RoleGrant.user_id).where(col(RoleGrant.unit_id).in_(ids)))
        )
    return list(session.exec(query).all())


def ensure_admin(session: Session, *, password: str, username: str = "admin") -> User:
    """The first coordinator account, created once (idempotent; the password is not changed)."""
    user = get_user(session, username=username)
    if user is not None:
        return user
    user = User(username=username, full_name="Quản trị", password_hash=hash_password(password))
    session.add(user)
    session.flush()
    assert user.id is not None
    session.add(RoleGrant(user_id=user.id, role=Role.coordinator))
    audit.record(session, actor="system", entity="user", action="create", entity_key=username)
    session.flush()
    return user


# --- login and throttling --------------------------------------------------------------------


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    address: str = "",
    now: datetime | None = None,
) -> User:
    """The active user whose password matches; InvalidCredentials or LoginThrottled otherwise.

    The attempt takes a try on the account's and the address's throttle keys first
    (``services.throttle``: atomic, committed at once in short transactions of their own), so a
    locked key answers LoginThrottled even for the right password (no oracle while locked).
    The password is checked with no connection or transaction held; ``session`` (the caller's)
    is only written after a success (a rehash).
    """
    now = now or utcnow()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    try:
        reservation = throttle.reserve(engine, username=username, address=address, now=now)
    except throttle.Refused as exc:
        raise LoginThrottled(exc.retry_after) from exc
    with Session(engine) as reader:
        found = get_user(reader, username=username)
        stored = found.password_hash if found is not None else _DUMMY_HASH
        active = found is not None and found.is_active
    # Argon2 runs here, outside every transaction (it is slow on purpose).
    try:
        ok = bounded(verify_password, stored, password) and active
    except Unavailable:
        throttle.release(engine, reservation)  # "busy, retry": this try was never checked
        raise
    throttle.settle(engine, reservation, ok=ok, now=now)
    if not ok:
        raise InvalidCredentials()
    # A rehash is computed before the caller's session is touched.
    new_hash = hash_password(password) if _hasher.check_needs_rehash(stored) else None
    user = get_user(session, username=username)
    assert user is not None
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
        session.flush()
    return user


# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: whose it is, its password version and its expiry."""

    user_id: int
    password_version: str
    expires_at: datetime
    kind: str
    session_id: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, kind: str, payload: str) -> str:
    key = hashlib.sha256(f"appraisal:{kind}:{secret}".encode()).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def issue_token(
    user: User,
    *,
    secret_key: str,
    minutes: int,
    now: datetime | None = None,
    kind: str = "api",
    extra: dict[str, Any] | None = None,
) -> tuple[str, datetime]:
    """A signed token for ``user`` expiring after ``minutes``: (token, expires_at)."""
    assert user.id is not None
    now = now or utcnow()
    expires_at = (now + timedelta(minutes=minutes)).replace(microsecond=0)
    claims: dict[str, Any] = {
        "sub": user.id,
        "pwv": password_version(user.password_hash),
        "exp": int(expires_at.timestamp()),
        **(extra or {}),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(secret_key, kind, payload)}", expires_at


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret a client sent (any text, even non-ASCII)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def verify_token(
    token: str, *, secret_key: str, now: datetime | None = None, kind: str = "api"
) -> tuple[TokenClaims, dict[str, Any]]:
    """The claims of a well-signed, unexpired token; InvalidToken otherwise."""
    payload, sep, signature = token.partition(".")
    if not sep or not same_secret(signature, _sign(secret_key, kind, payload)):
        raise InvalidToken("bad signature")
    try:
        raw = json.loads(_unb64(payload))
        claims = TokenClaims(
            user_id=int(raw["sub"]),
            password_version=str(raw["pwv"]),
            expires_at=datetime.fromtimestamp(int(raw["exp"]), tz=(now or utcnow()).tzinfo),
            kind=kind,
            session_id=str(raw.get("sid", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("malformed") from exc
    if claims.expires_at <= (now or utcnow()):
        raise InvalidToken("expired")
    return claims, raw


def user_for_claims(session: Session, claims: TokenClaims) -> User:
    """The active user a token names, if their password has not changed since; else InvalidToken."""
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("unknown user")
    if not same_secret(claims.password_version, password_version(user.password_hash)):
        raise InvalidToken("revoked")
    return user
