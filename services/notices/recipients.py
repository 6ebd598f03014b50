"""Who receives a digest: the unit office, the staff, the coordinators and the council.

The unit office are the users holding ``unit_office`` for the unit (the unit's own address when
nobody does); staff are the people assigned to criteria; the coordinators and the council are
the users holding those roles. People without an e-mail address are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.tables import Assignment, Role, RoleGrant, Unit, User

__all__ = [
    "Recipient",
    "council_agencies",
    "dedupe",
    "office_recipients",
    "person",
    "role_recipients",
    "staff_users",
]


@dataclass(frozen=True)
class Recipient:
    """A person (or a unit's mailbox) who receives a digest."""

    key: str  # username, or "office:<unit code>" for the unit's own address
    name: str
    email: str
    role: str  # office | staff | coordinator | council


def _users_with(session: Session, role: Role, unit_id: int | None = None) -> list[User]:
    query = (
        select(User)
        .join(RoleGrant, col(RoleGrant.user_id) == User.id)
        .where(RoleGrant.role == role, col(User.is_active).is_(True))
        .order_by(col(User.username))
    )
    if unit_id is not None:
        query = query.where(RoleGrant.unit_id == unit_id)
    seen: dict[str, User] = {}
    for user in session.exec(query).all():
        seen.setdefault(user.username, user)
    return list(seen.values())


def person(user: User, role: str) -> Recipient | None:
    """The user as a recipient, or None without an e-mail address."""
    if not user.email:
        return None
    return Recipient(
        key=user.username, name=user.full_name or user.username, email=user.email, role=role
    )


def office_recipients(session: Session, unit: Unit) -> list[Recipient]:
    """The unit office: its users, or the unit's own address when it has no office account."""
    people = [
        r for u in _users_with(session, Role.unit_office, unit.id) if (r := person(u, "office"))
    ]
    if not people and unit.email:
        people = [
            Recipient(key=f"office:{unit.code}", name=unit.name, email=unit.email, role="office")
        ]
    return people


def role_recipients(session: Session, role: Role) -> list[Recipient]:
    """The active users holding ``role`` (any unit), by username."""
    return [r for u in _users_with(session, role) if (r := person(u, role.value))]


def staff_users(session: Session, cycle_id: str, unit_id: int) -> dict[str, User]:
    """The people assigned to some criterion of the unit in the cycle, by username."""
    rows = session.exec(
        select(User)
        .join(Assignment, col(Assignment.user_id) == User.id)
        .where(Assignment.cycle_id == cycle_id, Assignment.unit_id == unit_id)
    ).all()
    return {u.username: u for u in rows}


def dedupe(recipients: Iterable[Recipient]) -> list[Recipient]:
    """The recipients once each (by key), in their first order."""
    out: dict[str, Recipient] = {}
    for r in recipients:
        out.setdefault(r.key, r)
    return list(out.values())


def council_agencies(session: Session) -> dict[str, tuple[User, set[str]]]:
    """Active council members (by username) and the agencies they appraise for."""
    rows = session.exec(
        select(User, RoleGrant.agency)
        .join(RoleGrant, col(RoleGrant.user_id) == User.id)
        .where(
            RoleGrant.role == Role.council,
            col(RoleGrant.agency).is_not(None),
            col(User.is_active).is_(True),
        )
        .order_by(col(User.username))
    ).all()
    out: dict[str, tuple[User, set[str]]] = {}
    for user, agency in rows:
        if agency:
            out.setdefault(user.username, (user, set()))[1].add(agency)
    return out
