"""A real console server and a real browser for the console tests.

``ConsoleServer.start(workspace)`` runs ``sopflow serve`` in a child process on a free port of 127.0.0.1, with
the workspace's own SQLite app database; ``open_browser()`` drives Debian's chromium through Playwright.
Screenshots go to ``test-artifacts/screenshots/`` (kept by CI as artifacts).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "console test password 1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sopflow(*args: str, workspace: Path, stdin: str | None = None, lang: str = "en") -> str:
    """Run the CLI on ``workspace``; fails the test with its output when it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "-m", "sopflow", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "SOPFLOW_HOME": str(workspace), "SOPFLOW_LANG": lang},
        timeout=120,
    )
    assert done.returncode == 0, f"sopflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def server_environment() -> dict[str, str]:
    """This process's environment without pytest's variables: NiceGUI behaves differently when it believes it
    runs under pytest (no gzip, no thread pool teardown), and the server must run as it does in production."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}


def create_user(workspace: Path, name: str, role: str, password: str = PASSWORD) -> None:
    sopflow(
        "users", "create", name, "--role", role, "--password", "-", workspace=workspace, stdin=password + "\n"
    )


@dataclass
class ConsoleServer:
    workspace: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, workspace: Path, *, env: dict[str, str] | None = None) -> ConsoleServer:
        port = free_port()
        log = workspace / "server.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "sopflow", "serve", "--port", str(port)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**server_environment(), "SOPFLOW_HOME": str(workspace), "SOPFLOW_LANG": "en", **(env or {})},
        )
        server = cls(workspace=workspace, port=port, process=process, log=log)
        server.wait_ready()
        return server

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/api/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"the server did not start in {timeout} s:\n{self.log.read_text(errors='replace')}"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def api(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """An HTTP client logged in as ``name``, sending the session's CSRF token on every request."""
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/api/v1/auth/login", json={"name": name, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client


def require_chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    return CHROMIUM


def login(
    page: object, server: ConsoleServer, name: str, password: str = PASSWORD, *, lang: str = "en"
) -> None:
    """Log in through the login page, in ``lang`` (the language switch's cookie)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.context.add_cookies([{"name": "sopflow_lang", "value": lang, "url": server.url}])
    page.goto(server.url + "/login")
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(server.url + "/")
    page.get_by_test_id("brand").wait_for()


def screenshot(page: object, name: str) -> Path:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
