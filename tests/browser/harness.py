"""Constants and the server process shared by the browser tests' fixtures and tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("LABELER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
FAILURES = ROOT / "test-artifacts" / "failures"  # a screenshot of the page when a test fails
USERS = {"ana": "secret", "bob": "hunter2"}
SERVER_START_S = 60  # importing torch and gradio on two busy cores takes a while
TIMEOUT_MS = 15_000  # per Playwright wait


PAGE_NOTES = weakref.WeakKeyDictionary()  # Page → what a failure report shows (see `watch`)


def watch(page) -> None:
    """Note what a failure report needs and the test output would not show: errors the page
    logged (a Svelte or network error in the browser) and each (re)load of the page."""
    notes = PAGE_NOTES.setdefault(page, [])
    page.on("console", lambda m: m.type == "error" and notes.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: notes.append(f"page error: {e}"))
    page.on("framenavigated", lambda f: f == page.main_frame and notes.append(f"loaded {f.url}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m labeler serve` on a project, killed and restarted at will."""

    def __init__(self, project: Path, images: Path, log: Path) -> None:
        self.project, self.images, self.log = project, images, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        auth = [arg for user, pw in USERS.items() for arg in ("--auth", f"{user}:{pw}")]
        command = [sys.executable, "-m", "labeler", "serve", str(self.project)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port), *auth],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:  # wait for the port to accept connections
            if self.process.poll() is not None:
                pytest.fail(f"labeler serve exited:\n{self.log.read_text()}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"labeler serve did not start:\n{self.log.read_text()}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as when the machine loses power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
