"""Browser tests: a real `labeler serve` subprocess on a project of real demo images, driven by
Playwright on Debian's Chromium. Screenshots of each view go to test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, FAILURES, PAGE_NOTES, ROOT, SCREENSHOTS, Server


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}; install it with "
            "`sudo apt-get install -y chromium` (or run scripts/install-test-deps)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from labeler.project import Project

    base = tmp_path_factory.mktemp("browser")
    images = base / "images"
    shutil.copytree(ROOT / "assets" / "demo", images)
    project, _ = Project.init(base / "project", images=images, progress=False)
    project.close()
    server = Server(base / "project", images, base / "server.log")
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def browser(chromium: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    """Every URL any test page requested."""
    return []


@pytest.fixture(scope="session")
def screenshot() -> Callable:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


SERVER_LOG_LINES = 40  # of the server's log in a failure report


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed browser test reports what the page and the server were doing: the tab shown,
    what the page logged and when it (re)loaded, the end of the server's log (a handler's
    traceback), and a screenshot. An assertion on the page alone cannot tell these apart."""
    report = (yield).get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    page, server = funcargs.get("page"), funcargs.get("server")
    if page is not None and not page.is_closed():
        FAILURES.mkdir(parents=True, exist_ok=True)
        shot = FAILURES / f"{item.name}.png"
        try:
            tab = page.locator("[role=tab][aria-selected=true]").all_inner_texts()
            page.screenshot(path=str(shot), full_page=True)
        except Exception as e:  # a page that no longer answers is itself worth reporting
            tab, shot = f"unknown ({e})", "none"
        notes = PAGE_NOTES.get(page, [])
        report.sections.append(
            ("page", "\n".join([f"url {page.url}, tab shown: {tab}, screenshot {shot}", *notes]))
        )
    if server is not None and server.log.is_file():
        tail = server.log.read_text(encoding="utf-8", errors="replace").splitlines()
        report.sections.append(("server log, last lines", "\n".join(tail[-SERVER_LOG_LINES:])))


def pytest_terminal_summary(terminalreporter) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_sep("-", f"browser screenshots: {SCREENSHOTS}")
