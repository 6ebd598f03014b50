"""Passwords people set themselves: the strength rule, self-service change, reset by e-mail.

The rule: at least ``MIN_PASSWORD`` characters, not the username or a unit code of the
account, not a common password (the dictionaries shipped with the ``zxcvbn`` package) and not
guessable in few tries (zxcvbn score ≥ 2). A reset — and a new account's first password — goes
through a one-time link that expires; only the SHA-256 of its secret is stored. Every password
change ends the account's other sessions. Argon2 runs with no transaction open.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select
from zxcvbn import zxcvbn

from core.db import utcnow
from models.tables import PasswordLink, RoleGrant, Unit, User
from services import audit, throttle
from services.accounts import AccountError, hash_password

__all__ = [
    "MIN_PASSWORD",
    "WELCOME_MINUTES",
    "check_strength",
    "find_for_reset",
    "issue_link",
    "redeem_link",
    "sent_lately",
    "set_password",
    "unit_codes_of",
]

MIN_PASSWORD = 10
MAX_PASSWORD = 256
# Words Vietnamese users reach for first, ranked with zxcvbn's own (mostly English) lists.
VIETNAMESE_COMMON = (
    "matkhau", "mat-khau", "mk", "anhyeuem", "emyeuanh", "yeuem", "yeuanh", "iloveyou",
    "hanoi", "saigon", "hochiminh", "vietnam", "quantri", "admin", "ubnd", "donvi",
    "danhgia", "xeploai", "congchuc", "canbo", "thuongtruc", "noivu", "phongnoivu",
)  # fmt: skip
# One reset mail per account per this span, whoever asks: the form cannot flood a mailbox.
RESEND_AFTER = timedelta(minutes=2)
WELCOME_MINUTES = 7 * 24 * 60  # a new account's first-password link lasts a week


def unit_codes_of(session: Session, user_id: int) -> list[str]:
    """The codes of the units an account holds a role in (a password must not be one)."""
    rows = session.exec(
        select(Unit.code)
        .join(RoleGrant, col(RoleGrant.unit_id) == col(Unit.id))
        .where(RoleGrant.user_id == user_id)
    ).all()
    return list(rows)


def check_strength(password: str, *, username: str, unit_codes: Iterable[str] = ()) -> None:
    """Refuses a weak password with AccountError("password", the reason in Vietnamese)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > MAX_PASSWORD:
        raise AccountError("password", f"Mật khẩu dài quá {MAX_PASSWORD} ký tự.")
    lowered = password.strip().lower()
    own = [username.lower(), *(c.lower() for c in unit_codes)]
    if any(word and (lowered == word or word in lowered) for word in own):
        raise AccountError("password", "Mật khẩu không được chứa tên đăng nhập hoặc mã đơn vị.")
    result = zxcvbn(password[:100], user_inputs=[*own, *VIETNAMESE_COMMON])
    common = any(
        m.get("dictionary_name") == "passwords" and m.get("token", "") == password.lower()
        for m in result["sequence"]
    )
    if common or result["score"] < 2:
        raise AccountError(
            "password",
            "Mật khẩu quá phổ biến hoặc dễ đoán. Hãy dùng một cụm từ dài, khó đoán hơn.",
        )


def set_password(
    session: Session,
    user: User,
    *,
    new_hash: str,
    actor: str,
    reason: str,
    keep_session: str | None = None,
) -> int:
    """Stores a new hash, forgets the account's throttle, ends its other sessions (count)."""
    from services.sessions import revoke_all  # sessions builds on accounts, as this does

    assert user.id is not None
    user.password_hash = new_hash
    session.add(user)
    throttle.clear(session, user.username)
    audit.record(session, actor=actor, entity="user", action=reason, entity_key=user.username)
    session.flush()
    return revoke_all(session, user.id, reason=reason, actor=actor, keep=keep_session)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def find_for_reset(session: Session, login: str) -> User | None:
    """The active account a reset request names by username or e-mail, or None."""
    text = login.strip().lower()[:255]
    if not text:
        return None
    found = session.exec(select(User).where((User.username == text) | (User.email == text))).first()
    if found is None and "@" in text:  # stored e-mails keep their case
        for user in session.exec(select(User).where(col(User.email).ilike(text))).all():
            found = user
            break
    return found if found is not None and found.is_active else None


def sent_lately(
    session: Session, user: User, *, within: timedelta = RESEND_AFTER, now: datetime | None = None
) -> bool:
    """A link was issued to the account less than ``within`` ago (no second mail yet)."""
    now = now or utcnow()
    return (
        session.exec(
            select(PasswordLink.id).where(
                PasswordLink.user_id == user.id, col(PasswordLink.created_at) > now - within
            )
        ).first()
        is not None
    )


def issue_link(
    session: Session,
    user: User,
    *,
    purpose: str,
    minutes: int,
    actor: str,
    now: datetime | None = None,
) -> str:
    """A new one-time secret for ``user`` (earlier unused links die); only its hash is stored."""
    assert user.id is not None
    now = now or utcnow()
    session.execute(
        update(PasswordLink)
        .where(col(PasswordLink.user_id) == user.id, col(PasswordLink.used_at).is_(None))
        .values(used_at=now)
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        PasswordLink(
            id=_digest(secret),
            user_id=user.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    audit.record(
        session, actor=actor, entity="user", action=f"{purpose}_link", entity_key=user.username
    )
    session.flush()
    return secret


def link_user(session: Session, secret: str, *, now: datetime | None = None) -> User:
    """The account of a live link; AccountError("token") when it is unknown, used or expired."""
    now = now or utcnow()
    link = session.get(PasswordLink, _digest(secret)) if secret else None
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise AccountError("token", "Liên kết đặt mật khẩu không hợp lệ, đã dùng hoặc đã hết hạn.")
    user = session.get(User, link.user_id)
    if user is None or not user.is_active:
        raise AccountError("token", "Liên kết đặt mật khẩu không hợp lệ.")
    return user


def redeem_link(
    session: Session, secret: str, new_password: str, *, now: datetime | None = None
) -> User:
    """Sets the password of a live link's account, once; ends every session of the account."""
    now = now or utcnow()
    with Session(session.get_bind()) as reader:
        found = link_user(reader, secret, now=now)
        username, unit_codes = found.username, unit_codes_of(reader, found.id or 0)
    check_strength(new_password, username=username, unit_codes=unit_codes)
    new_hash = hash_password(new_password)  # no transaction open meanwhile
    used: CursorResult[object] = session.execute(  # type: ignore[assignment]
        update(PasswordLink)
        .where(
            col(PasswordLink.id) == _digest(secret),
            col(PasswordLink.used_at).is_(None),
            col(PasswordLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    if not used.rowcount:  # a parallel request used it first
        raise AccountError("token", "Liên kết đặt mật khẩu đã được dùng.")
    user = link_user_after_use(session, secret)
    set_password(session, user, new_hash=new_hash, actor=user.username, reason="password_link")
    return user


def link_user_after_use(session: Session, secret: str) -> User:
    """The account of a link this transaction has just used."""
    link = session.get(PasswordLink, _digest(secret))
    assert link is not None
    user = session.get(User, link.user_id)
    assert user is not None
    return user
