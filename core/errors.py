"""The one refusal type: every service raises a ``Refusal`` (or a subclass), never anything else,
for a request it will not carry out.

A refusal has a stable ``code`` (machines, tests, the problem document's ``code``), an HTTP
``status``, the reason in Vietnamese (what people read) and in English (logs, ``detail_en``),
and optionally the ``field`` at fault. The API turns it into problem+json with one handler,
the pages show ``message_vi`` in place with one handler, and the workflows map an activity's
``ApplicationError(type=code)`` back with one function (docs/architecture.md, "Refusals").
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "Refusal", "Unavailable"]


class Refusal(Exception):
    """A request refused with a stable code, a status and the reason in both languages."""

    status: ClassVar[int] = 409

    def __init__(self, code: str, message_vi: str, message_en: str = "", field: str = "") -> None:
        super().__init__(f"{code}: {message_en or message_vi}")
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en or message_vi
        self.field = field


class Conflict(Refusal):
    """Not possible in the current state (wrong state, after the lock, already exists): 409."""

    status = 409


class NotFound(Refusal):
    """No such thing, or not visible to the caller (another unit's resource): 404."""

    status = 404


class Invalid(Refusal):
    """The input is wrong; ``field`` names it: 422."""

    status = 422


class Forbidden(Refusal):
    """Visible to the caller but not theirs to change: 403."""

    status = 403


class Unavailable(Refusal):
    """A service this request needs is down or busy; retry later: 503."""

    status = 503
