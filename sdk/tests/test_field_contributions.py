"""Field contributions (udyog_sdk.fields): fields a plugin adds to another plugin's resource.

The contributor is the test plugin ``taxes``: ``hsn_code`` and ``tax_rate``
on the ledger's vouchers (side table ``taxes_voucher_tax``), ``review_due``
and ``reviewed`` on the notes plugin's notes (``taxes_note_review``).
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import pytest
from sqlalchemy import delete, inspect, select

from udyog.app import create_app
from udyog.composition import DeclaredResource, _contribution_problems
from udyog.models import AuditEntry
from udyog.registry import PluginLoadError, PluginState
from udyog.tenancy import create_tenant, disable_plugins, enable_plugins, uninstall_plugin
from udyog.testing import create_member, form_token, login, web_login
from udyog_sdk import hookimpl
from udyog_sdk.fields import FieldContribution

PLUGINS = ["notes", "ledger", "taxes"]


@pytest.fixture
def world(kernel_factory, backend):
    return _world(kernel_factory(PLUGINS, backend=backend))


@pytest.fixture
def sqlite_world(kernel_factory):
    return _world(kernel_factory(PLUGINS))


def _world(kernel: Any) -> dict[str, Any]:
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_tenant(kernel, "zenith", "Zenith", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return {
        "kernel": kernel,
        "app": app,
        "acme": login(app, "owner@acme.test"),
        "zenith": login(app, "owner@zenith.test"),
    }


def voucher(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"party": "Ravi", "amount": "10.00", "issued_on": "2026-04-01", **extra}
    response = client.post("/api/v1/ledger/vouchers", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def side_rows(kernel: Any, tenant: str, model: type) -> list[Any]:
    with kernel.tenant_scope(tenant) as scope:
        return list(scope.session.scalars(select(model)))


# -- the API ------------------------------------------------------------------------------------


def test_contributed_fields_are_read_validated_written_and_shown(world):
    from udyog_test_taxes.models import VoucherTax

    acme, kernel = world["acme"], world["kernel"]
    made = voucher(acme, hsn_code="1006", tax_rate="5")
    assert made["hsn_code"] == "1006" and made["tax_rate"] == "5.00" and made["number"] == "V-0001"
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    assert acme.get(url).get_json()["data"] == made
    assert acme.get("/api/v1/ledger/vouchers").get_json()["data"] == [made]
    plain = voucher(acme, party="Plain")
    assert plain["hsn_code"] is None and plain["tax_rate"] is None  # shown, nothing stored
    rows = side_rows(kernel, "acme", VoucherTax)
    assert [(r.record_id, r.hsn_code, str(r.rate)) for r in rows] == [(uuid.UUID(made["id"]), "1006", "5.00")]
    # The owner's own fields and the contributed ones are validated together, errors by field.
    bad = acme.post(
        "/api/v1/ledger/vouchers",
        json={"party": "", "amount": "1", "issued_on": "2026-04-01", "hsn_code": "12", "tax_rate": "1.234"},
    )
    assert bad.status_code == 422
    assert bad.get_json()["errors"] == {
        "party": ["Length must be between 1 and 120."],
        "hsn_code": ["4 to 8 digits"],
        "tax_rate": ["at most 2 decimal places"],
    }
    unknown = acme.post(
        "/api/v1/ledger/vouchers", json={"party": "p", "amount": "1", "issued_on": "2026-04-01", "hsn": 1}
    )
    assert unknown.status_code == 422 and unknown.get_json()["errors"] == {"hsn": ["Unknown field."]}
    negative = acme.patch(url, json={"tax_rate": "-1", "version": 1})
    assert negative.status_code == 422 and negative.get_json()["errors"] == {"tax_rate": ["must not be negative"]}
    # A change of contributed fields alone moves the record to a new version.
    changed = acme.patch(url, json={"tax_rate": "12.5", "version": 1})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["tax_rate"] == "12.50" and changed.get_json()["data"]["version"] == 2
    stale = acme.patch(url, json={"hsn_code": "2106", "version": 1})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    assert acme.get(url).get_json()["data"]["hsn_code"] == "1006"
    cleared = acme.patch(url, json={"hsn_code": None, "party": "Ravi K", "version": 2}).get_json()["data"]
    assert cleared["hsn_code"] is None and cleared["party"] == "Ravi K" and cleared["version"] == 3
    # Every change of the side row is in the audit log, under its own table.
    with kernel.tenant_scope("acme") as scope:
        entries = scope.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "taxes_voucher_tax").order_by(AuditEntry.at)
        ).all()
        assert [e.action for e in entries] == ["insert", "update", "update"]
        assert entries[1].changes == {"rate": {"before": "5.00", "after": "12.50"}}
    # The owner's table never had a column added.
    columns = {c["name"] for c in inspect(kernel.db.owner_engine).get_columns("ledger_voucher")}
    assert columns == {"tenant_id", "id", "number", "party", "amount", "issued_on", "cancelled", "version"}


def test_lists_filter_on_contributed_fields(world):
    acme = world["acme"]
    for code in ("1006", "2106", "1006", None):
        voucher(acme, hsn_code=code)
    listed = acme.get("/api/v1/ledger/vouchers", query_string={"hsn_code": "1006"}).get_json()["data"]
    assert [v["hsn_code"] for v in listed] == ["1006", "1006"]
    both = acme.get("/api/v1/ledger/vouchers", query_string={"hsn_code__in": "1006,2106", "limit": 2})
    body = both.get_json()
    assert len(body["data"]) == 2 and body["meta"]["pagination"]["has_more"] is True
    rest = acme.get(
        "/api/v1/ledger/vouchers",
        query_string={"hsn_code__in": "1006,2106", "limit": 2, "cursor": body["meta"]["pagination"]["next_cursor"]},
    ).get_json()["data"]
    assert len(rest) == 1
    bad = acme.get("/api/v1/ledger/vouchers", query_string={"tax_rate": "5", "hsn_code": "x" * 2000})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"tax_rate", "hsn_code"}
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    for title, due in (("a", "2026-05-01"), ("b", "2026-06-01"), ("c", None)):
        made = acme.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": title, "review_due": due})
        assert made.status_code == 201, made.get_json()
    due = acme.get("/api/v1/notes/notes", query_string={"review_due__gte": "2026-05-15"}).get_json()["data"]
    assert [n["title"] for n in due] == ["b"]
    unreviewed = acme.get("/api/v1/notes/notes", query_string={"reviewed": "false"}).get_json()["data"]
    assert sorted(n["title"] for n in unreviewed) == ["a", "b"]  # c has no side row: it matches no filter


def test_fields_vanish_for_a_tenant_that_disables_the_contributor_only(world):
    from udyog_test_taxes.models import VoucherTax

    kernel, acme, zenith = world["kernel"], world["acme"], world["zenith"]
    mine = voucher(zenith, hsn_code="1006")
    voucher(acme, hsn_code="2106")
    assert disable_plugins(kernel, "zenith", ["taxes"]) == ["taxes"]
    shown = zenith.get(f"/api/v1/ledger/vouchers/{mine['id']}").get_json()["data"]
    assert "hsn_code" not in shown and "tax_rate" not in shown
    refused = zenith.post(
        "/api/v1/ledger/vouchers", json={"party": "p", "amount": "1", "issued_on": "2026-04-01", "hsn_code": "1006"}
    )
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"hsn_code": ["Unknown field."]}
    refused_filter = zenith.get("/api/v1/ledger/vouchers", query_string={"hsn_code": "1006"})
    assert refused_filter.status_code == 422
    spec = zenith.get("/api/openapi.json").get_json()
    assert "hsn_code" not in spec["components"]["schemas"]["Voucher"]["properties"]
    # Other tenants keep them.
    assert acme.get("/api/v1/ledger/vouchers").get_json()["data"][0]["hsn_code"] == "2106"
    assert "hsn_code" in acme.get("/api/openapi.json").get_json()["components"]["schemas"]["Voucher"]["properties"]
    # The data stays while disabled, and is back when enabled again.
    assert [r.hsn_code for r in side_rows(kernel, "zenith", VoucherTax)] == ["1006"]
    enable_plugins(kernel, "zenith", ["taxes"])
    assert zenith.get(f"/api/v1/ledger/vouchers/{mine['id']}").get_json()["data"]["hsn_code"] == "1006"


def test_kernels_without_the_contributor_know_no_side_tables(kernel_factory):
    kernel = kernel_factory(["notes", "ledger"], migrate=False)
    assert kernel.compositions.side_models() == {}
    assert set(kernel.compositions.resources) == {"ledger.voucher", "notes.note", "notes.notebook"}


def test_deleting_a_record_deletes_its_side_row_audited(world):
    from udyog_test_notes.models import Note
    from udyog_test_taxes.models import NoteReview

    kernel, acme = world["kernel"], world["acme"]
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    notes = [
        acme.post(
            "/api/v1/notes/notes", json={"notebook_id": book["id"], "title": t, "review_due": "2026-05-01"}
        ).get_json()["data"]
        for t in ("one", "two", "three")
    ]
    assert len(side_rows(kernel, "acme", NoteReview)) == 3
    gone = acme.delete(f"/api/v1/notes/notes/{notes[0]['id']}")
    assert gone.status_code == 200 and gone.get_json()["data"]["review_due"] == "2026-05-01"
    assert {r.record_id for r in side_rows(kernel, "acme", NoteReview)} == {uuid.UUID(n["id"]) for n in notes[1:]}
    # A bulk ORM delete takes the side rows along too.
    with kernel.tenant_scope("acme") as scope:
        scope.session.execute(delete(Note).where(Note.title == "two"))
        scope.session.commit()
    assert [r.record_id for r in side_rows(kernel, "acme", NoteReview)] == [uuid.UUID(notes[2]["id"])]
    with kernel.tenant_scope("acme") as scope:
        deletions = scope.session.scalars(
            select(AuditEntry.record_id).where(AuditEntry.entity == "taxes_note_review", AuditEntry.action == "delete")
        ).all()
    assert len(deletions) == 2


def test_compositions_are_built_once_per_tenant_configuration(world):
    from udyog_test_ledger.api import VOUCHERS

    kernel = world["kernel"]
    with kernel.tenant_scope("acme") as scope:
        first = VOUCHERS.composition()
        assert first is not None and set(first.fields) == {"hsn_code", "tax_rate"}
        assert VOUCHERS.composition() is first
    with kernel.tenant_scope("acme") as scope:
        assert VOUCHERS.composition() is first  # another unit of work, the same configuration
        assert scope.tenant.fields_rev == 0
    disable_plugins(kernel, "acme", ["taxes"])
    with kernel.tenant_scope("acme"):
        assert VOUCHERS.composition() is None
    enable_plugins(kernel, "acme", ["taxes"])
    with kernel.tenant_scope("acme"):
        again = VOUCHERS.composition()
        assert again is not None and again is not first and set(again.fields) == set(first.fields)
        assert VOUCHERS.composition() is again
    from udyog.custom_fields import create_definition

    with kernel.tenant_scope("acme") as scope:
        create_definition(
            scope.session,
            scope.tenant,
            kernel.compositions,
            {"resource": "ledger.voucher", "name": "x_site", "type": "text"},
        )
        scope.session.commit()
    with kernel.tenant_scope("acme") as scope:
        assert scope.tenant.fields_rev == 1
        rebuilt = VOUCHERS.composition()
        assert rebuilt is not again and set(rebuilt.fields) == {"hsn_code", "tax_rate", "x_site"}
        assert [s.origin for s in rebuilt.sources] == ["taxes", "custom"]
    with kernel.tenant_scope("zenith"):
        assert set(VOUCHERS.composition().fields) == {"hsn_code", "tax_rate"}  # not zenith's


def test_uninstalling_the_contributor_drops_its_side_tables_only(world):
    kernel, acme = world["kernel"], world["acme"]
    made = voucher(acme, hsn_code="1006")
    engine = kernel.db.owner_engine

    def shape(table: str) -> list[tuple[str, str, bool]]:
        return [(c["name"], str(c["type"]), c["nullable"]) for c in inspect(engine).get_columns(table)]

    before = {t: shape(t) for t in ("ledger_voucher", "notes_note")}
    uninstall_plugin(kernel, "taxes", report=lambda line: None)
    tables = set(inspect(engine).get_table_names())
    assert not {t for t in tables if t.startswith("taxes_")}
    assert {t: shape(t) for t in ("ledger_voucher", "notes_note")} == before
    shown = acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]
    assert shown["party"] == "Ravi" and "hsn_code" not in shown
    # The owner's records are deleted as before (no side rows to take along any more).
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = acme.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "after"}).get_json()["data"]
    assert acme.delete(f"/api/v1/notes/notes/{note['id']}").status_code == 200


# -- pages and the OpenAPI document ---------------------------------------------------------------


def test_pages_show_contributed_fields(sqlite_world):
    app, acme = sqlite_world["app"], sqlite_world["acme"]
    client = web_login(app, "owner@acme.test")
    form = client.get("/ledger/vouchers/new")
    assert 'name="hsn_code"' in form.text and "HSN code" in form.text and 'name="tax_rate"' in form.text
    token = form_token(form.text)
    data = {"csrf_token": token, "party": "Ravi", "amount": "9", "issued_on": "2026-05-01"}
    bad = client.post("/ledger/vouchers/new", data={**data, "hsn_code": "1"})
    assert bad.status_code == 422 and "4 to 8 digits" in bad.text and 'value="1"' in bad.text
    saved = client.post("/ledger/vouchers/new", data={**data, "hsn_code": "1006", "tax_rate": ""})
    assert saved.status_code == 303, saved.text
    detail = client.get(saved.headers["Location"])
    assert "HSN code" in detail.text and "1006" in detail.text
    made = acme.get("/api/v1/ledger/vouchers").get_json()["data"][0]
    assert made["hsn_code"] == "1006" and made["tax_rate"] is None
    edit = client.get(f"/ledger/vouchers/{made['id']}/edit")
    assert 'value="1006"' in edit.text
    changed = client.post(
        f"/ledger/vouchers/{made['id']}/edit",
        data={**data, "csrf_token": form_token(edit.text), "version": "1", "hsn_code": "2106", "tax_rate": "18"},
    )
    assert changed.status_code == 303, changed.text
    assert acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["tax_rate"] == "18.00"
    listing = client.get("/ledger/vouchers", query_string={"hsn_code": "2106"})
    assert listing.status_code == 200 and "<th>HSN code</th>" in listing.text.replace('<th scope="col">', "<th>")
    assert 'name="hsn_code"' in listing.text and made["number"] in listing.text
    none = client.get("/ledger/vouchers", query_string={"hsn_code": "9999"})
    assert made["number"] not in none.text


def test_openapi_describes_contributed_fields(sqlite_world):
    spec = sqlite_world["acme"].get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Voucher"]["properties"]["hsn_code"]["x-udyog-origin"] == "taxes"
    assert "tax_rate" in schemas["VoucherCreate"]["properties"] and "hsn_code" in schemas["VoucherUpdate"]["properties"]
    assert "review_due" in schemas["Note"]["properties"]
    params = {p["name"] for p in spec["paths"]["/api/v1/ledger/vouchers"]["get"]["parameters"]}
    assert {"hsn_code", "hsn_code__in"} <= params and "tax_rate" not in params
    notes = {p["name"] for p in spec["paths"]["/api/v1/notes/notes"]["get"]["parameters"]}
    assert {"review_due__gte", "review_due__lte", "reviewed"} <= notes


# -- refused contributions ----------------------------------------------------------------------


def _clashing(*contributions: FieldContribution) -> Any:
    @hookimpl
    def udyog_field_contributions() -> list[FieldContribution]:
        return list(contributions)

    return udyog_field_contributions


def test_clashing_contributions_are_refused_naming_both_sides(kernel_factory, monkeypatch):
    import udyog_test_taxes.hooks as taxes_hooks
    from udyog_test_taxes.models import VoucherTax

    clash = FieldContribution("ledger.voucher", VoucherTax, {"party": ma.fields.String(attribute="hsn_code")})
    monkeypatch.setattr(taxes_hooks, "udyog_field_contributions", _clashing(clash))
    with pytest.raises(
        PluginLoadError, match=r"field 'party' clashes with a field of ledger.voucher \(plugin ledger\)"
    ):
        kernel_factory(PLUGINS, migrate=False)
    kernel = kernel_factory(PLUGINS, migrate=False, strict=False)
    record = kernel.registry.get("taxes")
    assert record.state is PluginState.FAILED and "clashes with a field of ledger.voucher" in record.error
    assert "taxes" not in kernel.compositions.contributions.get("ledger.voucher", [])
    assert kernel.registry.get("ledger").state is PluginState.LOADED
    twice = [
        FieldContribution("ledger.voucher", VoucherTax, {"hsn_code": ma.fields.String()}),
        FieldContribution("ledger.voucher", VoucherTax, {"hsn_code": ma.fields.String()}),
    ]
    monkeypatch.setattr(taxes_hooks, "udyog_field_contributions", _clashing(*twice))
    with pytest.raises(
        PluginLoadError, match=r"field 'hsn_code' of ledger\.voucher is contributed by both taxes and taxes"
    ):
        kernel_factory(PLUGINS, migrate=False)
    nowhere = FieldContribution("sales.order", VoucherTax, {"hsn_code": ma.fields.String()})
    monkeypatch.setattr(taxes_hooks, "udyog_field_contributions", _clashing(nowhere))
    with pytest.raises(PluginLoadError, match=r"'sales\.order', which no loaded plugin declares"):
        kernel_factory(PLUGINS, migrate=False)


def test_a_contribution_is_checked_against_its_owner():
    from udyog_test_ledger.api import VOUCHERS
    from udyog_test_notes.models import Note
    from udyog_test_taxes.models import NoteReview, VoucherTax

    owner = DeclaredResource("ledger", VOUCHERS)

    def problems(plugin: str, model: type, fields: dict[str, Any], **kw: Any) -> list[str]:
        return _contribution_problems(plugin, FieldContribution("ledger.voucher", model, fields, **kw), owner)

    assert problems("taxes", VoucherTax, {"hsn_code": ma.fields.String()}) == []
    assert problems("taxes", Note, {"title": ma.fields.String()}) == [
        "'Note' is no side table (udyog_sdk.fields.SideTable)"
    ]
    assert problems("taxes", NoteReview, {"reviewed": ma.fields.Boolean()}) == [
        "taxes_note_review extends 'notes_note', not ledger_voucher (the table of ledger.voucher)"
    ]
    assert problems("gst", VoucherTax, {"hsn_code": ma.fields.String()}) == [
        "side table taxes_voucher_tax is not the plugin's own (<plugin>_<thing>: gst_...)"
    ]
    found = problems(
        "taxes",
        VoucherTax,
        {
            "x_code": ma.fields.String(attribute="hsn_code"),
            "Code": ma.fields.String(attribute="hsn_code"),
            "amount": ma.fields.String(attribute="hsn_code"),
            "number": ma.fields.String(attribute="rate"),
            "version": ma.fields.Integer(attribute="rate"),
            "hsn": ma.fields.String(data_key="HSN", attribute="hsn_code"),
            "shown": ma.fields.String(dump_only=True, attribute="hsn_code"),
            "colour": ma.fields.String(),
        },
        filters=["nothing"],
    )
    assert found == [
        "field 'x_code': names are lower-case letters, digits and underscores, never x_...",
        "field 'Code': names are lower-case letters, digits and underscores, never x_...",
        "field 'amount' clashes with a field of ledger.voucher (plugin ledger)",
        "field 'number' clashes with a field of ledger.voucher (plugin ledger)",
        "field 'version' clashes with a field of ledger.voucher (plugin ledger)",
        "field 'hsn': no data_key (the name is the key)",
        "field 'shown': contributed fields are read and written (no dump_only, load_only)",
        "field 'colour': taxes_voucher_tax has no column 'colour'",
        "filter or list column 'nothing' is not a contributed field",
    ]


def test_resources_leave_the_custom_prefix_to_custom_fields():
    from udyog_test_ledger.models import Voucher

    from udyog_sdk.resources import Resource

    class Prefixed(ma.Schema):
        x_code = ma.fields.String()

    class Keyed(ma.Schema):
        code = ma.fields.String(data_key="x_code")

    for schema in (Prefixed, Keyed):
        with pytest.raises(ValueError, match="starting with 'x_' belong to custom fields"):
            Resource(Voucher, schema, "ledger.thing")
    # Outside any tenant scope there is nothing composed: the schemas load the own fields only.
    from udyog_test_ledger.api import VOUCHERS

    assert VOUCHERS.composition() is None
    with pytest.raises(ma.ValidationError) as refused:
        VOUCHERS.input_schema().load({"party": "p", "amount": "1", "issued_on": "2026-04-01", "hsn_code": "1006"})
    assert refused.value.messages == {"hsn_code": ["Unknown field."]}
