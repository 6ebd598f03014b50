"""Notifications: Vietnamese templates, the outbox's exactly-once sending against a real SMTP
server (aiosmtpd), SMTP failures that retry without duplicates, reminders dropped after their
deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities.mail import MailActivities
from contracts.messages import DeadlineKind, NoticeKind, NoticeRequest
from core.db import session_scope
from models.tables import OutboxMessage
from notifications.mailer import SmtpMailer, is_permanent
from notifications.render import render
from notifications.sink import MailSink, free_port
from tests.histories.scenario import Seeded, local, seed_cycle, settings_for

YEAR = 2024


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    return seed_cycle(
        engine,
        year=YEAR,
        opens_at=local(YEAR, 11, 14, 8),
        cycle_id="2024-dinhhoa",
        units=(("binh-thanh", "UBND xã Bình Thành"),),
        real_table_for=(),
    )


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _rows(engine: Engine, prefix: str) -> list[OutboxMessage]:
    with session_scope(engine) as s:
        return list(
            s.exec(
                select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith(prefix))
            ).all()
        )


async def test_cycle_opening_mail_is_vietnamese_and_sent_exactly_once(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    port, sink = smtp
    settings = settings_for(port)
    mail = MailActivities(engine, settings, SmtpMailer(settings))
    req = NoticeRequest(
        kind=NoticeKind.cycle_opened,
        cycle_id=seeded.cycle_id,
        unit_code="binh-thanh",
        key="open",
        at=local(YEAR, 11, 14, 8),
    )
    first = await mail.notify(req)
    again = await mail.notify(req)  # a retry or a replay
    assert (first.sent, again.sent, again.messages) == (1, 0, 0)
    [msg] = await sink.wait_for(1)
    assert len(sink.messages) == 1
    assert msg["To"] == "Văn phòng – Thống kê UBND xã Bình Thành <vp@binh-thanh.test>"
    assert msg["Subject"] == (
        "Mở kỳ đánh giá: Đánh giá mức độ hoàn thành nhiệm vụ năm 2024 — xã huyện Định Hóa "
        "— UBND xã Bình Thành"
    )
    assert msg["X-Appraisal-Key"] == "2024-dinhhoa|binh-thanh|cycle_opened|open|vp-binh-thanh"
    text = _body(msg, "plain")
    assert text.startswith("Kính gửi Văn phòng – Thống kê UBND xã Bình Thành,")
    assert "- Hạn gửi kết quả tự chấm điểm: 17:00 ngày 22/11/2024" in text
    assert "- Phần mềm tự động khóa: 17:00 ngày 25/11/2024" in text
    assert "https://danhgia.dinhhoa.test/cycles/2024-dinhhoa/units/binh-thanh" in text
    html = _body(msg, "html")
    assert '<meta charset="utf-8">' in html
    assert '<a href="https://danhgia.dinhhoa.test/cycles/2024-dinhhoa/units/binh-thanh">' in html
    [row] = _rows(engine, "2024-dinhhoa|binh-thanh|cycle_opened|")
    assert row.status == "sent" and row.attempts == 1


async def test_smtp_failure_retries_then_sends_once(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    port, sink = smtp
    down = settings_for(free_port())  # nothing listens there
    req = NoticeRequest(
        kind=NoticeKind.locked,
        cycle_id=seeded.cycle_id,
        unit_code="binh-thanh",
        key="lock-test",
        at=local(YEAR, 11, 25, 17),
    )
    with pytest.raises(ApplicationError) as exc:
        await MailActivities(engine, down, SmtpMailer(down, timeout=2)).notify(req)
    assert exc.value.type == "smtp_failed" and not exc.value.non_retryable
    [row] = _rows(engine, "2024-dinhhoa|binh-thanh|locked|lock-test|")
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    up = settings_for(port)
    retry = await MailActivities(engine, up, SmtpMailer(up)).notify(req)
    assert retry.sent == 1
    await MailActivities(engine, up, SmtpMailer(up)).notify(req)
    [msg] = await sink.wait_for(1)
    assert len(sink.messages) == 1
    assert msg["Subject"] == "Phần mềm đã khóa: UBND xã Bình Thành chưa gửi kết quả"
    [row] = _rows(engine, "2024-dinhhoa|binh-thanh|locked|lock-test|")
    assert row.status == "sent" and row.attempts == 2


async def test_a_reminder_whose_deadline_passed_is_dropped_not_sent_late(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    port, sink = smtp
    deadline = datetime.now(UTC) - timedelta(minutes=5)
    req = NoticeRequest(
        kind=NoticeKind.reminder,
        cycle_id=seeded.cycle_id,
        unit_code="binh-thanh",
        key="submission|late|24h",
        at=deadline - timedelta(days=1),
        expires_at=deadline,
        deadline_kind=DeadlineKind.submission,
        deadline=deadline,
        offset="24h",
    )
    settings = settings_for(port)
    result = await MailActivities(engine, settings, SmtpMailer(settings)).notify(req)
    assert result.sent == 0 and result.dropped == result.messages == 1  # the office (no staff yet)
    assert {
        r.status for r in _rows(engine, "2024-dinhhoa|binh-thanh|reminder|submission|late")
    } == {"dropped"}
    assert sink.messages == []


def test_every_template_renders_in_vietnamese() -> None:
    ctx = {
        "recipient": {"name": "Lan", "email": "lan@binh-thanh.test", "role": "staff", "key": "x"},
        "cycle": {"id": "2024-dinhhoa", "title": "Kỳ đánh giá năm 2024", "year": 2024},
        "unit": {"code": "binh-thanh", "name": "UBND xã Bình Thành"},
        "link": "https://danhgia.dinhhoa.test/cycles/2024-dinhhoa/units/binh-thanh",
        "cycle_link": "https://danhgia.dinhhoa.test/cycles/2024-dinhhoa",
        "deadline": local(YEAR, 11, 22),
        "deadline_label": "hạn gửi kết quả tự chấm điểm",
        "offset_text": "còn 3 ngày",
        "reason": "Bổ sung tài liệu kiểm chứng <đã ký số>",
        "comment": "Thiếu số văn bản",
        "round_no": 1,
        "submission_deadline": local(YEAR, 11, 22),
        "hard_lock_at": local(YEAR, 11, 25),
        "state": "Đang tự chấm điểm",
        "timeline": [{"label": "Mở kỳ đánh giá", "at": local(YEAR, 11, 14, 8)}],
        "criteria": [{"code": "2.1.1", "title": "Lãnh đạo, chỉ đạo", "responsible": True}],
        "audience": "staff",
        "total": 69,
        "finished": 12,
        "unassigned": [],
        "staff": [{"name": "Lan", "unfinished": 3, "total": 30}],
        "submitted_at": local(YEAR, 11, 23, 9),
        "days_late": 1,
        "self_total": Decimal("94.500"),
        "content_hash": "ab" * 32,
        "items": [{"code": "2.1.1", "title": "Lãnh đạo", "question": "Số văn bản?"}],
        "final_total": Decimal("92.750"),
        "band": "Hoàn thành xuất sắc nhiệm vụ",
        "rank": 1,
        "group_size": 3,
        "followups": [{"title": "Báo cáo phân tích", "due": local(YEAR, 12, 30)}],
        "followup_title": "Báo cáo phân tích",
        "units": [
            {
                "code": "binh-thanh",
                "name": "UBND xã Bình Thành",
                "state": "Đang tự chấm điểm",
                "group": "commune",
                "total": Decimal("94.5"),
                "band": "Hoàn thành tốt nhiệm vụ",
                "rank": 2,
            }
        ],
    }
    for kind in NoticeKind:
        mail = render(kind.value, ctx)
        assert mail.subject and "{" not in mail.subject, kind
        assert mail.text.startswith("Kính gửi Lan,"), kind
        assert "Hệ thống đánh giá, xếp loại mức độ hoàn thành nhiệm vụ" in mail.text
        assert '<html lang="vi">' in mail.html
    sub = render("submitted", ctx)
    assert "Tổng điểm tự chấm: 94,5." in sub.text
    assert "chậm 1 ngày" in sub.text and "17:00 ngày 22/11/2024" in sub.text
    reopened = render("reopened", ctx)
    assert "&lt;đã ký số&gt;" in reopened.html and "<đã ký số>" in reopened.text


def test_permanent_smtp_errors_are_not_retried() -> None:
    assert is_permanent(ValueError("bad address"))
    assert not is_permanent(OSError("connection refused"))
