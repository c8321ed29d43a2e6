"""Custom fields: per-tenant fields on declared resources, defined through the API without code.

Definitions at ``/api/v1/core/custom-fields``; values read and written with
the test plugins' vouchers (``ledger.voucher``) and notes (``notes.note``),
filtered in their lists, shown in their pages and in the tenant's OpenAPI
document. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, select

from udyog.app import create_app
from udyog.models import AuditEntry, CustomValue
from udyog.tenancy import create_tenant, disable_plugins
from udyog.testing import create_member, form_token, login, web_login

PLUGINS = ["notes", "ledger"]
CF = "/api/v1/core/custom-fields"


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
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    app = create_app(kernel=kernel)
    return {
        "kernel": kernel,
        "app": app,
        "acme": login(app, "owner@acme.test"),
        "zenith": login(app, "owner@zenith.test"),
    }


def define(client: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("resource", "ledger.voucher")
    response = client.post(CF, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def voucher(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"party": "Ravi", "amount": "10.00", "issued_on": "2026-04-01", **extra}
    response = client.post("/api/v1/ledger/vouchers", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def every_type(client: Any) -> dict[str, dict[str, Any]]:
    return {
        "text": define(client, name="x_site", type="text", max_length=20, label="Site", show_in_list=True),
        "number": define(client, name="x_boxes", type="number"),
        "decimal": define(client, name="x_weight", type="decimal", places=3),
        "date": define(client, name="x_due", type="date"),
        "choice": define(client, name="x_priority", type="choice", options=["low", "high"], default="low"),
        "boolean": define(client, name="x_urgent", type="boolean"),
        "link": define(client, name="x_notebook", type="link", target="notes.notebook"),
    }


# -- definitions ---------------------------------------------------------------------------------


def test_definitions_are_checked_versioned_and_per_tenant(world):
    acme, zenith = world["acme"], world["zenith"]
    made = define(acme, name="x_priority", type="choice", options=["low", "high"], help="How soon")
    assert made["label"] == "Priority" and made["version"] == 1 and made["available"] is True
    assert made["places"] is None and made["max_length"] is None and made["target"] is None
    text = define(acme, name="x_site", type="text")
    assert text["max_length"] == 255
    assert define(acme, name="x_rate", type="decimal")["places"] == 2
    bad = acme.post(
        CF,
        json={"resource": "sales.order", "name": "Priority", "type": "choice", "options": [], "places": 2},
    )
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]
    assert set(errors) == {"resource", "name", "options", "places"}
    assert errors["name"] == [
        "x_ then a lower-case letter, then lower-case letters, digits or underscores (at most 40 characters)"
    ]
    assert "ledger.voucher" in errors["resource"][0] and "notes.note" in errors["resource"][0]
    for body, field in (
        ({"name": "x_a", "type": "link"}, "target"),
        ({"name": "x_a", "type": "link", "target": "ledger.nothing"}, "target"),
        ({"name": "x_a", "type": "text", "target": "notes.note"}, "target"),
        ({"name": "x_a", "type": "choice", "options": ["a", "a"]}, "options"),
        ({"name": "x_a", "type": "text", "options": ["a"]}, "options"),
        ({"name": "x_a", "type": "number", "default": "many"}, "default"),
        ({"name": "x_a", "type": "decimal", "places": 1, "default": "1.25"}, "default"),
        ({"name": "x_a", "type": "choice", "options": ["a"], "default": "b"}, "default"),
        ({"name": "x_a", "type": "link", "target": "notes.notebook", "default": str(uuid.uuid4())}, "default"),
        ({"name": "x_a", "type": "date", "default": {"nested": [1]}}, "default"),
        ({"name": "x_a", "type": "decimal", "places": 7}, "places"),
        ({"name": "x_a", "type": "colour"}, "type"),
    ):
        refused = acme.post(CF, json={"resource": "ledger.voucher", **body})
        assert refused.status_code == 422 and field in refused.get_json()["errors"], (body, refused.get_json())
    taken = acme.post(CF, json={"resource": "ledger.voucher", "name": "x_site", "type": "text"})
    assert taken.status_code == 409 and "name" in taken.get_json()["errors"]
    # The same name on another resource, or in another tenant, is another field.
    define(acme, resource="notes.note", name="x_site", type="text")
    define(zenith, name="x_site", type="number")
    listed = acme.get(CF, query_string={"resource": "ledger.voucher"}).get_json()["data"]
    assert [f["name"] for f in listed] == ["x_priority", "x_rate", "x_site"]
    assert [f["type"] for f in zenith.get(CF).get_json()["data"]] == ["number"]
    assert zenith.get(f"{CF}/{made['id']}").status_code == 404
    assert zenith.patch(f"{CF}/{made['id']}", json={"label": "x", "version": 1}).status_code == 404
    assert zenith.delete(f"{CF}/{made['id']}").status_code == 404
    # Versioned changes.
    url = f"{CF}/{made['id']}"
    changed = acme.patch(url, json={"label": "Urgency", "options": ["low", "high", "now"], "version": 1})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["label"] == "Urgency" and changed.get_json()["data"]["version"] == 2
    stale = acme.patch(url, json={"label": "Again", "version": 1})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]
    moved = acme.patch(url, json={"resource": "notes.note", "version": 2})
    assert moved.status_code == 422 and moved.get_json()["errors"] == {"resource": ["Unknown field."]}
    # Permissions: a member may neither see nor define custom fields.
    member = login(world["app"], "member@acme.test")
    assert member.get(CF).status_code == 403
    denied = member.post(CF, json={"resource": "ledger.voucher", "name": "x_b", "type": "text"})
    assert denied.status_code == 403 and denied.get_json()["errors"] == {"permission": ["core.custom_field.manage"]}
    # Every definition change is audited.
    with world["kernel"].tenant_scope("acme") as scope:
        actions = scope.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "core_custom_field", AuditEntry.record_id == made["id"]
            )
        ).all()
    assert sorted(actions) == ["insert", "update"]


# -- values ---------------------------------------------------------------------------------------


def test_values_of_every_type_are_validated_stored_exactly_and_shown(world):
    acme, kernel = world["acme"], world["kernel"]
    fields = every_type(acme)
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    values = {
        "x_site": "Pune",
        "x_boxes": 9007199254740993,  # beyond a double's exact integers
        "x_weight": "123456789012.125",
        "x_due": "2026-05-01",
        "x_priority": "high",
        "x_urgent": True,
        "x_notebook": book["id"],
    }
    made = voucher(acme, **values)
    for key, value in values.items():
        assert made[key] == value, key
    assert voucher(acme, party="Defaults")["x_priority"] == "low"  # the default; the rest empty
    plain = voucher(acme, party="Plain", x_priority=None)
    assert plain["x_priority"] is None and plain["x_site"] is None and plain["x_weight"] is None
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    assert acme.get(url).get_json()["data"] == made
    # Decimals: exact on both databases, as integers of millionths.
    with kernel.tenant_scope("acme") as scope:
        stored = scope.session.scalar(
            select(CustomValue.value_decimal).where(
                CustomValue.field_id == uuid.UUID(fields["decimal"]["id"]),
                CustomValue.record_id == uuid.UUID(made["id"]),
            )
        )
    assert stored == 123456789012125000
    # Validation, every problem by field, the owner's own with them.
    bad = acme.post(
        "/api/v1/ledger/vouchers",
        json={
            "party": "",
            "amount": "1",
            "issued_on": "2026-04-01",
            "x_site": "p" * 21,
            "x_boxes": "many",
            "x_weight": "1.0001",
            "x_due": "soon",
            "x_priority": "medium",
            "x_urgent": "perhaps",
            "x_notebook": "nope",
            "x_unknown": 1,
        },
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"party", *values, "x_unknown"}
    assert bad.get_json()["errors"]["x_weight"] == ["at most 3 decimal places"]
    assert bad.get_json()["errors"]["x_unknown"] == ["Unknown field."]
    huge = acme.patch(url, json={"x_weight": "1e12", "version": 1})
    assert huge.status_code == 422 and huge.get_json()["errors"] == {
        "x_weight": ["must be less than 10^12 in magnitude"]
    }
    # Links must name a record of the tenant (and one the user sees).
    other_book = world["zenith"].get("/api/v1/notes/notebooks").get_json()["data"][0]
    for target in (other_book["id"], str(uuid.uuid4())):
        refused = acme.patch(url, json={"x_notebook": target, "version": 1})
        assert refused.status_code == 422 and refused.get_json()["errors"] == {"x_notebook": ["no such notebook"]}
    # Partial updates change what they name; null clears; the version moves on.
    changed = acme.patch(url, json={"x_site": "Nashik", "x_due": None, "version": 1})
    assert changed.status_code == 200, changed.get_json()
    data = changed.get_json()["data"]
    assert data["x_site"] == "Nashik" and data["x_due"] is None and data["x_boxes"] == values["x_boxes"]
    assert data["version"] == 2
    # Required fields: refused when missing on create, never cleared.
    define(acme, name="x_lot", type="text", required=True)
    missing = acme.post("/api/v1/ledger/vouchers", json={"party": "p", "amount": "1", "issued_on": "2026-04-01"})
    assert missing.status_code == 422 and missing.get_json()["errors"] == {
        "x_lot": ["Missing data for required field."]
    }
    assert acme.patch(url, json={"x_lot": None, "version": 2}).status_code == 422
    assert acme.patch(url, json={"x_lot": "L1", "version": 2}).get_json()["data"]["x_lot"] == "L1"
    # Another tenant has none of these fields.
    other = world["zenith"].post(
        "/api/v1/ledger/vouchers", json={"party": "p", "amount": "1", "issued_on": "2026-04-01", "x_site": "a"}
    )
    assert other.status_code == 422 and other.get_json()["errors"] == {"x_site": ["Unknown field."]}


def test_lists_filter_on_custom_fields(world):
    acme = world["acme"]
    every_type(acme)
    books = [acme.post("/api/v1/notes/notebooks", json={"title": t}).get_json()["data"] for t in ("A", "B")]
    rows = [
        ("Pune", 1, "0.5", "2026-05-01", "low", False, books[0]["id"]),
        ("Nashik", 5, "0.50", "2026-06-01", "high", True, books[1]["id"]),
        ("Pune", 10, "12.125", "2026-07-01", "high", True, books[1]["id"]),
        (None, None, None, None, None, None, None),
    ]
    names = ("x_site", "x_boxes", "x_weight", "x_due", "x_priority", "x_urgent", "x_notebook")
    for index, row in enumerate(rows):
        voucher(acme, party=f"P{index}", **dict(zip(names, row, strict=True)))

    def parties(**query: Any) -> list[str]:
        response = acme.get("/api/v1/ledger/vouchers", query_string={**query, "sort": "party"})
        assert response.status_code == 200, response.get_json()
        return [v["party"] for v in response.get_json()["data"]]

    assert parties(x_site="Pune") == ["P0", "P2"]
    assert parties(x_site__in="Nashik,Pune") == ["P0", "P1", "P2"]
    assert parties(x_boxes__gte=5) == ["P1", "P2"]
    assert parties(x_boxes__in="1,10") == ["P0", "P2"]
    assert parties(x_weight="0.5") == ["P0", "P1"]  # exact decimals: 0.5 and 0.50 are equal
    assert parties(x_weight__lte="0.499") == []
    assert parties(x_weight__gte="12.125") == ["P2"]
    assert parties(x_due__gte="2026-06-01", x_due__lte="2026-06-30") == ["P1"]
    assert parties(x_priority="high", x_urgent="true") == ["P1", "P2"]
    assert parties(x_urgent="false") == ["P0"]  # P3 has no value: it matches no filter
    assert parties(x_notebook=books[1]["id"]) == ["P1", "P2"]
    assert parties(x_site="Pune", party="P2") == ["P2"]  # with the resource's own filters
    page = acme.get("/api/v1/ledger/vouchers", query_string={"x_site__in": "Nashik,Pune", "limit": 2, "sort": "party"})
    cursor = page.get_json()["meta"]["pagination"]["next_cursor"]
    rest = acme.get(
        "/api/v1/ledger/vouchers",
        query_string={"x_site__in": "Nashik,Pune", "limit": 2, "sort": "party", "cursor": cursor},
    )
    assert [v["party"] for v in rest.get_json()["data"]] == ["P2"]
    bad = acme.get(
        "/api/v1/ledger/vouchers",
        query_string={"x_boxes__gte": "many", "x_weight": "0.0001", "x_urgent__in": "true", "x_site__gte": "a"},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"x_boxes__gte", "x_weight", "x_urgent__in", "x_site__gte"}
    assert bad.get_json()["errors"]["x_urgent__in"] == ["Unknown field."]
    assert world["zenith"].get("/api/v1/ledger/vouchers", query_string={"x_site": "Pune"}).status_code == 422


def test_changes_that_would_break_values_are_refused(world):
    acme, kernel = world["acme"], world["kernel"]
    fields = every_type(acme)
    made = voucher(acme, x_site="Pune Road", x_weight="1.125", x_priority="high", x_boxes=3)

    def patch(kind: str, **changes: Any) -> Any:
        current = acme.get(f"{CF}/{fields[kind]['id']}").get_json()["data"]
        return acme.patch(f"{CF}/{fields[kind]['id']}", json={**changes, "version": current["version"]})

    retyped = patch("number", type="text")
    assert retyped.status_code == 409 and "type" in retyped.get_json()["errors"]
    assert "1 records have a value" in retyped.get_json()["message"]
    used = patch("choice", options=["low"])
    assert used.status_code == 409 and used.get_json()["errors"] == {"options": ["still in use: high"]}
    assert patch("choice", options=["high", "urgent"], default=None).status_code == 200
    finer = patch("decimal", places=2)
    assert finer.status_code == 409 and "places" in finer.get_json()["errors"]
    assert patch("decimal", places=4).status_code == 200
    assert acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["x_weight"] == "1.1250"
    shorter = patch("text", max_length=5)
    assert shorter.status_code == 409 and "max_length" in shorter.get_json()["errors"]
    assert patch("text", max_length=9).status_code == 200
    elsewhere = patch("link", target="notes.note")
    assert elsewhere.status_code == 200  # no values yet: allowed
    # Without values the type may change, and the old type's settings go.
    free = patch("date", type="choice", options=["a"])
    assert free.status_code == 200 and free.get_json()["data"]["options"] == ["a"]
    # Renaming keeps the values.
    renamed = patch("number", name="x_cartons")
    assert renamed.status_code == 200
    shown = acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]
    assert shown["x_cartons"] == 3 and "x_boxes" not in shown
    # Deleting a field with values needs purge=true; then its values go, audited.
    url = f"{CF}/{fields['text']['id']}"
    refused = acme.delete(url)
    assert refused.status_code == 409 and "purge" in refused.get_json()["errors"]
    gone = acme.delete(url, query_string={"purge": "true"})
    assert gone.status_code == 200 and gone.get_json()["message"] == "custom field deleted with 1 values"
    assert "x_site" not in acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]
    assert acme.delete(f"{CF}/{fields['boolean']['id']}").status_code == 200  # no values: no confirmation
    with kernel.tenant_scope("acme") as scope:
        left = scope.session.scalars(
            select(CustomValue).where(CustomValue.field_id == uuid.UUID(fields["text"]["id"]))
        ).all()
        deletions = scope.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "core_custom_value", AuditEntry.action == "delete")
        ).all()
    assert left == [] and [e.changes["before"]["value_text"] for e in deletions] == ["Pune Road"]


def test_deleted_records_take_their_values_and_linked_records_stay(world):
    acme, kernel = world["acme"], world["kernel"]
    define(acme, resource="notes.note", name="x_tag", type="text")
    define(acme, name="x_notebook", type="link", target="notes.notebook")
    book = acme.post("/api/v1/notes/notebooks", json={"title": "Linked"}).get_json()["data"]
    notes = [
        acme.post(
            "/api/v1/notes/notes",
            json={
                "notebook_id": acme.get("/api/v1/notes/notebooks").get_json()["data"][0]["id"],
                "title": t,
                "x_tag": t,
            },
        ).get_json()["data"]
        for t in ("one", "two")
    ]
    assert acme.delete(f"/api/v1/notes/notes/{notes[0]['id']}").status_code == 200
    with kernel.tenant_scope("acme") as scope:
        remaining = scope.session.scalars(select(CustomValue.value_text)).all()
    assert remaining == ["two"]
    from udyog_test_notes.models import Note

    with kernel.tenant_scope("acme") as scope:
        scope.session.execute(delete(Note).where(Note.title == "two"))
        scope.session.commit()
        assert scope.session.scalars(select(CustomValue)).all() == []
    made = voucher(acme, x_notebook=book["id"])
    refused = acme.delete(f"/api/v1/notes/notebooks/{book['id']}")
    assert refused.status_code == 409
    assert refused.get_json()["errors"] == {"_schema": ["linked from ledger.voucher.x_notebook"]}
    acme.patch(f"/api/v1/ledger/vouchers/{made['id']}", json={"x_notebook": None, "version": 1})
    assert acme.delete(f"/api/v1/notes/notebooks/{book['id']}").status_code == 200


def test_fields_of_a_disabled_plugin_are_hidden_and_kept(world):
    acme, kernel = world["acme"], world["kernel"]
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    link = define(acme, name="x_notebook", type="link", target="notes.notebook")
    note_field = define(acme, resource="notes.note", name="x_tag", type="text")
    made = voucher(acme, x_notebook=book["id"])
    disable_plugins(kernel, "acme", ["notes"])
    shown = acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]
    assert "x_notebook" not in shown
    listed = {f["name"]: f["available"] for f in acme.get(CF).get_json()["data"]}
    assert listed == {"x_notebook": False, "x_tag": False}
    refused = acme.post(CF, json={"resource": "notes.note", "name": "x_more", "type": "text"})
    assert refused.status_code == 422 and "resource" in refused.get_json()["errors"]
    from udyog.tenancy import enable_plugins

    enable_plugins(kernel, "acme", ["notes"])
    assert acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["x_notebook"] == book["id"]
    assert acme.get(f"{CF}/{note_field['id']}").get_json()["data"]["available"] is True
    assert link["available"] is True


# -- pages and the OpenAPI document ---------------------------------------------------------------


def test_pages_show_custom_fields(sqlite_world):
    app, acme = sqlite_world["app"], sqlite_world["acme"]
    every_type(acme)
    book = acme.get("/api/v1/notes/notebooks").get_json()["data"][0]
    client = web_login(app, "owner@acme.test")
    form = client.get("/ledger/vouchers/new")
    for name in ("x_site", "x_boxes", "x_weight", "x_due", "x_priority", "x_urgent", "x_notebook"):
        assert f'name="{name}"' in form.text, name
    assert re.search(r'<select class="form-select" id="field-x_notebook"', form.text) and ">Inbox</option>" in form.text
    assert '<option value="low" selected' in form.text or re.search(r'value="low"\s+selected', form.text)
    token = form_token(form.text)
    data = {"csrf_token": token, "party": "Ravi", "amount": "9", "issued_on": "2026-05-01"}
    bad = client.post("/ledger/vouchers/new", data={**data, "x_weight": "1.23456", "x_boxes": "two"})
    assert bad.status_code == 422 and "at most 3 decimal places" in bad.text and "Not a valid integer." in bad.text
    good = {**data, "x_site": "Pune", "x_boxes": "4", "x_weight": "2.5", "x_due": "2026-05-02", "x_priority": "high"}
    saved = client.post("/ledger/vouchers/new", data={**good, "x_urgent": "on", "x_notebook": book["id"]})
    assert saved.status_code == 303, saved.text
    made = acme.get("/api/v1/ledger/vouchers").get_json()["data"][0]
    assert (made["x_boxes"], made["x_weight"], made["x_urgent"], made["x_notebook"]) == (4, "2.500", True, book["id"])
    detail = client.get(saved.headers["Location"])
    assert "Site" in detail.text and "Pune" in detail.text and "2.500" in detail.text
    edit = client.get(f"/ledger/vouchers/{made['id']}/edit")
    assert 'value="Pune"' in edit.text and 'value="2.500"' in edit.text
    cleared = client.post(
        f"/ledger/vouchers/{made['id']}/edit",
        data={**good, "csrf_token": form_token(edit.text), "version": "1", "x_site": "", "x_notebook": ""},
    )
    assert cleared.status_code == 303, cleared.text
    after = acme.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]
    assert after["x_site"] is None and after["x_notebook"] is None and after["x_urgent"] is False
    listing = client.get("/ledger/vouchers", query_string={"x_priority": "high"})
    assert listing.status_code == 200 and "Site" in listing.text and made["number"] in listing.text
    assert 'name="x_boxes__gte"' in listing.text
    assert made["number"] not in client.get("/ledger/vouchers", query_string={"x_priority": "low"}).text


def test_openapi_lists_the_tenants_custom_fields_only(sqlite_world):
    acme, zenith = sqlite_world["acme"], sqlite_world["zenith"]
    define(acme, name="x_site", type="text", required=True)
    define(acme, name="x_weight", type="decimal", places=3)
    spec = acme.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["Voucher"]["properties"]["x_site"]["x-udyog-origin"] == "custom"
    assert "x_site" in schemas["VoucherCreate"]["required"] and "x_site" not in schemas["VoucherUpdate"].get(
        "required", []
    )
    params = {p["name"] for p in spec["paths"]["/api/v1/ledger/vouchers"]["get"]["parameters"]}
    assert {"x_site", "x_site__in", "x_weight__gte", "x_weight__lte"} <= params
    other = zenith.get("/api/openapi.json").get_json()
    assert "x_site" not in other["components"]["schemas"]["Voucher"]["properties"]
    assert "/api/v1/core/custom-fields" in spec["paths"]
