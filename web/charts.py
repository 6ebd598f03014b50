"""Charts drawn by the server as inline SVG (no script, no CDN): horizontal bars and a histogram.

Every label is escaped; every number is written with a decimal comma. A chart carries a
``<title>`` and ``role="img"`` with an ``aria-label`` so it reads without the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from markupsafe import Markup

from core.vn import vn_decimal

__all__ = ["bars", "histogram"]

_ROW = 26
_LABEL_W = 230
_BAR_W = 320
_VALUE_W = 70
_COLORS = ("#1f5fa8", "#2e7d32", "#b26a00", "#8e24aa", "#c62828", "#00838f")


def _num(value: Decimal | int) -> str:
    return vn_decimal(Decimal(value))


def _cut(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bars(
    title: str,
    items: Sequence[tuple[str, Decimal | int]],
    *,
    maximum: Decimal | int | None = None,
    color: int = 0,
) -> Markup:
    """One horizontal bar per (label, value); the longest bar is ``maximum`` (or the largest)."""
    if not items:
        return Markup("")
    top = Decimal(maximum if maximum is not None else max(v for _, v in items)) or Decimal(1)
    width = _LABEL_W + _BAR_W + _VALUE_W
    height = _ROW * len(items) + 8 + _ROW
    fill = _COLORS[color % len(_COLORS)]
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
        # The title is drawn too: a chart read on paper or a phone says what it counts.
        f'<text x="4" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + (i + 1) * _ROW
        share = max(Decimal(0), min(Decimal(1), Decimal(value) / top))
        w = int(share * _BAR_W)
        parts.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 17}" text-anchor="end" font-size="13">'
            f"{escape(_cut(label))}</text>"
            f'<rect x="{_LABEL_W}" y="{y + 3}" width="{max(w, 1)}" height="{_ROW - 8}" '
            f'fill="{fill}" rx="2"/>'
            f'<text x="{_LABEL_W + w + 6}" y="{y + 17}" font-size="13">{_num(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    title: str, values: Sequence[Decimal], *, maximum: Decimal, buckets: int = 10
) -> Markup:
    """How many totals fall in each tenth of ``maximum`` (the last bucket includes it)."""
    if not values or maximum <= 0:
        return Markup("")
    step = maximum / buckets
    counts = [0] * buckets
    for v in values:
        bounded = max(Decimal(0), min(maximum, v))
        counts[min(buckets - 1, int(bounded / step))] += 1
    items = [
        (f"{_num(step * i)} – {_num(step * (i + 1))} điểm", counts[i])
        for i in range(buckets)
        if counts[i] or i >= buckets // 2
    ]
    return bars(title, items, color=1)
