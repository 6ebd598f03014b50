"""Vietnamese formats: decimal comma (2,897), dates dd/mm/yyyy and local time (Asia/Ho_Chi_Minh).

Pure functions, no I/O. Vietnamese documents write decimals with a comma and use the dot as the
thousands separator; scores never reach thousands, so ``vn_decimal`` writes no grouping at all
(no reader can mistake "1.000" for one).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "GROUP_VI",
    "VN_TZ",
    "group_vi",
    "parse_vn_decimal",
    "snapshot_kind_vi",
    "vn_countdown",
    "vn_date",
    "vn_datetime",
    "vn_decimal",
]


def _vn_tz() -> tzinfo:
    # Viet Nam has kept UTC+7 without daylight saving since 1975; the fixed offset is a faithful
    # fallback where the system has no tz database.
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Ho_Chi_Minh")
    except Exception:  # pragma: no cover - depends on the host's tz data
        return timezone(timedelta(hours=7), "ICT")


VN_TZ: tzinfo = _vn_tz()


def vn_decimal(d: Decimal | int, places: int | None = None) -> str:
    """Writes a number with a decimal comma: 2.897 → "2,897"; ``places`` fixes the decimals.

    Without ``places`` trailing zeros are dropped ("3", "1,5"); with ``places`` the value is
    rounded half-up to exactly that many decimals ("96,55").
    """
    value = Decimal(d)
    if not value.is_finite():
        raise ValueError(f"not a finite number: {d!r}")
    if places is not None:
        if places < 0:
            raise ValueError("places must be ≥ 0")
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        text = f"{value:f}"
    else:
        text = f"{value:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    if value.is_zero():
        text = text.lstrip("-")
    return text.replace(".", ",")


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise ValueError("a naive datetime has no known zone; pass an aware (UTC) datetime")
    return dt


def vn_datetime(dt: datetime) -> str:
    """Writes an aware datetime in Vietnamese local time: "17:00 ngày 25/11/2024".

    The one format of a moment everywhere people read one (pages, e-mails, the CLI), as
    administrative documents write it ("… giờ … ngày …").
    """
    local = _aware(dt).astimezone(VN_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def vn_date(d: date) -> str:
    """Writes a date as dd/mm/yyyy; an aware datetime is first converted to Vietnamese time."""
    if isinstance(d, datetime):
        d = _aware(d).astimezone(VN_TZ).date()
    return f"{d:%d/%m/%Y}"


def vn_countdown(at: datetime, now: datetime) -> str:
    """The time left until ``at``: "còn 3 ngày 4 giờ", "còn 45 phút", "đã quá hạn 2 ngày"."""
    seconds = int((_aware(at) - _aware(now)).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} ngày" + (f" {hours} giờ" if hours else "")
    elif hours:
        text = f"{hours} giờ" + (f" {minutes} phút" if minutes else "")
    else:
        text = f"{max(minutes, 1)} phút"
    return f"đã quá hạn {text}" if late else f"còn {text}"


# Ranking groups as units are created (free text; the usual ones get a Vietnamese name).
GROUP_VI: dict[str, str] = {
    "commune": "Xã, phường, thị trấn",
    "department": "Phòng chuyên môn",
    "district_department": "Phòng chuyên môn cấp huyện",
    "province_department": "Sở, ban, ngành",
}


def group_vi(group: str) -> str:
    """A ranking group's Vietnamese name ("commune" → "Xã, phường, thị trấn")."""
    return GROUP_VI.get(group, group)


def snapshot_kind_vi(kind: str) -> str:
    """A frozen copy's name: "submission-2" → "bản gửi lần 2", "round-1" → "bản sau giải trình
    vòng 1", "final" → "bản thẩm định cuối cùng"."""
    if kind == "submission":
        return "bản gửi kết quả"
    if kind.startswith("submission-") and kind[11:].isdigit():
        return f"bản gửi kết quả lần {kind[11:]}"
    if kind.startswith("round-") and kind[6:].isdigit():
        return f"bản trước khi kết thúc giải trình vòng {kind[6:]}"
    if kind == "final":
        return "bản thẩm định cuối cùng"
    return "bản đã chốt"


_PLAIN = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)")
# "1.234,5": dots group thousands when a decimal comma follows.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+,\d+")


def parse_vn_decimal(text: str) -> Decimal:
    """Reads "28,692", "8.5", "0,75", "-1", "1.234,5"; ValueError on letters or anything else."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif _PLAIN.fullmatch(cleaned):
        cleaned = cleaned.replace(",", ".")
    else:
        raise ValueError(f"không phải là số: {text!r}")
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the patterns admit only valid numbers
        raise ValueError(f"không phải là số: {text!r}") from exc
