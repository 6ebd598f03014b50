"""The builders of the notices about one unit: to its office, its staff, or both.

Each gets a ``UnitScope`` (the unit, its projection, its office and the shared context already
loaded) and returns one digest per person: never one message per criterion.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from contracts.messages import DeadlineKind, NoticeKind
from models.labels import FOLLOWUP_VI
from models.tables import (
    Assignment,
    CycleUnit,
    ExplanationItem,
    ExplanationRequest,
    Snapshot,
    UnitState,
    User,
)
from services.notices.recipients import Recipient, dedupe, person, staff_users
from services.notices.registry import Notice, UnitScope, band_labels, leaf_titles, unit_notice
from services.sheet import StaffProgress, framework_for, progress

__all__: list[str] = []  # the builders are reached through services.notices.registry.BUILDERS


def _staff(sp: StaffProgress) -> Recipient:
    return Recipient(sp.username, sp.full_name, sp.email, "staff")


@unit_notice(NoticeKind.cycle_opened)
def _cycle_opened(s: UnitScope) -> list[Notice]:
    """The unit office: the cycle is open, with its timeline."""
    cycle, cu = s.cycle, s.cu
    timeline = [
        {"label": "Mở kỳ đánh giá", "at": cycle.opens_at},
        {"label": "Thời điểm chốt số liệu", "at": cycle.data_cutoff_at},
        {"label": "Hạn gửi kết quả tự chấm điểm", "at": cu.submission_deadline},
        {"label": "Phần mềm tự động khóa", "at": cu.hard_lock_at},
        {"label": "Hạn thẩm định", "at": cycle.appraisal_deadline},
        {"label": "Dự kiến công bố kết quả", "at": cycle.results_target},
    ]
    return s.to(s.office, timeline=timeline)


@unit_notice(NoticeKind.assigned)
def _assigned(s: UnitScope) -> list[Notice]:
    """The newly assigned staff (``req.usernames``): all their criteria."""
    wanted = set(s.req.usernames)
    notices: list[Notice] = []
    for sp in progress(s.session, cycle=s.cycle, unit=s.unit).staff:
        if sp.email and sp.username in wanted:
            criteria = [{"code": c, "title": t, "responsible": r} for c, t, r in sp.criteria]
            notices += s.to([_staff(sp)], criteria=criteria)
    return notices


@unit_notice(NoticeKind.returned)
def _returned(s: UnitScope) -> list[Notice]:
    """The staff of the returned criteria (``req.codes``), with the office's comment."""
    prog = progress(s.session, cycle=s.cycle, unit=s.unit)
    wanted = set(s.req.usernames)
    titles = leaf_titles(framework_for(s.session, s.cycle))
    returned = {c: titles.get(c, "") for c in s.req.codes}
    s.base["comment"] = s.req.reason
    notices: list[Notice] = []
    for sp in prog.staff:
        if not sp.email or sp.username not in wanted:
            continue
        mine = [{"code": c, "title": returned[c]} for c, _, _ in sp.criteria if c in returned]
        if mine:
            notices += s.to([_staff(sp)], criteria=mine)
    return notices


@unit_notice(NoticeKind.reminder)
def _reminder(s: UnitScope) -> list[Notice]:
    """Staff with unfinished criteria (theirs), then the office (the unit's progress)."""
    prog = progress(s.session, cycle=s.cycle, unit=s.unit)
    notices: list[Notice] = []
    for sp in prog.staff:
        if sp.email and sp.unfinished:
            criteria = [{"code": c, "title": t} for c, t in sp.unfinished]
            notices += s.to([_staff(sp)], criteria=criteria, audience="staff")
    staff = [
        {"name": sp.full_name, "unfinished": len(sp.unfinished), "total": len(sp.criteria)}
        for sp in prog.staff
        if sp.unfinished
    ]
    return notices + s.to(
        s.office,
        audience="office",
        total=prog.total,
        finished=prog.finished,
        unassigned=[{"code": c, "title": t} for c, t in prog.unassigned],
        staff=staff,
    )


def _round_items(s: UnitScope, *, unanswered_only: bool) -> list[ExplanationItem] | None:
    """The items of the request's explanation round (None: no such round)."""
    request = s.session.exec(
        select(ExplanationRequest).where(
            ExplanationRequest.cycle_id == s.cycle.id,
            ExplanationRequest.unit_id == s.unit_id,
            ExplanationRequest.round_no == s.req.round_no,
        )
    ).first()
    if request is None:
        return None
    items = list(
        s.session.exec(
            select(ExplanationItem)
            .where(ExplanationItem.request_id == request.id)
            .order_by(col(ExplanationItem.id))
        ).all()
    )
    if unanswered_only:
        items = [it for it in items if not it.answer.strip()]
    s.base["deadline"] = request.deadline
    return items


def _responsible_for(s: UnitScope, codes: list[str]) -> list[tuple[User, set[str]]]:
    """The staff responsible for some of ``codes`` and which ones, by username."""
    rows = s.session.exec(
        select(Assignment, User)
        .join(User, col(User.id) == Assignment.user_id)
        .where(
            Assignment.cycle_id == s.cycle.id,
            Assignment.unit_id == s.unit_id,
            col(Assignment.responsible).is_(True),
            col(Assignment.criterion_code).in_(codes),
        )
    ).all()
    per_user: dict[str, tuple[User, set[str]]] = {}
    for a, u in rows:
        per_user.setdefault(u.username, (u, set()))[1].add(a.criterion_code)
    return [per_user[name] for name in sorted(per_user)]


def _explanation(s: UnitScope, *, unanswered_only: bool) -> list[Notice]:
    """The office (every item), then each responsible staff member (their items)."""
    items = _round_items(s, unanswered_only=unanswered_only)
    if not items:
        return []
    titles = leaf_titles(framework_for(s.session, s.cycle))
    flagged = [
        {
            "code": it.criterion_code,
            "title": titles.get(it.criterion_code, ""),
            "question": it.question,
        }
        for it in items
    ]
    notices = s.to(s.office, items=flagged, audience="office")
    office_keys = {r.key for r in s.office}
    for user, codes in _responsible_for(s, [it.criterion_code for it in items]):
        r = person(user, "staff")
        if r is None or r.key in office_keys:
            continue
        mine = [row for row in flagged if row["code"] in codes]
        notices += s.to([r], items=mine, audience="staff")
    return notices


@unit_notice(NoticeKind.explanation_requested)
def _explanation_requested(s: UnitScope) -> list[Notice]:
    """A new explanation round: the office and the responsible staff, every flagged item."""
    return _explanation(s, unanswered_only=False)


@unit_notice(NoticeKind.explanation_reminder)
def _explanation_reminder(s: UnitScope) -> list[Notice]:
    """Before the round's deadline: the office and the responsible staff, unanswered items."""
    return _explanation(s, unanswered_only=True)


def _office_context(s: UnitScope) -> dict[str, Any]:
    """The submission's facts and the follow-up's title, for the office's notices."""
    cu, kind = s.cu, s.req.deadline_kind
    followup = kind is not None and kind in (DeadlineKind.analysis, DeadlineKind.plan)
    return {
        "submitted_at": cu.submitted_at,
        "days_late": cu.days_late,
        "self_total": cu.self_total,
        "followup_title": FOLLOWUP_VI.get(kind.value, "") if kind is not None and followup else "",
    }


@unit_notice(NoticeKind.submitted)
def _submitted(s: UnitScope) -> list[Notice]:
    """The office: the sheet was submitted, with the snapshot's hash."""
    # Its hash only: the snapshot's content (the whole frozen sheet) is not read for a notice.
    found = (
        s.session.exec(select(Snapshot.content_hash).where(Snapshot.id == s.cu.snapshot_id)).first()
        if s.cu.snapshot_id
        else None
    )
    content_hash = found or ""
    return s.to(s.office, **_office_context(s), content_hash=content_hash)


@unit_notice(NoticeKind.locked)
def _locked(s: UnitScope) -> list[Notice]:
    """The office: the sheet was locked at the hard lock without a submission."""
    return s.to(s.office, **_office_context(s))


@unit_notice(NoticeKind.followup_reminder)
def _followup_reminder(s: UnitScope) -> list[Notice]:
    """The office: a follow-up document (analysis or plan) is due."""
    return s.to(s.office, **_office_context(s))


@unit_notice(NoticeKind.cancelled)
def _cancelled(s: UnitScope) -> list[Notice]:
    """The office: the unit's cycle was cancelled (``reason`` in the shared context)."""
    return s.to(s.office, **_office_context(s))


def _office_and_staff(s: UnitScope) -> list[Recipient]:
    """The unit office and everyone assigned to a criterion, once each."""
    users = staff_users(s.session, s.cycle.id, s.unit_id).values()
    return dedupe([*s.office, *(r for u in users if (r := person(u, "staff")))])


@unit_notice(NoticeKind.reopened)
def _reopened(s: UnitScope) -> list[Notice]:
    """The office and the staff: the sheet is open again (``reason`` in the shared context)."""
    return s.to(_office_and_staff(s))


@unit_notice(NoticeKind.deadline_changed)
def _deadline_changed(s: UnitScope) -> list[Notice]:
    """The office and the staff: the unit's deadlines moved."""
    return s.to(_office_and_staff(s))


@unit_notice(NoticeKind.unit_published)
def _unit_published(s: UnitScope) -> list[Notice]:
    """The office and the staff: the unit's result, its rank in its group and the follow-ups."""
    recipients = _office_and_staff(s)
    cu = s.cu
    labels = band_labels(framework_for(s.session, s.cycle))
    group_size = len(
        s.session.exec(
            select(CycleUnit.id).where(
                CycleUnit.cycle_id == s.cycle.id,
                CycleUnit.group == cu.group,
                CycleUnit.state != UnitState.cancelled,
            )
        ).all()
    )
    return s.to(
        recipients,
        final_total=cu.final_total,
        band=labels.get(cu.classification or "", cu.classification or ""),
        rank=cu.rank,
        group_size=group_size,
        followups=[
            {"title": FOLLOWUP_VI["analysis"], "due": cu.analysis_due},
            {"title": FOLLOWUP_VI["plan"], "due": cu.plan_due},
        ],
    )
