"""The sheet's refusals (a later step folds them into ``core.errors``; kept as they are here)."""

from __future__ import annotations

__all__ = ["EditRefused", "InvalidInput", "SheetError", "SheetNotFound"]


class SheetError(Exception):
    """A refused sheet operation with its reason in Vietnamese and English."""

    status = 409

    def __init__(self, type_: str, message_vi: str, message_en: str, field: str = "") -> None:
        super().__init__(f"{type_}: {message_en}")
        self.type = type_
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field


class EditRefused(SheetError):
    """The edit gate refuses (wrong state, after the lock, not assigned, wrong agency): 409."""


class SheetNotFound(SheetError):
    """No such unit in the cycle, or no such criterion in its framework: 404."""

    status = 404


class InvalidInput(SheetError):
    """The inputs do not fit the criterion's rule: 422, ``field`` names the input."""

    status = 422
