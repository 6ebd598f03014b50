"""Login throttling per account and per client address, counted atomically in the database.

Every attempt first *reserves* a try on each of its keys with one conditional
``UPDATE … RETURNING`` (the same statement on SQLite and PostgreSQL): an attempt that finds its
key locked is refused without its password being checked, and the attempt that reaches the
limit takes a provisional lock while its password is checked, so 40 parallel guesses for one
account check exactly ``MAX_FAILURES_PER_USER`` passwords. A failed attempt then locks its key
for ``LOCK`` doubled per further failure up to ``MAX_LOCK`` (an account under attack slows
down, its owner is never locked out for good); a success clears the account's key and gives the
address its try back. The address limit is high so that one office's typos (a few people, a
few accounts) do not block the other accounts signing in from the same address; each account
has its own, low limit. Every lock and every refusal is written to the audit trail.

These run in short transactions of their own (``engine``): no password hash is computed while a
connection or a write transaction is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from models.tables import LoginThrottle
from services import audit

__all__ = [
    "LOCK",
    "MAX_FAILURES_PER_ADDRESS",
    "MAX_FAILURES_PER_USER",
    "MAX_LOCK",
    "WINDOW",
    "Reservation",
    "address_key",
    "clear",
    "reserve",
    "settle",
    "user_key",
]

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 100
# A key's count starts again after WINDOW without failures (and without a lock in force).
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(minutes=15)


def user_key(username: str) -> str:
    """The throttle key of an account."""
    return f"user:{username.strip().lower()}"[:320]


def address_key(address: str) -> str:
    """The throttle key of a client address."""
    return f"addr:{address}"[:320]


def delay(failures: int, limit: int) -> timedelta:
    """The lock after ``failures`` failures: LOCK at the limit, doubling after, MAX_LOCK at most."""
    doubled: timedelta = LOCK * (2 ** min(max(0, failures - limit), 10))
    return min(doubled, MAX_LOCK)


@dataclass(frozen=True)
class Reservation:
    """The tries an attempt took: (key, limit, count after this try) per key."""

    tries: tuple[tuple[str, int, int], ...]
    username: str
    address: str


class Refused(Exception):
    """A key is locked: retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _ensure_row(session: Session, key: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())


def _audit(
    session: Session, action: str, key: str, username: str, address: str, seconds: int
) -> None:
    audit.record(
        session,
        actor="system",
        entity="login",
        action=action,
        entity_key=key[:128],
        after={"username": username[:64], "address": address, "retry_after": seconds},
    )


def reserve(engine: Engine, *, username: str, address: str, now: datetime) -> Reservation:
    """Takes one try on the account's key and the address's key; Refused when one is locked."""
    keys = [(user_key(username), MAX_FAILURES_PER_USER)]
    if address:
        keys.append((address_key(address), MAX_FAILURES_PER_ADDRESS))
    tries: list[tuple[str, int, int]] = []
    with Session(engine) as session:
        for key, limit in keys:
            _ensure_row(session, key)
            # A quiet window (no failure, no lock in force) starts the count again.
            session.execute(
                update(LoginThrottle)
                .where(
                    col(LoginThrottle.key) == key,
                    col(LoginThrottle.first_failure_at) < now - WINDOW,
                    (col(LoginThrottle.locked_until).is_(None))
                    | (col(LoginThrottle.locked_until) <= now - WINDOW),
                )
                .values(failures=0, first_failure_at=None, locked_until=None)
            )
            # The try itself: one statement, so parallel attempts each get their own count; the
            # one reaching the limit holds the key (MAX_LOCK) until its password is checked.
            row = session.execute(
                update(LoginThrottle)
                .where(
                    col(LoginThrottle.key) == key,
                    (col(LoginThrottle.locked_until).is_(None))
                    | (col(LoginThrottle.locked_until) <= now),
                )
                .values(
                    failures=col(LoginThrottle.failures) + 1,
                    first_failure_at=func.coalesce(col(LoginThrottle.first_failure_at), now),
                    locked_until=case(
                        (col(LoginThrottle.failures) + 1 >= limit, now + MAX_LOCK),
                        else_=col(LoginThrottle.locked_until),
                    ),
                )
                .returning(col(LoginThrottle.failures))
            ).first()
            if row is None:
                locked = session.get(LoginThrottle, key)
                until = locked.locked_until if locked and locked.locked_until else now
                wait = max(1, int((until - now).total_seconds() + 0.999))
                session.rollback()  # give back the tries taken on earlier keys
                _audit(session, "login_throttled", key, username, address, wait)
                session.commit()
                raise Refused(wait)
            tries.append((key, limit, int(row[0])))
        session.commit()
    return Reservation(tuple(tries), username, address)


def settle(engine: Engine, reservation: Reservation, *, ok: bool, now: datetime) -> None:
    """Records the outcome: a success clears the account and refunds the address; a failure
    locks each key that reached its limit for the (doubling) delay."""
    with Session(engine) as session:
        for key, limit, count in reservation.tries:
            held = count >= limit
            if ok and key.startswith("user:"):
                query = update(LoginThrottle).values(
                    failures=0, first_failure_at=None, locked_until=None
                )
            elif ok:
                query = update(LoginThrottle).values(
                    failures=case(
                        (col(LoginThrottle.failures) > 0, col(LoginThrottle.failures) - 1),
                        else_=0,
                    ),
                    **({"locked_until": None} if held else {}),
                )
            elif held:
                lock = delay(count, limit)
                query = update(LoginThrottle).values(locked_until=now + lock)
                _audit(
                    session,
                    "login_locked",
                    key,
                    reservation.username,
                    reservation.address,
                    int(lock.total_seconds()),
                )
            else:
                continue
            session.execute(query.where(col(LoginThrottle.key) == key))
        session.commit()


def release(engine: Engine, reservation: Reservation) -> None:
    """Gives the tries back unchecked (no hashing slot was free: the client was told "busy,
    retry"): a password that was never checked counts neither as a failure nor as a success."""
    with Session(engine) as session:
        for key, limit, count in reservation.tries:
            values: dict[str, object] = {
                "failures": case(
                    (col(LoginThrottle.failures) > 0, col(LoginThrottle.failures) - 1), else_=0
                )
            }
            if count >= limit:
                values["locked_until"] = None  # the hold this try took until its check
            session.execute(
                update(LoginThrottle).where(col(LoginThrottle.key) == key).values(**values)
            )
        session.commit()


def clear(session: Session, username: str) -> None:
    """Forgets the account's failures (after a password reset), in the caller's transaction."""
    row = session.get(LoginThrottle, user_key(username))
    if row is not None:
        session.delete(row)
