"""A unit's sheet as a page: the annex table, and under each row the forms the person may use.

The view model decides which forms and command buttons are drawn — a courtesy, the edit gate
and the workflows decide. A command's button is drawn exactly when the person holds a role the
API's rule for it lets act (``PageCaller.may``) and ``models.states.allowed`` lets it run now
(state and hard lock): the page compares no state of its own (``BUTTONS``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select
from starlette.datastructures import FormData

from actions import readiness
from api.deps import SessionDep, SettingsDep
from api.views import ExplanationItemView, ExplanationRoundView, NodeView, SheetView, sheet_view
from core.db import reading, utcnow
from core.settings import Settings
from models.framework import Framework, Node
from models.states import (
    APPRAISAL_DONE,
    APPRAISAL_STATES,
    APPRAISED_SHOWN,
    BEFORE_SUBMISSION,
    EXPLANATION_STATES,
    LOCKED_OUT,
    REVIEW_STATES,
    UnitCommand,
    UnitState,
    allowed,
    drafting_open,
    locked,
)
from models.tables import CycleUnit, Role
from services.sheet import framework_for
from web.auth import Caller, PageCaller
from web.common import base, from_criterion_page, load_cycle, mine_only, unit_ref, unit_url
from web.errors import RefusalPageRoute, page_refusal
from web.flash import flash_shown, take_flash
from web.forms import FieldView, field_views, posted_inputs, text_field
from web.render import render

__all__ = [
    "BUTTONS",
    "Area",
    "Button",
    "Facts",
    "Posted",
    "buttons",
    "refused_page",
    "router",
]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

# The API routes whose access rules decide who may use a form (api.access.POLICY).
_U = "/api/cycles/{cycle_id}/units/{unit_id}"
DRAFT = f"PUT {_U}/criteria/{{code}}/draft"
APPRAISE = f"PUT {_U}/criteria/{{code}}/appraisal"
ANSWER = f"PUT {_U}/explanation-requests/{{request_id}}/criteria/{{code}}"


# --- the command buttons ---------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What besides the state decides whether a command can be sent (never the state itself)."""

    open_round: bool = False
    rounds_left: int = 0
    routed: bool = False  # some criterion is appraised by one of the person's agencies


def _always(_facts: Facts) -> bool:
    return True


@dataclass(frozen=True)
class Button:
    """A command the page offers: its workflow command and the API rule of who may send it."""

    name: str  # the template's key
    command: UnitCommand
    rule: str
    ready: Callable[[Facts], bool] = _always
    per_row: bool = False  # drawn under each criterion, not with the commands


BUTTONS: tuple[Button, ...] = (
    Button("start_review", UnitCommand.start_review, f"POST {_U}/start-review"),
    Button("return", UnitCommand.return_, f"POST {_U}/return", per_row=True),
    Button("submit", UnitCommand.submit, f"POST {_U}/submit"),
    Button("start_appraisal", UnitCommand.start_appraisal, f"POST {_U}/start-appraisal"),
    Button(
        "request",
        UnitCommand.request_explanation,
        f"POST {_U}/explanation-requests",
        lambda f: f.rounds_left > 0 and f.routed,
    ),
    Button(
        "close_round",
        UnitCommand.close_round,
        f"POST {_U}/explanation-requests/{{request_id}}/close",
        lambda f: f.open_round,
    ),
    Button("finalise", UnitCommand.finalise, f"POST {_U}/finalise"),
    Button("reopen", UnitCommand.reopen, f"POST {_U}/reopen"),
)


def buttons(
    may: Callable[[str], bool],
    state: UnitState | str,
    now: datetime,
    hard_lock_at: datetime,
    facts: Facts,
) -> dict[str, bool]:
    """Which command buttons are drawn: the role's rule, ``allowed()`` and the facts."""
    return {
        b.name: may(b.rule) and allowed(b.command, state, now, hard_lock_at) and b.ready(facts)
        for b in BUTTONS
    }


# --- the rows --------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the annex table, and the forms under it."""

    node: NodeView
    spec: Node
    depth: int
    mine: bool = False
    draft: bool = False
    appraise: bool = False
    give_back: bool = False
    answer: ExplanationItemView | None = None
    draft_fields: list[FieldView] = field(default_factory=list)
    appraise_fields: list[FieldView] = field(default_factory=list)
    explanation_text: str = ""
    comment_text: str = ""
    answer_text: str = ""
    return_text: str = ""
    open: bool = False

    @property
    def editable(self) -> bool:
        """Some form is drawn under this row."""
        return self.draft or self.appraise or self.give_back or self.answer is not None


@dataclass(frozen=True)
class Posted:
    """A refused form, drawn again with what was typed."""

    code: str
    kind: str  # draft | appraisal | answer | return | evidence | request
    form: FormData


def _tree(framework: Framework) -> tuple[dict[str, int], dict[str, str]]:
    """Each node's depth, and its parent's code."""
    depths: dict[str, int] = {}
    parents: dict[str, str] = {}

    def visit(node: Node, depth: int) -> None:
        depths[node.code] = depth
        for child in node.children:
            parents[child.code] = node.code
            visit(child, depth + 1)

    for top in framework.nodes:
        visit(top, 0)
    return depths, parents


@dataclass(frozen=True)
class _Seat:
    """What the person may do on this unit's page now (forms drawn; the server decides)."""

    username: str
    office: bool
    routed_codes: frozenset[str]
    state: UnitState
    draft: bool  # drafting is open (state, lock) and the role may draft
    appraise: bool
    answer: bool
    give_back: bool
    flagged: dict[str, ExplanationItemView]

    def routed(self, spec: Node) -> bool:
        """The criterion is appraised by one of the person's agencies (or the coordinator)."""
        return spec.code in self.routed_codes

    def may_draft(self, nv: NodeView, mine: bool) -> bool:
        """The edit gate's finer rules: in review only returned criteria (staff), in
        explanation only the flagged ones."""
        if not (self.draft and (self.office or mine)):
            return False
        if self.state in REVIEW_STATES and not self.office and nv.status != "returned":
            return False
        return self.state not in EXPLANATION_STATES or nv.code in self.flagged


def _row(nv: NodeView, spec: Node, depth: int, seat: _Seat) -> Row:
    row = Row(node=nv, spec=spec, depth=depth)
    if not nv.is_leaf:
        return row
    row.mine = any(a.username == seat.username for a in nv.assignees)
    row.draft = seat.may_draft(nv, row.mine)
    row.appraise = seat.appraise and seat.routed(spec)
    row.give_back = seat.give_back and bool(nv.assignees)
    if seat.answer and nv.code in seat.flagged and (seat.office or row.mine):
        row.answer = seat.flagged[nv.code]
    if row.draft:
        row.draft_fields = field_views(spec, nv.inputs)
    if row.appraise:
        row.appraise_fields = field_views(spec, nv.appraised_inputs or nv.inputs)
    row.explanation_text = nv.explanation
    row.comment_text = nv.appraisal_comment
    row.answer_text = row.answer.answer if row.answer else ""
    return row


def _refill(row: Row, posted: Posted) -> None:
    """A refused form is drawn open again with what was typed."""
    row.open = True
    form = posted.form
    if posted.kind == "draft":
        row.draft_fields = field_views(row.spec, posted_inputs(row.spec, form))
        row.explanation_text = text_field(form, "explanation")
    elif posted.kind == "appraisal":
        row.appraise_fields = field_views(row.spec, posted_inputs(row.spec, form))
        row.comment_text = text_field(form, "comment")
    elif posted.kind == "answer":
        row.answer_text = text_field(form, "answer")
    elif posted.kind == "return":
        row.return_text = text_field(form, "comment")


@dataclass
class Area:
    """An area of the sheet, drawn collapsed: its rows, counts and scores (``heading``: a part
    above the areas, drawn as a title with its scores)."""

    head: Row
    rows: list[Row]
    leaves: int = 0
    scored: int = 0
    mine: int = 0
    open: bool = False
    heading: bool = False


def _area_depth(rows: list[Row]) -> int:
    """The depth of the areas: the top level, or the next one when the top holds a few large
    parts ("NỘI DUNG I … III" above the areas I … X)."""
    tops = [r for r in rows if r.depth == 0]
    if 0 < len(tops) <= 3 and all(not r.node.is_leaf for r in tops):
        return 1
    return 0


def _areas(rows: list[Row], focus: str) -> list[Area]:
    """The rows grouped by area; the area holding ``focus`` is open."""
    depth = _area_depth(rows)
    areas: list[Area] = []
    for row in rows:
        if row.depth < depth:
            areas.append(Area(head=row, rows=[], heading=True))
            continue
        if row.depth == depth or not areas or areas[-1].heading:
            areas.append(Area(head=row, rows=[]))
        area = areas[-1]
        area.rows.append(row)
        if row.node.is_leaf:
            area.leaves += 1
            area.scored += int(row.node.self_score is not None or row.node.excluded)
            area.mine += int(row.mine)
        if focus and row.node.code == focus:
            area.open = True
            row.open = True
    return areas


def _only_mine(rows: list[Row], parents: dict[str, str]) -> list[Row]:
    """The person's criteria and the areas and criteria above them, in the annex order."""
    keep = {r.node.code for r in rows if r.mine}
    for code in list(keep):
        while code in parents:
            code = parents[code]
            keep.add(code)
    return [r for r in rows if r.node.code in keep]


# --- the view model --------------------------------------------------------------------------


def _routed_codes(caller: PageCaller, framework: Framework) -> frozenset[str]:
    """The criteria appraised by one of the person's agencies (every one: the coordinator)."""
    agencies = caller.principal.agencies
    return frozenset(
        n.code
        for n in framework.walk()
        if n.is_leaf and (caller.is_coordinator or (bool(n.agency) and n.agency in agencies))
    )


def _seat(
    caller: PageCaller,
    sheet: SheetView,
    now: datetime,
    shown: dict[str, bool],
    routed_codes: frozenset[str],
) -> tuple[_Seat, ExplanationRoundView | None]:
    assert caller.unit is not None and caller.unit.id is not None
    uid = caller.unit.id
    open_round = next((r for r in sheet.explanation_rounds if r.state == "open"), None)
    seat = _Seat(
        username=caller.principal.username,
        office=caller.principal.has_for_unit(Role.unit_office, uid),
        routed_codes=routed_codes,
        state=UnitState(sheet.state),
        draft=caller.may(DRAFT, uid) and drafting_open(sheet.state, now, sheet.hard_lock_at),
        appraise=caller.may(APPRAISE, uid) and sheet.state in APPRAISAL_STATES,
        answer=caller.may(ANSWER, uid) and open_round is not None,
        give_back=shown["return"],
        flagged={i.code: i for i in open_round.items} if open_round else {},
    )
    return seat, open_round


def unit_context(
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    *,
    posted: Posted | None = None,
    only_mine: bool = False,
    max_upload_mb: int = 20,
    focus: str = "",
) -> dict[str, Any]:
    """Everything ``unit.html`` draws for this person now (``focus``: the criterion the last
    form was about, drawn open with its message)."""
    ref = unit_ref(caller, cycle_id)
    unit = caller.unit
    assert unit is not None
    cycle = load_cycle(session, cycle_id)
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == ref.unit_id)
    ).one()
    sheet = sheet_view(session, cycle, cu, unit)
    framework = framework_for(session, cycle)
    specs = {n.code: n for n in framework.walk()}
    depths, parents = _tree(framework)
    now = utcnow()
    routed_codes = _routed_codes(caller, framework)
    facts = Facts(
        open_round=any(r.state == "open" for r in sheet.explanation_rounds),
        rounds_left=cycle.max_explanation_rounds - cu.round_no,
        routed=bool(routed_codes),
    )
    shown = buttons(
        lambda rule: caller.may(rule, ref.unit_id), sheet.state, now, sheet.hard_lock_at, facts
    )
    seat, open_round = _seat(caller, sheet, now, shown, routed_codes)
    rows = [_row(nv, specs[nv.code], depths.get(nv.code, 0), seat) for nv in sheet.nodes]
    if posted is not None:
        for row in rows:
            if row.node.code == posted.code:
                _refill(row, posted)
    routed = [r for r in rows if r.node.is_leaf and seat.routed(r.spec)]
    shown_rows = _only_mine(rows, parents) if only_mine else rows
    checks: dict[str, Any] = {}
    if shown["submit"]:
        checks["submit_check"] = readiness.submit_check(session, unit=ref)
    if shown["finalise"]:
        checks["finalise_check"] = readiness.finalise_check(session, unit=ref)
    questions: dict[str, str] = {}
    if posted is not None and posted.kind == "request":
        questions = {r.node.code: text_field(posted.form, f"q.{r.node.code}") for r in routed}
    return {
        **base(caller),
        "cycle": cycle,
        "unit": unit,
        "sheet": sheet,
        "rows": shown_rows,
        "areas": _areas(shown_rows, focus or (posted.code if posted else "")),
        "has_mine": any(r.mine for r in rows),
        "mine_only": only_mine,
        "locked": locked(now, sheet.hard_lock_at),
        "appraised_shown": sheet.state in APPRAISED_SHOWN,
        "state_badge": _badge(UnitState(sheet.state)),
        "open_round": open_round,
        "actions": shown,
        "any_action": any(shown[b.name] for b in BUTTONS if not b.per_row),
        "classes": framework.classification.bands if framework.classification else (),
        "request_leaves": routed,
        "posted_questions": questions,
        "rounds_left": facts.rounds_left,
        "now": now,
        "evidence_url": f"/api/cycles/{quote(cycle_id)}/units/{ref.unit_id}/criteria",
        "page_url": unit_url(cycle_id, ref.unit_code),
        "new_key": new_key,
        "max_upload_mb": max_upload_mb,
        "next_deadline": _next_deadline(sheet, now),
        "submit_check": None,
        "finalise_check": None,
        **checks,
    }


def _next_deadline(sheet: SheetView, now: datetime) -> tuple[str, datetime] | None:
    """The next deadline of the unit that is still ahead: (what, when)."""
    state = UnitState(sheet.state)
    candidates: list[tuple[str, datetime | None]] = []
    if state in BEFORE_SUBMISSION:
        candidates += [
            ("hạn gửi kết quả", sheet.submission_deadline),
            ("khóa phiếu", sheet.hard_lock_at),
        ]
    if state in EXPLANATION_STATES:
        candidates.append(("hạn giải trình", sheet.explanation_deadline))
    ahead = [(label, at) for label, at in candidates if at is not None and at > now]
    return min(ahead, key=lambda c: c[1]) if ahead else None


def _badge(state: UnitState) -> str:
    """The state badge's style: locked out without a submission, appraisal done, or plain."""
    if state in LOCKED_OUT:
        return "locked"
    return "done" if state in APPRAISAL_DONE else ""


def new_key() -> str:
    """A fresh idempotency key for a command form."""
    return secrets.token_urlsafe(16)


# --- the page --------------------------------------------------------------------------------


@router.get("/cycles/{cycle_id}/units/{unit_code}", response_class=HTMLResponse)
def unit_page(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The unit's sheet in the annex layout, with the forms the person may use now."""
    flash = take_flash(request, settings)
    context = unit_context(
        session,
        caller,
        cycle_id,
        only_mine=request.query_params.get("mine") == "1",
        max_upload_mb=settings.max_upload_mb,
        focus=flash.get("code", ""),
    )
    response = render(request, "unit.html", {**context, "flash": flash})
    return flash_shown(request, response)


def refused_page(
    request: Request,
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    exc: Exception,
    posted: Posted | None,
) -> HTMLResponse:
    """The unit's page again, the refusal's Vietnamese reason in place, with its status."""
    shown = page_refusal(exc)
    if shown is None:  # not a refusal: a bug, answered 500 by the app
        raise exc
    # Nothing of the refused action may be committed by the request's session; the page is
    # drawn again in a read of its own (no write lock held while it renders).
    session.rollback()
    status, message = shown
    with reading(session):
        if posted is not None and posted.code and from_criterion_page(caller.form):
            return _refused_criterion(request, session, caller, cycle_id, status, message, posted)
        settings: Settings = request.app.state.settings
        context = unit_context(
            session,
            caller,
            cycle_id,
            posted=posted,
            only_mine=mine_only(caller.form),
            max_upload_mb=settings.max_upload_mb,
        )
    flash = {"error": message, "code": posted.code if posted else ""}
    return render(request, "unit.html", {**context, "flash": flash}, status=status)


def _refused_criterion(
    request: Request,
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    status: int,
    message: str,
    posted: Posted,
) -> HTMLResponse:
    """A refused form of a criterion's own page: that page again, with what was typed."""
    from web.criterion_page import criterion_context  # the criterion page builds on this one

    settings: Settings = request.app.state.settings
    context = criterion_context(
        session, caller, cycle_id, posted.code, posted=posted, max_upload_mb=settings.max_upload_mb
    )
    flash = {"error": message, "code": posted.code}
    return render(request, "criterion.html", {**context, "flash": flash}, status=status)
