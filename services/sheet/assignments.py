"""Assignments: which staff member enters which criterion of a unit's sheet."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from core.errors import Invalid
from models.framework import Framework, Node
from models.tables import Assignment, Cycle, RoleGrant, Unit, User
from services import audit
from services.sheet.framework import framework_for

__all__ = ["expand_assignments", "replace_assignments"]


def _ancestors(framework: Framework) -> dict[str, list[str]]:
    """For each leaf, its codes from the top down to itself."""
    out: dict[str, list[str]] = {}

    def visit(node: Node, path: list[str]) -> None:
        here = [*path, node.code]
        if node.is_leaf:
            out[node.code] = here
        for child in node.children:
            visit(child, here)

    for top in framework.nodes:
        visit(top, [])
    return out


def expand_assignments(
    framework: Framework, specs: Sequence[tuple[Sequence[str], str, bool]]
) -> dict[str, list[tuple[str, bool]]]:
    """Leaf code → [(username, responsible)] from (codes, username, responsible) specs.

    A code on a parent covers every leaf under it, unless a more specific code (nearer the
    leaf) is assigned too: then the most specific assignment wins for the leaves under it
    (the Định Hóa table: "III: Lan" but "3.2: Cát, Nguyễn"). Every assigned leaf has exactly
    one responsible person: the one marked so, else the first listed; two is an error.
    """
    known = {n.code for n in framework.walk()}
    by_code: dict[str, list[tuple[str, bool]]] = {}
    for codes, username, responsible in specs:
        for code in codes:
            if code not in known:
                raise Invalid(
                    "unknown_criterion",
                    f"Không có tiêu chí {code} trong bộ tiêu chí.",
                    f"There is no criterion {code} in the framework.",
                    field="codes",
                )
            people = by_code.setdefault(code, [])
            if all(u != username for u, _ in people):
                people.append((username, responsible))
            elif responsible:
                people[:] = [(u, r or u == username) for u, r in people]
    out: dict[str, list[tuple[str, bool]]] = {}
    for leaf, path in _ancestors(framework).items():
        chosen = next((by_code[c] for c in reversed(path) if c in by_code), None)
        if not chosen:
            continue
        marked = [u for u, r in chosen if r]
        if len(marked) > 1:
            raise Invalid(
                "two_responsible",
                f"Tiêu chí {leaf} có hơn một người chịu trách nhiệm chính: {', '.join(marked)}.",
                f"Criterion {leaf} has more than one responsible person: {', '.join(marked)}.",
                field="assignments",
            )
        head = marked[0] if marked else chosen[0][0]
        out[leaf] = [(u, u == head) for u, _ in chosen]
    return out


def replace_assignments(
    session: Session,
    *,
    cycle: Cycle,
    unit: Unit,
    specs: Sequence[tuple[Sequence[str], str, bool]],
    actor: str,
    request_key: str | None = None,
) -> list[str]:
    """Replaces the unit's assignments; returns the staff whose list of criteria changed."""
    assert unit.id is not None
    framework = framework_for(session, cycle)
    wanted = expand_assignments(framework, specs)
    names = sorted({u for people in wanted.values() for u, _ in people})
    users = {
        u.username: u for u in session.exec(select(User).where(col(User.username).in_(names))).all()
    }
    missing = [n for n in names if n not in users]
    if missing:
        raise Invalid(
            "unknown_user",
            f"Không có tài khoản: {', '.join(missing)}.",
            f"No such user: {', '.join(missing)}.",
            field="username",
        )
    allowed = set(
        session.exec(
            select(RoleGrant.user_id).where(
                RoleGrant.unit_id == unit.id,
                col(RoleGrant.role).in_(["staff", "unit_office"]),
            )
        ).all()
    )
    outsiders = [n for n in names if users[n].id not in allowed]
    if outsiders:
        raise Invalid(
            "not_unit_staff",
            f"Không phải cán bộ của đơn vị {unit.code}: {', '.join(outsiders)}.",
            f"Not staff of unit {unit.code}: {', '.join(outsiders)}.",
            field="username",
        )
    existing = session.exec(
        select(Assignment).where(Assignment.cycle_id == cycle.id, Assignment.unit_id == unit.id)
    ).all()
    by_id = {u.id: u.username for u in users.values()}
    for row in existing:
        if row.user_id not in by_id:
            user = session.get(User, row.user_id)
            by_id[row.user_id] = user.username if user else str(row.user_id)
    before: dict[str, set[tuple[str, bool]]] = {}
    for row in existing:
        before.setdefault(by_id[row.user_id], set()).add((row.criterion_code, row.responsible))
    after: dict[str, set[tuple[str, bool]]] = {}
    for leaf, people in wanted.items():
        for username, responsible in people:
            after.setdefault(username, set()).add((leaf, responsible))
    for row in existing:
        session.delete(row)
    session.flush()
    for username, items in sorted(after.items()):
        for leaf, responsible in sorted(items):
            session.add(
                Assignment(
                    cycle_id=cycle.id,
                    unit_id=unit.id,
                    criterion_code=leaf,
                    user_id=_id(users[username].id),
                    responsible=responsible,
                )
            )
    session.flush()
    audit.record(
        session,
        actor=actor,
        entity="assignment",
        action="replace",
        cycle_id=cycle.id,
        unit_id=unit.id,
        before={u: sorted(c for c, _ in v) for u, v in sorted(before.items())},
        after={u: sorted(c for c, _ in v) for u, v in sorted(after.items())},
        request_key=request_key,
    )
    return sorted(u for u in after if after[u] != before.get(u))


def _id(value: int | None) -> int:
    assert value is not None
    return value
