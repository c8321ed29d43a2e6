"""Reference fields of the generic forms (udyog_sdk.pickers): a select for few records, a search picker for many.

The notes plugin's notes refer to notebooks; with more than MAX_CHOICES
notebooks the note form's ``notebook_id`` becomes a search picker fed by
``/notes/notes/choices/notebook_id``. A custom link field of vouchers to
notes shows that composed references and record rules take part. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import create_member, form_token, login, web_login
from udyog_sdk.pickers import CHOICES_LIMIT, MAX_CHOICES, QUERY_MAX_LENGTH

PLUGINS = ["notes", "ledger"]
CHOICES = "/notes/notes/choices/notebook_id"


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(PLUGINS, backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=PLUGINS)
    create_tenant(kernel, "zenith", "Zenith", plugins=PLUGINS)
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "reader@acme.test", roles=("Reader",))
    create_member(kernel, "zenith", "owner@zenith.test", roles=("Owner",))
    app = create_app(kernel=kernel)
    return {"kernel": kernel, "app": app, "api": login(app, "owner@acme.test")}


def add_notebooks(kernel: Any, tenant: str, titles: list[str]) -> dict[str, str]:
    """Notebooks straight into the tenant's tables (quicker than the API); title → id."""
    from udyog_test_notes.models import Notebook

    with kernel.tenant_scope(tenant) as scope:
        books = [Notebook(title=t) for t in titles]
        scope.session.add_all(books)
        scope.session.commit()
        return {b.title: str(b.id) for b in books}


def field_html(page: str, name: str) -> str:
    """The markup of the input or select named ``name``."""
    found = re.search(rf'<(input|select)[^>]*name="{name}"[^>]*>', page)
    assert found is not None, f"no input {name!r}"
    return found.group(0)


def input_value(page: str, name: str) -> str:
    """What the form sends for ``name``: an input's value, or the selected option of a select."""
    area = re.search(rf'<textarea[^>]*name="{name}"[^>]*>([^<]*)</textarea>', page)
    if area is not None:
        return html.unescape(area.group(1))
    markup = field_html(page, name)
    if markup.startswith("<select"):
        block = page[page.index(markup) :].split("</select>")[0]
        chosen = re.search(r'<option value="([^"]*)" selected', block)
        return html.unescape(chosen.group(1)) if chosen else ""
    found = re.search(r'value="([^"]*)"', markup)
    return html.unescape(found.group(1)) if found else ""


def test_a_select_for_few_records_ordered_by_label_and_a_picker_for_many(world):
    kernel, app = world["kernel"], world["app"]
    client = web_login(app, "owner@acme.test")
    # Inbox plus MAX_CHOICES - 1 others: exactly MAX_CHOICES, still a select, ordered by label.
    add_notebooks(kernel, "acme", [f"Book {i:03}" for i in range(MAX_CHOICES - 1, 0, -1)])
    form = client.get("/notes/notes/new")
    assert field_html(form.text, "notebook_id").startswith("<select")
    block = form.text.split('id="field-notebook_id"')[1].split("</select>")[0]
    labels = re.findall(r'<option value="[^"]*">([^<]*)</option>', block)
    assert len(labels) == MAX_CHOICES and labels == sorted(labels, key=str.casefold)
    assert "data-reference-picker" not in form.text and "reference-picker.js" not in form.text
    # One more: a search picker holding no value, with its choices endpoint and script.
    add_notebooks(kernel, "acme", ["Book 999"])
    form = client.get("/notes/notes/new")
    markup = field_html(form.text, "notebook_id")
    assert markup.startswith("<input") and 'type="text"' in markup and "data-reference-picker" in markup
    assert f'data-url="{CHOICES}"' in markup and 'value=""' in markup
    assert "<option" not in form.text.split('id="field-notebook_id"')[1].split("</div>")[0]
    assert '<script src="/core/static/reference-picker.js">' in form.text
    assert client.get("/core/static/reference-picker.js").status_code == 200
    # Another tenant's records do not count: zenith still gets a select.
    zenith = web_login(app, "owner@zenith.test")
    assert field_html(zenith.get("/notes/notes/new").text, "notebook_id").startswith("<select")


def test_an_edit_form_keeps_a_reference_beyond_the_first_records(world):
    kernel, app, api = world["kernel"], world["app"], world["api"]
    ids = add_notebooks(kernel, "acme", [f"Book {i:03}" for i in range(MAX_CHOICES + 20)] + ["Zebra"])
    made = api.post("/api/v1/notes/notes", json={"notebook_id": ids["Zebra"], "title": "keep"})
    assert made.status_code == 201, made.get_json()
    note = made.get_json()["data"]
    client = web_login(app, "owner@acme.test")
    edit = client.get(f"/notes/notes/{note['id']}/edit")
    markup = field_html(edit.text, "notebook_id")
    assert "data-reference-picker" in markup and 'data-label="Zebra"' in markup
    assert input_value(edit.text, "notebook_id") == ids["Zebra"]
    assert "Now: Zebra." in edit.text  # named for users without JavaScript
    # Saving the form as rendered keeps the notebook (the old select sent the first of 200 instead).
    data = {n: input_value(edit.text, n) for n in ("title", "body", "notebook_id", "version")}
    saved = client.post(
        f"/notes/notes/{note['id']}/edit", data={**data, "title": "kept", "csrf_token": form_token(edit.text)}
    )
    assert saved.status_code == 303, saved.text
    after = api.get(f"/api/v1/notes/notes/{note['id']}").get_json()["data"]
    assert (after["title"], after["notebook_id"]) == ("kept", ids["Zebra"])
    # Without JavaScript the id is typed: another notebook's id moves it; a wrong one is a field error.
    again = client.get(f"/notes/notes/{note['id']}/edit")
    data = {n: input_value(again.text, n) for n in ("title", "body", "version")}
    token = form_token(again.text)
    moved = client.post(
        f"/notes/notes/{note['id']}/edit", data={**data, "notebook_id": ids["Book 007"], "csrf_token": token}
    )
    assert moved.status_code == 303, moved.text
    assert api.get(f"/api/v1/notes/notes/{note['id']}").get_json()["data"]["notebook_id"] == ids["Book 007"]
    again = client.get(f"/notes/notes/{note['id']}/edit")
    data = {n: input_value(again.text, n) for n in ("title", "body", "version")}
    bad = client.post(
        f"/notes/notes/{note['id']}/edit",
        data={**data, "notebook_id": str(uuid.uuid4()), "csrf_token": form_token(again.text)},
    )
    assert bad.status_code == 422 and "no such notebook" in bad.text
    assert "is-invalid" in field_html(bad.text, "notebook_id")


def test_the_choices_endpoint_searches_within_the_tenant(world):
    kernel, app = world["kernel"], world["app"]
    ids = add_notebooks(kernel, "acme", [f"Book {i:03}" for i in range(MAX_CHOICES + 5)] + ["Ledger 50%"])
    add_notebooks(kernel, "zenith", ["Book secret", "Zenith only"])
    client = web_login(app, "owner@acme.test")
    first = client.get(CHOICES)
    assert first.status_code == 200 and first.mimetype == "application/json"
    rows = first.get_json()
    assert len(rows) == CHOICES_LIMIT and [r["label"] for r in rows] == sorted(r["label"] for r in rows)
    assert rows[0] == {"id": ids["Book 000"], "label": "Book 000"}
    found = client.get(CHOICES, query_string={"q": "ok 12"}).get_json()
    assert [r["label"] for r in found] == [f"Book {i}" for i in range(120, 130)]
    assert [r["label"] for r in client.get(CHOICES, query_string={"q": "BOOK 20"}).get_json()] == [
        "Book 200",
        "Book 201",
        "Book 202",
        "Book 203",
        "Book 204",
    ]
    assert [r["label"] for r in client.get(CHOICES, query_string={"q": "50%"}).get_json()] == ["Ledger 50%"]
    assert client.get(CHOICES, query_string={"q": "_"}).get_json() == []  # wildcards are literal
    by_id = client.get(CHOICES, query_string={"q": ids["Book 150"]}).get_json()
    assert by_id == [{"id": ids["Book 150"], "label": "Book 150"}]
    # Another tenant's records never appear, by text or by id.
    assert client.get(CHOICES, query_string={"q": "secret"}).get_json() == []
    assert client.get(CHOICES, query_string={"q": "zenith"}).get_json() == []
    theirs = web_login(app, "owner@zenith.test").get(CHOICES, query_string={"q": "book"}).get_json()
    assert [r["label"] for r in theirs] == ["Book secret"]
    assert client.get(CHOICES, query_string={"q": theirs[0]["id"]}).get_json() == []


def test_the_choices_endpoint_refuses_clearly(world):
    app = world["app"]
    client = web_login(app, "owner@acme.test")
    too_long = client.get(CHOICES, query_string={"q": "x" * (QUERY_MAX_LENGTH + 1)})
    assert too_long.status_code == 400 and too_long.get_json()["errors"] == {"q": ["too long"]}
    assert "too long" in too_long.get_json()["message"]
    assert client.get(CHOICES, query_string={"q": "x" * QUERY_MAX_LENGTH}).status_code == 200
    nul = client.get(CHOICES, query_string={"q": "a\x00b"})
    assert nul.status_code == 400 and "q" in nul.get_json()["errors"]
    for field in ("title", "nothing", "x_unknown"):
        missing = client.get(f"/notes/notes/choices/{field}")
        assert missing.status_code == 404 and missing.get_json()["success"] is False, field
    # The form's permission: a reader may not create nor change notes.
    reader = web_login(app, "reader@acme.test")
    denied = reader.get(CHOICES)
    assert denied.status_code == 403
    assert denied.get_json()["errors"] == {"permission": ["notes.note.write"]}
    # Not logged in: the login page, as for any page.
    assert app.test_client().get(CHOICES).status_code == 302


def test_composed_references_use_the_picker_and_record_rules_apply(world):
    kernel, app, api = world["kernel"], world["app"], world["api"]
    made = api.post(
        "/api/v1/core/custom-fields",
        json={"resource": "ledger.voucher", "name": "x_note", "type": "link", "target": "notes.note"},
    )
    assert made.status_code == 201, made.get_json()
    role = api.post(
        "/api/v1/core/roles",
        json={
            "name": "Short clerk",
            "permissions": ["ledger.voucher.read", "ledger.voucher.create", "ledger.voucher.write", "notes.note.read"],
            "record_rules": ["notes.short_notes"],
        },
    )
    assert role.status_code == 201, role.get_json()
    create_member(kernel, "acme", "short@acme.test", roles=("Short clerk",))
    from udyog_test_notes.models import Note, Notebook

    with kernel.tenant_scope("acme") as scope:
        book = scope.session.scalar(select(Notebook))
        notes = [Note(notebook_id=book.id, title=f"Note {i:03}", words=1) for i in range(MAX_CHOICES + 1)]
        long_note = Note(notebook_id=book.id, title="Note long", words=9)
        scope.session.add_all([*notes, long_note])
        scope.session.commit()
        long_id = str(long_note.id)
    url = "/ledger/vouchers/choices/x_note"
    owner = web_login(app, "owner@acme.test")
    form = owner.get("/ledger/vouchers/new")
    markup = field_html(form.text, "x_note")
    assert "data-reference-picker" in markup and f'data-url="{url}"' in markup and "data-nullable" in markup
    assert [r["label"] for r in owner.get(url, query_string={"q": "long"}).get_json()] == ["Note long"]
    short = web_login(app, "short@acme.test")
    assert short.get(url, query_string={"q": "long"}).get_json() == []
    assert short.get(url, query_string={"q": long_id}).get_json() == []
    assert len(short.get(url, query_string={"q": "note"}).get_json()) == CHOICES_LIMIT
    # A voucher linked to the long note: its edit form keeps the link for the owner.
    voucher = api.post(
        "/api/v1/ledger/vouchers",
        json={"party": "Ravi", "amount": "1", "issued_on": "2026-04-01", "x_note": long_id},
    )
    assert voucher.status_code == 201, voucher.get_json()
    vid = voucher.get_json()["data"]["id"]
    edit = owner.get(f"/ledger/vouchers/{vid}/edit")
    assert input_value(edit.text, "x_note") == long_id and 'data-label="Note long"' in edit.text
