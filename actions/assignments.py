"""Assignment of a unit's criteria to its staff, as the assignment page shows and changes it.

The workflow's assign command replaces the whole list (``services.sheet.replace_assignments``
in its transition, then one e-mail to each person whose criteria changed). A change on the page
— an area or some criteria to one person, as lead (chịu trách nhiệm chính), as support (phối
hợp), or taken away — is turned here into the whole new list from the current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select
from temporalio.client import Client

from actions.common import UnitRef
from actions.unit_commands import assign
from contracts.messages import AssignmentSpec, UnitStatus
from core.errors import Invalid
from models.framework import Framework, Node
from models.tables import Assignment, Cycle, Role, RoleGrant, User
from services.accounts import Principal
from services.sheet import framework_for

__all__ = [
    "AssignRole",
    "AssignmentNode",
    "Person",
    "assign_codes",
    "assignment_tree",
    "current",
    "unit_people",
]


class AssignRole(StrEnum):
    """What a change does to the person on the chosen criteria."""

    lead = "lead"  # chịu trách nhiệm chính (the previous lead stays, as support)
    support = "support"  # phối hợp
    remove = "remove"  # bỏ phân công


@dataclass(frozen=True)
class Person:
    """Someone of the unit who may be assigned criteria."""

    username: str
    full_name: str
    email: str


@dataclass(frozen=True)
class AssignmentNode:
    """A node of the criteria tree with the people on it (a leaf) or its leaves' count."""

    code: str
    title: str
    depth: int
    is_leaf: bool
    leaves: int
    assigned: int
    people: tuple[tuple[str, bool], ...]  # (full name, lead) on a leaf


def unit_people(session: Session, unit_id: int) -> list[Person]:
    """The unit's staff and office, by name."""
    rows = session.exec(
        select(User)
        .join(RoleGrant, col(RoleGrant.user_id) == User.id)
        .where(
            RoleGrant.unit_id == unit_id,
            col(RoleGrant.role).in_([Role.staff, Role.unit_office]),
        )
    ).all()
    people = {u.username: Person(u.username, u.full_name or u.username, u.email) for u in rows}
    return sorted(people.values(), key=lambda p: (p.full_name, p.username))


def current(session: Session, unit: UnitRef) -> dict[str, dict[str, bool]]:
    """The unit's assignments now: leaf code → {username: lead}."""
    out: dict[str, dict[str, bool]] = {}
    for a, u in session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(Assignment.cycle_id == unit.cycle_id, Assignment.unit_id == unit.unit_id)
    ).all():
        out.setdefault(a.criterion_code, {})[u.username] = a.responsible
    return out


def _framework(session: Session, unit: UnitRef) -> Framework:
    cycle = session.get(Cycle, unit.cycle_id)
    assert cycle is not None  # the caller's access rule found it
    return framework_for(session, cycle)


def assignment_tree(session: Session, *, unit: UnitRef) -> list[AssignmentNode]:
    """The criteria tree in the annex's order, with who is on each leaf."""
    framework = _framework(session, unit)
    now = current(session, unit)
    names = {p.username: p.full_name for p in unit_people(session, unit.unit_id)}
    out: list[AssignmentNode] = []

    def visit(node: Node, depth: int) -> tuple[int, int]:
        at = len(out)
        out.append(AssignmentNode(node.code, node.title, depth, node.is_leaf, 0, 0, ()))
        if node.is_leaf:
            on = now.get(node.code, {})
            people = tuple(
                sorted(((names.get(u, u), lead) for u, lead in on.items()), key=lambda p: not p[1])
            )
            out[at] = AssignmentNode(node.code, node.title, depth, True, 1, int(bool(on)), people)
            return 1, int(bool(on))
        leaves = assigned = 0
        for child in node.children:
            n, a = visit(child, depth + 1)
            leaves, assigned = leaves + n, assigned + a
        out[at] = AssignmentNode(node.code, node.title, depth, False, leaves, assigned, ())
        return leaves, assigned

    for top in framework.nodes:
        visit(top, 0)
    return out


def _leaves_under(framework: Framework, codes: Sequence[str]) -> list[str]:
    found: list[str] = []
    for code in codes:
        try:
            node = framework.node(code)
        except KeyError:
            node = None
        if node is None:
            raise Invalid(
                "unknown_criterion",
                f"Không có tiêu chí {code} trong bộ tiêu chí.",
                f"There is no criterion {code} in the framework.",
                field="codes",
            )
        stack = [node]
        while stack:
            n = stack.pop()
            if n.is_leaf:
                found.append(n.code)
            stack.extend(n.children)
    return sorted(set(found))


async def assign_codes(
    session: Session,
    *,
    client: Client,
    principal: Principal,
    unit: UnitRef,
    codes: Sequence[str],
    username: str,
    role: AssignRole,
    key: str | None = None,
) -> tuple[UnitStatus, int]:
    """Puts ``username`` on (or takes them off) every leaf under ``codes``; the number of leaves.

    The whole new list goes to the workflow's assign command (one e-mail to each person whose
    criteria changed).
    """
    if not codes:
        raise Invalid(
            "codes_missing", "Cần chọn ít nhất một nhóm hoặc tiêu chí.", "No criteria.", "codes"
        )
    if username not in {p.username for p in unit_people(session, unit.unit_id)}:
        raise Invalid(
            "not_unit_staff",
            "Cần chọn một cán bộ của đơn vị.",
            "Choose a member of the unit's staff.",
            field="username",
        )
    leaves = _leaves_under(_framework(session, unit), codes)
    table = current(session, unit)
    for leaf in leaves:
        people = table.setdefault(leaf, {})
        if role is AssignRole.remove:
            people.pop(username, None)
        elif role is AssignRole.lead:
            for other in people:
                people[other] = False
            people[username] = True
        else:
            people.setdefault(username, False)
    specs = [
        AssignmentSpec(codes=(leaf,), username=u, responsible=lead)
        for leaf, people in sorted(table.items())
        for u, lead in sorted(people.items())
    ]
    if not specs:
        raise Invalid(
            "assignments_empty",
            "Không thể bỏ hết phân công: phải còn ít nhất một người được phân công.",
            "At least one assignment must remain.",
            field="username",
        )
    status = await assign(client=client, principal=principal, unit=unit, assignments=specs, key=key)
    return status, len(leaves)
