"""A menu entry's live count (``MenuEntry.badge``) in a real browser: open alerts, refreshed without a reload."""

from __future__ import annotations

import re

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_the_open_alert_count_beside_the_menu_entry_follows_new_alerts_without_a_reload(page, server, log_in):
    from udyog_test_notes.services import create_note, ensure_default_notebook

    log_in("owner@watch.test", "/core/branches")  # the one tenant with vigilance
    badge = page.locator('[data-menu-badge="vigilance.alerts"]')
    group = page.locator('[data-menu-badge="vigilance.root"]')
    expect(badge).to_have_count(1)
    expect(badge).to_be_hidden()  # no open alert yet: the count is there, hidden at 0
    page.evaluate("window.__same_page = true")  # gone if the page were reloaded

    # A note titled ALERT raises notes' test rule: the event is evaluated by the server's worker.
    with server.kernel.tenant_scope("watch") as scope:
        create_note(notebook_id=ensure_default_notebook().id, title="ALERT browser badge")
        scope.session.commit()

    # badges.js asks again whenever the page becomes visible (and every 30 s while it is).
    def poll() -> str:
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        return badge.inner_text()

    for _ in range(80):  # up to 40 s for the worker on a loaded machine
        if poll() == "1":
            break
        page.wait_for_timeout(500)
    expect(badge).to_have_text("1")
    expect(group).to_have_text("1")  # the group sums its children
    expect(group).to_be_visible()
    assert page.evaluate("window.__same_page") is True

    page.locator('[data-menu-key="vigilance.root"] > .dropdown-toggle').click()
    page.locator('[data-menu-key="vigilance.alerts"] a').click()
    expect(page).to_have_url(re.compile(r"/vigilance/alerts$"))
    expect(page.locator("main")).to_contain_text("Flagged note: ALERT browser badge")
