"""The generic detail page shows references by the referenced record's title, and nested lists as tables.

A note's notebook (a composite tenant foreign key) is shown by the notebook's
title, linked to its page for users who may read notebooks and unlinked for
the others; the raw id is not shown. The values (``Ref``, ``Rows``) are
checked on their own too: escaping, and JSON lists drawn as tables.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login, web_login
from udyog_sdk._pages import Ref, Rows, _shown_value, mapping_rows

PLUGINS = ["notes", "ledger"]


@pytest.fixture
def world(kernel_factory: Any, backend: str) -> dict[str, Any]:
    kernel = kernel_factory(PLUGINS, backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",), name="Asha Owner")
    app = create_app(kernel=kernel)
    owner = login(app, "owner@acme.test")
    peeker = owner.post("/api/v1/core/roles", json={"name": "Note Peeker", "permissions": ["notes.note.read"]})
    assert peeker.status_code == 201, peeker.get_json()
    create_member(kernel, "acme", "peeker@acme.test", roles=("Note Peeker",))
    return {"kernel": kernel, "app": app, "owner": owner}


def _field(text: str, label: str) -> str:
    found = re.search(rf"<dt[^>]*>{re.escape(label)}</dt>\s*<dd[^>]*>(.*?)</dd>", text, re.S)
    assert found is not None, f"no field {label!r} on the page"
    return found.group(1).strip()


def test_a_reference_shows_the_title_linked_for_readers_of_the_target(world):
    owner, app = world["owner"], world["app"]
    book = owner.post("/api/v1/notes/notebooks", json={"title": "Plans <2026>"}).get_json()["data"]
    note = owner.post("/api/v1/notes/notes", json={"notebook_id": book["id"], "title": "Budget"}).get_json()["data"]

    page = web_login(app, "owner@acme.test").get(f"/notes/notes/{note['id']}")
    assert page.status_code == 200
    shown = _field(page.text, "Notebook")
    assert shown == f'<a href="/notes/notebooks/{book["id"]}">Plans &lt;2026&gt;</a>'  # escaped, linked
    assert book["id"] not in _field(page.text, "Title")

    # Who may not read notebooks sees the title, without a link to a page they could not open.
    page = web_login(app, "peeker@acme.test").get(f"/notes/notes/{note['id']}")
    assert page.status_code == 200
    assert _field(page.text, "Notebook") == "Plans &lt;2026&gt;"
    assert f"/notes/notebooks/{book['id']}" not in page.text


def test_reference_and_table_values_render_safely():
    assert str(Ref("A & B")) == "A & B"
    assert Ref("A & B").__html__() == "A &amp; B"
    assert Ref('<b>"x"</b>', "/a?b=1&c=2").__html__() == '<a href="/a?b=1&amp;c=2">&lt;b&gt;&#34;x&#34;&lt;/b&gt;</a>'

    taxes = [{"line_no": 1, "name": "CGST", "amount": "9.00"}, {"line_no": 1, "name": "SGST", "rate": "9"}]
    table = mapping_rows(taxes)
    assert table.columns == [("line_no", "Line no"), ("name", "Name"), ("amount", "Amount"), ("rate", "Rate")]
    assert table.rows[1] == {"line_no": 1, "name": "SGST", "amount": None, "rate": "9"}
    assert _shown_value(ma.fields.Raw(), taxes, None) == table
    assert _shown_value(ma.fields.Raw(), [], None) is None  # nothing: a dash, not "[]"
    assert _shown_value(ma.fields.List(ma.fields.String()), ["a", "b"], None) == "a, b"

    class LineSchema(ma.Schema):
        id = ma.fields.UUID()
        description = ma.fields.String(metadata={"label": "What"})
        quantity = ma.fields.Decimal(as_string=True)

    lines = ma.fields.List(ma.fields.Nested(LineSchema))
    dumped = [{"id": "x", "description": "Ghee", "quantity": "3.000"}]
    shown = _shown_value(lines, dumped, None)
    assert isinstance(shown, Rows)
    assert shown.columns == [("description", "What"), ("quantity", "Quantity")]  # no id
    assert shown.rows[0]["description"] == "Ghee"


def _cells(text: str, record_id: str) -> list[str]:
    row = re.search(rf'<tr data-id="{re.escape(record_id)}">(.*?)</tr>', text, re.S)
    assert row is not None, f"no row {record_id} on the page"
    return [c.strip() for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


def test_the_list_page_shows_references_by_title_too(world):
    owner, app = world["owner"], world["app"]
    books = [owner.post("/api/v1/notes/notebooks", json={"title": t}).get_json()["data"] for t in ("Plans", "R&D")]
    notes = [
        owner.post("/api/v1/notes/notes", json={"notebook_id": b["id"], "title": f"Note {n}"}).get_json()["data"]
        for n, b in enumerate(books)
    ]

    page = web_login(app, "owner@acme.test").get("/notes/notes")
    assert page.status_code == 200
    for note, book in zip(notes, books, strict=True):
        cells = _cells(page.text, note["id"])
        title = book["title"].replace("&", "&amp;")
        assert f'<a href="/notes/notebooks/{book["id"]}">{title}</a>' in cells, cells
        assert book["id"] not in re.sub(r"<[^>]+>", "", " ".join(cells))  # the title is shown, not the raw id

    # Without the right to read notebooks: the title, not linked.
    page = web_login(app, "peeker@acme.test").get("/notes/notes")
    assert page.status_code == 200
    assert "Plans" in _cells(page.text, notes[0]["id"])
    assert f"/notes/notebooks/{books[0]['id']}" not in page.text
