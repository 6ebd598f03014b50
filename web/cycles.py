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
from core.db import utcnow
from core.settings import Settings
from core.vn import vn_decimal
from models.framework import Framework, Node
from models.tables import Cycle, CycleUnit, Role, UnitState
from services.messages import ExplanationItemSpec
from services.labels import UNIT_STATE_VI
from services.sheet import DRAFT_STATES, SheetError, framework_for
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

REOPENABLE = frozenset(
    {UnitState.submitted, UnitState.appraising, UnitState.explanation, UnitState.not_submitted}
)


# --- flash messages --------------------------------------------------------------------------


def _flash_serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="page-flash")


def _redirect_with(
    settings: Settings, url: str, message: str, *, code: str = ""
) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    value = _flash_serializer(settings).dumps({"text": message, "code": code})
    response.set_cookie(
        FLASH_COOKIE, value, max_age=120, httponly=True, samesite="lax", path="/cycles"
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
    return render(
        request, "cycle.html", {**_base(caller), "cycle": view, "now": utcnow()}
    )


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


def _depths(framework: Framework) -> dict[str, int]:
    out: dict[str, int] = {}

    def visit(node: Node, depth: int) -> None:
        out[node.code] = depth
        for child in node.children:
            visit(child, depth + 1)

    for top in framework.nodes:
        visit(top, 0)
    return out


def _unit_context(
    session: Session, caller: PageCaller, cycle_id: str, *, posted: Posted | None = None
) -> dict[str, Any]:
    unit = caller.unit
    assert unit is not None and unit.id is not None
    cycle = _cycle(session, cycle_id)
    cu = session.exec(
        select(CycleUnit).where(CycleUnit.cycle_id == cycle_id, CycleUnit.unit_id == unit.id)
    ).one()
    sheet = sheet_view(session, cycle, cu, unit)
    framework = framework_for(session, cycle)
    specs = {n.code: n for n in framework.walk()}
    depths = _depths(framework)
    principal = caller.principal
    uid = unit.id
    state = sheet.state
    now = utcnow()
    locked = now >= sheet.hard_lock_at
    office = principal.has_for_unit(Role.unit_office, uid)
    open_round: ExplanationRoundView | None = next(
        (r for r in sheet.explanation_rounds if r.state == "open"), None
    )
    flagged = {i.code: i for i in open_round.items} if open_round else {}
    may_draft = caller.may(DRAFT, uid)
    may_appraise = caller.may(APPRAISE, uid)
    may_answer = caller.may(ANSWER, uid)
    drafting = state in DRAFT_STATES and (state is UnitState.explanation or not locked)

    rows: list[Row] = []
    for nv in sheet.nodes:
        spec = specs[nv.code]
        row = Row(node=nv, spec=spec, depth=depths.get(nv.code, 0))
        rows.append(row)
        if not nv.is_leaf:
            continue
        row.mine = any(a.username == principal.username for a in nv.assignees)
        row.draft = (
            may_draft
            and drafting
            and (office or row.mine)
            and (state is not UnitState.unit_review or office or nv.status == "returned")
            and (state is not UnitState.explanation or nv.code in flagged)
        )
        row.appraise = (
            may_appraise
            and state is UnitState.appraising
            and (caller.is_coordinator or (bool(spec.agency) and spec.agency in principal.agencies))
        )
        row.give_back = (
            caller.may(RETURN, uid)
            and state is UnitState.unit_review
            and not locked
            and bool(nv.assignees)
        )
        if may_answer and nv.code in flagged and (office or row.mine):
            row.answer = flagged[nv.code]
        row.draft_fields = field_views(spec, nv.inputs)
        row.appraise_fields = field_views(spec, nv.appraised_inputs or nv.inputs)
        row.explanation_text = nv.explanation
        row.comment_text = nv.appraisal_comment
        row.answer_text = row.answer.answer if row.answer else ""
        row.open = row.mine and not office and (row.draft or row.answer is not None)
        if posted is not None and posted.code == nv.code:
            row.open = True
            form = posted.form
            if posted.kind == "draft":
                row.draft_fields = field_views(spec, posted_inputs(spec, form))
                row.explanation_text = text_field(form, "explanation")
            elif posted.kind == "appraisal":
                row.appraise_fields = field_views(spec, posted_inputs(spec, form))
                row.comment_text = text_field(form, "comment")
            elif posted.kind == "answer":
                row.answer_text = text_field(form, "answer")
            elif posted.kind == "return":
                row.return_text = text_field(form, "comment")

    classes = framework.classification.bands if framework.classification else ()
    rounds_left = cu.round_no < cycle.max_explanation_rounds
    my_agency_leaves = [
        r
        for r in rows
        if r.node.is_leaf
        and (caller.is_coordinator or (r.spec.agency and r.spec.agency in principal.agencies))
    ]
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
        and rounds_left
        and bool(my_agency_leaves),
        "close_round": caller.may(CLOSE_ROUND, uid)
        and state is UnitState.explanation
        and open_round is not None,
        "finalise": caller.may(FINALISE, uid) and state is UnitState.appraising,
        "reopen": caller.may(REOPEN, uid) and state in REOPENABLE,
    }
    posted_questions: dict[str, str] = {}
    if posted is not None and posted.kind == "request":
        posted_questions = {
            r.node.code: text_field(posted.form, f"q.{r.node.code}") for r in my_agency_leaves
        }
    return {
        **_base(caller),
        "cycle": cycle,
        "unit": unit,
        "sheet": sheet,
        "rows": rows,
        "locked": locked,
        "open_round": open_round,
        "actions": actions,
        "any_action": any(actions.values()),
        "classes": classes,
        "request_leaves": my_agency_leaves,
        "posted_questions": posted_questions,
        "rounds_left": cycle.max_explanation_rounds - cu.round_no,
        "office": office,
        "now": now,
        "evidence_url": f"/api/cycles/{quote(cycle_id)}/units/{uid}/criteria",
        "page_url": _unit_url(cycle_id, unit.code),
        "new_key": _new_key,
    }


def _new_key() -> str:
    """A fresh idempotency key for a command form."""
    return secrets.token_urlsafe(16)


def _unit_url(cycle_id: str, unit_code: str) -> str:
    return f"/cycles/{quote(cycle_id)}/units/{quote(unit_code)}"


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
    context = _unit_context(session, caller, cycle_id)
    response = render(request, "unit.html", {**context, "flash": flash})
    return _flash_shown(request, response)


# --- forms -----------------------------------------------------------------------------------

Refusal = Problem | SheetError | FormError | ValidationError


def _refusal(exc: Refusal) -> tuple[int, str]:
    """The status the API would answer, and the Vietnamese reason."""
    if isinstance(exc, Problem):
        return exc.status, exc.detail or exc.title
    if isinstance(exc, SheetError):
        return sheet_status(exc), exc.message_vi
    if isinstance(exc, FormError):
        return 422, exc.message
    return 422, "Dữ liệu không hợp lệ: " + "; ".join(
        ".".join(str(p) for p in e.get("loc", ())) or "?" for e in exc.errors()
    )


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
    context = _unit_context(session, caller, cycle_id, posted=posted)
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
    return _redirect_with(
        settings, f"{_unit_url(cycle_id, unit_code)}#c-{code}", message, code=code
    )


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
    return _redirect_with(
        settings, f"{_unit_url(cycle_id, unit_code)}#c-{code}", message, code=code
    )


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
    return _redirect_with(
        settings, f"{_unit_url(cycle_id, unit_code)}#c-{code}", message, code=code
    )


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
    message = (
        f"Đã lưu điểm thẩm định tiêu chí {code}: {score} điểm — {saved.score_explanation}"
    )
    return _redirect_with(
        settings, f"{_unit_url(cycle_id, unit_code)}#c-{code}", message, code=code
    )


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
        return _refused_page(
            request, session, caller, cycle_id, exc, Posted(code, "answer", form)
        )
    message = f"Đã gửi nội dung giải trình tiêu chí {code}."
    return _redirect_with(
        settings, f"{_unit_url(cycle_id, unit_code)}#c-{code}", message, code=code
    )


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
    try:
        await send()
    except (Problem, SheetError, FormError, ValidationError) as exc:
        return _refused_page(request, session, caller, cycle_id, exc, posted)
    return _redirect_with(settings, _unit_url(cycle_id, unit_code), message)


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
        request, session, caller, settings, cycle_id, unit_code, send, "Đơn vị đã bắt đầu rà soát."
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
        request, session, caller, settings, cycle_id, unit_code, send, "Đã gửi kết quả tự chấm điểm."
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
        request, session, caller, settings, cycle_id, unit_code, send, "Đã mở lại phiếu của đơn vị."
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
        request, session, caller, settings, cycle_id, unit_code, send, "Đã bắt đầu thẩm định."
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
            raise FormError("items", "Cần ghi nội dung yêu cầu giải trình cho ít nhất một tiêu chí.")
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
        request, session, caller, settings, cycle_id, unit_code, send, "Đã kết thúc vòng giải trình."
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
        request, session, caller, settings, cycle_id, unit_code, send, "Đã kết thúc thẩm định đơn vị."
    )
