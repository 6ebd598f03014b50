"""The outbox's claims (issue 13): a row is claimed by one send attempt before it is sent and
settled in one short transaction right after the server's answer. Two attempts never send the
same row at once; a row left ``sending`` by a dead attempt is taken over once its lease passed;
a retried attempt of the mail activity sends only what is unsettled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities.mail import MailActivities, notice_prefix
from contracts.messages import NoticeKind, NoticeRequest
from core.db import session_scope
from models.tables import OutboxMessage
from notifications.mailer import SmtpMailer
from notifications.sink import MailSink
from services import outbox
from services.outbox import CLAIM_LEASE, Claim
from tests.db_support import captured, query_plan
from tests.histories.scenario import Seeded, local, seed_cycle, settings_for

YEAR = 2031
T0 = datetime(2031, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Seeded:
    return seed_cycle(
        engine,
        year=YEAR,
        opens_at=local(YEAR, 11, 14, 8),
        units=(("claim-xa", "UBND xã Thử Claim"),),
        real_table_for=(),
    )


def _rows(engine: Engine, n: int, tag: str) -> list[int]:
    keys = [f"claims|{tag}|{i}" for i in range(n)]
    items = [
        outbox.OutboxItem(key=k, to_addr="a@x.test", subject="s", text="t", html="h") for k in keys
    ]
    outbox.enqueue_all(engine, items, at=T0)
    return [r.id or 0 for r in outbox.pending(engine, keys)]


def _row(engine: Engine, row_id: int) -> OutboxMessage:
    with session_scope(engine) as s:
        row = s.get(OutboxMessage, row_id)
        assert row is not None
        return row


def test_one_attempt_at_a_time_until_the_lease_passes(engine: Engine) -> None:
    [row] = _rows(engine, 1, "lease")
    assert outbox.claim(engine, Claim(row, "attempt-1", T0))
    assert outbox.claim(engine, Claim(row, "attempt-1", T0))  # its own claim again: fine
    # Another attempt while the first may still be sending: refused, also for dropping.
    assert not outbox.claim(engine, Claim(row, "attempt-2", T0 + CLAIM_LEASE))
    assert not outbox.mark_dropped(engine, Claim(row, "attempt-2", T0), "late")
    # A failure reported by the other attempt does not touch the first one's claim.
    outbox.mark_failed(engine, row, "boom", token="attempt-2")
    got = _row(engine, row)
    assert (got.status, got.claimed_by, got.attempts) == ("sending", "attempt-1", 0)
    # Once the lease passed, the first attempt has finished or died: the row may be taken.
    later = T0 + CLAIM_LEASE + timedelta(seconds=1)
    assert outbox.claim(engine, Claim(row, "attempt-2", later))
    assert not outbox.claim(engine, Claim(row, "attempt-1", later))
    assert outbox.mark_sent(engine, row, later)
    got = _row(engine, row)
    assert (got.status, got.claimed_by, got.attempts) == ("sent", "attempt-2", 1)
    # Settled: nobody claims it again, whatever the clock.
    assert not outbox.claim(engine, Claim(row, "attempt-3", later + CLAIM_LEASE * 10))


def test_settling_a_row_claims_the_next_in_the_same_transaction(engine: Engine) -> None:
    first, second, third = _rows(engine, 3, "next")
    assert outbox.claim(engine, Claim(first, "a", T0))
    assert outbox.claim(engine, Claim(third, "other", T0))
    assert outbox.mark_sent(engine, first, T0, claim_next=Claim(second, "a", T0))
    assert _row(engine, second).status == "sending"
    # A transient failure puts the row back (claim released) and may claim the next one:
    # here the next one is another attempt's, so the claim is refused.
    assert not outbox.mark_failed(
        engine, second, "4xx", token="a", claim_next=Claim(third, "a", T0)
    )
    got = _row(engine, second)
    assert (got.status, got.claimed_by, got.last_error) == ("pending", None, "4xx")
    assert _row(engine, third).claimed_by == "other"
    outbox.release(engine, "other", [third])
    assert (_row(engine, third).status, _row(engine, third).claimed_by) == ("pending", None)


async def test_a_retry_sends_only_what_a_dead_attempt_left_unsettled(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    """A worker killed mid-notice: one row sent, one claimed (in doubt), one untouched. The
    next attempt sends the untouched one at once, refuses the one in doubt while its lease
    runs (retried: ``outbox_claimed``), and re-sends it after the lease; never the sent one."""
    port, sink = smtp
    settings = settings_for(port)
    req = _published(seeded, "published-claims", day=20)
    mail = MailActivities(engine, settings, SmtpMailer(settings))
    rows = await _prepared(mail, req)  # the dead attempt stored the rows, claiming the first
    assert len(rows) == 2  # the coordinator and the council
    now = datetime.now(UTC)
    sent, doubt = rows[0].id or 0, rows[1].id or 0
    assert outbox.claim(engine, Claim(sent, "dead", now)) and outbox.mark_sent(engine, sent, now)
    assert outbox.claim(engine, Claim(doubt, "dead", now))
    with pytest.raises(ApplicationError) as exc:
        await mail.notify(req)
    assert exc.value.type == "outbox_claimed" and not exc.value.non_retryable
    assert len(sink.messages) == 0
    # The lease of the dead attempt's claim passes.
    with session_scope(engine, write=True) as s:
        row = s.get(OutboxMessage, doubt)
        assert row is not None
        row.claimed_at = now - CLAIM_LEASE - timedelta(seconds=1)
        s.add(row)
    result = await mail.notify(req)
    assert (result.messages, result.sent) == (1, 1)
    [msg] = await sink.wait_for(1)
    assert str(msg["X-Appraisal-Key"]).strip() == rows[1].idempotency_key
    assert {r.status for r in await _prepared(mail, req, every=True)} == {"sent"}


async def test_the_first_attempt_stores_its_first_message_already_claimed(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    """Storing a notice claims the message about to be sent in the same transaction (no
    separate claim write); the others stay pending. Another attempt cannot take that row while
    the lease runs; a later attempt stores nothing again. A whole attempt sends every message
    once and settles them all."""
    port, sink = smtp
    settings = settings_for(port)
    req = _published(seeded, "published-stored-claimed", day=21)
    mail = MailActivities(engine, settings, SmtpMailer(settings))
    first, second = await _prepared(mail, req, token="storer")
    assert (first.status, first.claimed_by) == ("sending", "storer")
    assert (second.status, second.claimed_by) == ("pending", None)
    assert first.id is not None and second.id is not None
    now = datetime.now(UTC)
    assert not outbox.claim(engine, Claim(first.id, "other", now))
    assert outbox.claim(engine, Claim(first.id, "storer", now))  # still the storer's
    # A later attempt finds both stored and does not store or claim again.
    again = await _prepared(mail, req, token="later")
    assert [(r.id, r.status, r.claimed_by) for r in again] == [
        (first.id, "sending", "storer"),
        (second.id, "pending", None),
    ]
    fresh = _published(seeded, "published-stored-sent", day=22)
    result = await mail.notify(fresh)
    assert (result.messages, result.sent) == (2, 2)
    keys = sorted(str(m["X-Appraisal-Key"]).strip() for m in await sink.wait_for(2))
    rows = await _prepared(mail, fresh, every=True)
    assert keys == sorted(r.idempotency_key for r in rows)
    assert {r.status for r in rows} == {"sent"}
    assert len({r.claimed_by for r in rows}) == 1  # one attempt claimed and sent both


def _published(seeded: Seeded, key: str, *, day: int) -> NoticeRequest:
    """The cycle's results-published notice (to the coordinator and the council) under ``key``."""
    return NoticeRequest(
        kind=NoticeKind.results_published,
        cycle_id=seeded.cycle_id,
        key=key,
        at=local(YEAR, 12, day, 9),
    )


async def _prepared(
    mail: MailActivities, req: NoticeRequest, *, every: bool = False, token: str = "dead"
) -> list[OutboxMessage]:
    import asyncio

    unsettled = await asyncio.to_thread(mail._prepare, req, token)
    if not every:
        return unsettled
    with session_scope(mail.engine) as s:
        return list(
            s.exec(
                select(OutboxMessage).where(
                    col(OutboxMessage.idempotency_key).startswith(notice_prefix(req))
                )
            ).all()
        )


async def test_a_busy_database_after_the_250_is_waited_out_not_a_second_send(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server took the message but recording "sent" meets a busy database (SQLite's
    writer queue full under a rush): the write is retried, the row ends sent, and no later
    attempt sends it again."""
    port, sink = smtp
    settings = settings_for(port)
    req = _published(seeded, "published-busy", day=21)
    real = outbox.mark_sent
    refusals = [2]

    def busy_then_real(*args: object, **kw: object) -> bool:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise OperationalError("UPDATE outbox_message", None, Exception("database is locked"))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "mark_sent", busy_then_real)
    mail = MailActivities(engine, settings, SmtpMailer(settings))
    result = await mail.notify(req)
    assert (result.messages, result.sent) == (2, 2) and refusals == [0]
    got = await sink.wait_for(2)
    keys = [str(m["X-Appraisal-Key"]).strip() for m in got]
    assert len(keys) == len(set(keys)) == 2
    assert {r.status for r in await _prepared(mail, req, every=True)} == {"sent"}
    again = await mail.notify(req)  # a retried activity: nothing left to send
    assert again.sent == 0 and len(sink.messages) == 2


async def test_an_attempt_finds_its_notice_by_index_not_by_scanning_all_mail(
    engine: Engine, seeded: Seeded, smtp: tuple[int, MailSink]
) -> None:
    """Every row of a notice carries the notice's key (``notice_prefix``), and a later attempt
    looks its rows up by an equality that ``ix_outbox_notice`` (migration 0008) serves: a prefix
    LIKE scanned every message ever stored, once per reminder (O(N²) for a fan-out)."""
    port, _sink = smtp
    settings = settings_for(port)
    req = _published(seeded, "published-indexed", day=23)
    mail = MailActivities(engine, settings, SmtpMailer(settings))
    stored = await _prepared(mail, req, token="indexer")
    assert len(stored) == 2
    assert {r.notice_key for r in stored} == {notice_prefix(req)}
    assert all(r.idempotency_key.startswith(r.notice_key) for r in stored)
    with captured(engine, "FROM outbox_message") as seen:
        again = await _prepared(mail, req, token="later")  # found, not stored again
    assert [r.id for r in again] == [r.id for r in stored]
    assert len(seen) == 2, seen  # is the notice stored? its unsettled rows
    for statement, params in seen:
        assert "LIKE" not in statement.upper(), statement
        plan = query_plan(engine, statement, params)
        assert "ix_outbox_notice" in plan, plan
