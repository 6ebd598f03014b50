"""The pages' one handler of refusals: the status the API would answer and the Vietnamese reason.

A refused form redraws its page with the reason in place (``web.unit_page.refused_page``);
a refusal anywhere else in a page becomes the Vietnamese error page (``RefusalPageRoute``).
Both read a refusal through ``page_refusal``: ``core.errors.Refusal`` (``FormError`` is one),
the older classes ``actions.refusals.LEGACY`` maps, the API's ``Problem`` (the access rule) and
a pydantic ``ValidationError`` (an input model the form filled).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from actions.refusals import LEGACY, refused
from api.errors import Problem
from core.errors import Refusal
from web.auth import PageRoute
from web.render import error_page

__all__ = ["FIELD_VI", "REFUSALS", "RefusalPageRoute", "page_refusal"]

# Every exception a form shows as a refusal (anything else is a bug: a 500). A pydantic
# ValidationError counts only around a form's input model, so the route class below leaves it
# (and ``Problem``, which ``PageRoute`` shows) alone.
REFUSALS: tuple[type[Exception], ...] = (Refusal, *LEGACY, Problem, ValidationError)
_ROUTE_REFUSALS: tuple[type[Exception], ...] = (Refusal, *LEGACY)

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
    found = refused(exc)
    return None if found is None else (found.status, found.message_vi)


class RefusalPageRoute(PageRoute):
    """A page route whose refusals (``Refusal`` and ``LEGACY``) become the Vietnamese error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The page handler of ``PageRoute``, with refusals shown as a page."""
        handler = super().get_route_handler()

        async def refusal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except _ROUTE_REFUSALS as exc:
                shown = page_refusal(exc)
                if shown is None:
                    raise
                return error_page(request, *shown)

        return refusal_handler
