"""The tenant's locale: the core setting, the shell's filters and the shell's language."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from flask import render_template_string

import udyog_sdk
from udyog import defaults
from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import TEST_PASSWORD, create_member, form_token, login

URL = "/api/v1/core/settings"


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return kernel, app


TEMPLATE = (
    "{{ amount|amount }}|{{ amount|number }}|{{ amount|number(2) }}|{{ day|date }}|{{ day|date('short') }}"
    "|{{ none|amount }}|{{ amount|amount_in_words }}"
)
VALUES = {"amount": Decimal("12345678.5"), "day": dt.date(2026, 3, 31), "none": None}


def render(app, kernel, slug="acme"):
    with app.test_request_context("/"), kernel.tenant_scope(slug):
        return render_template_string(TEMPLATE, **VALUES)


def test_the_locale_setting_defaults_to_en_in_and_takes_only_known_locales(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    assert owner.get(f"{URL}/core").get_json()["data"]["values"]["locale"] == "en_IN"
    bad = owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "fr_FR"}})
    assert bad.status_code == 422 and "values.locale" in bad.get_json()["errors"]
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    with kernel.tenant_scope("acme") as scope:
        from udyog_sdk.formatting import current_locale

        assert scope.tenant.settings["core"]["locale"] == "hi_IN"
        assert current_locale() == "hi_IN"


def test_the_filters_format_in_the_tenants_locale(world):
    kernel, app = world
    assert render(app, kernel) == (
        "₹1,23,45,678.50|1,23,45,678.5|1,23,45,678.50|31 Mar 2026|31/03/26|"
        "|Rupees One Crore Twenty-Three Lakh Forty-Five Thousand Six Hundred Seventy-Eight and Paise Fifty Only"
    )
    owner = login(app, "owner@acme.test")
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    assert render(app, kernel).split("|")[3:5] == ["31 मार्च 2026", "31/3/26"]
    # Outside a tenant scope the filters use en_IN.
    with app.test_request_context("/"):
        assert render_template_string("{{ 100000|amount }}") == "₹1,00,000.00"


def web_login(app, email: str):
    """A client logged in through the login form (cookies, as a browser)."""
    client = app.test_client()
    page = client.get("/login?next=/")
    token = form_token(page.text)
    response = client.post("/login", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token, "next": "/"})
    assert response.status_code == 302, response.text
    return client, page.text


def test_the_shell_speaks_hindi_for_a_hi_in_tenant(world):
    kernel, app = world
    client, login_page = web_login(app, "owner@acme.test")
    # English by default, and on the login page (no tenant is known there).
    assert '<html lang="en">' in login_page and "Log in to Udyog</h1>" in login_page
    home = client.get("/").text
    assert '<html lang="en">' in home and "Log out</button>" in home and "सूचनाएँ" not in home
    owner = login(app, "owner@acme.test")
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    home = client.get("/").text
    assert '<html lang="hi">' in home
    assert "लॉग आउट</button>" in home and "Log out" not in home
    assert '<span class="d-lg-none"> सूचनाएँ</span>' in home
    assert 'aria-label="मुख्य मेनू"' in home
    # Before a login, the browser's language decides, among those with a catalogue.
    assert app.test_client().get("/login").text.count("Log in to Udyog</h1>") == 1
    hindi_login = app.test_client().get("/login", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.8"}).text
    assert '<html lang="hi">' in hindi_login and "उद्योग में लॉग इन करें</h1>" in hindi_login
    assert "ई-मेल पता" in hindi_login and "Log in to Udyog" not in hindi_login
    tamil_first = app.test_client().get("/login", headers={"Accept-Language": "ta, en-GB;q=0.8, hi;q=0.5"}).text
    assert '<html lang="en">' in tamil_first  # no Tamil catalogue: English is preferred over Hindi here
    unknown = app.test_client().get("/login", headers={"Accept-Language": "ta"}).text
    assert '<html lang="en">' in unknown and "Log in to Udyog</h1>" in unknown


#: A string literal passed to _(), gettext() or ngettext() (its singular, the catalogue's key), in double or
#: single quotes, with backslash escapes.
MARKED = re.compile(r"""\b(?:_|n?gettext)\(\s*(?:"((?:[^"\\]|\\.)+)"|'((?:[^'\\]|\\.)+)')""")


def marked_strings(paths) -> set[str]:
    """The msgids marked in these templates and modules (escaped quotes read as quotes)."""
    found = set()
    for path in paths:
        for a, b in MARKED.findall(path.read_text()):
            found.add(re.sub(r"\\(['\"\\])", r"\1", a or b))
    return found


def test_the_hindi_catalogue_loads_and_is_complete():
    from babel.messages.pofile import read_po

    from udyog.web.i18n import TRANSLATIONS, catalogue

    hindi = catalogue("hi")
    assert hindi["Log out"] == "लॉग आउट" and hindi["%(count)s unread"] == "%(count)s अपठित"
    assert catalogue("en") == {} and catalogue("xx") == {}
    with (TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        po = read_po(handle)
    assert all(message.string for message in po if message.id)  # every entry is translated
    # The entries are those the shell marks (nothing stale, nothing missing): the templates' and the web
    # modules' _("…"), gettext("…") and ngettext("…", …), the core's menu labels (translated when the menu is
    # drawn), and the same in the SDK's generic pages (its templates and its modules, through udyog_sdk.i18n),
    # which the core renders and whose words the core's catalogue translates.
    web = TRANSLATIONS.parent / "web"
    sdk = Path(udyog_sdk.__file__).parent
    marked = marked_strings(
        [
            *(web / "templates" / "udyog").glob("*.html"),
            *(p for p in web.glob("*.py") if p.name != "i18n.py"),
            *(sdk / "templates" / "udyog_sdk").glob("*.html"),
            *(p for p in sdk.glob("*.py") if p.name != "i18n.py"),
        ]
    )
    assert {"New %(label)s", "%(name)s saved.", "Search"} <= marked  # the SDK's strings are scanned
    menu = {entry.label for entry in defaults.udyog_menu()}
    assert marked | menu == set(hindi)


def test_menu_labels_and_widget_titles_are_translated_with_the_plugins_catalogues(kernel_factory, backend):
    kernel = kernel_factory(["notes", "ledger"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes", "ledger"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    client, _ = web_login(app, "owner@acme.test")
    home = client.get("/").text
    assert "> Vouchers</a>" in home and "Voucher amounts by month</h2>" in home and "वाउचर" not in home
    owner = login(app, "owner@acme.test")
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    home = client.get("/").text
    # The ledger's own catalogue (udyog_test_ledger/translations/hi) names its menu entry and widget.
    assert "> वाउचर</a>" in home and "माह के अनुसार वाउचर राशि</h2>" in home
    assert "> प्रशासन</a>" in home and "> उपयोगकर्ता</a>" in home  # the core's labels, from the core's catalogue
    assert "Recent vouchers" in home  # a title no catalogue translates stays English


def test_the_sdks_generic_pages_speak_the_tenants_language(world):
    kernel, app = world
    client, _ = web_login(app, "owner@acme.test")
    owner = login(app, "owner@acme.test")
    book = owner.post("/api/v1/notes/notebooks", json={"title": "Ledger notes"}).get_json()["data"]
    english = client.get("/notes/notes").text
    assert "</i> New note</a>" in english and 'for="resource-search">Search</label>' in english
    assert ">Apply</button>" in english and "नया" not in english
    form = client.get("/notes/notes/new").text
    assert '<h1 class="h3 mb-3">New note</h1>' in form and 'btn-primary">Save</button>' in form
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    hindi = client.get("/notes/notes").text
    assert "</i> नया note</a>" in hindi and 'for="resource-search">खोजें</label>' in hindi
    assert ">लागू करें</button>" in hindi and "इनमें खोजता है: Title, Body" in hindi
    assert "New note" not in hindi and ">Search<" not in hindi and ">Apply<" not in hindi
    form = client.get("/notes/notes/new").text
    assert '<h1 class="h3 mb-3">नया note</h1>' in form and 'btn-primary">सहेजें</button>' in form
    assert ">Save<" not in form and ">Back<" not in form
    # The SDK's Python side (udyog_sdk.i18n.gettext) too: the flash after a save, and the breadcrumbs.
    created = client.post(
        "/notes/notes/new",
        data={"csrf_token": form_token(form), "notebook_id": book["id"], "title": "Hindi note", "body": ""},
    )
    assert created.status_code == 303, created.text
    detail = client.get(created.headers["Location"]).text
    assert "Note Hindi note बनाया गया।" in detail and "created." not in detail
    assert ">संपादित करें</a>" in detail and ">Edit<" not in detail


def test_settings_jobs_notifications_errors_and_custom_field_deletion_speak_the_tenants_language(world):
    kernel, app = world
    client, _ = web_login(app, "owner@acme.test")
    owner = login(app, "owner@acme.test")
    defined = owner.post(
        "/api/v1/core/custom-fields", json={"resource": "notes.note", "name": "x_site", "type": "text", "label": "Site"}
    )
    assert defined.status_code == 201, defined.text
    field_id = defined.get_json()["data"]["id"]
    book = owner.post("/api/v1/notes/notebooks", json={"title": "Site notes"}).get_json()["data"]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "Pune", "x_site": "Pune"})
    assert note.status_code == 201, note.text
    pages = {
        "settings": "/core/settings",
        "general": "/core/settings/core",
        "jobs": "/core/jobs",
        "notifications": "/core/notifications",
        "missing": "/core/custom-fields/00000000-0000-0000-0000-000000000000/delete",
        "delete": f"/core/custom-fields/{field_id}/delete",
    }
    english = {name: client.get(path).text for name, path in pages.items()}
    assert '<h1 class="h3 mb-3">Settings</h1>' in english["settings"]
    assert "Reset every setting" not in english["general"] and 'btn-primary">Save</button>' in english["general"]
    assert "Background jobs</h1>" in english["jobs"] and '<option value="">All states</option>' in english["jobs"]
    assert ">succeeded</option>" in english["jobs"]
    assert "No notifications yet." in english["notifications"]
    assert "Page not found</h1>" in english["missing"] and "Go to the home page</a>" in english["missing"]
    assert "The field <strong>Site</strong> of <code>notes.note</code> will no longer show" in english["delete"]
    assert "Delete the custom field <code>x_site</code>?</h1>" in english["delete"]
    assert (
        "1 records have a value of this field." in english["delete"] and "Also delete the 1 values" in english["delete"]
    )
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"locale": "hi_IN"}}).status_code == 200
    hindi = {name: client.get(path).text for name, path in pages.items()}
    assert '<h1 class="h3 mb-3">सेटिंग्स</h1>' in hindi["settings"]
    assert 'btn-primary">सहेजें</button>' in hindi["general"] and "डिफ़ॉल्ट: en_IN।" in hindi["general"]
    assert "पृष्ठभूमि कार्य</h1>" in hindi["jobs"] and '<option value="">सभी स्थितियाँ</option>' in hindi["jobs"]
    assert ">सफल</option>" in hindi["jobs"] and ">succeeded<" not in hindi["jobs"]
    assert "अभी कोई सूचना नहीं है।" in hindi["notifications"] and "No notifications" not in hindi["notifications"]
    assert "पेज नहीं मिला</h1>" in hindi["missing"] and "होम पेज पर जाएँ</a>" in hindi["missing"]
    # A path no page answers has no tenant yet: the browser's language decides.
    unknown = client.get("/no/such/page", headers={"Accept-Language": "hi"}).text
    assert '<html lang="hi">' in unknown and "पेज नहीं मिला</h1>" in unknown
    # One sentence with placeholders, in Hindi word order; the field's label and resource stay marked up.
    assert "<code>notes.note</code> का फ़ील्ड <strong>Site</strong> अब इसके फ़ॉर्म" in hindi["delete"]
    assert "कस्टम फ़ील्ड <code>x_site</code> हटाएँ?</h1>" in hindi["delete"]
    assert "ये 1 मान भी हटाएँ" in hindi["delete"] and "The field" not in hindi["delete"]
