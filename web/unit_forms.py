"""The forms under a criterion's row: save a draft, attach or detach evidence, save an
appraisal, answer an explanation request.

Each form calls the same action as the REST API (``actions.sheet``, ``actions.evidence``), so
the edit gate and the evidence checks run exactly as they do there. A refusal redraws the page
with the reason in place and what was typed (``web.unit_page.refused_page``); a success
redirects (POST → 303 → GET) with a one-time message.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.datastructures import UploadFile

from actions import evidence as documents
from actions import sheet as edits
from actions.inputs import AnswerIn, AppraisalIn, DraftIn
from api.deps import SessionDep, SettingsDep
from core.errors import NotFound
from core.settings import Settings
from core.vn import vn_decimal
from models.framework import Node
from services.sheet import framework_for
from web.auth import Caller, PageCaller
from web.common import back, form_of, load_cycle, unit_ref
from web.errors import REFUSALS, RefusalPageRoute
from web.flash import redirect_with
from web.forms import FormError, parse_inputs, text_field
from web.unit_page import Posted, refused_page

__all__ = ["router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)

_ROW = "/cycles/{cycle_id}/units/{unit_code}/criteria/{code}"


def _leaf(session: Session, cycle_id: str, code: str) -> Node:
    framework = framework_for(session, load_cycle(session, cycle_id))
    try:
        node = framework.node(code)
    except KeyError:
        node = None
    if node is None or not node.is_leaf:
        raise NotFound(
            "no_criterion",
            f"Không có tiêu chí {code} để chấm điểm trong bộ tiêu chí.",
            f"No criterion {code} to score in the framework.",
        )
    return node


def _request_id(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise NotFound(
            "not_found", "Không tìm thấy yêu cầu giải trình.", "No such explanation request."
        ) from exc


def _edit(
    request: Request,
    session: Session,
    caller: PageCaller,
    settings: Settings,
    where: tuple[str, str, str],
    kind: str,
    act: Callable[[], str],
) -> Response:
    """Runs ``act`` (it returns the message); a refusal redraws the page in place."""
    cycle_id, unit_code, code = where
    form = form_of(caller)
    try:
        message = act()
    except REFUSALS as exc:
        return refused_page(request, session, caller, cycle_id, exc, Posted(code, kind, form))
    return redirect_with(settings, back(cycle_id, unit_code, form, code), message, code=code)


@router.post(f"{_ROW}/draft")
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
    form = form_of(caller)

    def act() -> str:
        body = DraftIn(
            inputs=parse_inputs(_leaf(session, cycle_id, code), form),
            explanation=text_field(form, "explanation"),
        )
        saved = edits.save_draft(
            session,
            principal=caller.principal,
            unit=unit_ref(caller, cycle_id),
            code=code,
            inputs=body.inputs,
            explanation=body.explanation,
        )
        if saved.score is None:
            return f"Đã lưu giải trình tiêu chí {code} (chưa có điểm tự chấm)."
        return (
            f"Đã lưu tiêu chí {code}. Điểm tự chấm: {vn_decimal(saved.score)} điểm — "
            f"{saved.explanation}"
        )

    where = (cycle_id, unit_code, code)
    return _edit(request, session, caller, settings, where, "draft", act)


@router.post(f"{_ROW}/evidence")
def post_evidence(
    request: Request,
    cycle_id: str,
    unit_code: str,
    code: str,
    caller: Caller,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Attaches a document (multipart) through the same upload as the API; its checks are shown."""
    form = form_of(caller)

    def act() -> str:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FormError("file", "Chưa chọn tệp tài liệu kiểm chứng.")
        stored = documents.upload(
            session,
            principal=caller.principal,
            settings=settings,
            unit=unit_ref(caller, cycle_id),
            code=code,
            file=upload.file,
            filename=upload.filename,
            doc_number=text_field(form, "doc_number"),
            doc_date=text_field(form, "doc_date"),
            issuer=text_field(form, "issuer"),
        )
        message = f"Đã đính kèm “{stored.filename}” cho tiêu chí {code}."
        if stored.checks:
            message += " Cảnh báo: " + " ".join(c.message for c in stored.checks)
        return message

    where = (cycle_id, unit_code, code)
    return _edit(request, session, caller, settings, where, "evidence", act)


@router.post(f"{_ROW}/evidence/{{evidence_id}}/delete")
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

    def act() -> str:
        documents.delete(
            session,
            principal=caller.principal,
            unit=unit_ref(caller, cycle_id),
            code=code,
            evidence_id=evidence_id,
        )
        return f"Đã gỡ tài liệu kiểm chứng của tiêu chí {code}."

    where = (cycle_id, unit_code, code)
    return _edit(request, session, caller, settings, where, "evidence", act)


@router.post(f"{_ROW}/appraisal")
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
    form = form_of(caller)

    def act() -> str:
        inputs = parse_inputs(_leaf(session, cycle_id, code), form)
        if inputs is None:
            raise FormError("inputs", f"Cần nhập số liệu thẩm định của tiêu chí {code}.")
        body = AppraisalIn(inputs=inputs, comment=text_field(form, "comment"))
        saved = edits.save_appraisal(
            session,
            principal=caller.principal,
            unit=unit_ref(caller, cycle_id),
            code=code,
            inputs=body.inputs,
            comment=body.comment,
        )
        score = "—" if saved.score is None else vn_decimal(saved.score)
        return f"Đã lưu điểm thẩm định tiêu chí {code}: {score} điểm — {saved.explanation}"

    where = (cycle_id, unit_code, code)
    return _edit(request, session, caller, settings, where, "appraisal", act)


@router.post(f"{_ROW}/answer")
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
    form = form_of(caller)

    def act() -> str:
        answer = text_field(form, "answer").strip()
        if not answer:
            raise FormError("answer", "Cần ghi nội dung giải trình.")
        body = AnswerIn(answer=answer)
        edits.answer(
            session,
            principal=caller.principal,
            unit=unit_ref(caller, cycle_id),
            request_id=_request_id(text_field(form, "request_id")),
            code=code,
            text=body.answer,
        )
        return f"Đã gửi nội dung giải trình tiêu chí {code}."

    where = (cycle_id, unit_code, code)
    return _edit(request, session, caller, settings, where, "answer", act)
