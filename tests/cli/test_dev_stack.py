"""`appraisal dev`: the embedded stack starts, becomes ready, restarts on the same data, and
Ctrl-C leaves no process behind; a taken port is a clear error."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from notifications.sink import free_port
from tests.db_support import journal_mode

ROOT = Path(__file__).resolve().parents[2]


def _env(data: Path) -> dict[str, str]:
    temporal = free_port()
    return {
        **os.environ,
        "APPRAISAL_DATA_DIR": str(data),
        "APPRAISAL_DATABASE_URL": "",
        "APPRAISAL_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "APPRAISAL_TEMPORAL_UI_PORT": str(free_port()),
        "APPRAISAL_TEMPORAL_NAMESPACE": "appraisal",
        "APPRAISAL_SMTP_PORT": str(free_port()),
        "APPRAISAL_API_PORT": str(free_port()),
    }


def _readyz(env: dict[str, str]) -> dict[str, object] | None:
    url = f"http://127.0.0.1:{env['APPRAISAL_API_PORT']}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body: dict[str, object] = json.loads(resp.read())
            return body
    except Exception:
        return None


def _processes_using(data: Path) -> list[int]:
    """PIDs whose command line or environment mentions this test's data directory."""
    found = []
    marker = str(data).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in blob:
            found.append(int(entry.name))
    return found


class Stack:
    """`appraisal dev` as a child process, its output collected line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dev", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _start(env: dict[str, str], *args: str) -> Stack:
    return Stack(env, *args)


def _wait_ready(stack: Stack, env: dict[str, str], timeout: float = 240) -> None:
    """Ready: /readyz says so and the supervisor printed its banner (it is then watching)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert stack.proc.poll() is None, stack.output
        body = _readyz(env)
        if body and body.get("status") == "ready" and "Ctrl-C" in stack.output:
            return
        time.sleep(0.5)
    stack.proc.kill()
    raise AssertionError(f"stack not ready in time:\n{stack.output}")


def _stop(stack: Stack, data: Path) -> str:
    stack.proc.send_signal(signal.SIGINT)
    stack.proc.wait(timeout=60)
    stack.reader.join(timeout=10)
    out = stack.output
    assert stack.proc.returncode == 0, out
    deadline = time.monotonic() + 10
    while _processes_using(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(data) == [], "processes left behind"
    return out


def _temporal(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "temporal"), *args,
         "--address", env["APPRAISAL_TEMPORAL_ADDRESS"], "--namespace", "appraisal", "-o", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout


def _demo_workflows(env: dict[str, str]) -> list[str]:
    out = _temporal(
        env, "workflow", "list", "--query", "AppraisalCycle='demo-dinh-hoa' AND "
        "ExecutionStatus='Running'",
    )  # fmt: skip
    return sorted(w["execution"]["workflowId"] for w in json.loads(out or "[]"))


def _mail_subjects(data: Path) -> list[str]:
    subjects = []
    for path in sorted((data / "mail").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        subjects.append(str(msg["Subject"]))
    return subjects


def test_dev_stack_with_demo_starts_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    stack = _start(env, "--demo")
    _wait_ready(stack, env)
    namespace = json.loads(_temporal(env, "operator", "namespace", "describe"))
    assert namespace["namespaceInfo"]["name"] == "appraisal"
    ui = f"http://127.0.0.1:{env['APPRAISAL_TEMPORAL_UI_PORT']}/"
    with urllib.request.urlopen(ui, timeout=5) as resp:
        assert resp.status == 200
    # the demo cycle: a cycle workflow and one workflow per commune, searchable by attribute
    expected = [
        "cycle-demo-dinh-hoa",
        "cycle-demo-dinh-hoa/unit-binh-thanh",
        "cycle-demo-dinh-hoa/unit-dinh-bien",
        "cycle-demo-dinh-hoa/unit-kim-phuong",
        "cycle-demo-dinh-hoa/unit-phu-dinh",
    ]
    assert _demo_workflows(env) == expected
    # the opening notices and the assignment digests are in data/mail/
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_mail_subjects(data)) < 4:
        time.sleep(0.5)
    first = _mail_subjects(data)
    assert sum(s.startswith("Mở kỳ đánh giá") for s in first) == 4
    assert any(s.startswith("Phân công tự chấm điểm") for s in first)
    # the demo accounts the README names can sign in
    api = f"http://127.0.0.1:{env['APPRAISAL_API_PORT']}/api/auth/token"
    for username in ("vp.binh-thanh", "lan.binh-thanh", "td.phong-noi-vu"):
        form = urllib.parse.urlencode({"username": username, "password": "demo-matkhau"})
        with urllib.request.urlopen(api, data=form.encode(), timeout=10) as resp:
            assert "access_token" in json.loads(resp.read())
    out = _stop(stack, data)
    assert "Temporal Web UI" in out and "/docs" in out
    assert (data / "temporal.db").exists() and (data / "appraisal.db").exists()
    # the dev server's store runs with a write-ahead log (core.temporal.DEV_SERVER_PRAGMAS)
    assert journal_mode(data / "temporal.db") == "wal"

    # a second start reuses data/: the same workflows, nothing created or mailed twice
    stack = _start(env, "--demo")
    _wait_ready(stack, env)
    assert "mới tạo: 0 mục" in stack.output
    assert _demo_workflows(env) == expected
    again = _mail_subjects(data)
    for prefix in ("Mở kỳ đánh giá", "Phân công tự chấm điểm"):
        assert sum(s.startswith(prefix) for s in again) == sum(s.startswith(prefix) for s in first)
    _stop(stack, data)


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["APPRAISAL_API_PORT"])))
        blocker.listen()
        stack = _start(env)
        stack.proc.wait(timeout=60)
        stack.reader.join(timeout=10)
        out = stack.output
    assert stack.proc.returncode == 1
    assert "port already in use" in out and f"API 127.0.0.1:{env['APPRAISAL_API_PORT']}" in out
    assert _processes_using(data) == []


def test_a_dying_child_stops_the_whole_stack(tmp_path: Path) -> None:
    """Nothing restarts silently: when the worker dies, the supervisor stops everything."""
    data = tmp_path / "data"
    env = _env(data)
    stack = _start(env)
    _wait_ready(stack, env)
    workers = [
        pid
        for pid in _processes_using(data)
        if b"cli.main\x00worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    stack.proc.wait(timeout=60)
    stack.reader.join(timeout=10)
    assert stack.proc.returncode != 0
    assert "worker đã dừng" in stack.output and "dừng toàn bộ" in stack.output
    deadline = time.monotonic() + 10
    while _processes_using(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(data) == []
