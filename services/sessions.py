"""Server-side sessions: every cookie and bearer token names a row that logout ends at once.

A token is still signed (``services.accounts.issue_token``) so a forged one costs no query, but
it is only honoured while its ``auth_session`` row lives: not revoked (logout, "log out
everywhere", a password change or reset, the coordinator), not past its absolute end
(``token_minutes``) and not idle longer than ``session_idle_minutes``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import CursorResult, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from core.db import release, utcnow, writer
from models.tables import AuthSession, User
from services import audit
from services.accounts import InvalidToken, TokenClaims, issue_token

__all__ = [
    "TOUCH_EVERY",
    "TOUCH_WAIT_S",
    "SessionPublic",
    "check_session",
    "list_sessions",
    "revoke_all",
    "revoke_session",
    "session_public",
    "start_session",
    "touch_after_read",
    "touch_due",
    "touch_session",
]

# last_seen_at is written at most this often: the idle timeout does not need a write per request.
TOUCH_EVERY = timedelta(seconds=60)
# A request waits at most this long for SQLite's writer queue to touch its session; when the
# queue is longer it skips the touch and a later request of the session makes it.
TOUCH_WAIT_S = 0.25


class SessionPublic(BaseModel):
    """A sign-in as its owner and the coordinator see it (never the token)."""

    id: str
    kind: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    address: str
    user_agent: str
    current: bool = False


def start_session(
    db: Session,
    user: User,
    *,
    secret_key: str,
    minutes: int,
    kind: str,
    address: str = "",
    user_agent: str = "",
    extra: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime, AuthSession]:
    """Stores a new session for ``user`` and returns (its signed token, expiry, the row)."""
    assert user.id is not None
    now = now or utcnow()
    row = AuthSession(
        id=secrets.token_urlsafe(24),
        user_id=user.id,
        kind=kind,
        created_at=now,
        last_seen_at=now,
        expires_at=(now + timedelta(minutes=minutes)).replace(microsecond=0),
        address=address[:64],
        user_agent=user_agent[:255],
    )
    db.add(row)
    db.flush()
    token, expires_at = issue_token(
        user,
        secret_key=secret_key,
        minutes=minutes,
        now=now,
        kind=kind,
        extra={**(extra or {}), "sid": row.id},
    )
    return token, expires_at, row


def check_session(
    db: Session, claims: TokenClaims, *, idle_minutes: int, now: datetime | None = None
) -> tuple[User, AuthSession]:
    """The user and session row of a verified token whose session is still alive (reads only);
    InvalidToken otherwise."""
    now = now or utcnow()
    # Not the password-version check of user_for_claims: a password change ends the *other*
    # sessions here (revoke_all), and the one that made the change goes on.
    found = (
        db.exec(
            select(User, AuthSession)
            .join(AuthSession, col(AuthSession.user_id) == col(User.id))
            .where(col(User.id) == claims.user_id, col(AuthSession.id) == claims.session_id)
        ).first()
        if claims.session_id
        else None
    )  # one query for both: a token names its user and its session
    if found is None:
        raise InvalidToken("unknown session")
    user, row = found
    if not user.is_active:
        raise InvalidToken("unknown user")
    if row.kind != claims.kind:
        raise InvalidToken("unknown session")
    if row.revoked_at is not None:
        raise InvalidToken("revoked")
    if row.expires_at <= now or row.last_seen_at + timedelta(minutes=idle_minutes) <= now:
        raise InvalidToken("expired")
    return user, row


def touch_due(row: AuthSession, now: datetime) -> bool:
    """Whether the session's last_seen_at is old enough to be written again (TOUCH_EVERY)."""
    return now - row.last_seen_at >= TOUCH_EVERY


def touch_after_read(db: Session, session_id: str, now: datetime) -> None:
    """Ends ``db``'s read (its connection handed back), then touches the session in a short
    write of its own: never a write inside a read, one connection at a time."""
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    release(db)
    touch_session(engine, session_id, now)


def touch_session(engine: Engine, session_id: str, now: datetime) -> bool:
    """Marks a session seen at ``now`` in a short write transaction of its own, once per
    TOUCH_EVERY whoever races (the UPDATE is conditional). Best effort: False when SQLite's
    writer queue (or PostgreSQL's row lock) did not free up within TOUCH_WAIT_S; the idle
    timeout then counts from the previous touch, and the session's next request tries again."""
    try:
        with writer(engine, wait=TOUCH_WAIT_S).begin() as conn:
            if conn.dialect.name == "postgresql":  # nor wait long for the row (a revocation)
                conn.execute(text(f"SET LOCAL lock_timeout = '{int(TOUCH_WAIT_S * 1000)}ms'"))
            conn.execute(
                update(AuthSession)
                .where(
                    col(AuthSession.id) == session_id,
                    col(AuthSession.revoked_at).is_(None),
                    col(AuthSession.last_seen_at) <= now - TOUCH_EVERY,
                )
                .values(last_seen_at=now)
            )
    except OperationalError:
        return False
    return True


def revoke_session(db: Session, session_id: str, *, reason: str, actor: str) -> bool:
    """Ends one session at once; False when it was already ended or never existed."""
    now = utcnow()
    done: CursorResult[Any] = db.execute(  # type: ignore[assignment]
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    if not done.rowcount:
        return False
    audit.record(db, actor=actor, entity="session", action=f"revoke:{reason}"[:64])
    return True


def revoke_all(
    db: Session, user_id: int, *, reason: str, actor: str, keep: str | None = None
) -> int:
    """Ends every live session of a user (but ``keep``); the number ended."""
    now = utcnow()
    query = (
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    if keep:
        query = query.where(col(AuthSession.id) != keep)
    result: CursorResult[Any] = db.execute(query)  # type: ignore[assignment]
    count = int(result.rowcount or 0)
    user = db.get(User, user_id)
    audit.record(
        db,
        actor=actor,
        entity="session",
        action=f"revoke_all:{reason}"[:64],
        entity_key=user.username if user else str(user_id),
        after={"ended": count},
    )
    return count


def list_sessions(db: Session, user_id: int, *, idle_minutes: int) -> list[AuthSession]:
    """The live sessions of a user, newest first."""
    now = utcnow()
    rows = db.exec(
        select(AuthSession)
        .where(
            col(AuthSession.user_id) == user_id,
            col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > now,
            col(AuthSession.last_seen_at) > now - timedelta(minutes=idle_minutes),
        )
        .order_by(col(AuthSession.created_at).desc())
    ).all()
    return list(rows)


def session_public(row: AuthSession, *, current: str = "") -> SessionPublic:
    """The public view of a session; ``current`` marks the caller's own."""
    return SessionPublic(
        id=row.id,
        kind=row.kind,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        address=row.address,
        user_agent=row.user_agent,
        current=bool(current) and row.id == current,
    )
