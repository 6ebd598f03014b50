"""The pages' one handler of refusals: the status the API would answer and the Vietnamese reason.

A refused form redraws its page with the reason in place (``web.unit_page.refused_page``);
a refusal anywhere else in a page becomes the Vietnamese error page (``RefusalPageRoute``).
Both show a ``core.errors.Refusal`` (``FormError`` is one) by its status and ``message_vi``;
a form also reads, through ``page_refusal``, the API's ``Problem`` (the access rule) and a
pydantic ``ValidationError`` (an input model the form filled).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from api.errors import Problem
from api.routing import TransactionRoute
from core.errors import Refusal
from web.auth import PageRoute
from web.render import error_page

__all__ = ["FIELD_VI", "REFUSALS", "RefusalPageRoute", "page_refusal"]

# Every exception a form shows as a refusal (anything else is a bug: a 500). A pydantic
# ValidationError counts only around a form's input model, so the route class below leaves it
# (and ``Problem``, which ``PageRoute`` shows) alone.
REFUSALS: tuple[type[Exception], ...] = (Refusal, Problem, ValidationError)

# Input fields as a refusal of the page names them.
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


def page_refusal(exc: Exception) -> tuple[int, str] | None:
    """The status the API would answer and the Vietnamese reason; None for no refusal."""
    if isinstance(exc, Problem):
        return exc.status, exc.detail or exc.title
    if isinstance(exc, ValidationError):
        fields = {str(e["loc"][0]) if e.get("loc") else "" for e in exc.errors()}
        named = sorted(FIELD_VI.get(f, f) for f in fields if f)
        return 422, "Dữ liệu không hợp lệ: " + (", ".join(named) or "biểu mẫu") + "."
    if isinstance(exc, Refusal):
        return exc.status, exc.message_vi
    return None


class _RefusalRoute(TransactionRoute):
    """The endpoint's refusals as the Vietnamese error page (inside ``PageRoute``'s handler)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, with refusals shown as a page."""
        handler = super().get_route_handler()

        async def refusal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as exc:
                return error_page(request, exc.status, exc.message_vi)

        return refusal_handler


class RefusalPageRoute(PageRoute, _RefusalRoute):
    """A page route whose refusals (``core.errors.Refusal``) become the Vietnamese error page.

    ``_RefusalRoute`` comes after ``PageRoute`` in the MRO, so it wraps the endpoint itself and
    answers a refusal before ``PageRoute``'s sign-in and access handling sees it.
    """
