"""Per-tenant plugin settings: declarations, the API, the runtime accessor, caching, pages, disable and purge."""

from __future__ import annotations

import logging
import re
import uuid
from decimal import Decimal

import marshmallow as ma
import pytest
from sqlalchemy import select, update

from udyog.app import create_app
from udyog.config import PluginsFile
from udyog.models import Tenant
from udyog.plugin_settings import SettingsDeclarationError
from udyog.registry import PluginState
from udyog.tenancy import create_tenant, disable_plugins, enable_plugins, uninstall_plugin
from udyog.testing import build_kernel, create_member, login, web_login
from udyog_sdk import Principal, SettingsSchema, plugin_settings
from udyog_sdk.runtime import NoScopeError

URL = "/api/v1/core/settings"


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes", "ledger"], backend=backend)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["notes", "ledger"])
    create_tenant(kernel, "zenith", "Zenith Traders", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return kernel, app


def ledger_settings(kernel, slug="acme"):
    with kernel.tenant_scope(slug) as scope:
        return dict(scope.tenant.settings["ledger"]), dict(plugin_settings("ledger"))


def stored(kernel, slug="acme"):
    with kernel.db.session(write=False) as session:
        return session.scalar(select(Tenant).where(Tenant.slug == slug)).settings


# -- reading ---------------------------------------------------------------------------


def test_get_fills_in_the_defaults_and_lists_what_the_tenant_may_see(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    listed = owner.get(URL).get_json()["data"]
    assert [(row["plugin"], row["title"], row["version"]) for row in listed] == [
        ("core", "General", 0),
        ("ledger", "Ledger", 0),
    ]
    data = owner.get(f"{URL}/ledger").get_json()["data"]
    assert data["values"] == {"recent_count": 5, "approval_limit": "100000.00", "show_cancelled": False}
    assert data["defaults"] == data["values"] and data["stored"] == [] and data["invalid"] == {}
    assert data["version"] == 0 and data["can_change"] is True
    assert owner.get(f"{URL}/core").get_json()["data"]["values"] == {"language": "en", "locale": "en_IN"}
    # Plugins the tenant has not enabled, and plugins without settings, are not there.
    zenith = login(app, "owner@zenith.test")
    assert [row["plugin"] for row in zenith.get(URL).get_json()["data"]] == ["core"]
    assert zenith.get(f"{URL}/ledger").status_code == 404
    assert owner.get(f"{URL}/notes").status_code == 404
    assert owner.get(f"{URL}/NOT-A-NAME").status_code == 404


def test_the_runtime_accessor_gives_loaded_values(world):
    kernel, app = world
    context, accessor = ledger_settings(kernel)
    assert context == accessor == {"recent_count": 5, "approval_limit": Decimal("100000.00"), "show_cancelled": False}
    with kernel.tenant_scope("zenith"), pytest.raises(LookupError, match=r"declares none .* or is not enabled"):
        plugin_settings("ledger")
    with pytest.raises(NoScopeError):
        plugin_settings("ledger")
    with kernel.tenant_scope("acme") as scope, pytest.raises(TypeError):
        scope.tenant.settings["ledger"]["recent_count"] = 9  # read-only


def test_members_without_the_permission_are_refused(world):
    kernel, app = world
    member = login(app, "member@acme.test")
    assert member.get(URL).status_code == 403
    response = member.get(f"{URL}/ledger")
    assert response.status_code == 403 and response.get_json()["errors"] == {"permission": ["core.settings.read"]}
    owner = login(app, "owner@acme.test")
    made = owner.post("/api/v1/core/roles", json={"name": "Settings Reader", "permissions": ["core.settings.read"]})
    assert made.status_code == 201, made.get_json()
    create_member(kernel, "acme", "reader@acme.test", roles=("Settings Reader",))
    reader = login(app, "reader@acme.test")
    data = reader.get(f"{URL}/ledger").get_json()["data"]
    assert data["can_change"] is False
    refused = reader.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 2}})
    assert refused.status_code == 403 and refused.get_json()["errors"] == {"permission": ["core.settings.manage"]}


def test_a_declared_permission_is_needed_on_top_of_the_core_ones(world):
    kernel, app = world
    declared = kernel.plugin_settings.declaration("ledger")
    guarded = type(declared)(
        declared.plugin,
        SettingsSchema(declared.spec.schema, "Ledger", permission="ledger.voucher.write"),
        declared.schema,
        declared.deployment,
        declared.defaults,
    )
    ids = {"user_id": uuid.uuid4(), "tenant_id": uuid.uuid4()}
    admin = Principal(**ids, email="a", name="a", permissions=frozenset({"core.*"}))
    owner = Principal(**ids, email="o", name="o", permissions=frozenset({"*"}))
    assert kernel.plugin_settings.may_read(declared, admin) and kernel.plugin_settings.may_change(declared, admin)
    assert not kernel.plugin_settings.may_read(guarded, admin)
    assert not kernel.plugin_settings.may_change(guarded, admin)
    assert kernel.plugin_settings.may_change(guarded, owner)
    assert kernel.plugin_settings.may_change(guarded, None)  # system work


# -- changing --------------------------------------------------------------------------


def test_patch_and_put_validate_lock_and_take_effect_at_once(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    saved = owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 3}})
    assert saved.status_code == 200, saved.get_json()
    data = saved.get_json()["data"]
    assert data["version"] == 1 and data["stored"] == ["recent_count"] and data["values"]["recent_count"] == 3
    assert ledger_settings(kernel)[1]["recent_count"] == 3
    assert stored(kernel) == {"ledger": {"version": 1, "values": {"recent_count": 3}}}

    # A stale version is refused, and so is bad input: nothing is written.
    stale = owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 4}})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    bad = owner.put(
        f"{URL}/ledger",
        json={"version": 1, "values": {"recent_count": 99, "approval_limit": "lots", "colour": "red"}},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"values.recent_count", "values.approval_limit", "values.colour"}
    assert bad.get_json()["errors"]["values.colour"] == ["not a setting of this plugin"]
    for body in ({"version": 1}, {"version": "1", "values": {}}, {"version": 1, "values": []}, {"values": {}}):
        response = owner.patch(f"{URL}/ledger", json=body)
        assert response.status_code == 422, (body, response.get_json())
    assert stored(kernel)["ledger"]["version"] == 1

    # PATCH keeps what it does not name; PUT replaces: what it leaves out is the default again.
    patched = owner.patch(f"{URL}/ledger", json={"version": 1, "values": {"approval_limit": "2500.5"}})
    assert patched.get_json()["data"]["values"] == {
        "recent_count": 3,
        "approval_limit": "2500.50",
        "show_cancelled": False,
    }
    put = owner.put(f"{URL}/ledger", json={"version": 2, "values": {"show_cancelled": True}})
    assert put.get_json()["data"]["values"] == {
        "recent_count": 5,
        "approval_limit": "100000.00",
        "show_cancelled": True,
    }
    assert put.get_json()["data"]["stored"] == ["show_cancelled"] and put.get_json()["data"]["version"] == 3
    # Saving the same values again changes nothing, not even the version.
    again = owner.put(f"{URL}/ledger", json={"version": 3, "values": {"show_cancelled": True}})
    assert again.get_json()["data"]["version"] == 3
    context, _ = ledger_settings(kernel)
    assert context == {"recent_count": 5, "approval_limit": Decimal("100000.00"), "show_cancelled": True}


def test_changes_are_audited(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 3}})
    owner.patch(f"{URL}/ledger", json={"version": 1, "values": {"recent_count": 4, "show_cancelled": True}})
    owner.delete(f"{URL}/ledger")
    entries = owner.get("/api/v1/core/audit?entity=core_settings&sort=at").get_json()["data"]
    assert [(e["action"], e["record_id"]) for e in entries] == [
        ("insert", "ledger"),
        ("update", "ledger"),
        ("delete", "ledger"),
    ]
    assert entries[0]["changes"] == {"after": {"recent_count": 3}}
    assert entries[1]["changes"] == {
        "recent_count": {"before": 3, "after": 4},
        "show_cancelled": {"before": None, "after": True},
    }
    assert entries[2]["changes"] == {"before": {"recent_count": 4, "show_cancelled": True}}
    assert all(e["user_id"] for e in entries)


def test_the_core_language_setting_drives_notifications(world):
    from udyog.notifications import tenant_language

    kernel, app = world
    owner = login(app, "owner@acme.test")
    bad = owner.patch(f"{URL}/core", json={"version": 0, "values": {"language": "Hindi!"}})
    assert bad.status_code == 422 and "values.language" in bad.get_json()["errors"]
    assert owner.patch(f"{URL}/core", json={"version": 0, "values": {"language": "hi"}}).status_code == 200
    with kernel.tenant_scope("acme") as scope:
        assert tenant_language(scope.tenant) == "hi"


# -- caching ----------------------------------------------------------------------------


def test_the_settings_are_read_once_per_revision_and_every_process_sees_a_change(world, backend, monkeypatch):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    other = build_kernel(str(kernel.db.engine.url.render_as_string(hide_password=False)), ["notes", "ledger"],
                         migrate=False)  # fmt: skip
    try:
        assert ledger_settings(other)[1]["recent_count"] == 5
        loads = []
        original = kernel.plugin_settings.load
        monkeypatch.setattr(
            kernel.plugin_settings, "load", lambda *a, **k: loads.append(a[0].plugin) or original(*a, **k)
        )
        for _ in range(3):
            assert owner.get("/api/v1/core/tenant").status_code == 200
        assert loads == []  # cached since the first request: no load, no query of the settings
        owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 7}})
        loads.clear()
        assert owner.get("/api/v1/core/tenant").status_code == 200
        assert sorted(loads) == ["core", "ledger"]  # a new revision: loaded once more
        assert ledger_settings(other)[1]["recent_count"] == 7  # another process: its cache is keyed on the revision
    finally:
        other.close()


def test_the_login_check_reads_the_revision_not_the_settings():
    from udyog.app import _login_check

    columns = [c.name for c in _login_check().statement.selected_columns]
    assert "settings_rev" in columns and "settings" not in columns


# -- enabling, disabling, purging ---------------------------------------------------------


def test_disabling_keeps_the_settings_unless_purged(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 2}})
    disable_plugins(kernel, "acme", ["ledger"])
    assert owner.get(f"{URL}/ledger").status_code == 404
    with kernel.tenant_scope("acme") as scope:
        assert "ledger" not in scope.tenant.settings
    enable_plugins(kernel, "acme", ["ledger"])
    assert ledger_settings(kernel)[1]["recent_count"] == 2  # restored

    disable_plugins(kernel, "acme", ["ledger"], purge_settings=True)
    assert "ledger" not in stored(kernel)
    enable_plugins(kernel, "acme", ["ledger"])
    assert ledger_settings(kernel)[1]["recent_count"] == 5


def test_delete_resets_to_the_defaults_and_purges_a_disabled_plugins_values(world):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 2}})
    reset = owner.delete(f"{URL}/ledger")
    assert reset.status_code == 200 and [r["plugin"] for r in reset.get_json()["data"]] == ["ledger"]
    assert owner.get(f"{URL}/ledger").get_json()["data"]["values"]["recent_count"] == 5
    assert owner.delete(f"{URL}/ledger").get_json()["message"] == "nothing to reset"

    owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 2}})
    disable_plugins(kernel, "acme", ["ledger"])
    assert "ledger" in stored(kernel)
    assert owner.delete(f"{URL}/ledger").status_code == 200
    assert "ledger" not in stored(kernel)
    assert owner.delete(f"{URL}/ledger").status_code == 404  # nothing kept, not enabled
    member = login(app, "member@acme.test")
    assert member.delete(f"{URL}/core").status_code == 403


def test_uninstalling_a_plugin_purges_its_settings_everywhere(kernel_factory):
    kernel = kernel_factory(["notes", "ledger"])
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["ledger"])
    create_tenant(kernel, "zenith", "Zenith Traders", plugins=["ledger"])
    create_member(kernel, "acme", "owner@acme.test")
    create_member(kernel, "zenith", "owner@zenith.test")
    app = create_app(kernel=kernel)
    for email in ("owner@acme.test", "owner@zenith.test"):
        login(app, email).patch(f"{URL}/ledger", json={"version": 0, "values": {"recent_count": 2}})
    disable_plugins(kernel, "zenith", ["ledger"])  # kept while disabled
    lines: list[str] = []
    uninstall_plugin(kernel, "ledger", report=lines.append)
    assert stored(kernel, "acme") == {} and stored(kernel, "zenith") == {}
    assert sum("purged the settings of ledger" in line for line in lines) == 2


# -- stale values -------------------------------------------------------------------------


def test_stored_values_the_schema_no_longer_accepts_fall_back_to_defaults(world, caplog):
    kernel, app = world
    owner = login(app, "owner@acme.test")
    owner.patch(f"{URL}/ledger", json={"version": 0, "values": {"approval_limit": "10.00"}})
    # As if the plugin was upgraded: a value out of range, one of the wrong type, a field that went away.
    with kernel.db.session() as session:
        session.execute(
            update(Tenant)
            .where(Tenant.slug == "acme")
            .values(
                settings={
                    "ledger": {
                        "version": 4,
                        "values": {"recent_count": 500, "show_cancelled": "perhaps", "approval_limit": "10.00",
                                   "colour": "red"},
                    }
                },
                settings_rev=Tenant.settings_rev + 1,
            )
        )  # fmt: skip
        session.commit()
    with caplog.at_level(logging.WARNING, logger="udyog.settings"):
        context, _ = ledger_settings(kernel)
    assert context == {"recent_count": 5, "approval_limit": Decimal("10.00"), "show_cancelled": False}
    assert "stored settings of ledger do not load" in caplog.text
    data = owner.get(f"{URL}/ledger").get_json()["data"]
    assert set(data["invalid"]) == {"recent_count", "show_cancelled", "colour"}
    assert data["values"]["recent_count"] == 5 and data["version"] == 4
    # Saving drops what is stale; the rest stays.
    saved = owner.patch(f"{URL}/ledger", json={"version": 4, "values": {"show_cancelled": True}})
    assert saved.status_code == 200, saved.get_json()
    assert stored(kernel)["ledger"] == {"version": 5, "values": {"approval_limit": "10.00", "show_cancelled": True}}
    assert owner.get(f"{URL}/ledger").get_json()["data"]["invalid"] == {}


# -- declarations ---------------------------------------------------------------------------


class _NoDefault(ma.Schema):
    limit = ma.fields.Integer(required=True)


class _Fine(ma.Schema):
    limit = ma.fields.Integer(load_default=3, validate=ma.validate.Range(min=1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"limit": 3}, "must return a SettingsSchema"),
        (SettingsSchema(_NoDefault, "X"), "field 'limit' has no load_default"),
        (SettingsSchema(_Fine, " "), "the title must be a non-empty string"),
        (SettingsSchema(dict, "X"), "schema must be a marshmallow Schema"),  # type: ignore[arg-type]
        (SettingsSchema(_Fine, "X", permission="notes.note.read"), "not one the plugin declares"),
        (SettingsSchema(_Fine, "X", permission="ledger.nothing"), "not one the plugin declares"),
    ],
)
def test_invalid_declarations_are_refused(kernel_factory, spec, message):
    kernel = kernel_factory(["notes", "ledger"])
    with pytest.raises(SettingsDeclarationError, match=message):
        kernel.plugin_settings._declare("ledger", spec)
    assert kernel.plugin_settings._declare("ledger", SettingsSchema(_Fine(), "X", permission="ledger.voucher.read"))


@pytest.fixture
def deployment(tmp_path):
    """Kernels whose plugins.toml carries ``[settings.<plugin>]`` tables."""
    from udyog.config import Settings
    from udyog.kernel import Kernel
    from udyog.migrate import upgrade

    kernels = []

    def make(enabled, settings, **overrides):
        values = {
            "database_url": f"sqlite:///{tmp_path}/deployment{len(kernels)}.db",
            "data_dir": str(tmp_path),
            "plugins": PluginsFile(enabled=tuple(enabled), settings=settings),
            "password_hash_profile": "fast",
            **overrides,
        }
        kernel = Kernel(Settings.from_env(values, environ={}))
        kernels.append(kernel)
        upgrade(kernel, report=lambda line: None)
        return kernel

    yield make
    for kernel in kernels:
        kernel.close()


def test_deployment_values_from_plugins_toml_are_the_tenants_defaults(deployment):
    kernel = deployment(["ledger"], {"ledger": {"recent_count": 8}}, strict_plugins=True)
    create_tenant(kernel, "acme", "Acme Ltd", plugins=["ledger"])
    assert ledger_settings(kernel)[1]["recent_count"] == 8


def test_invalid_deployment_values_unload_the_plugin(deployment):
    kernel = deployment(["notes", "ledger"], {"ledger": {"recent_count": 0}}, strict_plugins=False)
    record = kernel.registry.get("ledger")
    assert record.state is PluginState.FAILED
    assert "plugins.toml [settings.ledger] do not load: recent_count:" in record.error
    assert kernel.registry.get("notes").state is PluginState.LOADED
    assert kernel.plugin_settings.declaration("ledger") is None


# -- the pages --------------------------------------------------------------------------------


def form_values(html):
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]*)"', html).group(1),
        "version": re.search(r'name="version" value="([^"]*)"', html).group(1),
    }


def test_the_settings_pages_show_save_and_explain(world):
    kernel, app = world
    client = web_login(app, "owner@acme.test")
    index = client.get("/core/settings")
    assert index.status_code == 200
    assert re.findall(r'data-settings-plugin="([^"]+)"', index.text) == ["core", "ledger"]
    page = client.get("/core/settings/ledger")
    assert page.status_code == 200
    assert 'id="field-recent_count"' in page.text and 'value="5"' in page.text
    assert "Default: 100000.00." in page.text
    base = form_values(page.text)
    shown = {"recent_count": "5", "approval_limit": "100000.00"}

    bad = client.post("/core/settings/ledger", data={**base, **shown, "recent_count": "50"})
    assert bad.status_code == 422
    assert 'class="form-control is-invalid" id="field-recent_count"' in bad.text
    assert "Must be greater than or equal to 1 and less than or equal to 20." in bad.text
    assert 'value="50"' in bad.text  # the input is kept

    saved = client.post("/core/settings/ledger", data={**base, **shown, "recent_count": "9"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/core/settings/ledger?saved=1")
    assert "Settings saved." in client.get(saved.headers["Location"]).text
    # Only what changed is stored: the other settings keep following their defaults.
    assert stored(kernel)["ledger"] == {"version": 1, "values": {"recent_count": 9}}

    conflict = client.post("/core/settings/ledger", data={**base, **shown, "recent_count": "4"})
    assert conflict.status_code == 409 and 'id="version-conflict"' in conflict.text

    reset = client.post("/core/settings/ledger/reset", data={"csrf_token": base["csrf_token"]})
    assert reset.status_code == 303 and "ledger" not in stored(kernel)

    member = web_login(app, "member@acme.test")
    assert member.get("/core/settings/ledger").status_code == 403
    assert client.get("/core/settings/notes").status_code == 404
