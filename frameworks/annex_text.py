"""Text of a table's cells: HTML removed, folded for matching, numbers read, agency names told
from other text. Used by the annex importer (``frameworks.annex``) and its table readers."""

from __future__ import annotations

import html
import re
import unicodedata
from decimal import Decimal

from core.vn import parse_vn_decimal

__all__ = [
    "fold",
    "html_to_text",
    "is_agency_name",
    "norm_decimal",
    "one_line",
    "parse_number",
    "preview",
]

# Only known tag names: a bare "<" is common in scoring text ("95–<100%").
_TAG_NAMES = r"p|u|b|i|s|em|strong|span|ul|ol|li|br|div|sup|sub|font|a|table|tbody|tr|td|th|h\d"
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|ul|ol|li|br|div|tr|table|h\d)\b[^<>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(rf"<\s*/?\s*(?:{_TAG_NAMES})\b[^<>]*>", re.IGNORECASE)


def html_to_text(text: str) -> str:
    """Plain text of a cell: inline HTML removed, paragraphs as lines, spaces collapsed."""
    if not text:
        return ""
    t = _BLOCK_TAG.sub("\n", text)
    t = _ANY_TAG.sub("", t)
    t = html.unescape(t).replace("\u00a0", " ")
    lines = (" ".join(line.split()) for line in t.splitlines())
    return "\n".join(line for line in lines if line)


def one_line(text: str) -> str:
    return " ".join(html_to_text(text).split())


def fold(text: str) -> str:
    """Lower case without diacritics, HTML or punctuation: "Điểm tự chấm" → "diem tu cham"."""
    t = html_to_text(text).replace("đ", "d").replace("Đ", "D")
    t = unicodedata.normalize("NFD", t)
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^\w%]+", " ", t)
    return " ".join(t.split())


# The first words of an agency's name ("Phòng Nội vụ", "Văn phòng HĐND và UBND huyện", "Thanh
# tra huyện", "Các phòng chuyên môn"), folded. "Ban hành…", "Hội nghị…" are not agencies.
_AGENCY_HEAD = re.compile(
    r"(?:cac )?(?:phong|van phong|thanh tra|cong an|ban (?!hanh)|so |ubnd|uy ban|trung tam"
    r"|huyen uy|tinh uy|thanh uy|dang uy|chi cuc|cuc |kho bac|bao hiem|mat tran|lien doan"
    r"|doan |hoi (?:dong|lien hiep|nong dan|phu nu|cuu chien binh)|toa an|vien kiem sat"
    r"|bo phan|ban chi huy|co quan|cong chuc|hdnd|thuong truc|chu tich|lanh dao|ubmttq"
    r"|huyen doan|tinh doan|thanh doan|dai |tram |benh vien|hat kiem lam|ngan hang|chi nhanh"
    r"|truong (?!hop)|bo (?!sung))"
)


def is_agency_name(text: str) -> bool:
    """Whether a cell of the agency column names an agency: short, one line, opening with an
    agency's head word and not ending like a sentence ("Phòng Nội vụ" yes; "Văn bản triển khai,
    giới thiệu gương điển hình tiên tiến." and "Kế hoạch khắc phục hạn chế," no)."""
    one = " ".join(html_to_text(text).split())
    if not one or len(one) > 120 or one[-1] in ".,;:":
        return False
    return _AGENCY_HEAD.match(fold(one) + " ") is not None


def preview(text: str, limit: int = 60) -> str:
    t = one_line(text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


def norm_decimal(d: Decimal) -> Decimal:
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.normalize()


def parse_number(text: str) -> Decimal | None:
    """A number written with a decimal comma or dot, optionally followed by "điểm"; else None."""
    t = re.sub(r"\s*(?:điểm|đ)\s*\.?$", "", one_line(text), flags=re.IGNORECASE)
    try:
        value = parse_vn_decimal(t)
    except ValueError:
        return None
    return norm_decimal(value) if value.is_finite() else None
