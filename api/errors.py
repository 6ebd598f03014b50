"""Errors as RFC 9457 problem details (application/problem+json), with the field and the reason.

Every error the API answers has the same shape: ``type`` (a URI reference naming the kind of
problem), ``title`` and ``detail`` in Vietnamese, ``status``, ``instance`` (the request path)
and, where inputs are at fault, ``errors``: one ``{field, in, reason}`` per faulty input.
A refusal (``core.errors.Refusal``, the one family every service raises) has ONE handler: its
stable ``code``, ``detail`` in Vietnamese, ``detail_en``, and ``errors[{field}]`` when a field is
at fault.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import Refusal
from core.vn import vn_decimal

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

TITLES_VI: dict[int, str] = {
    400: "Yêu cầu không hợp lệ",
    401: "Chưa đăng nhập hoặc phiên đăng nhập đã hết hạn",
    403: "Không có quyền thực hiện",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    409: "Không thể thực hiện ở trạng thái hiện tại",
    413: "Tệp quá lớn",
    415: "Loại tệp không được chấp nhận",
    422: "Dữ liệu không hợp lệ",
    429: "Quá nhiều lần thử",
    500: "Lỗi hệ thống",
    503: "Dịch vụ tạm thời không sẵn sàng",
}


class FieldError(BaseModel):
    """One faulty input."""

    field: str = Field(description="The input at fault, dotted (roles.0.unit_code)")
    reason: str = Field(description="Why it is refused")
    location: str = Field(
        default="body", alias="in", description="body | query | path | header | form"
    )

    model_config = {"populate_by_name": True}


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "/problems/validation",
                    "title": "Dữ liệu không hợp lệ",
                    "status": 422,
                    "detail": "Có 1 trường không hợp lệ.",
                    "instance": "/api/units",
                    "errors": [
                        {"field": "code", "in": "body", "reason": "String should match pattern"}
                    ],
                }
            ]
        }
    }

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[FieldError] = Field(default_factory=list)
    code: str | None = Field(default=None, description="Refusal code of a command (409)")
    detail_en: str | None = Field(default=None, description="The reason in English (409)")


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        detail_en: str | None = None,
    ) -> None:
        super().__init__(detail or str(status))
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title or TITLES_VI.get(status) or HTTPStatus(status).phrase
        self.errors = errors or []
        self.headers = headers or {}
        self.code = code
        self.detail_en = detail_en


def field_problem(status: int, field: str, reason: str, *, location: str = "body") -> Problem:
    """A problem about one input."""
    return Problem(
        status,
        reason,
        slug={422: "validation", 409: "conflict"}.get(status),
        errors=[FieldError(field=field, reason=reason, location=location)],
    )


def not_found(what: str = "") -> Problem:
    """404 without saying whether the thing exists elsewhere (no enumeration)."""
    return Problem(404, what or "Không tìm thấy tài nguyên.", slug="not-found")


def forbidden(detail: str = "Vai trò của bạn không được thực hiện thao tác này.") -> Problem:
    """403: visible, but not yours to change."""
    return Problem(403, detail, slug="forbidden")


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    """The JSON response of a problem."""
    body = ProblemDetails(
        type=f"/problems/{problem.slug}" if problem.slug else "about:blank",
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        instance=request.url.path,
        errors=problem.errors,
        code=problem.code,
        detail_en=problem.detail_en,
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def _loc(loc: tuple[Any, ...]) -> tuple[str, str]:
    parts = [str(p) for p in loc]
    location = (
        parts[0] if parts and parts[0] in ("body", "query", "path", "header", "cookie") else ""
    )
    rest = parts[1:] if location else parts
    return location or "body", ".".join(rest) or location or "body"


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        location, field = _loc(tuple(err.get("loc", ())))
        errors.append(FieldError(field=field, reason=str(err.get("msg", "")), location=location))
    problem = Problem(
        422,
        f"Có {len(errors)} trường không hợp lệ.",
        slug="validation",
        errors=errors,
    )
    return problem_response(request, problem)


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404 and detail == "Not Found":
        detail = "Không tìm thấy tài nguyên."
    problem = Problem(exc.status_code, detail, headers=dict(exc.headers or {}))
    return problem_response(request, problem)


# The problem type of a refusal, by status (others: about:blank).
REFUSAL_SLUGS: dict[int, str] = {
    403: "forbidden",
    404: "not-found",
    409: "command-refused",
    422: "validation",
    503: "unavailable",
}


def refusal_problem(refusal: Refusal) -> Problem:
    """The problem document of a refusal: code, both reasons, and the field at fault."""
    # Where the field was sent: body, unless the refusal's class says otherwise (form uploads).
    location = str(getattr(refusal, "location", "body"))
    errors = (
        [FieldError(field=refusal.field, reason=refusal.message_vi, location=location)]
        if refusal.field
        else []
    )
    return Problem(
        refusal.status,
        refusal.message_vi,
        slug=REFUSAL_SLUGS.get(refusal.status),
        errors=errors,
        code=refusal.code or None,
        detail_en=refusal.message_en or None,
    )


async def _refusal_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return problem_response(request, refusal_problem(exc))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request, Problem(500, "Đã xảy ra lỗi không mong muốn.", slug="internal")
    )


class BodySizeLimit:
    """413 for a body above ``max_bytes``: at once from its Content-Length, else while reading.

    The streaming case raises an HTTPException from ``receive``, which FastAPI passes through
    body parsing to the problem handler.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        limit = vn_decimal((Decimal(self.max_bytes) / (1024 * 1024)).quantize(Decimal("0.1")))
        return f"Yêu cầu vượt quá dung lượng cho phép ({limit} MB)."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                body = ProblemDetails(
                    title=TITLES_VI[413],
                    status=413,
                    type="/problems/too-large",
                    detail=self._detail(),
                    instance=str(scope.get("path", "")),
                ).model_dump(mode="json", by_alias=True, exclude_none=True)
                response = JSONResponse(body, status_code=413, media_type=PROBLEM_JSON)
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)


def install(app: FastAPI) -> None:
    """Registers the problem handlers on the app."""
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(Refusal, _refusal_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled)


def problem_doc(status: int, description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem document (media type fixed in api.openapi)."""
    return {"model": ProblemDetails, "description": description}


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem_doc(401, "Chưa đăng nhập, mã truy cập sai hoặc đã hết hạn"),
    403: problem_doc(403, "Vai trò không được phép, hoặc thiếu mã CSRF"),
    404: problem_doc(404, "Không có, hoặc thuộc đơn vị khác (không tiết lộ)"),
    422: problem_doc(422, "Dữ liệu không hợp lệ: trường và lý do trong `errors`"),
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: problem_doc(409, "Bị từ chối ở trạng thái hiện tại (lý do tiếng Việt và tiếng Anh)")
}
