"""The shell in a real browser: login and logout, the menu, the tenant switcher, the bell, the jobs page, layouts."""

from __future__ import annotations

import re

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_login_rejects_a_wrong_password_then_logs_in_and_out(page, server):
    page.goto("/core/branches")
    expect(page).to_have_url(re.compile(r"/login\?next=/core/branches$"))
    page.fill("#email", server.owner)
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid e-mail or password.")
    expect(page.locator("#email")).to_have_value(server.owner)

    page.fill("#password", server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/core/branches$"))  # back where the browser wanted to go
    expect(page.get_by_role("heading", name="Branches")).to_be_visible()
    page.wait_for_load_state("load")

    page.locator("#udyog-user-menu .dropdown-toggle").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))  # the login is over


def test_the_menu_opens_pages_and_the_tenant_switcher_changes_tenant(page, server, log_in):
    log_in(server.owner)
    expect(page.locator("#tenant-name")).to_have_text("Acme Foods")
    menu = page.locator("#udyog-menu")
    expect(menu.locator('[data-menu-key="ledger.vouchers"]')).to_be_visible()
    expect(menu.locator('[data-menu-key="notes.notes"]')).to_be_visible()

    admin = menu.locator('[data-menu-key="core.admin"] > .dropdown-toggle')
    admin.click()
    menu.get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/core/users$"))
    expect(page.locator("main")).to_contain_text(server.owner)
    expect(admin).to_have_class(re.compile(r"\bactive\b"))  # the open page's group is marked

    page.wait_for_load_state("load")
    page.locator("#udyog-tenant-switcher .dropdown-toggle").click()
    page.locator("#udyog-tenant-switcher").get_by_role("button", name="Zenith Traders").click()
    expect(page.locator("#tenant-name")).to_have_text("Zenith Traders")
    expect(menu.locator('[data-menu-key="notes.notes"]')).to_be_visible()
    expect(menu.locator('[data-menu-key="ledger.vouchers"]')).to_have_count(0)  # Zenith has no ledger
    page.goto("/ledger/vouchers")
    expect(page.locator("main")).to_contain_text("Page not found")

    page.goto("/")
    page.wait_for_load_state("load")
    page.locator("#udyog-tenant-switcher .dropdown-toggle").click()
    page.locator("#udyog-tenant-switcher").get_by_role("button", name="Acme Foods").click()
    expect(page.locator("#tenant-name")).to_have_text("Acme Foods")


def test_the_bell_counts_unread_notifications(page, server, log_in):
    from udyog.auth import user_by_email
    from udyog.models import Notification

    member = user_by_email(server.kernel, server.member)
    # In-app rows only, as notify() records them: its e-mail deliveries would be background jobs this test
    # does not need (and, on SQLite, a cold worker's delivery job waits on its own transaction; see the report).
    with server.kernel.tenant_scope("acme") as scope:
        for title in ("Price list", "Holiday list"):
            scope.session.add(
                Notification(user_id=member.id, event="notes.note.shared", title=f"Asha shared “{title}”")
            )
        scope.session.commit()

    log_in(server.member)
    expect(page.locator("#unread-count")).to_have_text("2")
    expect(page.locator('[data-widget="core.notifications"] [data-widget-value]')).to_have_text("2")
    page.locator("#udyog-notifications a").click()
    expect(page).to_have_url(re.compile(r"/core/notifications$"))
    expect(page.locator("main")).to_contain_text("Asha shared “Holiday list”")
    page.locator("#mark-all-read").click()
    expect(page.locator("#unread-count")).to_have_count(0)
    page.goto("/")
    expect(page.locator('[data-widget="core.notifications"] [data-widget-value]')).to_have_text("0")


def test_the_jobs_page_shows_a_run_through_to_success(page, server, log_in):
    log_in(server.owner, "/notes/notes/new")
    page.fill("#field-title", "bg:from the browser")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#resource-fields")).to_contain_text("bg:from the browser")

    page.wait_for_load_state("load")
    page.locator('#udyog-menu [data-menu-key="core.admin"] > .dropdown-toggle').click()
    page.locator("#udyog-menu").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Background jobs")).to_be_visible()
    run = page.locator("#jobs tr[data-run]", has_text="core.deliver_event").first
    expect(run).to_be_visible()
    # The embedded worker runs it; the page refreshes itself while anything is queued or running.
    expect(run).to_have_attribute("data-state", "succeeded", timeout=60_000)


@pytest.mark.parametrize(("width", "first_row"), [(390, 1), (820, 2), (1280, 3)])
def test_the_layout_fits_phones_tablets_and_desktops(browser, server, width, first_row):
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/")
        page.fill("#email", server.owner)
        page.fill("#password", server.password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#tenant-name")).to_have_text("Acme Foods")
        page.wait_for_load_state("load")
        # The cards: two small ones (notifications, vouchers), then a medium one (recent vouchers).
        # A phone stacks them; a tablet puts the small ones two abreast; a desktop fits all three in a row.
        cards = page.locator("#dashboard [data-widget]")
        expect(cards.nth(2)).to_have_attribute("data-widget", "ledger.recent")
        boxes = [cards.nth(i).bounding_box() for i in range(3)]
        in_first_row = [b for b in boxes if abs(b["y"] - boxes[0]["y"]) < 2]
        assert len(in_first_row) == first_row, (width, boxes)
        toggler = page.locator(".navbar-toggler")
        if width < 992:  # navbar-expand-lg: the menu hides behind the toggler
            expect(page.locator("#udyog-menu")).to_be_hidden()
            toggler.click()
            expect(page.locator("#udyog-menu")).to_be_visible()
        else:
            expect(toggler).to_be_hidden()
            expect(page.locator("#udyog-menu")).to_be_visible()
        document_width = page.evaluate("document.documentElement.scrollWidth")
        assert document_width <= width  # nothing overflows sideways
    finally:
        context.close()


def test_every_page_of_the_menu_fits_a_phone(browser, server):
    """At 390 px, no page the owner's menu leads to scrolls sideways (wide tables scroll inside their card)."""
    context = browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("#email", server.owner)
        page.fill("#password", server.password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#tenant-name")).to_have_text("Acme Foods")
        paths = page.eval_on_selector_all("#udyog-menu a[href^='/']", "links => links.map(a => a.getAttribute('href'))")
        expected = {"/", "/core/users", "/core/plugins", "/core/series", "/core/audit", "/ledger/vouchers"}
        assert expected <= set(paths), paths
        too_wide = {}
        for path in dict.fromkeys(paths):
            response = page.goto(path)
            assert response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide[path] = width
        assert not too_wide  # path → the document's width
    finally:
        context.close()
