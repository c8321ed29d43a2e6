"""The Administration setup pages: number series (with preview), organisation, branches, custom fields, audit log."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from udyog.app import create_app
from udyog.models import Branch, CustomField, Tenant
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member
from udyog.testing import web_login as shell_login

URL_RE = re.compile(r"""https?://[^\s"'<>)]+""")
LINK_RE = re.compile(r"""(?<![\w-])(?:href|src|action)="([^"]*)\"""")


def assert_nothing_from_elsewhere(html: str) -> list[str]:
    """No absolute URL to another host and no link that may leave the site; returns the scripts and styles."""
    for url in URL_RE.findall(html):
        assert urlsplit(url).hostname in ("localhost", "127.0.0.1"), f"external URL in page: {url}"
    links = [link for link in LINK_RE.findall(html) if not link.startswith("#")]
    for link in links:
        assert link.startswith("/") and not link.startswith("//"), f"link that may leave the site: {link!r}"
    return [link for link in links if link.endswith((".css", ".js"))]


def make_world(kernel_factory, backend: str = "sqlite"):
    kernel = kernel_factory(["notes", "ledger"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes", "ledger"])
    create_tenant(kernel, "zenith", "Zenith Traders", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Olga Owner")
    create_member(kernel, "acme", "member@acme.test", roles=("Member",), name="Manoj Member")
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    return kernel, create_app(kernel=kernel)


@pytest.fixture
def world(kernel_factory):
    return make_world(kernel_factory)


class Browser:
    """A logged-in test client that submits forms as the shell's pages do (with the CSRF value)."""

    def __init__(self, app, email: str) -> None:
        self.client = shell_login(app, email)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def submit(self, path: str, data: dict[str, str]):
        return self.client.post(path, data={**data, "csrf_token": self.client.get_cookie("csrf_access_token").value})


def web_login(app, email: str) -> Browser:
    return Browser(app, email)


@contextmanager
def acme_session(kernel):
    """A session of the kernel bound to the tenant acme."""
    with kernel.db.session() as session:
        session.bind_tenant(session.scalar(select(Tenant.id).where(Tenant.slug == "acme")))
        yield session


def field_error(html: str, name: str) -> list[str]:
    """The messages shown under the input ``name``."""
    return [m.strip() for m in re.findall(rf'data-error-for="{name}">([^<]*)<', html)]


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, f"no #{element_id}"
    return match.group(1).strip()


def version_of(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match
    return match.group(1)


# -- number series ------------------------------------------------------------------------------


def series_form(client, key: str, **changes: str) -> dict[str, str]:
    html = client.get(f"/core/series/{key}").text
    return {
        "version": version_of(html),
        "pattern": re.search(r'id="field-pattern"[^>]*value="([^"]*)"', html, re.S).group(1),
        "reset": re.search(r'<option value="(\w+)" selected', html).group(1),
        "gap_free": "true",
        "max_length": "",
        "allowed_chars": "",
        **changes,
    }


def test_series_list_shows_each_series_with_its_next_number(world):
    kernel, app = world
    html = web_login(app, "owner@acme.test").get("/core/series").text
    assert 'data-series="ledger.voucher"' in html and 'data-series="notes.note"' in html
    assert "<code>V-{seq:04}</code>" in html and "<code>V-0001</code>" in html
    assert 'aria-current="page">Number series' in html  # the breadcrumb
    zenith = web_login(app, "owner@zenith.test").get("/core/series").text
    assert "ledger.voucher" not in zenith  # ledger is not enabled there


def test_series_form_previews_without_javascript(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    page = owner.get("/core/series/ledger.voucher")
    assert page.status_code == 200
    assert text_of(page.text, "series-preview-number") == "V-0001"
    assert 'data-preview-url="/api/v1/core/series/ledger.voucher/preview"' in page.text
    assert '<script src="/core/static/series-preview.js">' in page.text
    shown = owner.submit(
        "/core/series/ledger.voucher/preview", series_form(owner, "ledger.voucher", pattern="LV/{seq:05}")
    )
    assert shown.status_code == 200
    assert text_of(shown.text, "series-preview-number") == "LV/00001"
    assert 'value="LV/{seq:05}"' in shown.text  # the form keeps what was typed
    too_long = owner.submit(
        "/core/series/ledger.voucher/preview", series_form(owner, "ledger.voucher", pattern="VOUCHER-{FY}-{seq:06}")
    )
    problems = re.search(r'id="series-preview-problems">(.*?)</ul>', too_long.text, re.S).group(1)
    assert "at most 16 are allowed" in problems
    assert "<code>V-0001</code>" in owner.get("/core/series").text  # a preview saves nothing


def test_the_static_script_is_served_without_a_login(world):
    kernel, app = world
    script = app.test_client().get("/core/static/series-preview.js")
    assert script.status_code == 200 and "series/" not in script.mimetype
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert "data-preview-url" in script.get_data(as_text=True)
    script.close()


def test_saving_a_series_checks_it_as_the_api_does(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    before = owner.get("/api/v1/core/series/ledger.voucher").get_json()["data"]["version"]
    bad = owner.submit(
        "/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern="VOUCHER-{FY}-{seq:06}")
    )
    assert bad.status_code == 422
    assert any("at most 16 are allowed" in m for m in field_error(bad.text, "pattern"))
    unknown = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern="V-{nope}"))
    assert unknown.status_code == 422 and field_error(unknown.text, "pattern")
    empty = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern=""))
    assert empty.status_code == 422 and field_error(empty.text, "pattern")
    limit = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", max_length="lots"))
    assert limit.status_code == 422 and field_error(limit.text, "max_length")
    gap = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", gap_free=""))
    assert gap.status_code == 422 and "gap-free" in " ".join(field_error(gap.text, "gap_free"))
    saved = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern="LV{seq:05}"))
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/core/series/ledger.voucher")
    after = owner.get("/core/series/ledger.voucher").text
    assert "Number series ledger.voucher saved." in after and text_of(after, "series-preview-number") == "LV00001"
    api = owner.get("/api/v1/core/series/ledger.voucher").get_json()["data"]
    assert api["pattern"] == "LV{seq:05}" and api["version"] == before + 1
    stale = owner.submit("/core/series/ledger.voucher", {**series_form(owner, "ledger.voucher"), "version": "0"})
    assert stale.status_code == 409 and 'id="version-conflict"' in stale.text


def test_series_pages_refuse_who_may_not(world):
    kernel, app = world
    member = web_login(app, "member@acme.test")
    assert member.get("/core/series").status_code == 403
    owner = web_login(app, "owner@acme.test")
    form = series_form(owner, "ledger.voucher")
    assert member.submit("/core/series/ledger.voucher", form).status_code == 403
    assert owner.get("/core/series/no.such").status_code == 404


# -- organisation and branches ---------------------------------------------------------------


def test_tenant_page_saves_name_and_timezone(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    page = owner.get("/core/tenant").text
    assert 'value="Acme Ltd"' in page and '<option value="Asia/Kolkata" selected>' in page
    assert 'href="/core/settings/core"' in page  # locale lives on the core's settings page
    bad = owner.submit("/core/tenant", {"name": "", "timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert field_error(bad.text, "timezone") == ["unknown timezone &#39;Mars/Olympus&#39;"]
    assert field_error(bad.text, "name") == ["must not be empty"]
    saved = owner.submit("/core/tenant", {"name": "Acme Foods Pvt Ltd", "timezone": "Asia/Dubai"})
    assert saved.status_code == 303
    after = owner.get("/core/tenant").text
    assert "Organisation saved." in after and '<option value="Asia/Dubai" selected>' in after
    assert "Acme Foods Pvt Ltd" in after  # the navbar already shows the new name
    with kernel.db.session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == "acme"))
        assert (tenant.name, tenant.timezone) == ("Acme Foods Pvt Ltd", "Asia/Dubai")


def test_tenant_page_refuses_members(world):
    kernel, app = world
    member = web_login(app, "member@acme.test")
    assert member.get("/core/tenant").status_code == 200  # Members may read the tenant
    refused = member.submit("/core/tenant", {"name": "Mine", "timezone": "UTC"})
    assert refused.status_code == 403


def test_branches_are_created_and_edited_through_the_forms(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    assert 'id="new-branch"' in owner.get("/core/branches").text
    assert owner.get("/core/branches/new").status_code == 200
    made = owner.submit(
        "/core/branches/new", {"code": "PUNE", "name": "Pune works", "state_code": "27", "address": "Hinjewadi"}
    )
    assert made.status_code == 303
    listed = owner.get("/core/branches").text
    assert "Branch PUNE created." in listed and 'data-branch="PUNE"' in listed
    duplicate = owner.submit("/core/branches/new", {"code": "PUNE", "name": "Again", "state_code": "", "address": ""})
    assert duplicate.status_code == 422 and field_error(duplicate.text, "code") == [
        "branch &#39;PUNE&#39; already exists"
    ]
    bad = owner.submit("/core/branches/new", {"code": "pune 2", "name": " ", "state_code": "2A", "address": ""})
    assert bad.status_code == 422
    assert field_error(bad.text, "state_code") == ["two digits, e.g. 27 (the GST state code)"]
    assert field_error(bad.text, "code") and field_error(bad.text, "name")
    with acme_session(kernel) as session:
        branch = session.scalar(select(Branch).where(Branch.code == "PUNE"))
        assert branch is not None and branch.state_code == "27"
        branch_id = branch.id
    edit = owner.get(f"/core/branches/{branch_id}").text
    form = {"version": version_of(edit), "name": "Pune plant", "state_code": "", "address": "Chakan"}
    wrong = owner.submit(f"/core/branches/{branch_id}", {**form, "state_code": "999"})
    assert wrong.status_code == 422 and field_error(wrong.text, "state_code")
    saved = owner.submit(f"/core/branches/{branch_id}", form)  # no is_active: deactivated
    assert saved.status_code == 303
    stale = owner.submit(f"/core/branches/{branch_id}", form)
    assert stale.status_code == 409 and 'id="version-conflict"' in stale.text
    api = owner.get(f"/api/v1/core/branches/{branch_id}").get_json()["data"]
    assert (api["name"], api["state_code"], api["address"], api["is_active"]) == ("Pune plant", None, "Chakan", False)


def test_branch_pages_refuse_members(world):
    kernel, app = world
    with acme_session(kernel) as session:
        branch_id = create_branch(session, code="BLR", name="Bengaluru").id
        session.commit()
    member = web_login(app, "member@acme.test")
    listed = member.get("/core/branches")
    assert listed.status_code == 200 and "Bengaluru" in listed.text and 'id="new-branch"' not in listed.text
    assert member.get("/core/branches/new").status_code == 403
    assert member.submit("/core/branches/new", {"code": "X", "name": "X"}).status_code == 403
    assert member.get(f"/core/branches/{branch_id}").status_code == 403


def test_the_api_update_of_a_branch_runs_the_same_checks(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    owner.submit("/core/branches/new", {"code": "GOA", "name": "Goa", "state_code": "30", "address": ""})
    branch = owner.get("/api/v1/core/branches", query_string={"code": "GOA"}).get_json()["data"][0]
    token = owner.client.get_cookie("csrf_access_token").value
    refused = owner.client.patch(
        f"/api/v1/core/branches/{branch['id']}",
        json={"version": branch["version"], "name": " "},
        headers={"X-CSRF-TOKEN": token},
    )
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"name": ["must not be empty"]}


# -- custom fields --------------------------------------------------------------------------------


def field_form(**changes: str) -> dict[str, str]:
    return {
        "resource": "ledger.voucher",
        "name": "x_site",
        "type": "text",
        "label": "",
        "help": "",
        "default": "",
        "options": "",
        "target": "",
        "places": "",
        "max_length": "",
        "position": "0",
        **changes,
    }


def test_custom_fields_are_created_edited_and_deleted(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    assert 'id="no-custom-fields"' in owner.get("/core/custom-fields").text
    assert 'value="ledger.voucher"' in owner.get("/core/custom-fields/new").text
    made = owner.submit("/core/custom-fields/new", field_form(type="choice", options="High\nLow", show_in_list="true"))
    assert made.status_code == 303
    listed = owner.get("/core/custom-fields").text
    assert "Custom field x_site added to ledger.voucher." in listed
    assert 'data-custom-field="x_site"' in listed and "choice: High, Low" in listed
    taken = owner.submit("/core/custom-fields/new", field_form())
    assert taken.status_code == 422 and field_error(taken.text, "name") == [
        "ledger.voucher has a custom field x_site already"
    ]
    with acme_session(kernel) as session:
        field_id = session.scalar(select(CustomField.id).where(CustomField.name == "x_site"))
    edit = owner.get(f"/core/custom-fields/{field_id}").text
    assert "High\nLow</textarea>" in edit
    form = {**field_form(type="choice", options="High\nLow\nMedium", label="Site"), "version": version_of(edit)}
    form.pop("resource")
    bad = owner.submit(f"/core/custom-fields/{field_id}", {**form, "default": "Urgent"})
    assert bad.status_code == 422 and field_error(bad.text, "default")
    saved = owner.submit(f"/core/custom-fields/{field_id}", form)
    assert saved.status_code == 303
    api = owner.get(f"/api/v1/core/custom-fields/{field_id}").get_json()["data"]
    assert api["options"] == ["High", "Low", "Medium"] and api["label"] == "Site" and api["show_in_list"] is False
    confirm = owner.get(f"/core/custom-fields/{field_id}/delete")
    assert confirm.status_code == 200 and "No record has a value of it." in confirm.text
    gone = owner.submit(f"/core/custom-fields/{field_id}/delete", {})
    assert gone.status_code == 303
    assert "Custom field x_site of ledger.voucher deleted." in owner.get("/core/custom-fields").text
    assert owner.get(f"/api/v1/core/custom-fields/{field_id}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "site"}, "name", "x_ then a lower-case letter"),
        ({"resource": "no.such"}, "resource", "no such resource for this tenant"),
        ({"type": "choice"}, "options", "a choice needs at least one option"),
        ({"places": "2"}, "places", "only decimal fields have places"),
        ({"max_length": "many"}, "max_length", "Not a valid integer."),
        ({"type": "link"}, "target", "a link names a resource"),
    ],
)
def test_bad_custom_fields_are_shown_on_the_form(world, changes, field, message):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    refused = owner.submit("/core/custom-fields/new", field_form(**changes))
    assert refused.status_code == 422
    assert any(message in m for m in field_error(refused.text, field)), field_error(refused.text, field)
    with acme_session(kernel) as session:
        assert session.scalar(select(CustomField.id)) is None


def test_deleting_a_field_with_values_needs_the_purge_box(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    owner.submit("/core/custom-fields/new", field_form())
    token = owner.client.get_cookie("csrf_access_token").value
    voucher = owner.client.post(
        "/api/v1/ledger/vouchers",
        json={"party": "P", "amount": "1.00", "issued_on": "2026-05-01", "x_site": "Pune"},
        headers={"X-CSRF-TOKEN": token},
    )
    assert voucher.status_code == 201, voucher.text
    with acme_session(kernel) as session:
        field_id = session.scalar(select(CustomField.id).where(CustomField.name == "x_site"))
    confirm = owner.get(f"/core/custom-fields/{field_id}/delete").text
    assert 'id="custom-field-values"' in confirm and 'name="purge"' in confirm
    refused = owner.submit(f"/core/custom-fields/{field_id}/delete", {})
    assert refused.status_code == 409 and field_error(refused.text, "purge")
    gone = owner.submit(f"/core/custom-fields/{field_id}/delete", {"purge": "true"})
    assert gone.status_code == 303
    assert "deleted with 1 values" in owner.get("/core/custom-fields").text


def test_custom_field_pages_refuse_members(world):
    kernel, app = world
    member = web_login(app, "member@acme.test")
    assert member.get("/core/custom-fields").status_code == 403
    assert member.get("/core/custom-fields/new").status_code == 403
    assert member.submit("/core/custom-fields/new", field_form()).status_code == 403


# -- audit log --------------------------------------------------------------------------------------


def test_audit_log_shows_changes_with_filters_and_pages(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    owner.submit("/core/branches/new", {"code": "PUNE", "name": "Pune", "state_code": "27", "address": ""})
    with acme_session(kernel) as session:
        branch = session.scalar(select(Branch).where(Branch.code == "PUNE"))
        branch_id, version = branch.id, branch.version
    owner.submit(
        f"/core/branches/{branch_id}",
        {"version": str(version), "name": "Pune works", "state_code": "27", "address": "", "is_active": "true"},
    )
    page = owner.get("/core/audit")
    assert page.status_code == 200
    entries = re.findall(r'data-audit-entry="[^"]+" data-entity="([^"]+)" data-change="(\w+)"', page.text)
    assert entries[:2] == [("core_branch", "update"), ("core_branch", "insert")]  # newest first
    update = page.text[page.text.index('data-change="update"') :]
    update = update[: update.index("</article>")]
    assert "<del>Pune</del>" in update and "→ Pune works" in update and "Olga Owner" in update
    one = owner.get(
        "/core/audit", query_string={"entity": "core_branch", "record_id": str(branch_id), "action": "insert"}
    )
    found = re.findall(r'data-change="(\w+)"', one.text)
    assert found == ["insert"]
    assert owner.get("/core/audit", query_string={"entity": "notes_note"}).text.count("data-audit-entry=") == 0
    later = owner.get("/core/audit", query_string={"since": "2999-01-01"}).text
    assert 'id="audit-empty"' in later
    bad = owner.get("/core/audit", query_string={"since": "yesterday", "action": "burn"})
    assert bad.status_code == 422
    assert field_error(bad.text, "since") == ["a date, e.g. 2026-04-01"] and field_error(bad.text, "action")


def test_audit_log_pages_with_a_cursor(world, monkeypatch):
    kernel, app = world
    from udyog.web import audit_pages

    monkeypatch.setattr(audit_pages, "PAGE_SIZE", 2)
    owner = web_login(app, "owner@acme.test")
    for code in ("A1", "A2", "A3"):
        owner.submit("/core/branches/new", {"code": code, "name": code, "state_code": "", "address": ""})
    first = owner.get("/core/audit", query_string={"entity": "core_branch"}).text
    link = re.search(r'href="([^"]+)" id="audit-next"', first).group(1).replace("&amp;", "&")
    assert "entity=core_branch" in link and "cursor=" in link
    second = owner.get(link).text
    ids = re.findall(r'data-audit-entry="([^"]+)"', first) + re.findall(r'data-audit-entry="([^"]+)"', second)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert 'id="audit-next"' not in second and 'id="audit-first"' in second


def test_audit_log_refuses_members(world):
    kernel, app = world
    assert web_login(app, "member@acme.test").get("/core/audit").status_code == 403


# -- menu and assets ------------------------------------------------------------------------------


def test_menu_and_pages_load_nothing_from_elsewhere(world):
    kernel, app = world
    owner = web_login(app, "owner@acme.test")
    home = owner.get("/").text
    for key in ("core.tenant", "core.series", "core.custom_fields", "core.audit"):
        assert f'data-menu-key="{key}"' in home
    member_home = web_login(app, "member@acme.test").get("/").text
    for key in ("core.series", "core.custom_fields", "core.audit"):
        assert f'data-menu-key="{key}"' not in member_home
    anonymous = app.test_client()
    for path in (
        "/core/series",
        "/core/series/ledger.voucher",
        "/core/tenant",
        "/core/branches",
        "/core/branches/new",
        "/core/custom-fields",
        "/core/custom-fields/new",
        "/core/audit",
    ):
        page = owner.get(path)
        assert page.status_code == 200, path
        for asset in assert_nothing_from_elsewhere(page.text):
            response = anonymous.get(asset)
            assert response.status_code == 200, asset
            response.close()


def test_the_pages_save_on_each_backend(kernel_factory, backend):
    kernel, app = make_world(kernel_factory, backend)
    owner = web_login(app, "owner@acme.test")
    saved = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern="LV{seq:05}"))
    assert saved.status_code == 303
    too_long = owner.submit("/core/series/ledger.voucher", series_form(owner, "ledger.voucher", pattern="V{seq:018}"))
    assert too_long.status_code == 422 and field_error(too_long.text, "pattern")
    assert owner.submit("/core/tenant", {"name": "Acme", "timezone": "Asia/Kolkata"}).status_code == 303
    made = owner.submit("/core/branches/new", {"code": "PUNE", "name": "Pune", "state_code": "27", "address": ""})
    assert made.status_code == 303
    duplicate = owner.submit("/core/branches/new", {"code": "PUNE", "name": "Pune", "state_code": "", "address": ""})
    assert duplicate.status_code == 422
    assert owner.submit("/core/custom-fields/new", field_form()).status_code == 303
    audit = owner.get("/core/audit", query_string={"since": "2000-01-01", "until": "2999-12-31"}).text
    assert re.findall(r'data-entity="(\w+)" data-change="(\w+)"', audit)[:3] == [
        ("core_custom_field", "insert"),
        ("core_branch", "insert"),
        ("core_series", "update"),
    ]
