"""RBAC: declared permissions, seeded roles, deny by default, record rules in SQL, caches."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from udyog.app import create_app
from udyog.kernel import Kernel
from udyog.models import Membership, User
from udyog.rbac import DeclarationError, Security
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member, login
from udyog_sdk import Permission


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes", "tags"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["tags"])
    with kernel.tenant_scope("acme") as scope:
        branches = {code: create_branch(scope.session, code=code, name=code.title()).id for code in ("PUNE", "BLR")}
        scope.session.commit()
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "pune@acme.test", roles=("Branch Writer",))
    create_member(kernel, "acme", "reader@acme.test", roles=("Reader",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    with kernel.db.session() as s:
        s.bind_tenant(kernel.find_tenant(s, "acme").id)
        pune_user = s.scalar(select(User.id).where(User.email == "pune@acme.test"))
        s.execute(update(Membership).where(Membership.user_id == pune_user).values(branch_id=branches["PUNE"]))
        s.commit()
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    inbox = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]["id"]
    notes = {}
    for code, branch_id in branches.items():
        for title, body in ((f"{code} short", "one two"), (f"{code} long", "one two three four five six")):
            made = owner.post(
                "/api/v1/notes/notes",
                json={"notebook_id": inbox, "title": title, "body": body, "branch_id": str(branch_id)},
            )
            assert made.status_code == 201, made.get_json()
            notes[title] = made.get_json()["data"]["id"]
    return kernel, app, notes


def test_seeded_roles_merge_templates_of_the_enabled_plugins(world):
    kernel, app, notes = world
    roles = {r["name"]: r for r in login(app, "owner@acme.test").get("/api/v1/core/roles").get_json()["data"]}
    assert {"Owner", "Administrator", "Member", "Branch Writer", "Reader"} <= set(roles)
    assert roles["Owner"]["permissions"] == ["*", "notes.*", "tags.*"]
    assert roles["Reader"]["permissions"] == ["notes.note.read", "notes.notebook.read", "tags.tag.read"]
    assert roles["Branch Writer"]["record_rules"] == ["notes.own_branch"]
    declared = {p["name"] for p in login(app, "owner@acme.test").get("/api/v1/core/permissions").get_json()["data"]}
    assert {"core.branch.manage", "notes.note.write", "tags.tag.read"} <= declared


def test_missing_permission_is_a_403_naming_it(world):
    kernel, app, notes = world
    reader = login(app, "reader@acme.test")
    assert reader.get("/api/v1/notes/notes").status_code == 200
    denied = reader.post("/api/v1/notes/notes", json={"title": "x"})
    assert denied.status_code == 403
    assert denied.get_json() == {
        "success": False,
        "message": "permission required: notes.note.write",
        "errors": {"permission": ["notes.note.write"]},
    }
    member = login(app, "member@acme.test")
    assert member.get("/api/v1/core/branches").status_code == 200
    assert member.get("/api/v1/core/roles").get_json()["errors"] == {"permission": ["core.role.read"]}


def test_routes_without_a_declaration_are_denied(world):
    kernel, app, notes = world
    from flask import Blueprint

    bp = Blueprint("probe", __name__)
    bp.add_url_rule("/api/v1/probe", "probe", lambda: "secret")
    fresh = create_app(kernel=Kernel(kernel.settings))
    fresh.register_blueprint(bp)
    resp = login(fresh, "owner@acme.test").get("/api/v1/probe")
    assert resp.status_code == 403 and "deny by default" in resp.get_json()["message"]
    assert fresh.test_client().get("/api/v1/probe").status_code == 401


def test_record_rules_narrow_lists_and_lookups_in_sql(world):
    kernel, app, notes = world
    pune = login(app, "pune@acme.test")
    titles = sorted(n["title"] for n in pune.get("/api/v1/notes/notes").get_json()["data"])
    assert titles == ["PUNE long", "PUNE short"]
    assert pune.get(f"/api/v1/notes/notes/{notes['BLR short']}").status_code == 404
    assert pune.get(f"/api/v1/notes/notes/{notes['PUNE short']}").status_code == 200
    assert (
        pune.patch(f"/api/v1/notes/notes/{notes['BLR long']}", json={"title": "mine now", "version": 1}).status_code
        == 404
    )
    assert pune.delete(f"/api/v1/notes/notes/{notes['BLR long']}").status_code == 404
    owner = login(app, "owner@acme.test")
    assert len(owner.get("/api/v1/notes/notes").get_json()["data"]) == 4


def test_a_role_without_a_rule_on_a_model_lifts_the_restriction(world):
    kernel, app, notes = world
    owner = login(app, "owner@acme.test")
    users = {u["email"]: u["id"] for u in owner.get("/api/v1/core/users").get_json()["data"]}
    pune_id = users["pune@acme.test"]
    owner.patch(f"/api/v1/core/users/{pune_id}", json={"roles": ["Branch Writer", "Reader"]})
    pune = login(app, "pune@acme.test")
    assert len(pune.get("/api/v1/notes/notes").get_json()["data"]) == 4


def test_rules_of_several_roles_are_ored(world):
    kernel, app, notes = world
    owner = login(app, "owner@acme.test")
    short = owner.post(
        "/api/v1/core/roles",
        json={"name": "Short Notes", "permissions": ["notes.note.read"], "record_rules": ["notes.short_notes"]},
    )
    assert short.status_code == 201
    users = {u["email"]: u["id"] for u in owner.get("/api/v1/core/users").get_json()["data"]}
    owner.patch(f"/api/v1/core/users/{users['pune@acme.test']}", json={"roles": ["Branch Writer", "Short Notes"]})
    pune = login(app, "pune@acme.test")
    titles = sorted(n["title"] for n in pune.get("/api/v1/notes/notes").get_json()["data"])
    assert titles == ["BLR short", "PUNE long", "PUNE short"]


def test_role_edits_take_effect_at_once_in_every_process(world):
    kernel, app, notes = world
    other_process = create_app(kernel=Kernel(kernel.settings))
    reader_here = login(app, "reader@acme.test")
    reader_there = login(other_process, "reader@acme.test")
    assert reader_there.get("/api/v1/notes/notes").status_code == 200  # cached now
    owner = login(app, "owner@acme.test")
    reader_role = next(r for r in owner.get("/api/v1/core/roles").get_json()["data"] if r["name"] == "Reader")
    stale = owner.patch(f"/api/v1/core/roles/{reader_role['id']}", json={"version": 99, "permissions": []})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    bad = owner.patch(
        f"/api/v1/core/roles/{reader_role['id']}", json={"version": reader_role["version"], "permissions": ["nope.*"]}
    )
    assert bad.status_code == 422 and "permissions" in bad.get_json()["errors"]
    changed = owner.patch(
        f"/api/v1/core/roles/{reader_role['id']}",
        json={"version": reader_role["version"], "permissions": ["notes.notebook.read"]},
    )
    assert changed.status_code == 200 and changed.get_json()["data"]["version"] == reader_role["version"] + 1
    assert reader_here.get("/api/v1/notes/notes").status_code == 403
    assert reader_there.get("/api/v1/notes/notes").status_code == 403


def test_declarations_are_validated_naming_the_plugins(kernel_factory):
    kernel = kernel_factory(["notes"])
    security = Security(kernel)
    with pytest.raises(DeclarationError, match="declared by both notes and notes"):
        security._add_permission("notes", Permission("notes.note.read", "again"))
    with pytest.raises(DeclarationError, match="outside its prefix"):
        security._add_permission("notes", Permission("tags.tag.read", "not mine"))
    assert security.validate_role(["notes.*", "core.branch.read"], ["notes.own_branch"]) == {}
    errors = security.validate_role(["ghost.*"], ["ghost.rule"])
    assert set(errors) == {"permissions", "record_rules"}


def test_a_role_unrelated_to_the_plugin_does_not_lift_its_rules(world):
    kernel, app, notes = world
    owner = login(app, "owner@acme.test")
    users = {u["email"]: u["id"] for u in owner.get("/api/v1/core/users").get_json()["data"]}
    owner.patch(f"/api/v1/core/users/{users['pune@acme.test']}", json={"roles": ["Branch Writer", "Member"]})
    pune = login(app, "pune@acme.test")
    assert sorted(n["title"] for n in pune.get("/api/v1/notes/notes").get_json()["data"]) == ["PUNE long", "PUNE short"]


def test_nobody_grants_more_than_they_hold_and_an_owner_always_remains(world):
    kernel, app, notes = world
    owner = login(app, "owner@acme.test")
    users = {u["email"]: u["id"] for u in owner.get("/api/v1/core/users").get_json()["data"]}
    assert (
        owner.patch(f"/api/v1/core/users/{users['member@acme.test']}", json={"roles": ["Administrator"]}).status_code
        == 200
    )
    admin = login(app, "member@acme.test")
    escalate = admin.patch(
        f"/api/v1/core/users/{users['member@acme.test']}", json={"roles": ["Administrator", "Owner"]}
    )
    assert escalate.status_code == 403 and "roles" in escalate.get_json()["errors"]
    sneaky = admin.post("/api/v1/core/roles", json={"name": "Sneaky", "permissions": ["notes.*"]})
    assert sneaky.status_code == 403 and "permissions" in sneaky.get_json()["errors"]
    assert (
        admin.post("/api/v1/core/roles", json={"name": "Clerk", "permissions": ["core.branch.read"]}).status_code == 201
    )
    roles = {r["name"]: r for r in owner.get("/api/v1/core/roles").get_json()["data"]}
    gone = owner.delete(f"/api/v1/core/roles/{roles['Owner']['id']}")
    assert gone.status_code == 409 and "Owner" in gone.get_json()["message"]
    self_demote = owner.patch(f"/api/v1/core/users/{users['owner@acme.test']}", json={"roles": ["Member"]})
    assert self_demote.status_code == 409
    assert owner.get("/api/v1/core/roles").status_code == 200  # nothing was changed by the refused requests


def test_a_plugin_with_invalid_declarations_is_unloaded_alone(kernel_factory, monkeypatch):
    from udyog_test_tags import hooks as tags_hooks

    from udyog_sdk import RoleTemplate, hookimpl

    @hookimpl
    def udyog_roles() -> list[RoleTemplate]:
        return [RoleTemplate("Owner", ("tags.nonexistent",))]

    monkeypatch.setattr(tags_hooks, "udyog_roles", udyog_roles)
    kernel = kernel_factory(["notes"], migrate=True)
    from udyog.testing import build_kernel

    broken = build_kernel(kernel.settings.database_url, ["notes", "tags"], strict=False, migrate=False)
    try:
        record = broken.registry.get("tags")
        assert record.state.value == "failed" and "matches no declared permission" in record.error
        assert "tags" not in broken.bus.loaded and "notes" in broken.bus.loaded
        assert not any(p.startswith("tags.") for p in broken.security.permissions)
    finally:
        broken.close()
