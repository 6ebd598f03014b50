"""The pages the e-mails link to: cycles, a unit's sheet with its forms, and the results.

Reads go through the API's view builders (``api.views``); every form calls the REST API's own
route function for the same action (``api.routes.sheet``, ``api.routes.evidence``) after the
same access rule (``web.auth.PAGE_RULES``), so the edit gate, the evidence checks and the
workflow commands run exactly as they do for the API. A refusal is shown on the page, in
Vietnamese, with the status the API would answer; a success redirects (POST → 303 → GET) with
a one-time message in a signed cookie.

Which forms a page draws follows the person's roles and the unit's state; it is only a
courtesy — the gate and the workflows decide.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from api.deps import SessionDep, SettingsDep, get_temporal
from api.errors import Problem
from api.routes import evidence as evidence_routes
from api.routes import sheet as sheet_routes
from api.routes.cycles import list_cycles
from api.views import (
    ExplanationItemView,
    ExplanationRoundView,
    NodeView,
    cycle_view,
    results_view,
    sheet_view,
)
from core.db import release, utcnow
from core.settings import Mode, Settings
from core.vn import vn_decimal
from models.framework import Framework, Node
from models.states import DRAFT_STATES, REOPENABLE, UnitState
from models.tables import Cycle, CycleUnit, Role
from services.labels import UNIT_STATE_VI
from services.messages import ExplanationItemSpec
from services.sheet import SheetError, framework_for
from web.auth import Caller, PageCaller, PageRoute, sheet_status
from web.forms import FieldView, FormError, field_views, parse_inputs, posted_inputs, text_field
from web.render import render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FLASH_COOKIE = "appraisal_flash"
_U = "/api/cycles/{cycle_id}/units/{unit_id}"
DRAFT = f"PUT {_U}/criteria/{{code}}/draft"
APPRAISE = f"PUT {_U}/criteria/{{code}}/appraisal"
ANSWER = f"PUT {_U}/explanation-requests/{{request_id}}/criteria/{{code}}"
START_REVIEW = f"POST {_U}/start-review"
RETURN = f"POST {_U}/return"
SUBMIT = f"POST {_U}/submit"
REOPEN = f"POST {_U}/reopen"
START_APPRAISAL = f"POST {_U}/start-appraisal"
REQUEST = f"POST {_U}/explanation-requests"
CLOSE_ROUND = f"POST {_U}/explanation-requests/{{request_id}}/close"
FINALISE = f"POST {_U}/finalise"

# What a page says after a command the workflow accepted.
DONE: dict[str, str] = {
    "start_review": "Đơn vị đã bắt đầu rà soát.",
    "submit": "Đã gửi kết quả tự chấm điểm.",
    "reopen": "Đã mở lại phiếu của đơn vị.",
    "start_appraisal": "Đã bắt đầu thẩm định.",
    "close_round": "Đã kết thúc vòng giải trình.",
    "finalise": "Đã kết thúc thẩm định đơn vị.",
}


# --- flash messages --------------------------------------------------------------------------


def _flash_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="page-flash")


def _redirect_with(
    settings: Settings, url: str, message: str, *, code: str = ""
) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    value = _flash_serializer(settings).dumps({"text": message, "code": code})
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=120,
        httponly=True,
        samesite="lax",
        secure=settings.mode is Mode.production,
        path="/cycles",
    )
    return response


def _take_flash(request: Request, settings: Settings) -> dict[str, str]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return {}
    try:
        data = _flash_serializer(settings).loads(raw)
    except BadSignature:
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _flash_shown(request: Request, response: HTMLResponse) -> HTMLResponse:
    """The one-time message has been shown: its cookie goes."""
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/cycles")
    return response


def _base(caller: PageCaller) -> dict[str, Any]:
    return {"user": caller.user, "csrf_token": caller.csrf_token}


# --- cycles ----------------------------------------------------------------------------------


@router.get("/cycles", response_class=HTMLResponse)
def cycles_page(request: Request, caller: Caller, session: SessionDep) -> HTMLResponse:
    """The cycles the person takes part in."""
    cycles = list_cycles(caller.principal, session)
    return render(request, "cycles.html", {**_base(caller), "cycles": cycles})


def _cycle(session: Session, cycle_id: str) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:  # visibility was checked by the page's rule; a race with a delete
        raise Problem(404, "Không tìm thấy kỳ đánh giá.")
    return cycle


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
def cycle_page(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """Timeline, and each visible unit's state, progress and deadlines, with its link."""
    view = cycle_view(session, _cycle(session, cycle_id), caller.principal)
    return render(request, "cycle.html", {**_base(caller), "cycle": view, "now": utcnow()})


@router.get("/cycles/{cycle_id}/results", response_class=HTMLResponse)
def results_page(
    request: Request, cycle_id: str, caller: Caller, session: SessionDep
) -> HTMLResponse:
    """Totals, classification and rank per group."""
    cycle = _cycle(session, cycle_id)
    view = results_view(session, cycle, caller.principal)
    groups: dict[str, list[Any]] = {}
    for row in view.units:
        groups.setdefault(row.group, []).append(row)
    return render(
        request,
        "results.html",
        {
            **_base(caller),
            "cycle": cycle,
            "results": view,
            "groups": groups,
            "state_labels": UNIT_STATE_VI,
        },
    )


# --- the unit's sheet ------------------------------------------------------------------------


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
    kind: str  # draft | appraisal | answer | return | evidence
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
    coordinator: bool
    agencies: frozenset[str]
    draft: bool  # drafting is open (state, lock) and the role may draft
    appraise: bool
    answer: bool
    give_back: bool
    flagged: dict[str, ExplanationItemView]

    def routed(self, spec: Node) -> bool:
        """The criterion is appraised by one of the person's agencies (or the coordinator)."""
        return self.coordinator or (bool(spec.agency) and spec.agency in self.agencies)


def _row(nv: NodeView, spec: Node, depth: int, seat: _Seat, state: UnitState) -> Row:
    row = Row(node=nv, spec=spec, depth=depth)
    if not nv.is_leaf:
        return row
    row.mine = any(a.username == seat.username for a in nv.assignees)
    row.draft = (
        seat.draft
        and (seat.office or row.mine)
        and (state is not UnitState.unit_review or seat.office or nv.status == "returned")
        and (state is not UnitState.explanation or nv.code in seat.flagged)
    )
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
    row.open = row.mine and not seat.office and (row.draft or row.answer is not None)
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


def _only_mine(rows: list[Row], parents: dict[str, str]) -> list[Row]:
    """The person's criteria and the areas and criteria above them, in the annex order."""
    keep = {r.node.code for r in rows if r.mine}
    for code in list(keep):
        while code in parents:
            code = parents[code]
            keep.add(code)
    return [r for r in rows if r.node.code in keep]


def _unit_context(
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    *,
    posted: Posted | None = None,
    mine_only: bool = False,
    max_upload_mb: int = 20,
) -> dict[str, Any]:
    unit = caller.unit
    assert unit is not None and unit.id is not None
    uid = unit.id
    cycle = _cycle(session, cycle_id)
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == uid)
    ).one()
    sheet = sheet_view(session, cycle, cu, unit)
    framework = framework_for(session, cycle)
    specs = {n.code: n for n in framework.walk()}
    depths, parents = _tree(framework)
    state = sheet.state
    now = utcnow()
    locked = now >= sheet.hard_lock_at
    open_round: ExplanationRoundView | None = next(
        (r for r in sheet.explanation_rounds if r.state == "open"), None
    )
    seat = _Seat(
        username=caller.principal.username,
        office=caller.principal.has_for_unit(Role.unit_office, uid),
        coordinator=caller.is_coordinator,
        agencies=caller.principal.agencies,
        draft=caller.may(DRAFT, uid)
        and state in DRAFT_STATES
        and (state is UnitState.explanation or not locked),
        appraise=caller.may(APPRAISE, uid) and state is UnitState.appraising,
        answer=caller.may(ANSWER, uid) and open_round is not None,
        give_back=caller.may(RETURN, uid) and state is UnitState.unit_review and not locked,
        flagged={i.code: i for i in open_round.items} if open_round else {},
    )
    rows = [_row(nv, specs[nv.code], depths.get(nv.code, 0), seat, state) for nv in sheet.nodes]
    if posted is not None:
        for row in rows:
            if row.node.code == posted.code:
                _refill(row, posted)
    routed = [r for r in rows if r.node.is_leaf and seat.routed(r.spec)]
    actions = {
        "start_review": caller.may(START_REVIEW, uid)
        and state is UnitState.drafting
        and not locked,
        "submit": caller.may(SUBMIT, uid)
        and state in (UnitState.drafting, UnitState.unit_review)
        and not locked,
        "start_appraisal": caller.may(START_APPRAISAL, uid) and state is UnitState.submitted,
        "request": caller.may(REQUEST, uid)
        and state is UnitState.appraising
        and cu.round_no < cycle.max_explanation_rounds
        and bool(routed),
        "close_round": caller.may(CLOSE_ROUND, uid)
        and state is UnitState.explanation
        and open_round is not None,
        "finalise": caller.may(FINALISE, uid) and state is UnitState.appraising,
        "reopen": caller.may(REOPEN, uid) and state in REOPENABLE,
    }
    questions: dict[str, str] = {}
    if posted is not None and posted.kind == "request":
        questions = {r.node.code: text_field(posted.form, f"q.{r.node.code}") for r in routed}
    return {
        **_base(caller),
        "cycle": cycle,
        "unit": unit,
        "sheet": sheet,
        "rows": _only_mine(rows, parents) if mine_only else rows,
        "has_mine": any(r.mine for r in rows),
        "mine_only": mine_only,
        "locked": locked,
        "open_round": open_round,
        "actions": actions,
        "any_action": any(actions.values()),
        "classes": framework.classification.bands if framework.classification else (),
        "request_leaves": routed,
        "posted_questions": questions,
        "rounds_left": cycle.max_explanation_rounds - cu.round_no,
        "now": now,
        "evidence_url": f"/api/cycles/{quote(cycle_id)}/units/{uid}/criteria",
        "page_url": _unit_url(cycle_id, unit.code),
        "new_key": _new_key,
        "max_upload_mb": max_upload_mb,
    }


def _new_key() -> str:
    """A fresh idempotency key for a command form."""
    return secrets.token_urlsafe(16)


def _unit_url(cycle_id: str, unit_code: str) -> str:
    return f"/cycles/{quote(cycle_id)}/units/{quote(unit_code)}"


def _mine_only(form: FormData) -> bool:
    """The form was sent from the page filtered to the person's own criteria."""
    return text_field(form, "view") == "mine"


def _back(cycle_id: str, unit_code: str, form: FormData, code: str = "") -> str:
    """The unit's page as the form was sent from, at the criterion's row."""
    url = _unit_url(cycle_id, unit_code) + ("?mine=1" if _mine_only(form) else "")
    return url + (f"#c-{code}" if code else "")


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
    flash = _take_flash(request, settings)
    mine_only = request.query_params.get("mine") == "1"
    context = _unit_context(
        session, caller, cycle_id, mine_only=mine_only, max_upload_mb=settings.max_upload_mb
    )
    response = render(request, "unit.html", {**context, "flash": flash})
    return _flash_shown(request, response)


# --- forms -----------------------------------------------------------------------------------

Refusal = Problem | SheetError | FormError | ValidationError

# Form fields as a refusal names them.
FIELD_VI: dict[str, str] = {
    "deadline": "hạn giải trình",
    "submission_deadline": "hạn gửi kết quả mới",
    "hard_lock_at": "thời điểm khóa mới",
    "reason": "lý do",
    "comment": "ý kiến",
    "answer": "nội dung giải trình",
    "proposed_class": "đề xuất xếp loại",
    "items": "nội dung yêu cầu giải trình",
    "codes": "tiêu chí",
    "explanation": "giải trình",
}


def _refusal(exc: Refusal) -> tuple[int, str]:
    """The status the API would answer, and the Vietnamese reason."""
    if isinstance(exc, Problem):
        return exc.status, exc.detail or exc.title
    if isinstance(exc, SheetError):
        return sheet_status(exc), exc.message_vi
    if isinstance(exc, FormError):
        return 422, exc.message
    fields = {str(e["loc"][0]) if e.get("loc") else "" for e in exc.errors()}
    named = sorted(FIELD_VI.get(f, f) for f in fields if f)
    return 422, "Dữ liệu không hợp lệ: " + (", ".join(named) or "biểu mẫu") + "."


def _refused_page(
    request: Request,
    session: Session,
    caller: PageCaller,
    cycle_id: str,
    exc: Refusal,
    posted: Posted | None,
) -> HTMLResponse:
    # Nothing of the refused action may be committed by the request's session.
    session.rollback()
    status, message = _refusal(exc)
    mine_only = caller.form is not None and _mine_only(caller.form)
    settings: Settings = request.app.state.settings
    context = _unit_context(
        session,
        caller,
        cycle_id,
        posted=posted,
        mine_only=mine_only,
        max_upload_mb=settings.max_upload_mb,
    )
    flash = {"error": message, "code": posted.code if posted else ""}
    return render(request, "unit.html", {**context, "flash": flash}, status=status)


def _form(caller: PageCaller) -> FormData:
    assert caller.form is not None  # POST: read by page_caller for the CSRF check
    return caller.form


def _unit_id(caller: PageCaller) -> int:
    assert caller.unit is not None and caller.unit.id is not None
    return caller.unit.id


def _key(form: FormData) -> str | None:
    """The form's idempotency key: a double click acts once."""
    key = text_field(form, "idem").strip()
    return key[:200] or None


def _leaf(session: Session, cycle_id: str, code: str) -> Node:
    framework = framework_for(session, _cycle(session, cycle_id))
    try:
        node = framework.node(code)
    except KeyError:
        node = None
    if node is None or not node.is_leaf:
        raise Problem(404, f"Không có tiêu chí {code} để chấm điểm trong bộ tiêu chí.")
    return node


@router.post("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}/draft")
def post_draft(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Staff (or the office) save a criterion's inputs and explanation; the rule scores it."""
    form = _form(caller)
    try:
        node = _leaf(session, cycle_id, code)
        body = sheet_routes.DraftIn(
            inputs=parse_inputs(node, form), explanation=text_field(form, "explanation")
        )
        saved = sheet_routes.put_draft(
            cycle_id, _unit_id(caller), code, body, caller.principal, session
        )
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(request, session, caller, cycle_id, exc, Posted(code, "draft", form))
    if saved.score is None:
        message = f"Đã lưu giải trình tiêu chí {code} (chưa có điểm tự chấm)."
    else:
        message = (
            f"Đã lưu tiêu chí {code}. Điểm tự chấm: {vn_decimal(saved.score)} điểm — "
            f"{saved.score_explanation}"
        )
    return _redirect_with(settings, _back(cycle_id, unit_code, form, code), message, code=code)


@router.post("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}/evidence")
def post_evidence(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Attaches a document (multipart) through the API's upload; its checks are shown."""
    form = _form(caller)
    upload = form.get("file")
    try:
        if not isinstance(upload, StarletteUpload) or not upload.filename:
            raise FormError("file", "Chưa chọn tệp tài liệu kiểm chứng.")
        stored = evidence_routes.upload(
            cycle_id,
            _unit_id(caller),
            code,
            caller.principal,
            session,
            settings,
            UploadFile(
                upload.file, size=upload.size, filename=upload.filename, headers=upload.headers
            ),
            doc_number=text_field(form, "doc_number"),
            doc_date=text_field(form, "doc_date"),
            issuer=text_field(form, "issuer"),
        )
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(
            request, session, caller, cycle_id, exc, Posted(code, "evidence", form)
        )
    message = f"Đã đính kèm “{stored.filename}” cho tiêu chí {code}."
    if stored.checks:
        message += " Cảnh báo: " + " ".join(c.message for c in stored.checks)
    return _redirect_with(settings, _back(cycle_id, unit_code, form, code), message, code=code)


@router.post("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}/evidence/{evidence_id}/delete")
def post_evidence_delete(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    evidence_id: int,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Detaches a document (the same gate as an upload)."""
    form = _form(caller)
    try:
        evidence_routes.remove(
            cycle_id, _unit_id(caller), code, evidence_id, caller.principal, session
        )
    except (Problem, SheetError) as exc:
        return _refused_page(
            request, session, caller, cycle_id, exc, Posted(code, "evidence", form)
        )
    message = f"Đã gỡ tài liệu kiểm chứng của tiêu chí {code}."
    return _redirect_with(settings, _back(cycle_id, unit_code, form, code), message, code=code)


@router.post("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}/appraisal")
def post_appraisal(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The council appraises a criterion of its agency; the rule recomputes the score."""
    form = _form(caller)
    try:
        node = _leaf(session, cycle_id, code)
        inputs = parse_inputs(node, form)
        if inputs is None:
            raise FormError("inputs", f"Cần nhập số liệu thẩm định của tiêu chí {code}.")
        body = sheet_routes.AppraisalIn(inputs=inputs, comment=text_field(form, "comment"))
        saved = sheet_routes.put_appraisal(
            cycle_id, _unit_id(caller), code, body, caller.principal, session
        )
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(
            request, session, caller, cycle_id, exc, Posted(code, "appraisal", form)
        )
    score = "—" if saved.score is None else vn_decimal(saved.score)
    message = f"Đã lưu điểm thẩm định tiêu chí {code}: {score} điểm — {saved.score_explanation}"
    return _redirect_with(settings, _back(cycle_id, unit_code, form, code), message, code=code)


@router.post("/cycles/{cycle_id}/units/{unit_code}/criteria/{code}/answer")
def post_answer(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The unit answers a flagged criterion of the open explanation round."""
    form = _form(caller)
    try:
        answer = text_field(form, "answer").strip()
        if not answer:
            raise FormError("answer", "Cần ghi nội dung giải trình.")
        try:
            request_id = int(text_field(form, "request_id"))
        except ValueError as exc:
            raise Problem(404, "Không tìm thấy yêu cầu giải trình.") from exc
        sheet_routes.put_answer(
            cycle_id,
            _unit_id(caller),
            request_id,
            code,
            sheet_routes.AnswerIn(answer=answer),
            caller.principal,
            session,
        )
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(request, session, caller, cycle_id, exc, Posted(code, "answer", form))
    message = f"Đã gửi nội dung giải trình tiêu chí {code}."
    return _redirect_with(settings, _back(cycle_id, unit_code, form, code), message, code=code)


# --- commands (workflow updates) -------------------------------------------------------------


async def _command(
    request: Request,
    session: Session,
    caller: PageCaller,
    settings: Settings,
    cycle_id: str,
    unit_code: str,
    send: Callable[[], Awaitable[object]],
    message: str,
    *,
    posted: Posted | None = None,
) -> Response:
    release(session)  # no connection held while the workflow (and its activity) works
    try:
        await send()
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(request, session, caller, cycle_id, exc, posted)
    assert caller.form is not None
    return _redirect_with(settings, _back(cycle_id, unit_code, caller.form), message)


@router.post("/cycles/{cycle_id}/units/{unit_code}/start-review")
async def post_start_review(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The unit office starts its review (drafting → unit review)."""
    form = _form(caller)

    async def send() -> object:
        return await sheet_routes.post_review(
            cycle_id, _unit_id(caller), caller.principal, session, get_temporal(request), _key(form)
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["start_review"]
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/return")
async def post_return(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The unit office returns a criterion to its staff with a comment."""
    form = _form(caller)
    code = text_field(form, "code").strip()
    comment = text_field(form, "comment").strip()

    async def send() -> object:
        if not comment:
            raise FormError("comment", "Cần ghi ý kiến khi trả lại tiêu chí.")
        body = sheet_routes.ReturnIn(codes=[code], comment=comment)
        return await sheet_routes.post_return(
            cycle_id,
            _unit_id(caller),
            body,
            caller.principal,
            session,
            get_temporal(request),
            _key(form),
        )

    return await _command(
        request,
        session,
        caller,
        settings,
        cycle_id,
        unit_code,
        send,
        f"Đã trả lại tiêu chí {code} cho cán bộ phụ trách.",
        posted=Posted(code, "return", form),
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/submit")
async def post_submit(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The unit office submits the sheet (frozen, hashed), with a proposed classification."""
    form = _form(caller)

    async def send() -> object:
        proposed = text_field(form, "proposed_class").strip() or None
        return await sheet_routes.post_submit(
            cycle_id,
            _unit_id(caller),
            caller.principal,
            session,
            get_temporal(request),
            sheet_routes.SubmitIn(proposed_class=proposed),
            _key(form),
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["submit"]
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/reopen")
async def post_reopen(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The coordinator reopens a submitted (or locked out) unit, with a reason."""
    form = _form(caller)

    async def send() -> object:
        reason = text_field(form, "reason").strip()
        if not reason:
            raise FormError("reason", "Cần ghi lý do mở lại.")
        body = sheet_routes.ReopenIn.model_validate(
            {
                "reason": reason,
                "submission_deadline": text_field(form, "submission_deadline").strip() or None,
                "hard_lock_at": text_field(form, "hard_lock_at").strip() or None,
            }
        )
        return await sheet_routes.post_reopen(
            cycle_id,
            _unit_id(caller),
            body,
            caller.principal,
            session,
            get_temporal(request),
            _key(form),
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["reopen"]
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/start-appraisal")
async def post_start_appraisal(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The council starts appraising a submitted unit."""
    form = _form(caller)

    async def send() -> object:
        return await sheet_routes.post_start_appraisal(
            cycle_id, _unit_id(caller), caller.principal, session, get_temporal(request), _key(form)
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["start_appraisal"]
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/explanation-requests")
async def post_explanation_request(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The council flags criteria with a question each and opens an explanation round."""
    form = _form(caller)
    prefix = "q."
    items = [
        ExplanationItemSpec(code=str(k)[len(prefix) :], question=v.strip())
        for k, v in form.multi_items()
        if str(k).startswith(prefix) and isinstance(v, str) and v.strip()
    ]

    async def send() -> object:
        if not items:
            raise FormError("items", "Cần ghi nội dung yêu cầu giải trình cho ít nhất một mục.")
        body = sheet_routes.ExplanationRequestIn.model_validate(
            {"items": items, "deadline": text_field(form, "deadline").strip() or None}
        )
        return await sheet_routes.post_explanation_request(
            cycle_id,
            _unit_id(caller),
            body,
            caller.principal,
            session,
            get_temporal(request),
            _key(form),
        )

    codes = ", ".join(i.code for i in items)
    return await _command(
        request,
        session,
        caller,
        settings,
        cycle_id,
        unit_code,
        send,
        f"Đã gửi yêu cầu giải trình các tiêu chí: {codes}.",
        posted=Posted("", "request", form),
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/close-round")
async def post_close_round(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The council closes the open explanation round early."""
    form = _form(caller)

    async def send() -> object:
        try:
            request_id = int(text_field(form, "request_id"))
        except ValueError as exc:
            raise Problem(404, "Không tìm thấy yêu cầu giải trình.") from exc
        return await sheet_routes.post_close_round(
            cycle_id,
            _unit_id(caller),
            request_id,
            caller.principal,
            session,
            get_temporal(request),
            _key(form),
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["close_round"]
    )


@router.post("/cycles/{cycle_id}/units/{unit_code}/finalise")
async def post_finalise(
    request: Request,
    cycle_id: str,
    unit_code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The council finalises the unit's appraisal."""
    form = _form(caller)

    async def send() -> object:
        return await sheet_routes.post_finalise(
            cycle_id, _unit_id(caller), caller.principal, session, get_temporal(request), _key(form)
        )

    return await _command(
        request, session, caller, settings, cycle_id, unit_code, send, DONE["finalise"]
    )
