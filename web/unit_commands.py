"""The command forms of a unit's page: one row of ``COMMANDS`` per workflow command.

A row names its button (``web.unit_page.BUTTONS``: the workflow command and the API rule of
who may send it), the page path it is posted to, how its form becomes the action's inputs
(through the same input models as the REST API, ``actions.inputs``), the action it calls
(``actions.unit_commands``) and the message shown once the workflow accepted it. A refusal
redraws the page with the reason in place; a success redirects with the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.datastructures import FormData

from actions import unit_commands as send
from actions.common import UnitRef
from actions.inputs import ExplanationRequestIn, FinaliseIn, ReopenIn, ReturnIn, SubmitIn
from api.deps import SessionDep, SettingsDep, get_temporal
from contracts.messages import ExplanationItemSpec
from core.db import release
from core.errors import NotFound
from services.accounts import Principal
from web.auth import Caller
from web.common import back, form_of, idem_key, unit_ref
from web.errors import REFUSALS, RefusalPageRoute
from web.flash import redirect_with
from web.forms import FormError, text_field
from web.unit_page import BUTTONS, Posted, refused_page

__all__ = ["COMMANDS", "CommandForm", "Sent", "router"]

router = APIRouter(route_class=RefusalPageRoute, include_in_schema=False)


@dataclass(frozen=True)
class Sent:
    """A command form as posted: who, which unit, the form, and what the action needs."""

    request: Request
    session: Session
    principal: Principal
    unit: UnitRef
    form: FormData

    @property
    def key(self) -> str | None:
        """The form's idempotency key (a double click acts once)."""
        return idem_key(self.form)

    def text(self, name: str) -> str:
        """A text field of the form, stripped."""
        return text_field(self.form, name).strip()


def _request_id(sent: Sent) -> int:
    try:
        return int(text_field(sent.form, "request_id"))
    except ValueError as exc:
        raise NotFound(
            "not_found", "Không tìm thấy yêu cầu giải trình.", "No such explanation request."
        ) from exc


def _items(form: FormData) -> list[ExplanationItemSpec]:
    """The questions typed in the explanation request table (``q.<code>``; empty: not asked)."""
    prefix = "q."
    return [
        ExplanationItemSpec(code=str(k)[len(prefix) :], question=v.strip())
        for k, v in form.multi_items()
        if str(k).startswith(prefix) and isinstance(v, str) and v.strip()
    ]


# --- what each command form does -------------------------------------------------------------


async def _start_review(s: Sent) -> object:
    client = get_temporal(s.request)
    return await send.start_review(client=client, principal=s.principal, unit=s.unit, key=s.key)


async def _return(s: Sent) -> object:
    if not s.text("comment"):
        raise FormError("comment", "Cần ghi ý kiến khi trả lại tiêu chí.")
    body = ReturnIn(codes=[s.text("code")], comment=s.text("comment"))
    return await send.return_criteria(
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        codes=body.codes,
        comment=body.comment,
        key=s.key,
    )


async def _submit(s: Sent) -> object:
    body = SubmitIn(proposed_class=s.text("proposed_class") or None)
    if s.text("confirm") != "1":
        raise FormError(
            "confirm", "Cần xác nhận đã xem danh sách cảnh báo trước khi gửi kết quả tự chấm điểm."
        )
    return await send.submit(
        s.session,
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        proposed_class=body.proposed_class,
        key=s.key,
    )


async def _reopen(s: Sent) -> object:
    if not s.text("reason"):
        raise FormError("reason", "Cần ghi lý do mở lại.")
    body = ReopenIn.model_validate(
        {
            "reason": s.text("reason"),
            "submission_deadline": s.text("submission_deadline") or None,
            "hard_lock_at": s.text("hard_lock_at") or None,
        }
    )
    return await send.reopen(
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        reason=body.reason,
        submission_deadline=body.submission_deadline,
        hard_lock_at=body.hard_lock_at,
        key=s.key,
    )


async def _start_appraisal(s: Sent) -> object:
    client = get_temporal(s.request)
    return await send.start_appraisal(client=client, principal=s.principal, unit=s.unit, key=s.key)


async def _request(s: Sent) -> object:
    items = _items(s.form)
    if not items:
        raise FormError("items", "Cần ghi nội dung yêu cầu giải trình cho ít nhất một mục.")
    body = ExplanationRequestIn.model_validate(
        {"items": items, "deadline": s.text("deadline") or None}
    )
    return await send.request_explanation(
        s.session,
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        items=body.items,
        deadline=body.deadline,
        key=s.key,
    )


async def _close_round(s: Sent) -> object:
    request_id = _request_id(s)
    return await send.close_round(
        s.session,
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        request_id=request_id,
        key=s.key,
    )


async def _finalise(s: Sent) -> object:
    body = FinaliseIn(override=s.text("override") == "1", reason=s.text("reason"))
    return await send.finalise(
        s.session,
        client=get_temporal(s.request),
        principal=s.principal,
        unit=s.unit,
        override=body.override,
        reason=body.reason,
        key=s.key,
    )


def _none(_form: FormData) -> Posted | None:
    return None


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandForm:
    """One command form: its button, page path, action and messages."""

    button: str  # a name of web.unit_page.BUTTONS
    path: str  # after /cycles/{cycle_id}/units/{unit_code}/
    doc: str
    act: Callable[[Sent], Awaitable[object]]
    done: Callable[[FormData], str]  # the message once the workflow accepted it
    posted: Callable[[FormData], Posted | None] = _none  # the form drawn again if refused


COMMANDS: tuple[CommandForm, ...] = (
    CommandForm(
        "start_review",
        "start-review",
        "The unit office starts its review (drafting → unit review).",
        _start_review,
        lambda f: "Đơn vị đã bắt đầu rà soát.",
    ),
    CommandForm(
        "return",
        "return",
        "The unit office returns a criterion to its staff with a comment.",
        _return,
        lambda f: f"Đã trả lại tiêu chí {text_field(f, 'code').strip()} cho cán bộ phụ trách.",
        lambda f: Posted(text_field(f, "code").strip(), "return", f),
    ),
    CommandForm(
        "submit",
        "submit",
        "The unit office submits the sheet (frozen, hashed), with a proposed classification.",
        _submit,
        lambda f: "Đã gửi kết quả tự chấm điểm.",
    ),
    CommandForm(
        "reopen",
        "reopen",
        "The coordinator reopens a submitted (or locked out) unit, with a reason.",
        _reopen,
        lambda f: "Đã mở lại phiếu của đơn vị.",
    ),
    CommandForm(
        "start_appraisal",
        "start-appraisal",
        "The council starts appraising a submitted unit.",
        _start_appraisal,
        lambda f: "Đã bắt đầu thẩm định.",
    ),
    CommandForm(
        "request",
        "explanation-requests",
        "The council flags criteria with a question each and opens an explanation round.",
        _request,
        lambda f: (
            "Đã gửi yêu cầu giải trình các tiêu chí: " + ", ".join(i.code for i in _items(f)) + "."
        ),
        lambda f: Posted("", "request", f),
    ),
    CommandForm(
        "close_round",
        "close-round",
        "The council closes the open explanation round early.",
        _close_round,
        lambda f: "Đã kết thúc vòng giải trình.",
    ),
    CommandForm(
        "finalise",
        "finalise",
        "The council finalises the unit's appraisal.",
        _finalise,
        lambda f: "Đã kết thúc thẩm định đơn vị.",
    ),
)

assert {c.button for c in COMMANDS} == {b.name for b in BUTTONS}, "a button without its form"


def _endpoint(row: CommandForm) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        request: Request,
        cycle_id: str,
        unit_code: str,
        caller: Caller,
        session: SessionDep,
        settings: SettingsDep,
    ) -> Response:
        form = form_of(caller)
        sent = Sent(request, session, caller.principal, unit_ref(caller, cycle_id), form)
        release(session)  # no connection held while the workflow works (issue 13)
        try:
            await row.act(sent)
        except REFUSALS as exc:
            return refused_page(request, session, caller, cycle_id, exc, row.posted(form))
        # a command about one criterion (a return) comes back to its row, the message there
        code = text_field(form, "code").strip() if row.button == "return" else ""
        return redirect_with(
            settings, back(cycle_id, unit_code, form, code), row.done(form), code=code
        )

    endpoint.__name__ = f"post_{row.button}"
    endpoint.__doc__ = row.doc
    return endpoint


for _row in COMMANDS:
    router.add_api_route(
        f"/cycles/{{cycle_id}}/units/{{unit_code}}/{_row.path}",
        _endpoint(_row),
        methods=["POST"],
    )
