"""Browser tests: a real server (``udyog run``: gunicorn and the embedded job worker) and a real headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, or ``UDYOG_TEST_CHROMIUM``), driven
by Playwright's Python package with ``executable_path``: Playwright's own
browser downloads are never used (``playwright install`` is never needed).
Without a browser the tests are skipped, and under ``CI=true`` they fail.

One server and one browser serve the whole session; each test gets a fresh
browser context (no cookies) and so logs in anew. Every module is marked
``slow`` and put in the xdist group ``browser`` (one worker runs them all).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from udyog.testing import TEST_PASSWORD, build_kernel, create_member, free_port, save_screenshots, served_process

IN_CI = os.environ.get("CI", "").lower() == "true"

if IN_CI:
    import playwright  # noqa: F401 - under CI a missing Playwright fails the run (locally the modules skip)
#: How long Playwright waits for an element or a navigation (ms): generous for a loaded CI machine.
TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    """Debian's Chromium, or the one ``UDYOG_TEST_CHROMIUM`` names."""
    named = os.environ.get("UDYOG_TEST_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _resource(message: Any) -> bool:
    """A console error about a failed load (judged by the response listener, which knows the URL)."""
    return str(message.text).startswith("Failed to load resource")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}")
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    """Know the xdist group mark when xdist is off (``-p no:xdist``) too."""
    config.addinivalue_line("markers", "xdist_group(name): run in the same xdist worker as the group's other tests")


@dataclass
class Server:
    """The running server and what the tests may log in with."""

    url: str
    kernel: Any
    log: Path

    owner: str = "owner@acme.test"
    member: str = "member@acme.test"
    password: str = TEST_PASSWORD


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``udyog run`` on a free port over a prepared SQLite database.

    Tenants: *Acme Foods* (notes and ledger) and *Zenith Traders* (notes);
    the owner belongs to both, the member (role Member) to Acme only.
    """
    root = tmp_path_factory.mktemp("browser")
    database = f"sqlite:///{root / 'udyog.db'}"
    kernel = build_kernel(database, ["notes", "ledger", "vigilance"], data_dir=str(root))
    from udyog.tenancy import create_tenant

    create_tenant(kernel, "acme", "Acme Foods", plugins=["notes", "ledger"])
    create_tenant(kernel, "zenith", "Zenith Traders", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Asha Owner")
    create_member(kernel, "zenith", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",), name="Manoj Member")
    create_tenant(kernel, "watch", "Watch Co", plugins=["notes", "vigilance"])  # the live-count test's
    create_member(kernel, "watch", "owner@watch.test", roles=("Owner",), name="Wasim Watch")
    plugins = root / "plugins.toml"
    plugins.write_text('[deployment]\nenabled = ["notes", "ledger", "vigilance"]\nstrict = true\n')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_")}
    env.update(UDYOG_DATABASE_URL=database, UDYOG_DATA_DIR=str(root), UDYOG_PLUGINS_FILE=str(plugins))
    log = root / "server.log"
    command = [sys.executable, "-m", "udyog.cli", "run", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    try:
        with served_process(command, port=port, env=env, log=log) as url:
            yield Server(url, kernel, log)
    finally:
        kernel.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (Debian's, never a downloaded one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium, or set UDYOG_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


#: Where a failed test's screenshot goes (``UDYOG_TEST_ARTIFACTS`` overrides; gitignored).
ARTIFACTS = Path(os.environ.get("UDYOG_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember each phase's report on the test item, so fixtures know in teardown whether the test failed."""
    report = yield
    setattr(item, f"udyog_report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page (a new browser context: no cookies) on the server, desktop-sized.

    When the test fails, every page of its context is screenshotted into
    ``tests/artifacts/screenshots/`` before the context closes.
    """
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not _resource(msg) else None)

    def failed(response: Any) -> None:
        # Pages the tests open on purpose (404 pages, 422 forms) are documents; assets must all load.
        asset = response.request.resource_type != "document"
        if asset and response.status >= 400 and not response.url.endswith("/favicon.ico"):  # asked for by itself
            errors.append(f"{response.status} {response.url}")

    page.on("response", failed)
    try:
        yield page
    finally:
        save_screenshots(request.node, context.pages, ARTIFACTS / "screenshots")
        context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.fixture
def log_in(page: Any, server: Server) -> Any:
    """``log_in(email, path="/")``: log in through the form; the login page sends the browser back to ``path``."""
    from playwright.sync_api import expect

    def log_in(email: str, path: str = "/") -> Any:
        page.goto(path)
        expect(page.locator("#email")).to_be_visible()
        page.fill("#email", email)
        page.fill("#password", server.password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#udyog-user-menu")).to_be_visible()
        page.wait_for_load_state("load")  # Bootstrap's script drives the dropdowns: wait until it ran
        return page

    return log_in
