"""The idempotency key of the routes that send a workflow command.

An ``Idempotency-Key`` header becomes the update id (``actions.bridge``), so a retried request
returns the first outcome instead of acting twice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

__all__ = ["IdempotencyKey"]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retried request with the same key acts once",
    ),
]
