"""The admin access pages: users, roles and record rules, plugins (and the plugins' enable/disable API)."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from udyog.app import create_app
from udyog.auth import user_by_email
from udyog.models import Membership, Role
from udyog.tenancy import create_tenant, tenant_plugins
from udyog.testing import UserHandle, WebClient, login, make_user

PLUGINS = ["notes", "tags", "ledger", "taxes"]


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(PLUGINS, backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    app = create_app(kernel=kernel)
    owner = make_user(kernel, "acme", "owner@acme.test", roles=["Owner"], name="Olga Owner")
    admin = make_user(kernel, "acme", "admin@acme.test", roles=["Administrator"], name="Arun Admin")
    member = make_user(kernel, "acme", "member@acme.test", roles=["Member"], name="Manoj Member")
    return kernel, app, owner, admin, member


def client(app, user) -> WebClient:
    return WebClient(app, user)


def role_id(kernel, name: str) -> uuid.UUID:
    with kernel.tenant_scope("acme") as scope:
        return scope.session.scalar(select(Role.id).where(Role.name == name))


def flash_of(page) -> str:
    """The flash messages of a page, as ``alert-<category>: <message>`` lines."""
    html = page.text
    found = re.findall(
        r'<div class="alert (alert-\w+)[^>]*>\s*(.*?)<button', html[html.index('id="udyog-flash"') :], re.S
    )
    return "\n".join(f"{category}: {message.strip()}" for category, message in found)


def follow(web: WebClient, response) -> object:
    assert response.status_code == 303, response.text[:2000]
    return web.get(response.headers["Location"])


# -- access ----------------------------------------------------------------------------


def test_a_member_is_refused_every_admin_page_and_action(world):
    kernel, app, owner, admin, member = world
    web = client(app, member)
    owner_role = role_id(kernel, "Owner")
    reads = {
        "/core/users": "core.user.read",
        f"/core/users/{owner.id}": "core.user.read",
        "/core/users/new": "core.user.manage",
        "/core/roles": "core.role.read",
        f"/core/roles/{owner_role}": "core.role.read",
        "/core/roles/new": "core.role.manage",
        f"/core/roles/{owner_role}/delete": "core.role.manage",
        "/core/plugins": "core.plugin.read",
        "/core/plugins/notes/disable": "core.tenant.manage",
        "/core/plugins/tags/enable": "core.tenant.manage",
    }
    for path, permission in reads.items():
        page = web.get(path)
        assert page.status_code == 403 and page.mimetype == "text/html", path
        assert "Not allowed" in page.text and permission in page.text, path
    writes = {
        "/core/users/new": {"email": "x@acme.test", "name": "X"},
        f"/core/users/{owner.id}": {"roles": "Member"},
        f"/core/users/{owner.id}/active": {"active": "0"},
        "/core/roles/new": {"name": "Sneaky", "permissions": "*"},
        f"/core/roles/{owner_role}": {"name": "Owner", "version": "1"},
        f"/core/roles/{owner_role}/delete": {},
        "/core/plugins/notes/disable": {},
        "/core/plugins/tags/enable": {},
    }
    for path, data in writes.items():
        assert web.submit(path, data).status_code == 403, path
    assert tenant_plugins(kernel, "acme") == ["notes"]
    with kernel.tenant_scope("acme") as scope:
        assert scope.session.scalar(select(Role.id).where(Role.name == "Sneaky")) is None


def test_readers_see_the_pages_without_the_forms_to_change(world):
    kernel, app, *_ = world
    reader = make_user(kernel, "acme", permissions=["core.user.read", "core.role.read", "core.plugin.read"])
    web = client(app, reader)
    users = web.get("/core/users")
    assert users.status_code == 200 and "owner@acme.test" in users.text and "Add a member" not in users.text
    page = web.get(f"/core/users/{reader.id}")
    assert page.status_code == 200 and "<fieldset disabled>" in page.text and "Deactivate" not in page.text
    roles = web.get("/core/roles")
    assert roles.status_code == 200 and "New role" not in roles.text
    role = web.get(f"/core/roles/{role_id(kernel, 'Member')}")
    assert role.status_code == 200 and "<fieldset disabled>" in role.text and "Delete…" not in role.text
    plugins = web.get("/core/plugins")
    assert plugins.status_code == 200 and 'id="disable-notes"' not in plugins.text
    assert web.submit(f"/core/users/{reader.id}", {"roles": "Owner"}).status_code == 403


# -- users ------------------------------------------------------------------------------


def test_users_page_lists_members_roles_and_state_with_breadcrumbs(world):
    kernel, app, owner, admin, member = world
    page = client(app, owner).get("/core/users")
    assert page.status_code == 200
    html = page.text
    assert 'id="udyog-breadcrumbs"' in html and "Administration" in html
    row = html[html.index('data-member="member@acme.test"') :]
    row = row[: row.index("</tr>")]
    assert "Manoj Member" in row and "<td>Member</td>" in row and "text-bg-success" in row
    assert f'href="/core/users/{member.id}"' in row
    assert 'href="/core/users/new"' in html


def test_add_a_new_member_with_a_password_who_then_logs_in(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    form = web.get("/core/users/new")
    assert form.status_code == 200 and 'name="password"' in form.text and 'value="Member"' in form.text
    answer = web.submit(
        "/core/users/new",
        {"email": "Priya@Acme.test", "name": "Priya", "password": "a-good-long-password", "roles": ["Member"]},
    )
    page = follow(web, answer)
    assert "Priya was added." in flash_of(page)
    new = user_by_email(kernel, "priya@acme.test")
    assert new is not None and answer.headers["Location"] == f"/core/users/{new.id}"
    assert re.search(r'value="Member" id="role-\d+" checked', page.text)
    handle = UserHandle(new.id, "priya@acme.test", "a-good-long-password", "acme", ("Member",))
    assert client(app, handle).get("/").status_code == 200


def test_add_a_member_without_a_password_warns_and_an_existing_account_is_reused(world, kernel_factory):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    page = follow(web, web.submit("/core/users/new", {"email": "nopass@acme.test", "name": "No Pass"}))
    assert "no password yet" in flash_of(page) and "alert-warning" in flash_of(page)
    assert user_by_email(kernel, "nopass@acme.test").password_hash is None
    # An account of another tenant is added as it is: the form's name and password are not used.
    create_tenant(kernel, "zenith", "Zenith")
    elsewhere = make_user(kernel, "zenith", "zoe@zenith.test", roles=["Member"], name="Zoe")
    page = follow(web, web.submit("/core/users/new", {"email": "zoe@zenith.test", "name": "Other", "roles": "Member"}))
    assert '<h1 class="h3 mb-1">Zoe</h1>' in page.text
    assert client(app, elsewhere).get("/").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "name": "X"}, "Length must be between 3 and 254."),
        ({"email": "new@acme.test", "name": ""}, "Length must be between 1 and 200."),
        ({"email": "new@acme.test", "name": "New", "password": "123"}, "at least"),
        ({"email": "member@acme.test", "name": "Again"}, "member@acme.test is already a member"),
        ({"email": "new@acme.test", "name": "New", "roles": "Nope"}, "no role &#39;Nope&#39;"),
        ({"email": "new@acme.test", "name": "New", "branch_id": "not-a-uuid"}, "Not a valid UUID."),
    ],
)
def test_add_member_errors_are_shown_on_the_form(world, data, message):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    answer = web.submit("/core/users/new", data)
    assert answer.status_code == 422 and message in answer.text, answer.text[-3000:]
    assert 'id="member-form"' in answer.text and 'id="form-errors"' in answer.text
    assert user_by_email(kernel, "new@acme.test") is None  # nothing half-written


def test_nobody_grants_a_role_beyond_their_own_permissions(world):
    kernel, app, owner, admin, member = world
    web = client(app, admin)  # Administrator: core.* only
    answer = web.submit("/core/users/new", {"email": "boss@acme.test", "name": "Boss", "roles": "Owner"})
    assert answer.status_code == 422 and "&#39;*&#39; goes beyond your own permissions" in answer.text
    assert user_by_email(kernel, "boss@acme.test") is None
    answer = web.submit(f"/core/users/{member.id}", {"roles": ["Member", "Owner"]})
    assert answer.status_code == 422 and "goes beyond your own permissions" in answer.text
    assert re.search(r'value="Owner" id="role-\d+" checked', answer.text)  # what was sent stays on the form


def test_change_roles_and_branch_of_a_member(world):
    kernel, app, owner, admin, member = world
    from udyog.tenancy import create_branch

    with kernel.tenant_scope("acme") as scope:
        branch = create_branch(scope.session, code="PUNE", name="Pune")
        scope.session.commit()
        branch_id = branch.id
    web = client(app, owner)
    page = follow(
        web, web.submit(f"/core/users/{member.id}", {"roles": ["Member", "Administrator"], "branch_id": branch_id})
    )
    assert "Roles and branch saved." in flash_of(page)
    assert f'<option value="{branch_id}" selected>' in page.text
    assert "<td>Administrator, Member</td>" in web.get("/core/users").text
    member_web = client(app, member)
    assert member_web.get("/core/users").status_code == 200  # the new role counts at once


def test_the_last_owner_keeps_the_owner_role(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    answer = web.submit(f"/core/users/{owner.id}", {"roles": ["Administrator"]})
    assert answer.status_code == 422
    assert "this change would leave the tenant without an owner" in answer.text
    assert "<td>Owner</td>" in web.get("/core/users").text


def test_deactivate_and_reactivate_a_membership(world):
    kernel, app, owner, admin, member = world
    member_web = client(app, member)
    assert member_web.get("/").status_code == 200
    web = client(app, owner)
    assert 'id="member-active-form"' in web.get(f"/core/users/{member.id}").text
    page = follow(web, web.submit(f"/core/users/{member.id}/active", {"active": "0"}))
    assert "The membership was deactivated." in flash_of(page) and "deactivated" in page.text
    assert member_web.get("/").status_code == 302  # the login ended at once
    with kernel.tenant_scope("acme") as scope:
        assert scope.session.scalar(select(Membership.is_active).where(Membership.user_id == member.id)) is False
    page = follow(web, web.submit(f"/core/users/{member.id}/active", {"active": "1"}))
    assert "The membership is active again." in flash_of(page)
    assert client(app, member).get("/").status_code == 200


def test_nobody_deactivates_themselves(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    assert 'id="member-active-form"' not in web.get(f"/core/users/{owner.id}").text
    answer = web.submit(f"/core/users/{owner.id}/active", {"active": "0"})
    assert answer.status_code == 422 and "you cannot deactivate yourself" in answer.text


def test_an_unknown_member_is_404(world):
    kernel, app, owner, *_ = world
    assert client(app, owner).get(f"/core/users/{uuid.uuid4()}").status_code == 404


# -- roles --------------------------------------------------------------------------------


def test_roles_page_lists_roles_with_their_holders(world):
    kernel, app, owner, *_ = world
    html = client(app, owner).get("/core/roles").text
    row = html[html.index('data-role="Owner"') :]
    row = row[: row.index("</tr>")]
    assert "default" in row and "<td>1</td>" in row
    assert 'href="/core/roles/new"' in html and 'id="udyog-breadcrumbs"' in html


def test_the_role_form_groups_declared_permissions_by_plugin_and_lists_record_rules(world):
    kernel, app, owner, *_ = world
    html = client(app, owner).get("/core/roles/new").text
    plugins = re.findall(r'<fieldset class="col-12 col-md-6 col-lg-4" data-plugin="([^"]+)"', html)
    assert plugins[0] == "core" and "notes" in plugins
    assert "ledger" not in plugins  # not enabled for acme
    assert 'value="notes.note.read"' in html and 'value="notes.*"' in html and 'value="core.user.manage"' in html
    assert 'value="notes.own_branch"' in html  # the notes plugin's record rule


def test_create_a_role_through_the_form_and_give_it(world):
    kernel, app, owner, admin, member = world
    web = client(app, owner)
    answer = web.submit(
        "/core/roles/new",
        {
            "name": "Note Keeper",
            "description": "Reads and writes notes of their branch",
            "permissions": ["notes.note.read", "notes.note.write"],
            "other_permissions": "notes.notebook.*",
            "record_rules": ["notes.own_branch"],
        },
    )
    page = follow(web, answer)
    assert "Role Note Keeper created." in flash_of(page)
    with kernel.tenant_scope("acme") as scope:
        role = scope.session.scalar(select(Role).where(Role.name == "Note Keeper"))
        assert sorted(role.permissions) == ["notes.note.read", "notes.note.write", "notes.notebook.*"]
        assert role.record_rules == ["notes.own_branch"] and role.is_default is False
    # The wildcard comes back in the "other patterns" box; the checkboxes are checked.
    assert ">notes.notebook.*</textarea>" in page.text
    assert 'value="notes.note.write" id="perm-notes.note.write" checked' in page.text
    assert 'value="notes.own_branch" id="rule-notes.own_branch" checked' in page.text
    follow(web, web.submit(f"/core/users/{member.id}", {"roles": ["Member", "Note Keeper"]}))
    assert client(app, member).get("/notes/notes").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Length must be between 1 and 80."),
        ({"name": "Owner"}, "a role &#39;Owner&#39; exists"),
        ({"name": "Odd", "other_permissions": "nothing.here"}, "&#39;nothing.here&#39; matches no declared permission"),
        ({"name": "Odd", "record_rules": "no.such_rule"}, "unknown record rule &#39;no.such_rule&#39;"),
    ],
)
def test_role_form_errors_are_shown_with_422(world, data, message):
    kernel, app, owner, *_ = world
    answer = client(app, owner).submit("/core/roles/new", data)
    assert answer.status_code == 422 and message in answer.text
    assert 'id="role-form"' in answer.text
    with kernel.tenant_scope("acme") as scope:
        assert scope.session.scalar(select(Role.id).where(Role.name == "Odd")) is None


def test_an_administrator_cannot_create_a_role_granting_what_they_lack(world):
    kernel, app, owner, admin, member = world
    answer = client(app, admin).submit("/core/roles/new", {"name": "Notes", "permissions": "notes.note.read"})
    assert answer.status_code == 422 and "goes beyond your own permissions" in answer.text


def test_edit_a_role_and_a_stale_form_is_explained(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    member_role = role_id(kernel, "Member")
    form = web.get(f"/core/roles/{member_role}").text
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    data = {"name": "Member", "description": "Everyone", "permissions": ["core.tenant.read"], "version": version}
    page = follow(web, web.submit(f"/core/roles/{member_role}", data))
    assert "Role Member saved." in flash_of(page)
    with kernel.tenant_scope("acme") as scope:
        role = scope.session.scalar(select(Role).where(Role.id == member_role))
        assert role.permissions == ["core.tenant.read"] and role.description == "Everyone"
    stale = web.submit(f"/core/roles/{member_role}", {**data, "description": "Mine"})
    assert stale.status_code == 409 and 'id="version-conflict"' in stale.text


def test_taking_everything_from_the_only_owner_role_is_refused(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    owner_role = role_id(kernel, "Owner")
    form = web.get(f"/core/roles/{owner_role}").text
    assert ">*</textarea>" in form  # "*" sits in the other patterns box
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    answer = web.submit(f"/core/roles/{owner_role}", {"name": "Owner", "permissions": "core.*", "version": version})
    assert answer.status_code == 422 and "without an owner" in answer.text


def test_delete_a_role_after_confirming_and_the_last_owner_role_stays(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    owner_role = role_id(kernel, "Owner")
    confirm = web.get(f"/core/roles/{owner_role}/delete")
    assert confirm.status_code == 200 and "1 member holds this role and loses it at once." in confirm.text
    refused = web.submit(f"/core/roles/{owner_role}/delete", {})
    assert refused.status_code == 422 and "without an owner" in refused.text
    follow(web, web.submit("/core/roles/new", {"name": "Temp", "permissions": "core.branch.read"}))
    temp = role_id(kernel, "Temp")
    assert "Nobody holds this role." in web.get(f"/core/roles/{temp}/delete").text
    page = follow(web, web.submit(f"/core/roles/{temp}/delete", {}))
    assert "Role Temp deleted." in flash_of(page) and 'data-role="Temp"' not in page.text
    assert role_id(kernel, "Temp") is None
    assert web.get(f"/core/roles/{temp}").status_code == 404


# -- plugins -----------------------------------------------------------------------------------


def plugin_row(html: str, name: str) -> str:
    row = html[html.index(f'data-plugin="{name}"') :]
    return row[: row.index("</tr>")]


def test_plugins_page_shows_versions_states_requirements_and_enablement(world):
    kernel, app, owner, *_ = world
    html = client(app, owner).get("/core/plugins").text
    assert "<td>notes</td>" in html
    assert 'data-enabled="yes"' in plugin_row(html, "notes") and 'id="disable-notes"' in html
    taxes = plugin_row(html, "taxes")
    assert 'data-enabled="no"' in taxes and "ledger&gt;=0.1, notes&gt;=0.2" in taxes and 'id="enable-taxes"' in taxes
    assert "always enabled" in plugin_row(html, "core") and 'id="disable-core"' not in html


def test_a_plugin_that_failed_to_load_shows_its_error(kernel_factory):
    kernel = kernel_factory(["notes", "broken"], strict=False)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes"])
    app = create_app(kernel=kernel)
    owner = make_user(kernel, "acme", "owner@acme.test")
    web = client(app, owner)
    row = plugin_row(web.get("/core/plugins").text, "broken")
    assert 'data-state="failed"' in row and 'class="small text-danger plugin-error"' in row
    assert kernel.registry.get("broken").error.split(":")[0] in row and "enable-broken" not in row
    confirm = web.get("/core/plugins/broken/enable")
    assert "broken cannot be enabled (failed:" in confirm.text and 'id="plugin-confirm-form"' not in confirm.text
    assert web.submit("/core/plugins/broken/enable", {}).status_code == 422
    assert tenant_plugins(kernel, "acme") == ["notes"]


def test_enabling_a_plugin_enables_what_it_requires_after_a_confirmation(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    confirm = web.get("/core/plugins/taxes/enable")
    assert (
        confirm.status_code == 200 and 'id="plugin-also"' in confirm.text and "<strong>ledger</strong>" in confirm.text
    )
    assert 'id="udyog-breadcrumbs"' in confirm.text
    page = follow(web, web.submit("/core/plugins/taxes/enable", {}))
    assert "Enabled for this organisation: ledger, taxes." in flash_of(page)
    assert tenant_plugins(kernel, "acme") == ["ledger", "notes", "taxes"]
    assert 'data-menu-key="ledger.vouchers"' in page.text  # the menu follows at once


def test_disabling_a_plugin_others_require_is_refused_and_explained(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    follow(web, web.submit("/core/plugins/tags/enable", {}))
    confirm = web.get("/core/plugins/notes/disable")
    assert "notes is required by tags; disable them first." in confirm.text
    assert 'href="/core/plugins/tags/disable"' in confirm.text and 'id="plugin-confirm-form"' not in confirm.text
    refused = web.submit("/core/plugins/notes/disable", {})
    assert refused.status_code == 422 and "required by tags" in refused.text
    assert tenant_plugins(kernel, "acme") == ["notes", "tags"]
    follow(web, web.submit("/core/plugins/tags/disable", {}))
    page = follow(web, web.submit("/core/plugins/notes/disable", {}))
    assert "Disabled for this organisation: notes." in flash_of(page)
    assert tenant_plugins(kernel, "acme") == [] and 'data-menu-key="notes.notes"' not in page.text
    assert web.get("/notes/notes").status_code == 404


def test_the_core_cannot_be_disabled_and_unknown_plugins_are_404(world):
    kernel, app, owner, *_ = world
    web = client(app, owner)
    confirm = web.get("/core/plugins/core/disable")
    assert "The core is always enabled; it cannot be disabled." in confirm.text
    assert web.submit("/core/plugins/core/disable", {}).status_code == 422
    assert web.get("/core/plugins/nosuch/enable").status_code == 404
    assert web.submit("/core/plugins/nosuch/disable", {}).status_code == 404


# -- the API beside the pages -----------------------------------------------------------------


def test_the_enable_and_disable_api(world):
    kernel, app, owner, admin, member = world
    api = login(app, "admin@acme.test")  # Administrator: core.* holds core.tenant.manage
    answer = api.post("/api/v1/core/plugins/taxes/enable")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()["data"]
    assert body == {"plugin": "taxes", "changed": ["ledger", "taxes"], "enabled_plugins": ["ledger", "notes", "taxes"]}
    again = api.post("/api/v1/core/plugins/taxes/enable").get_json()
    assert again["data"]["changed"] == [] and again["message"] == "already enabled"
    refused = api.post("/api/v1/core/plugins/ledger/disable")
    assert refused.status_code == 409 and refused.get_json()["errors"] == {"plugins": ["ledger: required by taxes"]}
    assert api.post("/api/v1/core/plugins/core/disable").status_code == 409
    unknown = api.post("/api/v1/core/plugins/nosuch/enable")
    assert unknown.status_code == 404 and unknown.get_json()["errors"] == {"name": ["not an installed plugin"]}
    assert "nosuch" not in unknown.text  # the path's text is not echoed (tests/test_leak.py treats echoes as leaks)
    assert api.post("/api/v1/core/plugins/taxes/disable", json={"unknown": 1}).status_code == 422
    done = api.post("/api/v1/core/plugins/taxes/disable", json={"purge_settings": True})
    assert done.status_code == 200 and done.get_json()["data"]["changed"] == ["taxes"]
    assert tenant_plugins(kernel, "acme") == ["ledger", "notes"]
    forbidden = login(app, "member@acme.test").post("/api/v1/core/plugins/ledger/disable")
    assert forbidden.status_code == 403 and forbidden.get_json()["errors"] == {"permission": ["core.tenant.manage"]}
