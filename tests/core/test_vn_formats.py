"""Vietnamese formats of numbers and times: decimal commas, local dates (core.vn)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from core.vn import parse_vn_decimal, vn_date, vn_datetime, vn_decimal
from tests.scoring.test_rules import DH, D

# --- Vietnamese formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        ("28.692", None, "28,692"),
        ("2.900", None, "2,9"),
        ("3.000", None, "3"),
        ("100", None, "100"),
        ("0.75", None, "0,75"),
        ("96.5517", 2, "96,55"),
        ("2.8965", 3, "2,897"),
        ("1.5", 2, "1,50"),
        ("-0.000", None, "0"),
        ("1E+2", None, "100"),
    ],
)
def test_vn_decimal(value: str, places: int | None, text: str) -> None:
    assert vn_decimal(D(value), places) == text


def test_vn_datetime_is_local_time_of_the_seed_lock() -> None:
    # "Từ 17 giờ 00 phút ngày 25/11/2024 phần mềm sẽ tự động khóa": 10:00 UTC.
    assert "17 giờ 00 phút ngày 25/11/2024" in DH
    lock = datetime(2024, 11, 25, 10, 0, tzinfo=UTC)
    assert vn_datetime(lock) == "17:00 ngày 25/11/2024"
    assert vn_datetime(lock.astimezone(timezone(timedelta(hours=-5)))) == "17:00 ngày 25/11/2024"
    # 20:00 UTC on 24/11 is already 25/11 in Việt Nam.
    assert vn_date(datetime(2024, 11, 24, 20, 0, tzinfo=UTC)) == "25/11/2024"
    assert vn_date(date(2024, 11, 22)) == "22/11/2024"
    with pytest.raises(ValueError):
        vn_datetime(datetime(2024, 11, 25, 17, 0))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("28,692", "28.692"),
        ("8.5", "8.5"),
        ("0,75", "0.75"),
        (" 8,0 ", "8.0"),
        ("100", "100"),
        ("-1,5", "-1.5"),
        ("1.234,5", "1234.5"),
        (",5", "0.5"),
    ],
)
def test_parse_vn_decimal(text: str, value: str) -> None:
    assert parse_vn_decimal(text) == D(value)


@pytest.mark.parametrize(
    "text", ["", "abc", "12a", "XHH", "1,2,3", "NaN", "Infinity", "1e3", "2 điểm"]
)
def test_parse_vn_decimal_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_vn_decimal(text)
