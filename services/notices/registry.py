"""The table of notice builders: one function per ``NoticeKind``, registered next to its template.

A builder takes a scope (the request, its cycle and the context every template shares) and
returns its digests. ``cycle_notice`` registers a builder that works on the whole cycle;
``unit_notice`` one about a single unit, which is called with the unit, its projection, the
unit office and the unit's part of the context already loaded (and not at all when the unit or
its projection is missing). ``builder_for`` fails loudly on a kind nobody registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, select

from contracts.messages import NoticeKind, NoticeRequest
from models.framework import Framework
from models.labels import UNIT_STATE_VI
from models.tables import Cycle, CycleUnit, Unit, UnitState
from services.notices.recipients import Recipient, office_recipients

__all__ = [
    "BUILDERS",
    "CycleScope",
    "Notice",
    "UnitScope",
    "band_labels",
    "builder_for",
    "cycle_notice",
    "leaf_titles",
    "link",
    "message_key",
    "unit_notice",
]


@dataclass(frozen=True)
class Notice:
    """One message to render: its template, recipient and context."""

    recipient: Recipient
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def message_key(req: NoticeRequest, recipient: Recipient) -> str:
    """The idempotency key: (cycle, unit, kind, what it is about, recipient)."""
    return "|".join([req.cycle_id, req.unit_code or "-", req.kind.value, req.key, recipient.key])


def link(base_url: str, cycle_id: str, unit_code: str | None = None, anchor: str = "") -> str:
    """The address of a cycle's page (or one unit's sheet in it)."""
    url = f"{base_url.rstrip('/')}/cycles/{quote(cycle_id)}"
    if unit_code:
        url += f"/units/{quote(unit_code)}"
    return url + (f"#{anchor}" if anchor else "")


def band_labels(framework: Framework) -> dict[str, str]:
    """The classification bands' labels by key (none when the framework does not classify)."""
    bands = framework.classification.bands if framework.classification else ()
    return {b.key: b.label for b in bands}


def leaf_titles(framework: Framework) -> dict[str, str]:
    """The leaf criteria's titles by code."""
    return {n.code: n.title for n in framework.leaves()}


@dataclass
class CycleScope:
    """What every builder gets: the request, its cycle and the context all templates share."""

    session: Session
    req: NoticeRequest
    cycle: Cycle
    base: dict[str, Any]
    base_url: str

    def to(self, recipients: Iterable[Recipient], **ctx: Any) -> list[Notice]:
        """One notice per recipient: the shared context, then ``ctx``, then the recipient."""
        return [
            Notice(r, self.req.kind.value, {**self.base, **ctx, "recipient": r.__dict__})
            for r in recipients
        ]


@dataclass
class UnitScope(CycleScope):
    """A notice about one unit: the unit, its projection and its office, already loaded."""

    unit: Unit
    unit_id: int
    cu: CycleUnit
    office: list[Recipient]


CycleBuilder = Callable[[CycleScope], list[Notice]]
UnitBuilder = Callable[[UnitScope], list[Notice]]

BUILDERS: dict[NoticeKind, CycleBuilder] = {}


def _register(kind: NoticeKind, builder: CycleBuilder) -> None:
    if kind in BUILDERS:
        raise RuntimeError(f"two notice builders for {kind.value!r}")
    BUILDERS[kind] = builder


def cycle_notice(kind: NoticeKind) -> Callable[[CycleBuilder], CycleBuilder]:
    """Registers the builder of a notice about the whole cycle (template ``kind.value``)."""

    def register(builder: CycleBuilder) -> CycleBuilder:
        _register(kind, builder)
        return builder

    return register


def _unit_scope(scope: CycleScope) -> UnitScope | None:
    """The scope of a unit notice, or None when the unit or its projection is missing."""
    session, cycle = scope.session, scope.cycle
    assert scope.req.unit_code is not None
    unit = session.exec(select(Unit).where(Unit.code == scope.req.unit_code)).first()
    if unit is None or unit.id is None:
        return None
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle.id, CycleUnit.unit_id == unit.id)
    ).first()
    if cu is None:
        return None
    base = {
        **scope.base,
        "unit": {"code": unit.code, "name": unit.name},
        "link": link(scope.base_url, cycle.id, unit.code),
        "submission_deadline": cu.submission_deadline,
        "hard_lock_at": cu.hard_lock_at,
        "state": UNIT_STATE_VI[UnitState(cu.state)],
    }
    return UnitScope(
        session=session,
        req=scope.req,
        cycle=cycle,
        base=base,
        base_url=scope.base_url,
        unit=unit,
        unit_id=unit.id,
        cu=cu,
        office=office_recipients(session, unit),
    )


def unit_notice(kind: NoticeKind) -> Callable[[UnitBuilder], UnitBuilder]:
    """Registers the builder of a notice about one unit (template ``kind.value``)."""

    def register(builder: UnitBuilder) -> UnitBuilder:
        def build(scope: CycleScope) -> list[Notice]:
            unit_scope = _unit_scope(scope)
            return [] if unit_scope is None else builder(unit_scope)

        build.__name__ = builder.__name__
        build.__doc__ = builder.__doc__
        _register(kind, build)
        return builder

    return register


def builder_for(kind: NoticeKind) -> CycleBuilder:
    """The builder registered for ``kind``; a kind without one is a programming error."""
    try:
        return BUILDERS[kind]
    except KeyError:
        raise LookupError(f"no notice builder registered for {kind!r}") from None
