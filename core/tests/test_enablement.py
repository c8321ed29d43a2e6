"""Per-tenant plugin enablement: routes 404, hooks silent, no restart, dependency closure."""

from __future__ import annotations

import pytest
from udyog_test_notes import hooks as notes_hooks

from udyog.app import create_app
from udyog.kernel import Kernel
from udyog.tenancy import create_tenant, disable_plugins, enable_plugins, tenant_plugins
from udyog.testing import create_member, login
from udyog_sdk import UdyogError


def client_for(app, tenant):
    return login(app, f"owner@{tenant}.test")


@pytest.fixture
def setup(kernel_factory, backend):
    kernel = kernel_factory(["notes", "tags"], backend=backend)
    create_tenant(kernel, "both", "Both", plugins=["tags"])  # closure brings notes
    create_tenant(kernel, "plain", "Plain", plugins=["notes"])
    create_tenant(kernel, "bare", "Bare")
    for slug in ("both", "plain", "bare"):
        create_member(kernel, slug, f"owner@{slug}.test")
    return kernel, create_app(kernel=kernel)


def inbox_id(client):
    return client.get("/api/v1/notes/notebooks").get_json()["data"][0]["id"]


def test_enabling_closes_over_requirements_and_runs_setup(setup):
    kernel, app = setup
    assert tenant_plugins(kernel, "both") == ["notes", "tags"]
    books = client_for(app, "both").get("/api/v1/notes/notebooks").get_json()["data"]
    assert [b["title"] for b in books] == ["Inbox"]  # created by notes' udyog_tenant_setup


def test_routes_of_a_plugin_the_tenant_has_not_enabled_answer_404(setup):
    kernel, app = setup
    assert client_for(app, "bare").get("/api/v1/notes/notes").status_code == 404
    assert client_for(app, "plain").get("/api/v1/tags/tags").status_code == 404
    assert client_for(app, "both").get("/api/v1/tags/tags").status_code == 200
    # Plugin routes need a login at all.
    body = app.test_client().get("/api/v1/notes/notes").get_json()
    assert body["success"] is False and body["message"].startswith("authentication required")


def test_hooks_of_a_plugin_the_tenant_has_not_enabled_do_not_fire(setup):
    kernel, app = setup
    for slug in ("both", "plain"):
        c = client_for(app, slug)
        resp = c.post("/api/v1/notes/notes", json={"notebook_id": inbox_id(c), "title": "a #b", "body": "a bb ccc"})
        if slug == "both":
            # tags' title rule refuses '#'; its word count (words > 1 letter) wins.
            assert resp.status_code == 422
            assert resp.get_json()["errors"] == {"title": ["must not contain '#' (use tags)"]}
            resp = c.post("/api/v1/notes/notes", json={"notebook_id": inbox_id(c), "title": "ab", "body": "a bb ccc"})
            assert resp.get_json()["data"]["words"] == 2
        else:
            assert resp.status_code == 201
            assert resp.get_json()["data"]["words"] == 3  # the notes default, tags is off here


def test_enable_and_disable_take_effect_without_restart_even_in_another_process(setup, tmp_path):
    kernel, app = setup
    # A second kernel stands for another process (CLI or worker) changing enablement.
    other = Kernel(kernel.settings)
    try:
        c = client_for(app, "plain")
        assert c.get("/api/v1/tags/tags").status_code == 404
        assert enable_plugins(other, "plain", ["tags"]) == ["tags"]
        assert c.get("/api/v1/tags/tags").status_code == 200
        assert disable_plugins(other, "plain", ["tags"]) == ["tags"]
        assert c.get("/api/v1/tags/tags").status_code == 404
        assert c.get("/api/v1/notes/notes").status_code == 200
    finally:
        other.close()


def test_disabling_a_plugin_others_require_is_refused_with_the_reason(setup):
    kernel, app = setup
    with pytest.raises(UdyogError, match="required by tags"):
        disable_plugins(kernel, "both", ["notes"])
    assert disable_plugins(kernel, "both", ["tags", "notes"]) == ["notes", "tags"]
    assert tenant_plugins(kernel, "both") == []


def test_enabling_a_plugin_that_is_not_loaded_is_refused(setup):
    kernel, app = setup
    with pytest.raises(UdyogError, match="broken"):
        enable_plugins(kernel, "bare", ["broken"])
    assert tenant_plugins(kernel, "bare") == []


def test_data_of_a_disabled_plugin_stays_and_returns_when_reenabled(setup):
    kernel, app = setup
    c = client_for(app, "plain")
    c.post("/api/v1/notes/notes", json={"notebook_id": inbox_id(c), "title": "keep me"})
    disable_plugins(kernel, "plain", ["notes"])
    assert c.get("/api/v1/notes/notes").status_code == 404
    enable_plugins(kernel, "plain", ["notes"])
    titles = [n["title"] for n in c.get("/api/v1/notes/notes").get_json()["data"]]
    assert titles == ["keep me"]
    assert len(c.get("/api/v1/notes/notebooks").get_json()["data"]) == 1  # setup is idempotent


def test_event_listeners_run_only_for_tenants_that_enabled_their_plugin(setup):
    from udyog_test_tags import hooks as tags_hooks

    kernel, app = setup
    tags_hooks.SEEN.clear()
    notes_hooks.RECEIVED.clear()
    for slug in ("both", "plain"):
        c = client_for(app, slug)
        c.post("/api/v1/notes/notes", json={"notebook_id": inbox_id(c), "title": f"from {slug}"})
    assert tags_hooks.SEEN == ["from both"]
    assert [name for _, name in notes_hooks.RECEIVED] == ["notes.note.created", "notes.note.created"]
    tags = client_for(app, "both").get("/api/v1/tags/tags").get_json()["data"]
    assert [t["label"] for t in tags] == ["new"]  # written by the listener in its own transaction


def test_per_tenant_hook_relays_are_cached(setup):
    kernel, app = setup
    assert kernel.bus.for_enabled({"notes"}) is kernel.bus.for_enabled(frozenset({"notes"}))
    relay = kernel.bus.for_enabled({"notes"})
    first = relay.notes_title_rules
    assert relay.notes_title_rules is first
    assert relay.notes_title_rules(title="#x") == [[]]  # tags removed: only the notes rule ran
    assert sorted(kernel.bus.all.notes_title_rules(title="#x"), key=len) == [[], ["must not contain '#' (use tags)"]]


def test_uninstall_disables_for_every_tenant_and_running_apps_follow(setup):
    from sqlalchemy import inspect

    from udyog.tenancy import uninstall_plugin

    kernel, app = setup
    c = client_for(app, "both")
    assert c.get("/api/v1/tags/tags").status_code == 200
    lines: list[str] = []
    uninstall_plugin(kernel, "tags", report=lines.append)
    assert tenant_plugins(kernel, "both") == ["notes"]
    assert c.get("/api/v1/tags/tags").status_code == 404  # no restart needed
    assert "tags_note_tag" not in inspect(kernel.db.owner_engine).get_table_names()
    assert any("disabled tags" in line for line in lines)
    with pytest.raises(UdyogError, match="required by tags"):
        uninstall_plugin(Kernel(kernel.settings), "notes", report=lines.append)
