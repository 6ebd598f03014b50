"""Pure parts of the cycle: the reminder plan, local times, days late, the state machine table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.ids import request_key
from models.tables import UnitState
from services.transitions import days_late
from tests.histories.scenario import local
from workflows.states import ALLOWED, BEFORE_SUBMISSION, refuse_state
from workflows.timeline import at_local, local_text, morning_of, plan_reminders

LOCK = local(2024, 11, 25, 17, 0)  # "Từ 17 giờ 00 phút ngày 25/11/2024 phần mềm sẽ tự động khóa"
SUBMISSION = local(2024, 11, 22, 17, 0)  # the seed's "chậm nhất trong ngày 22/11/2024"


def test_default_reminders_fall_7_3_1_days_before_and_the_morning_of() -> None:
    plan = plan_reminders("submission", SUBMISSION, (168, 72, 24, 0), after=local(2024, 11, 1, 8))
    assert [(r.offset, local_text(r.at)) for r in plan] == [
        ("168h", "17:00 ngày 15/11/2024"),
        ("72h", "17:00 ngày 19/11/2024"),
        ("24h", "17:00 ngày 21/11/2024"),
        ("morning", "07:00 ngày 22/11/2024"),
    ]
    assert plan[0].key == "submission|2024-11-22T10:00:00+00:00|168h"


def test_reminders_before_the_deadline_was_known_are_not_planned() -> None:
    # The hard lock's reminders start after the submission deadline (17:00 22/11): the 72-hour
    # one would fall exactly on it and is not planned; nothing falls at or after the lock.
    plan = plan_reminders("hard_lock", LOCK, (168, 72, 24, 0), after=SUBMISSION)
    assert [local_text(r.at) for r in plan] == ["17:00 ngày 24/11/2024", "07:00 ngày 25/11/2024"]
    # An extension made on 23/11 to 17:00 29/11: the 7-day reminder (22/11) is already past.
    moved = plan_reminders(
        "submission", local(2024, 11, 29), (168, 72, 24, 0), after=local(2024, 11, 23, 9)
    )
    assert [r.offset for r in moved] == ["72h", "24h", "morning"]


def test_a_deadline_before_seven_in_the_morning_has_no_morning_reminder() -> None:
    early = local(2024, 11, 25, 6, 30)
    assert [r.offset for r in plan_reminders("x", early, (24, 0), after=local(2024, 11, 1))] == [
        "24h"
    ]


def test_local_times_without_the_tz_database() -> None:
    assert local_text(LOCK) == "17:00 ngày 25/11/2024"
    assert morning_of(LOCK) == datetime(2024, 11, 25, 0, 0, tzinfo=UTC)
    # Follow-ups: "chậm nhất 10 ngày sau khi … công bố" → 17:00 on the 10th day.
    published = local(2024, 12, 20, 15, 30)
    assert local_text(at_local(published, days=10)) == "17:00 ngày 30/12/2024"
    assert local_text(at_local(local(2024, 12, 31, 23, 30), days=1)) == "17:00 ngày 01/01/2025"


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        (local(2024, 11, 22, 16, 59), 0),
        (SUBMISSION, 0),
        (local(2024, 11, 22, 18, 0), 1),  # late the same evening: one day late
        (local(2024, 11, 23, 6, 0), 1),  # 23:00 UTC on the 22nd is already the 23rd locally
        (local(2024, 11, 25, 9, 0), 3),
    ],
)
def test_days_late_are_counted_in_local_calendar_days(submitted: datetime, expected: int) -> None:
    assert days_late(SUBMISSION, submitted) == expected


def test_state_machine_table() -> None:
    assert ALLOWED["submit"] == {UnitState.drafting, UnitState.unit_review}
    assert ALLOWED["assign"] == BEFORE_SUBMISSION
    assert UnitState.published not in ALLOWED["cancel"]
    assert UnitState.not_submitted in ALLOWED["reopen"]
    # Every state but the terminal ones has a way forward.
    reachable = set().union(*ALLOWED.values())
    assert reachable >= set(UnitState) - {UnitState.cancelled}
    err = refuse_state("submit", UnitState.submitted)
    assert err.type == "invalid_state"
    assert err.non_retryable
    assert err.details == (
        "Không thể gửi kết quả khi đơn vị ở trạng thái “Đã gửi kết quả”.",
        "Cannot submit while the unit is submitted.",
    )


def test_request_keys_fit_the_audit_column() -> None:
    wf = "cycle-" + "c" * 64 + "/unit-" + "u" * 64
    key = request_key(wf, "u", "x" * 80)
    assert len(key) <= 200
    assert key != request_key(wf, "u", "y" * 80)
    assert request_key("cycle-2024/unit-bt", "lock", "t") == "cycle-2024/unit-bt/lock/t"
