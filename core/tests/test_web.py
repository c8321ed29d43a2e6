"""The web UI shell: login, cookies and CSRF, menu, tenant switcher, logout, error pages, assets."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant, disable_plugins, enable_plugins
from udyog.testing import TEST_PASSWORD, create_member, form_token, login, web_login
from udyog.web.shell import build_menu, collect_menu, menu_badges, safe_next
from udyog_sdk import Principal
from udyog_sdk.ui import MenuEntry

ACCESS = "access_token_cookie"
REFRESH = "refresh_token_cookie"
CSRF = "csrf_access_token"


@pytest.fixture
def world(kernel_factory):
    kernel = kernel_factory(["notes"])
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    create_tenant(kernel, "zenith", "Zenith Traders")
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Olga Owner")
    create_member(kernel, "acme", "member@acme.test", roles=("Member",), name="Manoj Member")
    create_member(kernel, "zenith", "owner@acme.test", roles=("Member",))
    return kernel, create_app(kernel=kernel)


def menu_keys(html: str, container: str = "udyog-menu") -> list[str]:
    """The menu keys inside the element with id ``container`` (in document order)."""
    start = html.index(f'id="{container}"')
    end = html.index("</ul>\n      <ul", start) if container == "udyog-menu" else html.index("</nav>", start)
    return re.findall(r'data-menu-key="([^"]+)"', html[start:end])


# -- login ---------------------------------------------------------------------


def test_shell_pages_redirect_to_login_with_next(world):
    kernel, app = world
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/"
    response = client.get("/core/branches?sort=code")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/core/branches?sort%3Dcode"
    # The API keeps answering JSON.
    api = client.get("/api/v1/core/branches")
    assert api.status_code == 401 and api.get_json()["success"] is False


def test_login_page_renders_a_form(world):
    kernel, app = world
    page = app.test_client().get("/login?next=/core/users")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assert '<form method="post" action="/login"' in html
    assert 'name="email"' in html and 'type="password"' in html and 'name="password"' in html
    assert 'name="next" value="/core/users"' in html
    assert form_token(html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_bad_password_shows_an_error_inline(world):
    kernel, app = world
    client = app.test_client()
    token = form_token(client.get("/login").text)
    response = client.post("/login", data={"email": "owner@acme.test", "password": "wrong!", "csrf_token": token})
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "Invalid e-mail or password." in response.text
    assert 'value="owner@acme.test"' in response.text  # the e-mail is kept
    assert client.get_cookie(ACCESS) is None
    unknown = client.post("/login", data={"email": "nobody@acme.test", "password": "x", "csrf_token": token})
    assert unknown.status_code == 401 and "Invalid e-mail or password." in unknown.text
    empty = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert empty.status_code == 400 and "Enter your e-mail address and password." in empty.text


def test_too_many_failed_logins_show_the_wait(world):
    kernel, app = world
    client = app.test_client()
    token = form_token(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"email": "owner@acme.test", "password": "wrong!", "csrf_token": token})
    response = client.post("/login", data={"email": "owner@acme.test", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 15 * 60 + 1
    assert f"Too many failed logins. Try again in {wait} seconds." in response.text
    assert client.get_cookie(ACCESS) is None


def test_login_form_without_its_token_is_refused(world):
    kernel, app = world
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"email": "owner@acme.test", "password": TEST_PASSWORD})
    assert response.status_code == 400 and "The form expired" in response.text
    forged = app.test_client().post(
        "/login", data={"email": "owner@acme.test", "password": TEST_PASSWORD, "csrf_token": "guess"}
    )
    assert forged.status_code == 400
    assert client.get_cookie(ACCESS) is None


def test_good_login_sets_the_api_cookies_and_redirects_to_next(world):
    kernel, app = world
    client = app.test_client()
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": "owner@acme.test", "password": TEST_PASSWORD, "csrf_token": token, "next": "/core/users"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/core/users"
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies[ACCESS] and "HttpOnly" in cookies[REFRESH]
    assert "HttpOnly" not in cookies[CSRF]  # readable by scripts: the double-submit value
    assert "SameSite=Lax" in cookies[ACCESS]
    assert client.get("/core/users").status_code == 200
    # The same cookies authenticate the API (GET needs no CSRF header).
    me = client.get("/api/v1/auth/me").get_json()["data"]
    assert me["email"] == "owner@acme.test" and me["tenant"]["slug"] == "acme"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_next_never_leaves_the_site(world, target):
    kernel, app = world
    client = app.test_client()
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login", data={"email": "owner@acme.test", "password": TEST_PASSWORD, "csrf_token": token, "next": target}
    )
    assert response.headers["Location"] == "/"


def test_safe_next():
    assert safe_next("/core/users?x=1") == "/core/users?x=1"
    for bad in (None, "", "core", "//x", "/\\x", "http://x/", "/a\nb"):
        assert safe_next(bad) == "/"


# -- the shell ---------------------------------------------------------------------


def test_landing_page_shows_tenant_user_roles_and_menu(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner", "Member"), name="Olga Owner")
    app = create_app(kernel=kernel)
    html = web_login(app, "owner@acme.test").get("/").text
    assert '<h1 class="h3 mb-0" id="tenant-name">Acme Ltd</h1>' in html
    assert "Olga Owner" in html and "owner@acme.test" in html
    roles = html[html.index('id="user-roles"') : html.index("</ul>", html.index('id="user-roles"'))]
    assert re.findall(r'badge text-bg-primary">([^<]+)<', roles) == ["Member", "Owner"]
    assert menu_keys(html, "home-menu") == [
        "core.home",
        "core.branches",
        "notes.notes",
        "core.admin",
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


def test_menu_shows_only_what_the_roles_allow(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test").get("/").text
    member = web_login(app, "member@acme.test").get("/").text
    assert menu_keys(owner) == [
        "core.home",
        "core.branches",
        "notes.notes",
        "core.admin",
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
    assert menu_keys(member) == ["core.home", "core.branches"]  # Member: core.tenant.read, core.branch.read
    assert "Administration" not in member and "/core/users" not in member


def test_a_plugin_disabled_for_the_tenant_leaves_the_menu_without_restart(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    assert "notes.notes" in menu_keys(client.get("/").text)
    disable_plugins(kernel, "acme", ["notes"])
    assert "notes.notes" not in menu_keys(client.get("/").text)
    enable_plugins(kernel, "acme", ["notes"])
    assert "notes.notes" in menu_keys(client.get("/").text)


def test_tenant_switcher_lists_the_users_tenants_and_switches(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    html = client.get("/").text
    switcher = html[html.index('id="udyog-tenant-switcher"') : html.index('id="udyog-user-menu"')]
    assert re.findall(r'name="tenant" value="([^"]+)"', switcher) == ["acme", "zenith"]
    assert "Acme Ltd" in switcher and "Zenith Traders" in switcher
    old_access = client.get_cookie(ACCESS).value
    response = client.post("/switch-tenant", data={"tenant": "zenith", "csrf_token": form_token(switcher)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    html = client.get("/").text
    assert '<h1 class="h3 mb-0" id="tenant-name">Zenith Traders</h1>' in html
    assert menu_keys(html) == ["core.home", "core.branches"]  # a Member there
    assert client.get("/api/v1/auth/me").get_json()["data"]["tenant"]["slug"] == "zenith"
    # The login acting for acme ended with the switch.
    stale = app.test_client()
    stale.set_cookie(ACCESS, old_access)
    assert stale.get("/").headers["Location"] == "/login?next=/"
    # A member of one tenant sees no switcher and cannot switch into another.
    member = web_login(app, "member@acme.test")
    html = member.get("/").text
    assert 'id="udyog-tenant-switcher"' not in html and "Acme Ltd" in html
    refused = member.post("/switch-tenant", data={"tenant": "zenith", "csrf_token": form_token(html)})
    assert refused.status_code == 403 and "not a member" in refused.text


def test_logout_revokes_the_login(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    html = client.get("/").text
    access, refresh = client.get_cookie(ACCESS).value, client.get_cookie(REFRESH).value
    response = client.post("/logout", data={"csrf_token": form_token(html)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get_cookie(ACCESS) is None and client.get_cookie(REFRESH) is None
    assert client.get("/").headers["Location"] == "/login?next=/"
    # The old cookies no longer work: not for pages, not for the API, not to refresh.
    thief = app.test_client()
    thief.set_cookie(ACCESS, access)
    assert thief.get("/").headers["Location"] == "/login?next=/"
    assert thief.get("/api/v1/auth/me").status_code == 401
    thief.set_cookie(REFRESH, refresh)
    assert thief.get("/").headers["Location"] == "/refresh?next=/"
    assert thief.get("/refresh?next=/").headers["Location"] == "/login?next=/"


def test_a_post_without_the_csrf_token_is_refused(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    for data in ({}, {"csrf_token": "not-the-token"}):
        response = client.post("/logout", data=data)
        assert response.status_code == 400, response.text
        assert "could not be verified" in response.text and response.mimetype == "text/html"
        refused = client.post("/switch-tenant", data={"tenant": "zenith", **data})
        assert refused.status_code == 400
    assert '<h1 class="h3 mb-0" id="tenant-name">Acme Ltd</h1>' in client.get("/").text  # still logged in
    # The header works as well as the field (the API's way).
    response = client.post("/logout", headers={"X-CSRF-TOKEN": client.get_cookie(CSRF).value})
    assert response.status_code == 302


def test_an_expired_access_cookie_is_refreshed_silently(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    client.delete_cookie(ACCESS)  # the browser dropped it, or it expired
    response = client.get("/core/branches?x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/refresh?next=/core/branches?x%3D1"
    response = client.get(response.headers["Location"])
    assert response.status_code == 302 and response.headers["Location"] == "/core/branches?x=1"
    assert client.get_cookie(ACCESS) is not None
    assert client.get("/core/branches?x=1").status_code == 200


def test_the_shell_is_responsive(world):
    kernel, app = world
    html = web_login(app, "owner@acme.test").get("/").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "navbar navbar-expand-lg" in html
    assert 'class="navbar-toggler"' in html and 'data-bs-toggle="collapse"' in html
    assert 'class="collapse navbar-collapse" id="udyog-nav"' in html
    assert re.search(r'class="col-12 col-md-\d+ col-lg-\d+"', html)
    assert "container-lg" in html
    table = web_login(app, "owner@acme.test").get("/core/branches").text
    # Wide tables scroll inside their own box, which is also the containing block of what they hide visually.
    assert 'class="table-responsive position-relative"' in table


def test_error_pages_use_the_shell(world):
    kernel, app = world
    member = web_login(app, "member@acme.test")
    forbidden = member.get("/core/users")
    assert forbidden.status_code == 403 and forbidden.mimetype == "text/html"
    assert "Not allowed" in forbidden.text and "core.user.read" in forbidden.text
    assert "/bootstrap/static/css/bootstrap.min.css" in forbidden.text
    missing = member.get("/no/such/page")
    assert missing.status_code == 404 and "Page not found" in missing.text and missing.mimetype == "text/html"
    wrong_method = member.get("/logout")
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    # The API keeps its JSON envelope.
    api = member.get("/api/v1/core/users")
    assert api.status_code == 403 and api.get_json()["errors"] == {"permission": ["core.user.read"]}
    assert member.get("/api/v1/no/such").get_json()["message"] == "not found"


def test_core_pages_list_the_tenants_data(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    users = client.get("/core/users").text
    assert "member@acme.test" in users and "Manoj Member" in users and "Owner" in users
    assert "Owner" in client.get("/core/roles").text
    plugins = client.get("/core/plugins").text
    assert "<td>notes</td>" in plugins


# -- assets ---------------------------------------------------------------------------


URL_RE = re.compile(r"""https?://[^\s"'<>)]+""")
LINK_RE = re.compile(r"""(?:href|src|action)="([^"]*)\"""")


def assert_nothing_from_elsewhere(client, html: str) -> list[str]:
    """No absolute URL to another host; every referenced asset is served here. Returns the asset paths."""
    for url in URL_RE.findall(html):
        assert urlsplit(url).hostname in ("localhost", "127.0.0.1"), f"external URL in page: {url}"
    assets = []
    for link in LINK_RE.findall(html):
        if link.startswith("#"):
            continue
        assert link.startswith("/") and not link.startswith("//"), f"link that may leave the site: {link!r}"
        if link.endswith((".css", ".js")):
            assets.append(link)
    return assets


def test_pages_load_nothing_from_elsewhere_and_assets_are_served_here(world):
    kernel, app = world
    anonymous = app.test_client()
    owner = web_login(app, "owner@acme.test")
    member = web_login(app, "member@acme.test")
    pages = [
        anonymous.get("/login"),
        anonymous.get("/nowhere"),
        owner.get("/"),
        owner.get("/core/branches"),
        owner.get("/core/users"),
        owner.get("/core/roles"),
        owner.get("/core/plugins"),
        member.get("/core/users"),
    ]
    assets: set[str] = set()
    for page in pages:
        assert page.mimetype == "text/html"
        assets.update(assert_nothing_from_elsewhere(anonymous, page.text))
    assert {
        "/bootstrap/static/css/bootstrap.min.css",
        "/bootstrap/static/css/font/bootstrap-icons.min.css",
        "/bootstrap/static/js/bootstrap.min.js",
        "/bootstrap/static/umd/popper.min.js",
    } <= assets
    for path in sorted(assets):
        response = anonymous.get(path)  # assets need no login
        assert response.status_code == 200, path
        assert response.mimetype in ("text/css", "text/javascript", "application/javascript"), path
        if path.endswith(".css"):
            body = response.get_data(as_text=True)
            for ref in re.findall(r"url\(([^)]+)\)", body):
                ref = ref.strip("'\"")
                if ref.startswith("data:"):
                    continue
                assert not ref.startswith(("http:", "https:", "//")), f"{path} loads {ref}"
                target = ref.split("?")[0].split("#")[0]
                resolved = path.rsplit("/", 1)[0] + "/" + target
                assert anonymous.get(resolved).status_code == 200, resolved
        response.close()


def test_the_test_catches_an_external_url():
    with pytest.raises(AssertionError):
        assert_nothing_from_elsewhere(None, '<link rel="stylesheet" href="https://cdn.example/b.css">')
    with pytest.raises(AssertionError):
        assert_nothing_from_elsewhere(None, '<script src="//cdn.example/b.js"></script>')


# -- menu composition -------------------------------------------------------------------


def principal(*permissions: str) -> Principal:
    import uuid

    return Principal(uuid.uuid4(), uuid.uuid4(), "u@x.test", "U", permissions=frozenset(permissions))


def keys(nodes) -> list:
    return [(n.key, keys(n.children)) if n.children else n.key for n in nodes]


def test_build_menu_filters_sorts_and_nests():
    entries = [
        ("core", MenuEntry("b", "Beta", "/b", None, weight=10)),
        ("core", MenuEntry("a", "Alpha", "/a", None, weight=10)),
        ("core", MenuEntry("first", "Zulu", "/z", None, weight=1)),
        ("p", MenuEntry("group", "Group", "", None, weight=50)),
        ("p", MenuEntry("g2", "Second", "/g2", "p.x.read", weight=2, parent="group")),
        ("p", MenuEntry("g1", "First", "/g1", "p.x.read", weight=1, parent="group")),
        ("p", MenuEntry("deep", "Deep", "/deep", None, parent="g1")),
        ("p", MenuEntry("secret", "Secret", "/s", "p.secret.read")),
        ("p", MenuEntry("empty", "Empty group", "", None)),
        ("p", MenuEntry("orphan", "Orphan", "/o", None, weight=60, parent="missing")),
        ("p", MenuEntry("c1", "Cycle 1", "/c1", None, weight=70, parent="c2")),
        ("p", MenuEntry("c2", "Cycle 2", "/c2", None, weight=71, parent="c1")),
        ("q", MenuEntry("a", "Alpha again", "/a2", None, weight=99)),
    ]
    assert keys(build_menu(entries, principal("p.x.*"))) == [
        "first",
        "a",
        "b",
        ("group", [("g1", ["deep"]), "g2"]),
        "orphan",
        "c1",  # a cycle nests nothing
        "c2",
    ]
    # Without p.x.read the group is empty and dropped; the child of a hidden entry moves up.
    assert keys(build_menu(entries, principal())) == ["first", "a", "b", "orphan", "c1", "c2", "deep"]
    assert "secret" in str(keys(build_menu(entries, principal("*"))))


def test_menu_badges_count_sum_into_groups_and_survive_a_failing_badge(caplog):
    def broken():
        raise RuntimeError("badge boom")

    entries = [
        ("p", MenuEntry("p.group", "Group", "", None)),
        ("p", MenuEntry("p.alerts", "Alerts", "/alerts", None, parent="p.group", badge=lambda: 3)),
        ("p", MenuEntry("p.tasks", "Tasks", "/tasks", None, parent="p.group", badge=lambda: 2)),
        ("p", MenuEntry("p.plain", "Plain", "/plain", None, parent="p.group")),
        ("q", MenuEntry("q.broken", "Broken", "/broken", None, badge=broken)),
        ("q", MenuEntry("q.odd", "Odd", "/odd", None, badge=lambda: "many")),
        ("q", MenuEntry("q.none", "None", "/none", None, badge=lambda: None)),
        ("q", MenuEntry("q.secret", "Secret", "/secret", "q.secret.read", badge=lambda: 9)),
        ("q", MenuEntry("q.flat", "Flat", "/flat", None)),
    ]
    nodes = build_menu(entries, principal())
    assert menu_badges(nodes) == {"p.group": 5, "p.alerts": 3, "p.tasks": 2, "q.broken": 0, "q.odd": 0, "q.none": 0}
    assert "badge boom" in caplog.text and "not a count" in caplog.text
    assert "q.secret" in menu_badges(build_menu(entries, principal("*")))  # shown only to who sees the entry


class _Impl:
    def __init__(self, name, function):
        self.plugin_name, self.function = name, function


class _Relay:
    def __init__(self, impls):
        self.udyog_menu = type("Caller", (), {"get_hookimpls": lambda self: impls})()


def test_collect_menu_isolates_a_broken_plugin_and_refuses_foreign_links(caplog):
    def broken():
        raise RuntimeError("boom")

    relay = _Relay(
        [
            _Impl("good", lambda: [MenuEntry("good.a", "A", "/a", None)]),
            _Impl("broken", broken),
            _Impl(
                "sly",
                lambda: [
                    MenuEntry("sly.ext", "Elsewhere", "https://evil.example/", None),
                    MenuEntry("sly.js", "Script", "javascript:alert(1)", None),
                    "not an entry",
                    MenuEntry("sly.ok", "Fine", "/sly/", None),
                ],
            ),
        ]
    )
    collected = collect_menu(relay)
    assert [(p, e.key) for p, e in collected] == [("good", "good.a"), ("sly", "sly.ok")]
    assert "boom" in caplog.text and "links outside the site" in caplog.text


def test_api_login_still_works_beside_the_shell(world):
    kernel, app = world
    client = login(app, "owner@acme.test")
    assert client.get("/api/v1/auth/me").get_json()["data"]["email"] == "owner@acme.test"


def test_no_template_has_an_inline_style_or_script():
    """The content security policy refuses both: a template that has one renders broken in a browser."""
    import udyog.web
    from udyog_sdk.resources import TEMPLATE_FOLDER

    folders = [Path(udyog.web.__file__).parent / "templates", Path(TEMPLATE_FOLDER)]
    templates = [path for folder in folders for path in folder.rglob("*.html")]
    assert len(templates) > 30
    offending = [
        f"{path.name}: {match.group(0)}"
        for path in templates
        for match in re.finditer(r"\sstyle=|<style\b|<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=", path.read_text())
    ]
    assert not offending


def test_table_card_draws_the_callers_rows_or_the_empty_text_across_the_columns(world):
    from flask import render_template_string

    kernel, app = world
    template = (
        '{% from "udyog/_macros.html" import table_card %}'
        '{% call table_card("things", ["A", "B", "C"], "Nothing yet.") %}'
        "{% for x in rows %}<tr><td>{{ x }}</td></tr>{% endfor %}{% endcall %}"
    )
    with app.test_request_context("/"):
        full = render_template_string(template, rows=["one", "two"])
        empty = render_template_string(template, rows=[])
    assert 'class="table-responsive position-relative"' in full and 'id="things"' in full
    assert full.count('<th scope="col">') == 3 and "<td>one</td>" in full and "Nothing yet." not in full
    assert '<td colspan="3" class="text-body-secondary">Nothing yet.</td>' in empty
