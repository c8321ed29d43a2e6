"""The reference picker in a real browser: a form's reference to a big table is searched, chosen by keyboard, saved.

A tenant of its own (``picks``: notes only) gets more notebooks than a select
lists, so the note form's notebook is the SDK's search picker driven by the
shell's ``reference-picker.js``; the other browser tests' tenants keep their
selects.
"""

from __future__ import annotations

import uuid

import pytest

expect = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
).expect

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture
def picks(server):
    """The tenant ``picks``, with MAX_CHOICES + 5 notebooks and one to find; its owner's e-mail and that id."""
    from udyog_test_notes.models import Notebook

    from udyog.tenancy import create_tenant
    from udyog.testing import create_member
    from udyog_sdk.pickers import MAX_CHOICES

    slug = f"picks{uuid.uuid4().hex[:6]}"
    create_tenant(server.kernel, slug, "Picks Ltd", plugins=["notes"])
    email = f"owner@{slug}.test"
    create_member(server.kernel, slug, email, roles=("Owner",), name="Priya Picker")
    with server.kernel.tenant_scope(slug) as scope:
        scope.session.add_all(Notebook(title=f"Shelf {i:03}") for i in range(MAX_CHOICES + 5))
        wanted = Notebook(title="Zeta Archive")
        scope.session.add(wanted)
        scope.session.commit()
        return email, str(wanted.id)


def test_a_reference_is_searched_chosen_by_keyboard_and_kept(page, log_in, picks):
    email, wanted = picks
    title = f"Picked {uuid.uuid4().hex[:8]}"
    log_in(email, "/notes/notes/new")
    page.fill("#field-title", title)
    box = page.get_by_role("combobox", name="Notebook")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#field-notebook_id-hint")).to_contain_text("Type to search")

    box.press_sequentially("zeta")
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("Zeta Archive")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "field-notebook_id-listbox-0")
    box.press("Enter")  # chooses: the form is not submitted
    expect(box).to_have_value("Zeta Archive")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(page.locator('input[type="hidden"][name="notebook_id"]')).to_have_value(wanted)

    # Escape closes a list; text left in the box is not what is sent: the chosen record's label comes back.
    box.fill("")
    box.press_sequentially("shelf 00")
    expect(options).to_have_count(10)
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press("Escape")
    expect(box).to_have_value("Zeta Archive")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#udyog-flash")).to_contain_text(f"Note {title} created.")
    expect(page.locator("main")).to_contain_text("Zeta Archive")

    # Its edit form shows the notebook, and saving it unchanged keeps it.
    page.locator("#resource-edit").click()
    expect(page.get_by_role("combobox", name="Notebook")).to_have_value("Zeta Archive")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#udyog-flash")).to_contain_text("saved.")
    expect(page.locator("main")).to_contain_text("Zeta Archive")
