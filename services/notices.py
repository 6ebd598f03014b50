"""Who is told what: recipients and the content of each notification, read from the database.

``build_notices`` turns a workflow's ``NoticeRequest`` into one ``Notice`` per person (a digest:
never one message per criterion) with the context its template needs. Rendering is
``notifications.render``; storing and sending is ``services.outbox`` and the mail activity.

Recipients: the unit office are the users holding ``unit_office`` for the unit (the unit's own
address when nobody does); staff are the people assigned to criteria; the coordinators and the
council are the users holding those roles. People without an e-mail address are skipped.

The council's appraisal reminder goes to each council member (``RoleGrant.agency``) whose
agencies still have leaf criteria (``Node.agency``) without an appraised score in units that
have submitted (submitted, appraising, explanation): one digest listing them per unit. Nobody
with nothing pending, and nobody at all once the cycle is no longer running.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlmodel import Session, col, select

from contracts.messages import DeadlineKind, NoticeKind, NoticeRequest
from models.labels import DEADLINE_VI, FOLLOWUP_VI, UNIT_STATE_VI, offset_vi
from models.states import UNDER_APPRAISAL
from models.tables import (
    Assignment,
    Cycle,
    CycleState,
    CycleUnit,
    Entry,
    ExplanationItem,
    ExplanationRequest,
    Role,
    RoleGrant,
    Snapshot,
    Unit,
    UnitState,
    User,
)
from services.cycles import missed_units
from services.sheet import framework_for, progress

__all__ = ["Notice", "Recipient", "build_notices", "message_key"]


@dataclass(frozen=True)
class Recipient:
    """A person (or a unit's mailbox) who receives a digest."""

    key: str  # username, or "office:<unit code>" for the unit's own address
    name: str
    email: str
    role: str  # office | staff | coordinator | council


@dataclass(frozen=True)
class Notice:
    """One message to render: its template, recipient and context."""

    recipient: Recipient
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def message_key(req: NoticeRequest, recipient: Recipient) -> str:
    """The idempotency key: (cycle, unit, kind, what it is about, recipient)."""
    return "|".join([req.cycle_id, req.unit_code or "-", req.kind.value, req.key, recipient.key])


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


def _person(user: User, role: str) -> Recipient | None:
    if not user.email:
        return None
    return Recipient(
        key=user.username, name=user.full_name or user.username, email=user.email, role=role
    )


def office_recipients(session: Session, unit: Unit) -> list[Recipient]:
    """The unit office: its users, or the unit's own address when it has no office account."""
    people = [
        r for u in _users_with(session, Role.unit_office, unit.id) if (r := _person(u, "office"))
    ]
    if not people and unit.email:
        people = [
            Recipient(key=f"office:{unit.code}", name=unit.name, email=unit.email, role="office")
        ]
    return people


def _role_recipients(session: Session, role: Role) -> list[Recipient]:
    return [r for u in _users_with(session, role) if (r := _person(u, role.value))]


def _link(base_url: str, cycle_id: str, unit_code: str | None = None, anchor: str = "") -> str:
    url = f"{base_url.rstrip('/')}/cycles/{quote(cycle_id)}"
    if unit_code:
        url += f"/units/{quote(unit_code)}"
    return url + (f"#{anchor}" if anchor else "")


def _staff_users(session: Session, cycle_id: str, unit_id: int) -> dict[str, User]:
    rows = session.exec(
        select(User)
        .join(Assignment, col(Assignment.user_id) == User.id)
        .where(Assignment.cycle_id == cycle_id, Assignment.unit_id == unit_id)
    ).all()
    return {u.username: u for u in rows}


def _timeline(cycle: Cycle, cu: CycleUnit | None) -> list[dict[str, Any]]:
    sub = cu.submission_deadline if cu else cycle.submission_deadline
    lock = cu.hard_lock_at if cu else cycle.hard_lock_at
    return [
        {"label": "Mở kỳ đánh giá", "at": cycle.opens_at},
        {"label": "Thời điểm chốt số liệu", "at": cycle.data_cutoff_at},
        {"label": "Hạn gửi kết quả tự chấm điểm", "at": sub},
        {"label": "Phần mềm tự động khóa", "at": lock},
        {"label": "Hạn thẩm định", "at": cycle.appraisal_deadline},
        {"label": "Dự kiến công bố kết quả", "at": cycle.results_target},
    ]


def _dedupe(recipients: Iterable[Recipient]) -> list[Recipient]:
    out: dict[str, Recipient] = {}
    for r in recipients:
        out.setdefault(r.key, r)
    return list(out.values())


def _council_agencies(session: Session) -> dict[str, tuple[User, set[str]]]:
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


def _appraisal_reminders(
    session: Session, cycle: Cycle, base: dict[str, Any], base_url: str
) -> list[Notice]:
    """One digest per council member: their agencies' unappraised criteria, per unit."""
    if CycleState(cycle.state) is not CycleState.running:
        return []  # the appraisal is closed (or the cycle cancelled): nothing to remind
    units = session.exec(
        select(CycleUnit, Unit)
        .join(Unit, col(Unit.id) == CycleUnit.unit_id)
        .where(CycleUnit.cycle_id == cycle.id, col(CycleUnit.state).in_(UNDER_APPRAISAL))
        .order_by(col(Unit.code))
    ).all()
    if not units:
        return []
    appraised = set(
        session.exec(
            select(Entry.unit_id, Entry.criterion_code).where(
                Entry.cycle_id == cycle.id,
                col(Entry.unit_id).in_([cu.unit_id for cu, _ in units]),
                col(Entry.appraised_score).is_not(None),
            )
        ).all()
    )
    leaves = [n for n in framework_for(session, cycle).leaves() if n.agency]
    notices = []
    for user, agencies in _council_agencies(session).values():
        recipient = _person(user, "council")
        if recipient is None:
            continue
        mine = [n for n in leaves if n.agency in agencies]
        pending = []
        for cu, unit in units:
            criteria = [
                {"code": n.code, "title": n.title}
                for n in mine
                if (cu.unit_id, n.code) not in appraised
            ]
            if criteria:
                pending.append(
                    {
                        "code": unit.code,
                        "name": unit.name,
                        "state": UNIT_STATE_VI[UnitState(cu.state)],
                        "link": _link(base_url, cycle.id, unit.code),
                        "criteria": criteria,
                    }
                )
        if pending:
            ctx = {
                **base,
                "deadline_label": "hạn thẩm định",
                "agencies": sorted(agencies),
                "units": pending,
                "recipient": recipient.__dict__,
            }
            notices.append(Notice(recipient, NoticeKind.appraisal_reminder.value, ctx))
    return notices


def build_notices(session: Session, req: NoticeRequest, *, base_url: str) -> list[Notice]:
    """The digests to send for this request, one per person (possibly none)."""
    cycle = session.get(Cycle, req.cycle_id)
    if cycle is None:
        return []
    base: dict[str, Any] = {
        "cycle": {"id": cycle.id, "title": cycle.title, "year": cycle.year},
        "deadline": req.deadline,
        "deadline_label": DEADLINE_VI.get(req.deadline_kind.value, "") if req.deadline_kind else "",
        "offset_text": offset_vi(req.offset) if req.offset else "",
        "reason": req.reason,
        "round_no": req.round_no,
        "cycle_link": _link(base_url, cycle.id),
    }
    template = req.kind.value

    if req.kind is NoticeKind.appraisal_reminder:
        return _appraisal_reminders(session, cycle, base, base_url)

    if req.kind in (NoticeKind.missed, NoticeKind.results_published):
        if req.kind is NoticeKind.missed:
            assert req.deadline_kind is not None and req.deadline is not None
            missed = missed_units(
                session, cycle_id=cycle.id, kind=req.deadline_kind, deadline=req.deadline
            )
            if not missed:
                return []
            ctx = {
                **base,
                "units": [
                    {"code": m.code, "name": m.name, "state": UNIT_STATE_VI[m.state]}
                    for m in missed
                ],
                "link": _link(base_url, cycle.id),
            }
            recipients = _role_recipients(session, Role.coordinator)
        else:
            rows = session.exec(
                select(CycleUnit, Unit)
                .join(Unit, col(Unit.id) == CycleUnit.unit_id)
                .where(CycleUnit.cycle_id == cycle.id)
                .order_by(col(CycleUnit.group), col(CycleUnit.rank), col(Unit.code))
            ).all()
            framework = framework_for(session, cycle)
            labels = {
                b.key: b.label
                for b in (framework.classification.bands if framework.classification else ())
            }
            ctx = {
                **base,
                "units": [
                    {
                        "code": u.code,
                        "name": u.name,
                        "group": cu.group,
                        "total": cu.final_total,
                        "band": labels.get(cu.classification or "", cu.classification or ""),
                        "rank": cu.rank,
                    }
                    for cu, u in rows
                    if UnitState(cu.state) is not UnitState.cancelled
                ],
                "link": _link(base_url, cycle.id) + "/results",
            }
            recipients = _dedupe(
                [
                    *_role_recipients(session, Role.coordinator),
                    *_role_recipients(session, Role.council),
                ]
            )
        return [Notice(r, template, {**ctx, "recipient": r.__dict__}) for r in recipients]

    assert req.unit_code is not None
    unit = session.exec(select(Unit).where(Unit.code == req.unit_code)).first()
    if unit is None or unit.id is None:
        return []
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle.id, CycleUnit.unit_id == unit.id)
    ).first()
    if cu is None:
        return []
    base.update(
        unit={"code": unit.code, "name": unit.name},
        link=_link(base_url, cycle.id, unit.code),
        submission_deadline=cu.submission_deadline,
        hard_lock_at=cu.hard_lock_at,
        state=UNIT_STATE_VI[UnitState(cu.state)],
    )
    office = office_recipients(session, unit)
    notices: list[Notice] = []

    def add(recipients: Iterable[Recipient], **ctx: Any) -> None:
        for r in recipients:
            notices.append(Notice(r, template, {**base, **ctx, "recipient": r.__dict__}))

    if req.kind is NoticeKind.cycle_opened:
        add(office, timeline=_timeline(cycle, cu))

    elif req.kind in (NoticeKind.assigned, NoticeKind.returned, NoticeKind.reminder):
        prog = progress(session, cycle=cycle, unit=unit)
        wanted = set(req.usernames)
        returned: dict[str, str] = {}
        if req.kind is NoticeKind.returned:
            framework = framework_for(session, cycle)
            titles = {n.code: n.title for n in framework.leaves()}
            returned = {c: titles.get(c, "") for c in req.codes}
            base["comment"] = req.reason
        for sp in prog.staff:
            user_r = Recipient(sp.username, sp.full_name, sp.email, "staff")
            if not sp.email:
                continue
            if req.kind is NoticeKind.assigned and sp.username in wanted:
                add(
                    [user_r],
                    criteria=[{"code": c, "title": t, "responsible": r} for c, t, r in sp.criteria],
                )
            elif req.kind is NoticeKind.returned and sp.username in wanted:
                mine = [
                    {"code": c, "title": returned[c]} for c, _, _ in sp.criteria if c in returned
                ]
                if mine:
                    add([user_r], criteria=mine)
            elif req.kind is NoticeKind.reminder and sp.unfinished:
                add(
                    [user_r],
                    criteria=[{"code": c, "title": t} for c, t in sp.unfinished],
                    audience="staff",
                )
        if req.kind is NoticeKind.reminder:
            add(
                office,
                audience="office",
                total=prog.total,
                finished=prog.finished,
                unassigned=[{"code": c, "title": t} for c, t in prog.unassigned],
                staff=[
                    {
                        "name": sp.full_name,
                        "unfinished": len(sp.unfinished),
                        "total": len(sp.criteria),
                    }
                    for sp in prog.staff
                    if sp.unfinished
                ],
            )

    elif req.kind in (NoticeKind.explanation_requested, NoticeKind.explanation_reminder):
        request = session.exec(
            select(ExplanationRequest).where(
                ExplanationRequest.cycle_id == cycle.id,
                ExplanationRequest.unit_id == unit.id,
                ExplanationRequest.round_no == req.round_no,
            )
        ).first()
        if request is None:
            return []
        framework = framework_for(session, cycle)
        titles = {n.code: n.title for n in framework.leaves()}
        items = session.exec(
            select(ExplanationItem)
            .where(ExplanationItem.request_id == request.id)
            .order_by(col(ExplanationItem.id))
        ).all()
        if req.kind is NoticeKind.explanation_reminder:
            items = [it for it in items if not it.answer.strip()]
        if not items:
            return []
        base["deadline"] = request.deadline
        flagged = [
            {
                "code": it.criterion_code,
                "title": titles.get(it.criterion_code, ""),
                "question": it.question,
            }
            for it in items
        ]
        add(office, items=flagged, audience="office")
        responsible = session.exec(
            select(Assignment, User)
            .join(User, col(User.id) == Assignment.user_id)
            .where(
                Assignment.cycle_id == cycle.id,
                Assignment.unit_id == unit.id,
                col(Assignment.responsible).is_(True),
                col(Assignment.criterion_code).in_([it.criterion_code for it in items]),
            )
        ).all()
        per_user: dict[str, tuple[User, set[str]]] = {}
        for a, u in responsible:
            per_user.setdefault(u.username, (u, set()))[1].add(a.criterion_code)
        office_keys = {r.key for r in office}
        for _username, (user, codes) in sorted(per_user.items()):
            r = _person(user, "staff")
            if r is None or r.key in office_keys:
                continue
            add([r], items=[row for row in flagged if row["code"] in codes], audience="staff")

    elif req.kind in (
        NoticeKind.submitted,
        NoticeKind.locked,
        NoticeKind.followup_reminder,
        NoticeKind.cancelled,
    ):
        extra: dict[str, Any] = {
            "submitted_at": cu.submitted_at,
            "days_late": cu.days_late,
            "self_total": cu.self_total,
            "followup_title": FOLLOWUP_VI.get(req.deadline_kind.value, "")
            if req.deadline_kind in (DeadlineKind.analysis, DeadlineKind.plan)
            else "",
        }
        if req.kind is NoticeKind.submitted:
            snap = session.get(Snapshot, cu.snapshot_id) if cu.snapshot_id else None
            extra["content_hash"] = snap.content_hash if snap else ""
        add(office, **extra)

    elif req.kind in (NoticeKind.reopened, NoticeKind.deadline_changed, NoticeKind.unit_published):
        staff = [
            r
            for u in _staff_users(session, cycle.id, unit.id).values()
            if (r := _person(u, "staff"))
        ]
        extra = {}
        if req.kind is NoticeKind.unit_published:
            framework = framework_for(session, cycle)
            labels = {
                b.key: b.label
                for b in (framework.classification.bands if framework.classification else ())
            }
            group_size = len(
                session.exec(
                    select(CycleUnit.id).where(
                        CycleUnit.cycle_id == cycle.id,
                        CycleUnit.group == cu.group,
                        CycleUnit.state != UnitState.cancelled,
                    )
                ).all()
            )
            extra = {
                "final_total": cu.final_total,
                "band": labels.get(cu.classification or "", cu.classification or ""),
                "rank": cu.rank,
                "group_size": group_size,
                "followups": [
                    {"title": FOLLOWUP_VI["analysis"], "due": cu.analysis_due},
                    {"title": FOLLOWUP_VI["plan"], "due": cu.plan_due},
                ],
            }
        add(_dedupe([*office, *staff]), **extra)

    return notices
