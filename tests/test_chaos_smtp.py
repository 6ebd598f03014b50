"""The mailer under faults (issue 13): connections reused across batches, a server that went
away while a connection sat idle, and a server down for a while — every message sent once."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

from core.settings import Settings
from notifications.mailer import SmtpMailer, build_message
from notifications.sink import free_port, start_sink


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
