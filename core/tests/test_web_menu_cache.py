"""The navbar's menu is rendered once per distinct input and reused (udyog.web.shell.MenuCache).

Every test looks at pages served from the cache (its ``hits`` grow) and checks
what each page must show: the entry of the page marked active and no other,
the entries of the user's permissions, of the tenant's enabled plugins, in
the tenant's language, with the badges' current counts; and that a page
served from the cache is exactly what rendering afresh gives.
"""

from __future__ import annotations

import re
import uuid

import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant, disable_plugins, enable_plugins
from udyog.testing import create_member, login, make_user, web_login
from udyog.web.shell import MENU_CACHE, MenuCache
from udyog_sdk.ui import MenuEntry

ADMIN = [
    "core.tenant",
    "core.users",
    "core.roles",
    "core.plugins",
    "core.jobs",
    "core.settings",
    "core.series",
    "core.custom_fields",
    "core.audit",
]


@pytest.fixture
def world(kernel_factory):
    kernel = kernel_factory(["notes"])
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Olga Owner")
    create_member(kernel, "acme", "member@acme.test", roles=("Member",), name="Manoj Member")
    return kernel, create_app(kernel=kernel)


def navbar_menu(html: str) -> str:
    """The navbar's menu items (the inside of ``#udyog-menu``)."""
    start = html.index('id="udyog-menu">') + len('id="udyog-menu">')
    return html[start : html.index("</ul>\n      <ul", start)]


def entries(menu: str) -> list[str]:
    return re.findall(r'data-menu-key="([^"]+)"', menu)


def active(menu: str) -> list[str]:
    """The keys whose link is marked active, and those marked as the current page (``key*``)."""
    marked = []
    for key, link in re.findall(r'<li[^>]*data-menu-key="([^"]+)">\s*<a ([^>]*)>', menu):
        classes = re.search(r'class="([^"]*)"', link).group(1).split()
        if "active" in classes:
            marked.append(key + ("*" if 'aria-current="page"' in link else ""))
        else:
            assert "aria-current" not in link, link
    return marked


def cache_of(app) -> MenuCache:
    return app.extensions[MENU_CACHE]


def test_each_page_marks_its_own_entry_active_when_the_menu_comes_from_the_cache(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    missing = f"/core/users/{uuid.uuid4()}"  # a 404 page in the shell, which is no menu entry
    expected = {
        "/": ["core.home*"],
        "/core/users": ["core.admin", "core.users*"],  # the group's toggle, and the page in its dropdown
        "/notes/notes": ["notes.notes*"],
        "/core/branches": ["core.branches*"],
        "/core/audit": ["core.admin", "core.audit*"],
        missing: [],
        f"/core/users/{uuid.uuid4()}": [],  # another page outside the menu: the same rendering as the first
        "/core/account/password": [],
    }
    first = {}
    for path, marked in expected.items():
        html = client.get(path).text
        first[path] = navbar_menu(html)
        assert active(first[path]) == marked, path
        assert entries(first[path]) == ["core.home", "core.branches", "notes.notes", "core.admin", *ADMIN]
    hits = cache_of(app).hits
    assert hits >= 2  # the second page outside the menu, and /core/account/password
    for path in reversed(list(expected)):  # again, every page's menu from the cache
        assert navbar_menu(client.get(path).text) == first[path], path
    assert cache_of(app).hits == hits + len(expected)
    # A menu from the cache is exactly what rendering it afresh gives.
    del app.extensions[MENU_CACHE]
    for path in expected:
        assert navbar_menu(client.get(path).text) == first[path], path


def test_users_get_the_menu_of_their_own_permissions_and_a_role_change_shows_at_once(world):
    kernel, app = world
    limited = make_user(kernel, "acme", "clerk@acme.test", permissions=["core.user.read"])
    owner, member, clerk = (web_login(app, e) for e in ("owner@acme.test", "member@acme.test", limited.email))
    page = "/core/branches"
    for _ in range(2):  # the second round from the cache, the three users interleaved
        assert len(entries(navbar_menu(owner.get(page).text))) == 13
        assert entries(navbar_menu(member.get(page).text)) == ["core.home", "core.branches"]
        assert entries(navbar_menu(clerk.get("/").text)) == ["core.home", "core.admin", "core.users"]
    assert cache_of(app).hits >= 3

    api = login(app, "owner@acme.test")
    role = next(r for r in api.get("/api/v1/core/roles").get_json()["data"] if r["name"] == f"test: {limited.email}")
    changed = api.patch(
        f"/api/v1/core/roles/{role['id']}",
        json={"version": role["version"], "permissions": ["core.user.read", "notes.note.read"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert entries(navbar_menu(clerk.get("/").text)) == ["core.home", "notes.notes", "core.admin", "core.users"]


def test_a_plugin_enabled_or_disabled_for_the_tenant_changes_the_menu_of_its_next_page(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    page = f"/core/users/{uuid.uuid4()}"
    assert "notes.notes" in entries(navbar_menu(client.get(page).text))
    assert "notes.notes" in entries(navbar_menu(client.get(page).text))  # from the cache
    disable_plugins(kernel, "acme", ["notes"])
    assert "notes.notes" not in entries(navbar_menu(client.get(page).text))
    enable_plugins(kernel, "acme", ["notes"])
    assert "notes.notes" in entries(navbar_menu(client.get(page).text))


def test_the_menu_follows_the_tenants_language(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    english = navbar_menu(client.get("/core/branches").text)
    assert navbar_menu(client.get("/core/branches").text) == english  # from the cache
    assert "> Administration" in english and "प्रशासन" not in english
    api = login(app, "owner@acme.test")
    set_locale = api.patch("/api/v1/core/settings/core", json={"version": 0, "values": {"locale": "hi_IN"}})
    assert set_locale.status_code == 200
    hindi = navbar_menu(client.get("/core/branches").text)
    assert "> प्रशासन" in hindi and "> उपयोगकर्ता</a>" in hindi and "Administration" not in hindi
    assert active(hindi) == ["core.branches*"]


def test_a_badge_shows_its_current_count_on_every_page(world, monkeypatch):
    from udyog_test_notes.api import NOTES

    count = {"open": 2}
    entry = NOTES.menu_entry(weight=50, icon="journal")
    badged = MenuEntry(entry.key, entry.label, entry.url, entry.permission, 50, None, "journal", lambda: count["open"])
    monkeypatch.setattr(NOTES, "menu_entry", lambda **kwargs: badged)
    kernel, app = world
    client = web_login(app, "owner@acme.test")

    def badge() -> str:
        return re.search(r'<span class="([^"]*)" data-menu-badge="notes.notes">(\d+)</span>', client.get("/").text)

    assert badge().groups() == ("badge rounded-pill text-bg-danger", "2")
    assert badge().group(2) == "2"
    count["open"] = 5
    assert badge().group(2) == "5"
    count["open"] = 0
    assert badge().groups() == ("badge rounded-pill text-bg-danger d-none", "0")
    count["open"] = 2
    assert badge().groups() == ("badge rounded-pill text-bg-danger", "2")
    assert cache_of(app).hits >= 2


def test_the_cache_keeps_the_most_recently_used_menus_only():
    from markupsafe import Markup

    cache = MenuCache(size=2)
    for key in ("a", "b"):
        cache.put((key,), Markup(key))
    assert cache.get(("a",)) == "a"  # now the most recently used
    cache.put(("c",), Markup("c"))
    assert len(cache) == 2 and cache.get(("b",)) is None and cache.get(("a",)) == "a" and cache.get(("c",)) == "c"
    assert (cache.hits, cache.misses) == (3, 1)
