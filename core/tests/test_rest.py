"""REST conventions: input errors, keyset pagination, filters and sorting, versions, legal documents, OpenAPI."""

from __future__ import annotations

import base64
import json
import threading
import uuid

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from udyog_test_notes.models import Note

from udyog.app import create_app
from udyog.models import Branch
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member, login
from udyog_sdk import UdyogError
from udyog_sdk.api import MAX_LIMIT, Listing, decode_cursor, paginate, refuse_delete
from udyog_sdk.security import public

CODES = ["AGR", "BLR", "CHN", "DEL", "GOA", "HYD", "PUNE"]
STATES = {"AGR": "09", "BLR": "29", "CHN": "33", "DEL": "07", "GOA": None, "HYD": None, "PUNE": "27"}


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_tenant(kernel, "bare", "Bare", plugins=[])
    with kernel.tenant_scope("acme") as scope:
        for code in reversed(CODES):
            create_branch(scope.session, code=code, name=f"{code.title()} site", state_code=STATES[code])
        scope.session.commit()
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "bare", "owner@bare.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return kernel, app, login(app, "owner@acme.test")


def _pages(client, url, **params):
    """Every row of a list, page by page; also returns the page count."""
    rows, pages, cursor = [], 0, None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        body = client.get(url, query_string=query).get_json()
        assert body["success"] is True, body
        pages += 1
        rows += body["data"]
        pagination = body["meta"]["pagination"]
        assert pagination["has_more"] is (pagination["next_cursor"] is not None)
        cursor = pagination["next_cursor"]
        if not cursor:
            return rows, pages
        assert pages < 50


def test_lists_paginate_by_keyset_without_counting(world):
    kernel, app, owner = world
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(kernel.db.engine, "before_cursor_execute", remember)
    try:
        first = owner.get("/api/v1/core/branches", query_string={"limit": 3}).get_json()
    finally:
        event.remove(kernel.db.engine, "before_cursor_execute", remember)
    assert "data" in first, first
    assert [b["code"] for b in first["data"]] == CODES[:3]
    assert first["meta"]["pagination"]["limit"] == 3 and first["meta"]["pagination"]["has_more"] is True
    assert not [s for s in statements if "count(" in s], "a list page must not count rows"
    rows, pages = _pages(owner, "/api/v1/core/branches", limit=3)
    assert [b["code"] for b in rows] == CODES and pages == 3
    rows, pages = _pages(owner, "/api/v1/core/branches", limit=7)
    assert len(rows) == 7 and pages == 1
    default = owner.get("/api/v1/core/branches").get_json()
    assert default["meta"]["pagination"] == {"limit": 50, "next_cursor": None, "has_more": False}


def test_lists_sort_and_filter_on_declared_fields(world):
    kernel, app, owner = world
    rows, _ = _pages(owner, "/api/v1/core/branches", sort="-name", limit=2)
    assert [b["code"] for b in rows] == list(reversed(CODES))
    rows, _ = _pages(owner, "/api/v1/core/branches", state_code="27")
    assert [b["code"] for b in rows] == ["PUNE"]
    rows, _ = _pages(owner, "/api/v1/core/branches", code__in="GOA,DEL,XXX", limit=1)
    assert [b["code"] for b in rows] == ["DEL", "GOA"]
    rows, _ = _pages(owner, "/api/v1/core/branches", is_active="false")
    assert rows == []


BAD_LIST_ARGUMENTS = [
    ({"colour": "red"}, "colour", 422),  # an undeclared filter
    ({"address": "x"}, "address", 422),  # a real column, but not declared filterable
    ({"sort": "address"}, "sort", 422),
    ({"sort": "-code,code"}, "sort", 422),
    ({"limit": MAX_LIMIT + 1}, "limit", 422),
    ({"limit": "ten"}, "limit", 422),
    ({"is_active": "maybe"}, "is_active", 422),
    ({"state_code": "123"}, "state_code", 422),  # longer than the column
    ({"code": "a\x00b"}, "code", 422),
    ({"code__in": ",".join(["X"] * 101)}, "code__in", 422),
    ({"cursor": "not-a-cursor"}, "cursor", 400),
    ({"cursor": base64.urlsafe_b64encode(b'{"s":["code"],"v":[1,2,3]}').decode()}, "cursor", 400),
]


def test_bad_list_arguments_are_4xx_naming_the_field(world):
    kernel, app, owner = world
    for params, field, status in BAD_LIST_ARGUMENTS:
        response = owner.get("/api/v1/core/branches", query_string=params)
        body = response.get_json()
        assert response.status_code == status, (params, body)
        assert body["success"] is False and field in body["errors"], (params, body)


def test_a_cursor_belongs_to_its_sort_order(world):
    kernel, app, owner = world
    cursor = owner.get("/api/v1/core/branches", query_string={"limit": 2}).get_json()["meta"]["pagination"]
    other = owner.get(
        "/api/v1/core/branches", query_string={"limit": 2, "sort": "-name", "cursor": cursor["next_cursor"]}
    )
    assert other.status_code == 400
    assert "another sort order" in other.get_json()["errors"]["cursor"][0]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_through_nulls_and_ties_exactly_once(world, direction):
    kernel, app, owner = world
    with kernel.tenant_scope("acme") as scope:
        for i in range(5):  # ties on state_code, and more NULLs
            create_branch(scope.session, code=f"T{i}", name="Tie", state_code="27" if i % 2 else None)
        scope.session.commit()
        expected = scope.session.scalars(select(Branch.id)).all()
        seen, cursor = [], None
        order = [(Branch.state_code, direction)]
        while True:
            rows, meta = paginate(select(Branch), sort=order, cursor=cursor, limit=2)
            seen += [r.id for r in rows]
            cursor = meta["pagination"]["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(expected) and len(seen) == len(expected)
        by_id = dict(zip(seen, range(len(seen)), strict=True))
        ordered = sorted(scope.session.scalars(select(Branch)), key=lambda b: by_id[b.id])
        states = [b.state_code for b in ordered]
        non_null = [s for s in states if s is not None]
        assert non_null == sorted(non_null, reverse=direction == "desc")
        nulls_at = [i for i, s in enumerate(states) if s is None]
        if direction == "asc":
            assert nulls_at == list(range(len(states) - len(nulls_at), len(states)))  # NULLs last
        else:
            assert nulls_at == list(range(len(nulls_at)))  # NULLs first


def test_notes_lists_filter_sort_and_paginate(world):
    kernel, app, owner = world
    inbox = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]["id"]
    for i, body in enumerate(["", "a", "a b", "a b c", "a b c d"]):
        assert (
            owner.post("/api/v1/notes/notes", json={"notebook_id": inbox, "title": f"n{i}", "body": body}).status_code
            == 201
        )
    rows, pages = _pages(owner, "/api/v1/notes/notes", sort="-words", limit=2)
    assert [n["words"] for n in rows] == [4, 3, 2, 1, 0] and pages == 3
    rows, _ = _pages(owner, "/api/v1/notes/notes", words__gte=1, words__lte=3, sort="title")
    assert [n["title"] for n in rows] == ["n1", "n2", "n3"]
    rows, _ = _pages(owner, "/api/v1/notes/notes", title__in="n0,n4")
    assert [n["title"] for n in rows] == ["n0", "n4"]
    assert all(n["version"] == 1 for n in rows)
    bad = owner.get("/api/v1/notes/notes", query_string={"words__gte": "many", "colour": "red"})
    assert bad.status_code == 422 and {"words__gte", "colour"} <= set(bad.get_json()["errors"])


BAD_BODIES = [
    ({"data": "{not json", "content_type": "application/json"}, 400, "_schema"),
    ({"data": "code=X&name=Y", "content_type": "application/x-www-form-urlencoded"}, 415, "_schema"),
    ({"json": ["not", "an", "object"]}, 422, "_schema"),
    ({"json": {"code": "X1", "name": "n", "colour": "red"}}, 422, "colour"),
    ({"json": {"code": 12, "name": "n"}}, 422, "code"),
    ({"json": {"code": "X1", "name": "n" * 201}}, 422, "name"),
    ({"json": {"code": "X1", "name": "nul\x00"}}, 422, "name"),
    ({"json": {"code": "X1", "name": "\ud800"}}, 422, "name"),
    ({"json": {"code": "X1", "name": "n", "state_code": 27}}, 422, "state_code"),
    ({}, 422, "code"),  # no body at all: the required fields are missing
]


def test_bad_bodies_are_4xx_with_field_errors(world):
    kernel, app, owner = world
    for kwargs, status, field in BAD_BODIES:
        response = owner.post("/api/v1/core/branches", **kwargs)
        body = response.get_json()
        assert response.status_code == status, (kwargs, body)
        assert body["success"] is False and isinstance(body["message"], str), body
        assert field in body["errors"], (kwargs, body)
    assert owner.get("/api/v1/core/branches", query_string={"code": "X1"}).get_json()["data"] == []


def test_bad_path_values_are_404(world):
    kernel, app, owner = world
    for url in ("/api/v1/core/branches/not-a-uuid", f"/api/v1/core/branches/{uuid.uuid4()}"):
        response = owner.get(url)
        assert response.status_code == 404 and response.get_json()["success"] is False


def test_updates_carry_the_version_read(world):
    kernel, app, owner = world
    branch = owner.get("/api/v1/core/branches", query_string={"code": "GOA"}).get_json()["data"][0]
    url = f"/api/v1/core/branches/{branch['id']}"
    assert branch["version"] == 1
    missing = owner.patch(url, json={"name": "Goa"})
    assert missing.status_code == 422 and "version" in missing.get_json()["errors"]
    changed = owner.patch(url, json={"name": "Goa", "version": 1})
    assert changed.status_code == 200 and changed.get_json()["data"]["version"] == 2
    stale = owner.patch(url, json={"name": "Panaji", "version": 1})
    assert stale.status_code == 409
    assert stale.get_json()["errors"] == {"version": ["is 2 now, you sent 1"]}
    assert owner.get(url).get_json()["data"]["name"] == "Goa"
    note_book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": note_book["id"], "title": "v"}).get_json()["data"]
    note_url = f"/api/v1/notes/notes/{note['id']}"
    assert owner.patch(note_url, json={"title": "w"}).status_code == 422
    assert owner.patch(note_url, json={"title": "w", "version": 1}).get_json()["data"]["version"] == 2
    assert owner.patch(note_url, json={"title": "x", "version": 1}).status_code == 409


def test_a_concurrent_update_is_a_409(world, backend, monkeypatch):
    """Between the version check and the commit another transaction commits: the ORM's check answers 409."""
    if backend == "sqlite":
        pytest.skip("SQLite serialises writing transactions (BEGIN IMMEDIATE): the race cannot happen there")
    kernel, app, owner = world
    branch = owner.get("/api/v1/core/branches", query_string={"code": "HYD"}).get_json()["data"][0]
    import udyog.tenancy

    real_check = udyog.tenancy.check_version

    def check_then_race(row, version):
        real_check(row, version)

        def other_writer():
            with kernel.tenant_scope("acme") as scope:
                other = scope.session.scalar(select(Branch).where(Branch.code == "HYD"))
                other.address = "changed meanwhile"
                scope.session.commit()

        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=30)

    monkeypatch.setattr(udyog.tenancy, "check_version", check_then_race)
    response = owner.patch(f"/api/v1/core/branches/{branch['id']}", json={"name": "Hyderabad", "version": 1})
    assert response.status_code == 409, response.get_json()
    assert "version" in response.get_json()["errors"]
    with kernel.tenant_scope("acme") as scope:
        row = scope.session.scalar(select(Branch).where(Branch.code == "HYD"))
        assert (row.name, row.address, row.version) == ("Hyd site", "changed meanwhile", 2)


def test_database_errors_of_bad_input_are_4xx(world):
    kernel, app, owner = world
    from flask import Blueprint

    bp = Blueprint("errprobe", __name__)
    raisers = {
        "stale": StaleDataError("UPDATE statement on table expected to update 1 row(s); 0 were matched."),
        "data": DataError("INSERT", {}, ValueError("value too long for type character varying(2)")),
        "integrity": IntegrityError("INSERT", {}, ValueError("duplicate key")),
    }
    for name, exc in raisers.items():

        def view(exc=exc):
            raise exc

        bp.add_url_rule(f"/api/v1/errprobe/{name}", name, public(view))
    fresh = create_app(kernel=kernel)
    fresh.register_blueprint(bp)
    client = fresh.test_client()
    assert client.get("/api/v1/errprobe/stale").status_code == 409
    assert client.get("/api/v1/errprobe/stale").get_json()["errors"] == {"version": ["the record changed meanwhile"]}
    assert client.get("/api/v1/errprobe/data").status_code == 422
    assert client.get("/api/v1/errprobe/integrity").status_code == 409


def test_legal_documents_are_never_deleted(world, monkeypatch):
    kernel, app, owner = world
    with pytest.raises(UdyogError) as refused:
        refuse_delete("invoice INV/2025-26/0001", instead="cancel it with a credit note")
    assert refused.value.status == 409
    assert refused.value.message == (
        "invoice INV/2025-26/0001 is a legal document and is never deleted: cancel it with a credit note instead"
    )
    book = owner.get("/api/v1/notes/notebooks").get_json()["data"][0]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "legal"}).get_json()["data"]
    monkeypatch.setattr(Note, "__udyog_deletable__", False, raising=False)
    response = owner.delete(f"/api/v1/notes/notes/{note['id']}")
    assert response.status_code == 409
    assert "cancel or reverse" in response.get_json()["message"]
    assert owner.get(f"/api/v1/notes/notes/{note['id']}").status_code == 200
    from sqlalchemy import delete

    with kernel.tenant_scope("acme") as scope, pytest.raises(UdyogError):
        scope.session.execute(delete(Note))
    monkeypatch.undo()
    assert owner.delete(f"/api/v1/notes/notes/{note['id']}").status_code == 200  # deletable again
    branch = owner.get("/api/v1/core/branches", query_string={"code": "AGR"}).get_json()["data"][0]
    assert owner.delete(f"/api/v1/core/branches/{branch['id']}").status_code == 200  # branches are deletable


def test_listing_declarations_are_checked():
    with pytest.raises(ValueError, match="reserved"):
        Listing(Branch, filters={"limit": ("eq",)})
    with pytest.raises(AttributeError):
        Listing(Branch, sort=("colour",))
    with pytest.raises(UdyogError):
        Listing(Branch, sort=("code",), default_sort="name")
    with pytest.raises(UdyogError) as bad:
        decode_cursor("e30", [(Branch.code, "asc"), (Branch.id, "asc")])
    assert bad.value.status == 400 and "cursor" in bad.value.errors


def _spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_openapi_document_describes_the_callers_tenant(world):
    kernel, app, owner = world
    anonymous = _spec(app.test_client())
    assert "/api/v1/health" in anonymous["paths"] and "/api/v1/auth/login" in anonymous["paths"]
    assert "/api/v1/core/branches" not in anonymous["paths"]
    assert not any(p.startswith("/api/v1/notes/") for p in anonymous["paths"])
    acme = _spec(owner)
    assert {"/api/v1/core/branches", "/api/v1/core/audit", "/api/v1/notes/notes"} <= set(acme["paths"])
    bare = _spec(login(app, "owner@bare.test"))
    assert "/api/v1/core/branches" in bare["paths"]
    assert not any(p.startswith("/api/v1/notes/") for p in bare["paths"]), "a plugin the tenant did not enable"
    assert not any(name.startswith("Note") for name in bare["components"]["schemas"])
    assert any(name.startswith("Note") for name in acme["components"]["schemas"])
    assert "notes" not in {t["name"] for t in bare.get("tags", [])}
    # A bad token is an anonymous caller, not an error.
    stranger = app.test_client()
    stranger.environ_base["HTTP_AUTHORIZATION"] = "Bearer not.a.token"
    assert set(_spec(stranger)["paths"]) == set(anonymous["paths"])


def test_the_openapi_document_documents_errors_pagination_and_access(world):
    kernel, app, owner = world
    spec = _spec(owner)
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"success", "message", "errors"}
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert default["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    listing = spec["paths"]["/api/v1/core/branches"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert {"limit", "cursor", "sort", "code", "code__in", "state_code", "state_code__in", "is_active"} <= set(params)
    assert "address" not in params
    assert params["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert listing["responses"]["422"] == {"$ref": "#/components/responses/UNPROCESSABLE_ENTITY"}
    assert "default" in listing["responses"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    meta = spec["components"]["schemas"][page]["properties"]["meta"]
    assert meta == {"$ref": "#/components/schemas/PageMeta"}
    assert "core.branch.read" in listing["description"] and listing["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/health"]["get"]["security"] == []
    patch = spec["paths"]["/api/v1/core/branches/{branch_id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "version" in spec["components"]["schemas"][body]["required"]
    audit = {p["name"] for p in spec["paths"]["/api/v1/core/audit"]["get"]["parameters"]}
    assert {"entity", "record_id", "user_id", "action", "since", "until", "limit", "cursor", "sort"} <= audit
    json.dumps(spec)


def test_the_docs_page_is_served_offline(world):
    kernel, app, owner = world
    client = app.test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html
    import re

    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/api/docs/") for s in sources), sources
    assert '"validatorUrl": null' in html
    for source in sources:
        assert client.get(source).status_code == 200, source
