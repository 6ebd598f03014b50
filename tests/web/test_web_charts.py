"""The server-drawn charts: labels escaped, numbers with a decimal comma, the title drawn and
named for screen readers; the histogram's buckets bound every total; the console's countdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from actions.console import countdown
from web.charts import bars, histogram


def test_bars_escape_labels_and_write_decimal_commas() -> None:
    svg = str(bars("Xếp hạng <nhóm>", [("UBND xã <A>", Decimal("94.5")), ("UBND xã B", 3)]))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert 'aria-label="Xếp hạng &lt;nhóm&gt;"' in svg
    assert "UBND xã &lt;A&gt;" in svg and "<A>" not in svg
    assert ">94,5<" in svg and ">3<" in svg
    assert str(bars("Trống", [])) == ""


def test_histogram_buckets_bound_every_total() -> None:
    svg = str(
        histogram(
            "Phân bố tổng điểm",
            [Decimal("100"), Decimal("95"), Decimal("-3"), Decimal("250"), Decimal("42.5")],
            maximum=Decimal(100),
        )
    )
    assert "90 – 100 điểm" in svg and "0 – 10 điểm" in svg and "40 – 50 điểm" in svg
    # 100, 95 and 250 (bounded to 100) fall in the last bucket; -3 (bounded to 0) in the first
    last = svg.split("90 – 100 điểm</text>")[1]
    assert last.split("</text>", 1)[0].endswith(">3")


def test_countdown_reads_in_vietnamese() -> None:
    now = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert countdown(now + timedelta(days=3, hours=4), now) == ("còn 3 ngày 4 giờ", False)
    assert countdown(now - timedelta(days=2), now) == ("quá hạn 2 ngày", True)
    assert countdown(now + timedelta(minutes=20), now) == ("còn 20 phút", False)
    assert countdown(None, now) == ("", False)
