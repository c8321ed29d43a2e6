"""Declarative resources (udyog_sdk.resources): the API, the pages, and the declaration itself.

The resources under test are the test plugins' own: ``ledger``'s vouchers (a
legal document declared entirely as a resource) and ``notes``' notes and
notebooks (resources with overridden hooks and permission names).
"""

from __future__ import annotations

import decimal
import re
import uuid
from typing import Any

import marshmallow as ma
import pytest
from sqlalchemy import select, update

from udyog.app import create_app
from udyog.models import Membership, User
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member, form_token, login, web_login
from udyog_sdk.api import version_field
from udyog_sdk.resources import Resource

PLUGINS = ["notes", "ledger"]
CSRF = "csrf_access_token"


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(PLUGINS, backend=backend)
    return _world(kernel)


@pytest.fixture
def sqlite_world(kernel_factory):
    return _world(kernel_factory(PLUGINS))


def _world(kernel: Any) -> dict[str, Any]:
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_tenant(kernel, "zenith", "Zenith", plugins=PLUGINS)
    with kernel.tenant_scope("acme") as scope:
        branches = {code: create_branch(scope.session, code=code, name=code.title()).id for code in ("PUNE", "BLR")}
        scope.session.commit()
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    made = owner.post(
        "/api/v1/core/roles",
        json={"name": "Clerk", "permissions": ["ledger.voucher.read", "ledger.voucher.create"]},
    )
    assert made.status_code == 201, made.get_json()
    create_member(kernel, "acme", "clerk@acme.test", roles=("Clerk",))
    create_member(kernel, "acme", "pune@acme.test", roles=("Branch Writer",))
    with kernel.db.session() as s:
        s.bind_tenant(kernel.find_tenant(s, "acme").id)
        pune = s.scalar(select(User.id).where(User.email == "pune@acme.test"))
        s.execute(update(Membership).where(Membership.user_id == pune).values(branch_id=branches["PUNE"]))
        s.commit()
    return {"kernel": kernel, "app": app, "owner": owner, "branches": branches}


def voucher(client: Any, party: str = "Ravi", amount: str = "10.00", issued_on: str = "2026-04-01") -> dict[str, Any]:
    response = client.post("/api/v1/ledger/vouchers", json={"party": party, "amount": amount, "issued_on": issued_on})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["data"]  # type: ignore[no-any-return]


def pages(client: Any, url: str, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """Every row of a paginated list, following next_cursor; and the number of pages."""
    rows: list[dict[str, Any]] = []
    count = 0
    while True:
        body = client.get(url, query_string=query).get_json()
        assert body["success"], body
        rows += body["data"]
        count += 1
        cursor = body["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            return rows, count
        query["cursor"] = cursor


# -- the REST API ---------------------------------------------------------------------


def test_crud_of_a_declared_resource(world):
    owner = world["owner"]
    made = voucher(owner, "Ravi", "1234.50")
    assert made["number"] == "V-0001"  # the overridden create() took it from the series
    assert made["version"] == 1 and made["cancelled"] is False and made["amount"] == "1234.50"
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    assert owner.get(url).get_json()["data"] == made
    changed = owner.patch(url, json={"party": "Ravi Kumar", "version": 1})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["party"] == "Ravi Kumar" and changed.get_json()["data"]["version"] == 2
    # dump_only fields are refused on input; partial updates keep the rest.
    refused = owner.patch(url, json={"number": "X-1", "version": 2})
    assert refused.status_code == 422 and "number" in refused.get_json()["errors"]
    assert owner.get(url).get_json()["data"]["amount"] == "1234.50"
    # Notes: a deletable resource.
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "gone"}).get_json()["data"]
    deleted = owner.delete(f"/api/v1/notes/notes/{note['id']}")
    assert deleted.status_code == 200 and deleted.get_json()["data"]["title"] == "gone"
    assert owner.get(f"/api/v1/notes/notes/{note['id']}").status_code == 404


def test_bad_input_is_a_field_error_never_a_crash(world):
    owner = world["owner"]
    bad = owner.post("/api/v1/ledger/vouchers", json={"party": "", "amount": "-1", "issued_on": "soon", "x": 1})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"party", "amount", "issued_on", "x"}
    missing = owner.post("/api/v1/ledger/vouchers", json={})
    assert set(missing.get_json()["errors"]) == {"party", "amount", "issued_on"}
    made = voucher(owner)
    no_version = owner.patch(f"/api/v1/ledger/vouchers/{made['id']}", json={"party": "y"})
    assert no_version.status_code == 422 and "version" in no_version.get_json()["errors"]
    assert owner.get(f"/api/v1/ledger/vouchers/{uuid.uuid4()}").status_code == 404
    # A reference to a record that does not exist (here or anywhere) is a field error.
    nowhere = owner.post("/api/v1/notes/notes", json={"notebook_id": str(uuid.uuid4()), "title": "t"})
    assert nowhere.status_code == 422 and nowhere.get_json()["errors"] == {"notebook_id": ["no such notebook"]}
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "t"}).get_json()["data"]
    moved = owner.patch(
        f"/api/v1/notes/notes/{note['id']}", json={"notebook_id": str(uuid.uuid4()), "version": note["version"]}
    )
    assert moved.status_code == 422 and moved.get_json()["errors"] == {"notebook_id": ["no such notebook"]}


def test_lists_paginate_by_keyset_filter_and_sort(world):
    owner = world["owner"]
    for day, party in enumerate(["Esha", "Amit", "Dev", "Chitra", "Bina"], start=1):
        voucher(owner, party, f"{day}.00", f"2026-04-0{day}")
    rows, count = pages(owner, "/api/v1/ledger/vouchers", limit=2)
    assert count == 3
    assert [r["issued_on"] for r in rows] == [f"2026-04-0{d}" for d in (5, 4, 3, 2, 1)]  # default_sort -issued_on
    rows, _ = pages(owner, "/api/v1/ledger/vouchers", sort="party", limit=2)
    assert [r["party"] for r in rows] == ["Amit", "Bina", "Chitra", "Dev", "Esha"]
    rows, _ = pages(owner, "/api/v1/ledger/vouchers", issued_on__gte="2026-04-02", issued_on__lte="2026-04-03")
    assert sorted(r["party"] for r in rows) == ["Amit", "Dev"]
    rows, _ = pages(owner, "/api/v1/ledger/vouchers", party__in="Esha,Bina", sort="-party")
    assert [r["party"] for r in rows] == ["Esha", "Bina"]
    bad = owner.get("/api/v1/ledger/vouchers", query_string={"amount": "1", "sort": "amount"})
    assert bad.status_code == 422 and {"amount", "sort"} <= set(bad.get_json()["errors"])
    first = owner.get("/api/v1/ledger/vouchers", query_string={"limit": 1}).get_json()
    other_sort = owner.get(
        "/api/v1/ledger/vouchers",
        query_string={"cursor": first["meta"]["pagination"]["next_cursor"], "sort": "party"},
    )
    assert other_sort.status_code == 400 and "cursor" in other_sort.get_json()["errors"]


def test_a_stale_version_answers_409(world):
    owner = world["owner"]
    made = voucher(owner)
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    assert owner.patch(url, json={"party": "first", "version": 1}).status_code == 200
    stale = owner.patch(url, json={"party": "second", "version": 1})
    assert stale.status_code == 409
    assert stale.get_json()["errors"] == {"version": ["is 2 now, you sent 1"]}
    assert owner.get(url).get_json()["data"]["party"] == "first"
    stale_cancel = owner.post(f"{url}/cancel", json={"version": 1})
    assert stale_cancel.status_code == 409 and "version" in stale_cancel.get_json()["errors"]


def test_legal_documents_are_cancelled_never_deleted_nor_changed_after(world):
    owner = world["owner"]
    made = voucher(owner)
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    refused = owner.delete(url)
    assert refused.status_code == 409
    assert "legal document and is never deleted" in refused.get_json()["message"]
    cancelled = owner.post(f"{url}/cancel", json={"version": 1})
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["data"]["cancelled"] is True and cancelled.get_json()["data"]["version"] == 2
    again = owner.post(f"{url}/cancel", json={"version": 2})
    assert again.status_code == 409 and again.get_json()["errors"] == {"cancelled": ["cancelled already"]}
    edit = owner.patch(url, json={"party": "x", "version": 2})
    assert edit.status_code == 409 and "cancelled" in edit.get_json()["message"]
    assert owner.get(url).get_json()["data"]["party"] == "Ravi"
    # Still listed, and filterable by its state.
    rows, _ = pages(owner, "/api/v1/ledger/vouchers", cancelled="true")
    assert [r["id"] for r in rows] == [made["id"]]
    assert pages(owner, "/api/v1/ledger/vouchers", cancelled="false")[0] == []


def test_permissions_are_checked_per_action_and_named(world):
    app = world["app"]
    clerk = login(app, "clerk@acme.test")
    made = voucher(clerk)  # read + create
    assert clerk.get("/api/v1/ledger/vouchers").status_code == 200
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    for response, permission in (
        (clerk.patch(url, json={"party": "x", "version": 1}), "ledger.voucher.write"),
        (clerk.post(f"{url}/cancel", json={"version": 1}), "ledger.voucher.cancel"),
        (clerk.delete(url), "ledger.voucher.cancel"),
    ):
        assert response.status_code == 403
        assert response.get_json()["errors"] == {"permission": [permission]}
    # Notes map create and delete onto their older permission name.
    pune = login(app, "pune@acme.test")  # Branch Writer: notes.note.*, notes.notebook.read
    denied = pune.post("/api/v1/notes/notebooks", json={"title": "mine"})
    assert denied.status_code == 403 and denied.get_json()["errors"] == {"permission": ["notes.notebook.manage"]}
    assert pune.get("/api/v1/ledger/vouchers").get_json()["errors"] == {"permission": ["ledger.voucher.read"]}


def test_record_rules_narrow_lists_and_lookups(world):
    owner, app, branches = world["owner"], world["app"], world["branches"]
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    ids = {}
    for code, branch_id in branches.items():
        made = owner.post(
            "/api/v1/notes/notes", json={"notebook_id": book["id"], "title": code, "branch_id": str(branch_id)}
        )
        ids[code] = made.get_json()["data"]["id"]
    pune = login(app, "pune@acme.test")
    assert [n["title"] for n in pages(pune, "/api/v1/notes/notes")[0]] == ["PUNE"]
    assert pune.get(f"/api/v1/notes/notes/{ids['BLR']}").status_code == 404
    assert pune.patch(f"/api/v1/notes/notes/{ids['BLR']}", json={"title": "mine", "version": 1}).status_code == 404
    assert pune.delete(f"/api/v1/notes/notes/{ids['BLR']}").status_code == 404
    assert pune.get(f"/api/v1/notes/notes/{ids['PUNE']}").status_code == 200
    # The page list and detail obey the same rules.
    client = web_login(app, "pune@acme.test")
    listed = client.get("/notes/notes")
    assert ids["PUNE"] in listed.text and ids["BLR"] not in listed.text
    assert client.get(f"/notes/notes/{ids['BLR']}").status_code == 404
    assert len(pages(owner, "/api/v1/notes/notes")[0]) == 2


def test_tenants_never_see_each_others_records(world):
    owner = world["owner"]
    made = voucher(owner)
    other = login(world["app"], "owner@zenith.test")
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    assert other.get("/api/v1/ledger/vouchers").get_json()["data"] == []
    assert other.get(url).status_code == 404
    assert other.patch(url, json={"party": "x", "version": 1}).status_code == 404
    assert other.post(f"{url}/cancel", json={"version": 1}).status_code == 404
    theirs = voucher(other)
    assert theirs["number"] == "V-0001"  # each tenant's own series
    assert [r["id"] for r in owner.get("/api/v1/ledger/vouchers").get_json()["data"]] == [made["id"]]
    # A reference to another tenant's record is a field error, not a link.
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    foreign = other.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "t"})
    assert foreign.status_code == 422 and foreign.get_json()["errors"] == {"notebook_id": ["no such notebook"]}


def test_every_change_is_audited_with_its_user(world):
    owner = world["owner"]
    made = voucher(owner, "Ravi")
    url = f"/api/v1/ledger/vouchers/{made['id']}"
    owner.patch(url, json={"party": "Ravi K", "version": 1})
    owner.post(f"{url}/cancel", json={"version": 2})
    entries = owner.get(
        "/api/v1/core/audit", query_string={"entity": "ledger_voucher", "record_id": made["id"], "sort": "at"}
    ).get_json()["data"]
    assert [e["action"] for e in entries] == ["insert", "update", "update"]
    me = owner.get("/api/v1/auth/me").get_json()["data"]
    assert {e["user_id"] for e in entries} == {me["id"]}
    assert entries[0]["changes"]["after"]["party"] == "Ravi"
    assert entries[1]["changes"] == {"party": {"before": "Ravi", "after": "Ravi K"}}
    assert entries[2]["changes"] == {"cancelled": {"before": False, "after": True}}


def test_the_openapi_document_describes_every_operation(world):
    spec = world["owner"].get("/api/openapi.json").get_json()
    item = spec["paths"]["/api/v1/ledger/vouchers/{voucher_id}"]
    assert set(item) >= {"get", "patch", "delete"}
    assert "`ledger.voucher.write`" in item["patch"]["description"]
    assert "post" in spec["paths"]["/api/v1/ledger/vouchers/{voucher_id}/cancel"]
    listing = spec["paths"]["/api/v1/ledger/vouchers"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"limit", "cursor", "sort", "party", "party__in", "issued_on__gte", "cancelled"} <= names
    update_schema = spec["components"]["schemas"]["VoucherUpdate"]
    assert update_schema["required"] == ["version"]
    assert set(update_schema["properties"]) == {"party", "amount", "issued_on", "version"}  # no dump_only fields
    create_schema = spec["components"]["schemas"]["VoucherCreate"]  # the body of POST
    assert set(create_schema["required"]) == {"party", "amount", "issued_on"}
    assert create_schema["properties"]["number"]["readOnly"] is True
    create_ref = spec["paths"]["/api/v1/ledger/vouchers"]["post"]["requestBody"]["content"]["application/json"]
    assert create_ref["schema"]["$ref"] == "#/components/schemas/VoucherCreate"
    assert "number" in spec["components"]["schemas"]["Voucher"]["properties"]  # the output


# -- overriding hooks ---------------------------------------------------------------------


def test_overridden_hooks_take_part_in_every_route(sqlite_world, monkeypatch):
    from sqlalchemy import select as sql_select
    from udyog_test_notes.api import NoteResource
    from udyog_test_notes.models import Note

    from udyog_sdk import UdyogError

    owner = sqlite_world["owner"]
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    # NoteResource.create is the plugin's service: title rules and word count apply.
    blank = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "   "})
    assert blank.status_code == 422 and blank.get_json()["errors"] == {"title": ["must not be blank"]}
    made = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "w", "body": "a b c"})
    assert made.get_json()["data"]["words"] == 3
    long = owner.post(
        "/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "long", "body": "a b c d e f"}
    ).get_json()["data"]

    def validate(self: Resource, data: dict[str, Any], obj: Any) -> None:
        if data.get("title") == "forbidden":
            raise UdyogError("invalid note", status=422, errors={"title": ["is forbidden here"]})

    monkeypatch.setattr(NoteResource, "validate", validate)
    monkeypatch.setattr(NoteResource, "query", lambda self: sql_select(Note).where(Note.words < 5))
    refused = owner.patch(
        f"/api/v1/notes/notes/{made.get_json()['data']['id']}", json={"title": "forbidden", "version": 1}
    )
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"title": ["is forbidden here"]}
    titles = [n["title"] for n in owner.get("/api/v1/notes/notes").get_json()["data"]]
    assert "long" not in titles and "w" in titles
    assert owner.get(f"/api/v1/notes/notes/{long['id']}").status_code == 404  # lookups use query() too


# -- the declaration ---------------------------------------------------------------------------


def test_declaration_defaults_and_permissions():
    from udyog_test_ledger.api import VOUCHERS
    from udyog_test_notes.api import NOTEBOOKS, NOTES

    assert (VOUCHERS.plugin, VOUCHERS.path, VOUCHERS.label, VOUCHERS.label_plural) == (
        "ledger",
        "vouchers",
        "Voucher",
        "Vouchers",
    )
    assert [p.name for p in VOUCHERS.permissions()] == [
        "ledger.voucher.read",
        "ledger.voucher.create",
        "ledger.voucher.write",
        "ledger.voucher.cancel",
        "ledger.voucher.import",
    ]
    assert VOUCHERS.permission("delete") == "ledger.voucher.cancel"
    assert [p.name for p in NOTES.permissions()] == ["notes.note.read", "notes.note.write"]
    assert NOTEBOOKS.permission("delete") == "notes.notebook.manage"
    entry = VOUCHERS.menu_entry(weight=5)
    assert (entry.key, entry.url, entry.permission, entry.weight) == (
        "ledger.vouchers",
        "/ledger/vouchers",
        "ledger.voucher.read",
        5,
    )
    # The derived update schema: every field optional, no defaults, the version required.
    schema = VOUCHERS.patch_schema()
    assert schema.load({"version": 3}) == {"version": 3}
    with pytest.raises(ma.ValidationError) as err:
        schema.load({"party": "x"})
    assert set(err.value.messages) == {"version"}


def test_declarations_are_checked():
    from udyog_test_ledger.models import Voucher
    from udyog_test_notes.api import NoteSchema
    from udyog_test_notes.models import Note

    class Plain(ma.Schema):
        title = ma.fields.String()

    with pytest.raises(ValueError, match=r"plugin\.resource"):
        Resource(Note, NoteSchema, "notes")
    with pytest.raises(TypeError, match="unknown Resource option"):
        Resource(Note, NoteSchema, "notes.note", colour="red")
    with pytest.raises(ValueError, match="has no field 'cancelled'"):
        Resource(Note, NoteSchema, "notes.note", legal_document=True)
    with pytest.raises(ValueError, match="only legal documents"):
        Resource(Note, NoteSchema, "notes.note", operations={"list", "cancel"})
    with pytest.raises(TypeError, match="marshmallow Schema"):
        Resource(Note, object, "notes.note")
    # Paths and labels: plural rules, overridable; create_only fields stay out of updates.
    assert Resource(Voucher, Plain, "ledger.category").path == "categories"
    assert Resource(Voucher, Plain, "ledger.box").label_plural == "Boxes"
    assert Resource(Voucher, Plain, "ledger.person", path="people").path == "people"
    notes = Resource(Note, NoteSchema, "notes.note", create_only=("branch_id", "notebook_id"))
    assert set(notes.patch_schema().fields) == {"title", "body", "version"}
    custom = Resource(Note, NoteSchema, "notes.note", update_schema=Plain)
    assert "version" in custom.patch_schema().fields  # added for versioned models
    assert version_field().required


# -- the pages ------------------------------------------------------------------------------


def test_list_page_filters_sorts_and_pages(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    for day, party in enumerate(["Esha", "Amit", "Dev"], start=1):
        voucher(owner, party, f"{day}.00", f"2026-04-0{day}")
    client = web_login(app, "owner@acme.test")
    home = client.get("/")
    assert 'data-menu-key="ledger.vouchers"' in home.text and 'href="/ledger/vouchers"' in home.text
    page = client.get("/ledger/vouchers", query_string={"sort": "party"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    parties = re.findall(r"<td>(Amit|Dev|Esha)</td>", page.text)
    assert parties == ["Amit", "Dev", "Esha"]
    assert 'id="resource-new"' in page.text
    first = client.get("/ledger/vouchers", query_string={"sort": "party", "limit": 2})
    assert re.findall(r"<td>(Amit|Dev|Esha)</td>", first.text) == ["Amit", "Dev"]
    next_url = re.search(r'href="([^"]+)" id="page-next"', first.text).group(1).replace("&amp;", "&")
    second = client.get(next_url)
    assert re.findall(r"<td>(Amit|Dev|Esha)</td>", second.text) == ["Esha"]
    assert 'id="page-next"' not in second.text and 'id="page-first"' in second.text
    filtered = client.get("/ledger/vouchers", query_string={"party": "Dev", "issued_on__gte": ""})
    assert re.findall(r"<td>(Amit|Dev|Esha)</td>", filtered.text) == ["Dev"]
    bad = client.get("/ledger/vouchers", query_string={"issued_on__gte": "soon"})
    assert bad.status_code == 422 and "is-invalid" in bad.text and "Not a valid date." in bad.text
    # A clerk sees no edit buttons; a user without the read permission gets the 403 page.
    clerk = web_login(app, "clerk@acme.test")
    made = owner.get("/api/v1/ledger/vouchers").get_json()["data"][0]
    detail = clerk.get(f"/ledger/vouchers/{made['id']}")
    assert detail.status_code == 200 and 'id="resource-edit"' not in detail.text
    assert 'id="resource-cancel"' not in detail.text
    pune = web_login(app, "pune@acme.test")
    denied = pune.get("/ledger/vouchers")
    assert denied.status_code == 403 and "ledger.voucher.read" in denied.text


def test_forms_show_errors_inline_and_save(sqlite_world):
    app = sqlite_world["app"]
    client = web_login(app, "owner@acme.test")
    form = client.get("/ledger/vouchers/new")
    assert form.status_code == 200
    assert 'name="party"' in form.text and 'name="amount"' in form.text and 'type="date"' in form.text
    assert 'name="number"' not in form.text  # dump_only
    token = form_token(form.text)
    bad = client.post(
        "/ledger/vouchers/new", data={"csrf_token": token, "party": "", "amount": "lots", "issued_on": ""}
    )
    assert bad.status_code == 422
    assert bad.text.count("is-invalid") == 3
    assert "Length must be between 1 and 120." in bad.text and "Not a valid number." in bad.text
    assert 'value="lots"' in bad.text  # the input is kept
    good = client.post(
        "/ledger/vouchers/new",
        data={"csrf_token": token, "party": "Ravi", "amount": "99.5", "issued_on": "2026-05-01"},
    )
    assert good.status_code == 303
    detail = client.get(good.headers["Location"])
    assert "V-0001" in detail.text and "99.50" in detail.text and "Ravi" in detail.text
    # A reference is a choice among the records the user sees.
    note_form = client.get("/notes/notes/new")
    assert re.search(r'<select class="form-select" id="field-notebook_id"', note_form.text)
    assert ">Inbox</option>" in note_form.text


def test_a_form_without_the_csrf_token_is_refused_with_a_page(sqlite_world):
    app = sqlite_world["app"]
    client = web_login(app, "owner@acme.test")
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(
            "/ledger/vouchers/new", data={**data, "party": "x", "amount": "1", "issued_on": "2026-01-01"}
        )
        assert response.status_code == 400 and "could not be verified" in response.text
    assert sqlite_world["owner"].get("/api/v1/ledger/vouchers").get_json()["data"] == []
    # The API keeps answering in its envelope (a cookie without the CSRF header).
    api = client.post("/api/v1/ledger/vouchers", json={"party": "x", "amount": "1", "issued_on": "2026-01-01"})
    assert api.status_code == 401 and api.get_json()["success"] is False


def test_edit_form_explains_a_version_conflict(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    made = voucher(owner, "Ravi")
    client = web_login(app, "owner@acme.test")
    form = client.get(f"/ledger/vouchers/{made['id']}/edit")
    assert 'name="version" value="1"' in form.text and 'value="Ravi"' in form.text
    owner.patch(f"/api/v1/ledger/vouchers/{made['id']}", json={"party": "Someone else", "version": 1})
    data = {"csrf_token": form_token(form.text), "version": "1", "party": "Mine", "amount": "10.00"}
    data["issued_on"] = "2026-04-01"
    conflict = client.post(f"/ledger/vouchers/{made['id']}/edit", data=data)
    assert conflict.status_code == 409 and 'id="version-conflict"' in conflict.text
    assert owner.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["party"] == "Someone else"
    fresh = client.get(f"/ledger/vouchers/{made['id']}/edit")
    saved = client.post(f"/ledger/vouchers/{made['id']}/edit", data={**data, "version": "2"})
    assert saved.status_code == 303, saved.text
    assert owner.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["party"] == "Mine"
    assert 'name="version" value="2"' in fresh.text


def test_cancel_and_delete_ask_for_confirmation(sqlite_world):
    owner, app = sqlite_world["owner"], sqlite_world["app"]
    made = voucher(owner)
    client = web_login(app, "owner@acme.test")
    detail = client.get(f"/ledger/vouchers/{made['id']}")
    assert 'id="resource-cancel"' in detail.text and 'id="resource-delete"' not in detail.text
    confirm = client.get(f"/ledger/vouchers/{made['id']}/cancel")
    assert confirm.status_code == 200 and 'method="post"' in confirm.text
    assert owner.get(f"/api/v1/ledger/vouchers/{made['id']}").get_json()["data"]["cancelled"] is False
    done = client.post(
        f"/ledger/vouchers/{made['id']}/cancel", data={"csrf_token": form_token(confirm.text), "version": "1"}
    )
    assert done.status_code == 303
    after = client.get(done.headers["Location"])
    assert 'id="cancelled-badge"' in after.text and 'id="resource-edit"' not in after.text
    twice = client.post(
        f"/ledger/vouchers/{made['id']}/cancel", data={"csrf_token": form_token(confirm.text), "version": "2"}
    )
    assert twice.status_code == 409 and "cancelled already" in twice.text
    # A deletable resource: notes.
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "bye"}).get_json()["data"]
    ask = client.get(f"/notes/notes/{note['id']}/delete")
    assert ask.status_code == 200 and "cannot be undone" in ask.text
    gone = client.post(f"/notes/notes/{note['id']}/delete", data={"csrf_token": form_token(ask.text)})
    assert gone.status_code == 303 and gone.headers["Location"] == "/notes/notes"
    assert owner.get(f"/api/v1/notes/notes/{note['id']}").status_code == 404
    # A notebook still holding notes cannot be deleted: said on the page, nothing changes.
    ask = client.get(f"/notes/notebooks/{book['id']}/delete")
    owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "stays"})
    kept = client.post(f"/notes/notebooks/{book['id']}/delete", data={"csrf_token": form_token(ask.text)})
    assert kept.status_code == 409 and "still used by notes" in kept.text
    api = owner.delete(f"/api/v1/notes/notebooks/{book['id']}")
    assert api.status_code == 409 and api.get_json()["errors"] == {"_schema": ["still used by notes"]}
    assert owner.get(f"/api/v1/notes/notebooks/{book['id']}").status_code == 200
    empty = owner.post("/api/v1/notes/notebooks", json={"title": "Empty"}).get_json()["data"]
    assert owner.delete(f"/api/v1/notes/notebooks/{empty['id']}").status_code == 200


def test_money_orders_and_compares_as_numbers_on_both_databases(world):
    """SQLite stores Money as text: ordering, range filters and keyset pages must still go by value."""
    import decimal

    from udyog_test_ledger.models import Voucher

    from udyog_sdk.api import paginate

    owner = world["owner"]
    for amount in ("100.00", "20.00", "3.50", "1000000000.01", "7.00", "20.00"):
        voucher(owner, amount=amount)
    with world["kernel"].tenant_scope("acme", write=False) as scope:
        seen: list[str] = []
        cursor = None
        while True:
            rows, meta = paginate(
                select(Voucher).where(Voucher.amount >= decimal.Decimal("7")),
                sort=[(Voucher.amount, "desc")],
                cursor=cursor,
                limit=2,
                session=scope.session,
            )
            seen += [str(r.amount) for r in rows]
            cursor = meta["pagination"]["next_cursor"]
            if cursor is None:
                break
        assert seen == ["1000000000.01", "100.00", "20.00", "20.00", "7.00"]
        exact = scope.session.scalars(select(Voucher.amount).where(Voucher.amount == decimal.Decimal("3.5"))).all()
        assert exact == [decimal.Decimal("3.50")]


def test_a_money_filter_is_bounded_and_documents_its_bounds_as_numbers():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin
    from sqlalchemy import Column

    from udyog_sdk.api import _value_field
    from udyog_sdk.models import Money

    field = _value_field(Column("price", Money(18, 2)))
    assert field.deserialize("9999999999999999.99") == decimal.Decimal("9999999999999999.99")
    with pytest.raises(ma.ValidationError, match="less than 10000000000000000"):
        field.deserialize("10000000000000000")
    plugin = MarshmallowPlugin()
    APISpec("t", "1", "3.0.3", plugins=[plugin])
    documented = plugin.converter.field2property(field)
    # Numbers, not strings ("1000"), which OpenAPI tools such as schemathesis reject.
    assert documented["maximum"] == 10**16 and documented["minimum"] == -(10**16)
