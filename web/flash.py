"""The one-time message after a form (POST → 303 → GET): a signed, short-lived cookie."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeSerializer

from core.settings import Mode, Settings

__all__ = ["FLASH_COOKIE", "flash_shown", "redirect_with", "take_flash"]

FLASH_COOKIE = "appraisal_flash"


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt="page-flash")


def redirect_with(
    settings: Settings, url: str, message: str, *, code: str = ""
) -> RedirectResponse:
    """A redirect to ``url`` carrying ``message`` (``code``: the criterion it is about)."""
    response = RedirectResponse(url, status_code=303)
    value = _serializer(settings).dumps({"text": message, "code": code})
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


def take_flash(request: Request, settings: Settings) -> dict[str, str]:
    """The message the last form left, if its cookie is there and signed by us."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(settings).loads(raw)
    except BadSignature:
        return {}
    return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def flash_shown(request: Request, response: HTMLResponse) -> HTMLResponse:
    """The one-time message has been shown: its cookie goes."""
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/cycles")
    return response
