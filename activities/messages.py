"""Kept for existing importers: the messages live in ``services.messages``."""

from __future__ import annotations

from services.messages import *  # noqa: F403
from services.messages import __all__ as __all__
