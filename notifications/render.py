"""Rendering of e-mails: Vietnamese Jinja2 templates, one plain-text and one HTML per kind.

``templates/<kind>.txt`` holds the subject (``{% block subject %}``) and the text body,
``templates/<kind>.html`` the HTML body; both extend their ``base`` layout. Filters write
Vietnamese formats: ``dt`` → "17:00 ngày 25/11/2024", ``d`` → "25/11/2024", ``num`` → "2,897".
Undefined variables are errors, so a template never sends a silently empty field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from core.vn import group_vi, vn_date, vn_datetime, vn_decimal

__all__ = ["RenderedMail", "environment", "render"]


@dataclass(frozen=True)
class RenderedMail:
    """A rendered message: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def _dt(value: datetime | None) -> str:
    return "" if value is None else vn_datetime(value)


def _d(value: date | None) -> str:
    return "" if value is None else vn_date(value)


def _num(value: Decimal | int | str | None) -> str:
    if value is None or value == "":
        return ""
    return vn_decimal(Decimal(str(value)))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the mail templates (HTML autoescaped)."""
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["dt"] = _dt
    env.filters["d"] = _d
    env.filters["num"] = _num
    env.filters["group"] = group_vi
    return env


def render(kind: str, context: Mapping[str, Any]) -> RenderedMail:
    """Renders the subject, text and HTML of one message of this kind."""
    env = environment()
    text_t = env.get_template(f"{kind}.txt")
    html_t = env.get_template(f"{kind}.html")
    ctx = dict(context)
    subject = "".join(text_t.blocks["subject"](text_t.new_context(ctx)))
    subject = re.sub(r"\s+", " ", subject).strip()
    ctx["subject"] = subject
    text = re.sub(r"\n{3,}", "\n\n", text_t.render(ctx)).strip() + "\n"
    html = html_t.render(ctx)
    return RenderedMail(subject=subject, text=text, html=html)
