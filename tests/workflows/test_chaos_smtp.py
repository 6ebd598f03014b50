"""The mailer under faults (issue 13): connections reused across batches, a server that went
away while a connection sat idle, and a server down for a while — every message sent once."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from core.db import session_scope
from core.settings import Settings
from models.tables import OutboxMessage
from notifications.mailer import SmtpMailer, build_message
from notifications.sink import MailSink, free_port, start_sink
from tests.histories.scenario import seed_cycle, settings_for, worker_for
from workflows import commands as C


def _messages(prefix: str, n: int) -> list[Message]:
    return [
        build_message(
            from_addr="Hệ thống <no-reply@appraisal.local>",
            to_addr=f"vanphong{i}@xa.test",
            subject=f"Nhắc hạn nộp {i}",
            text="Còn 3 ngày.",
            html="<p>Còn 3 ngày.</p>",
            key=f"{prefix}|{i}",
            date=datetime.now(UTC),
        )
        for i in range(n)
    ]


def _settings(port: int, tmp: Path) -> Settings:
    return Settings(_env_file=None, smtp_host="127.0.0.1", smtp_port=port, data_dir=tmp)


async def test_batches_reuse_one_connection(tmp_path: Path) -> None:
    port = free_port()
    controller, sink = start_sink("127.0.0.1", port)
    mailer = SmtpMailer(_settings(port, tmp_path))
    try:
        for batch in range(20):  # one batch per unit, as a reminder time fans out
            outcomes = await mailer.send_many(_messages(f"reuse-{batch}", 2))
            assert outcomes == [None, None]
        await sink.wait_for(40)
        keys = [str(m["X-Appraisal-Key"]) for m in sink.messages]
        print(f"\n20 batches, 40 messages: {mailer.connections_opened} connection(s) opened")
        assert len(keys) == len(set(keys)) == 40
        assert mailer.connections_opened == 1
    finally:
        await mailer.close()
        controller.stop()


class _NoopCounter(MailSink):
    """The sink, counting the NOOPs it is sent."""

    noops = 0

    async def handle_NOOP(self, server: object, session: object, envelope: object, arg: str) -> str:
        self.noops += 1
        return "250 OK"


async def test_a_connection_is_checked_with_noop_only_after_an_idle_spell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches in quick succession (a reminder time's fan-out) reuse the connection without a
    NOOP round trip; after NOOP_AFTER_S idle (here 0.3 s) it is checked once before use."""
    from aiosmtpd.controller import Controller

    import notifications.mailer

    monkeypatch.setattr(notifications.mailer, "NOOP_AFTER_S", 0.3)
    port = free_port()
    sink = _NoopCounter()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    mailer = SmtpMailer(_settings(port, tmp_path))
    try:
        for batch in range(5):
            assert await mailer.send_many(_messages(f"quick-{batch}", 1)) == [None]
        assert sink.noops == 0
        await asyncio.sleep(0.6)
        assert await mailer.send_many(_messages("after-idle", 1)) == [None]
        await sink.wait_for(6)
        assert sink.noops == 1 and mailer.connections_opened == 1
    finally:
        await mailer.close()
        controller.stop()


async def test_a_connection_the_server_closed_while_idle_is_not_used(tmp_path: Path) -> None:
    """The server stays up but ends idle sessions (its own timeout, here 0.3 s): the next batch
    comes within NOOP_AFTER_S, so no NOOP is sent — the close was seen and a fresh connection
    is opened; no message fails."""
    from aiosmtpd.controller import Controller

    port = free_port()
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ready_timeout=10, timeout=0.3)
    controller.start()
    mailer = SmtpMailer(_settings(port, tmp_path), timeout=2)
    try:
        assert await mailer.send_many(_messages("idle-a", 1)) == [None]
        await asyncio.sleep(1.0)  # the server closes the idle session meanwhile
        assert await mailer.send_many(_messages("idle-b", 1)) == [None]
        await sink.wait_for(2)
        print(f"\nserver closed the idle connection: {mailer.connections_opened} opened")
        assert [str(m["X-Appraisal-Key"]) for m in sink.messages] == ["idle-a|0", "idle-b|0"]
        assert mailer.connections_opened == 2
    finally:
        await mailer.close()
        controller.stop()


async def test_server_gone_and_back_sends_each_message_once(tmp_path: Path) -> None:
    port = free_port()
    controller, sink = start_sink("127.0.0.1", port)
    mailer = SmtpMailer(_settings(port, tmp_path), timeout=2)
    try:
        assert await mailer.send_many(_messages("before", 1)) == [None]
        controller.stop()  # the idle connection dies with the server

        down = await mailer.send_many(_messages("down", 2))
        assert len(down) == 2 and None not in down

        controller, sink_after = start_sink("127.0.0.1", port)
        again = await mailer.send_many(_messages("down", 2))  # the activity's retry
        assert again == [None, None]
        await sink_after.wait_for(2)
        keys = [str(m["X-Appraisal-Key"]) for m in sink_after.messages]
        print(f"\nserver down: {len(down)} refused, after restart {len(keys)} sent once each")
        assert sorted(keys) == ["down|0", "down|1"]
        assert len(sink.messages) == 1
    finally:
        await mailer.close()
        controller.stop()


@pytest.mark.temporal
async def test_smtp_down_across_the_opening_sends_each_notice_once_when_it_returns(
    temporal_dev: WorkflowEnvironment, engine: Engine
) -> None:
    """The mail server is down when the cycle opens (a timer of every unit workflow): the
    notices are retried (MAIL_RETRY backs off from 10 s) and each arrives once when it is
    back. (A reminder whose deadline passed meanwhile is dropped instead: test_notifications.)"""
    client = temporal_dev.client
    port = free_port()  # nothing listens there yet
    tag = uuid.uuid4().hex[:6]
    units = [(f"m{tag}-{i}", f"UBND xã Thư {i}") for i in range(3)]
    opens_at = datetime.now(UTC) + timedelta(seconds=8)
    seeded = seed_cycle(
        engine, year=opens_at.year + 1, opens_at=opens_at, units=units, real_table_for=()
    )
    queue = f"smtp-down-{tag}"
    controller = None
    async with worker_for(client, engine, settings_for(port), queue):
        assert await C.start_cycle(client, engine, seeded.cycle_id, task_queue=queue) == 3
        while datetime.now(UTC) < opens_at + timedelta(seconds=3):  # first attempts fail
            await asyncio.sleep(0.2)
        failed = _outbox(engine, seeded.cycle_id)
        controller, sink = start_sink("127.0.0.1", port)
        try:
            deadline = time.monotonic() + 90
            while len(_opening_keys(sink, seeded.cycle_id)) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # a twin would arrive within this
            keys = _opening_keys(sink, seeded.cycle_id)
        finally:
            controller.stop()
    print(
        f"\nSMTP down at the opening: {failed} notices pending with an error while it was "
        f"down; {len(keys)} received after it came back, {len(set(keys))} distinct"
    )
    assert failed == 3
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 3


def _opening_keys(sink: MailSink, cycle_id: str) -> list[str]:
    return [
        str(m["X-Appraisal-Key"]).strip()
        for m in sink.messages
        if str(m["X-Appraisal-Key"]).startswith(f"{cycle_id}|")
        and "|cycle_opened|" in str(m["X-Appraisal-Key"])
    ]


def _outbox(engine: Engine, cycle_id: str) -> int:
    """Outbox rows of the cycle still pending after a failed attempt."""
    with session_scope(engine) as s:
        rows = s.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.idempotency_key).startswith(f"{cycle_id}|")
            )
        ).all()
    return sum(1 for r in rows if r.status == "pending" and r.attempts >= 1 and r.last_error)
