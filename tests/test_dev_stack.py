"""`appraisal dev`: the embedded stack starts, becomes ready, restarts on the same data, and
Ctrl-C leaves no process behind; a taken port is a clear error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from notifications.sink import free_port

ROOT = Path(__file__).resolve().parent.parent


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


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dev"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str], env: dict[str, str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        body = _readyz(env)
        if body and body.get("status") == "ready":
            return
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("stack not ready in time")


def _stop(proc: subprocess.Popen[str], data: Path) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    deadline = time.monotonic() + 10
    while _processes_using(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(data) == [], "processes left behind"
    return out


def test_dev_stack_starts_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    proc = _start(env)
    _wait_ready(proc, env)
    ns = subprocess.run(
        [str(Path(sys.executable).parent / "temporal"), "operator", "namespace", "describe",
         "--address", env["APPRAISAL_TEMPORAL_ADDRESS"], "--namespace", "appraisal", "-o", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(ns.stdout)["namespaceInfo"]["name"] == "appraisal"
    ui = f"http://127.0.0.1:{env['APPRAISAL_TEMPORAL_UI_PORT']}/"
    with urllib.request.urlopen(ui, timeout=5) as resp:
        assert resp.status == 200
    out = _stop(proc, data)
    assert "Temporal Web UI" in out and "/docs" in out
    assert (data / "temporal.db").exists() and (data / "appraisal.db").exists()

    # a second start reuses data/
    proc = _start(env)
    _wait_ready(proc, env)
    _stop(proc, data)


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(env["APPRAISAL_API_PORT"])))
        blocker.listen()
        proc = _start(env)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "port already in use" in out and f"API 127.0.0.1:{env['APPRAISAL_API_PORT']}" in out
    assert _processes_using(data) == []
