"""The notes plugin's own tests: only the fixtures of the udyog pytest plugin and the plugin's package."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from udyog_test_notes.models import Note, Notebook
from udyog_test_notes.services import DEFAULT_NOTEBOOK, create_note

from udyog_sdk import UdyogError

pytestmark = pytest.mark.udyog_plugins("notes")

NOTES = "/api/v1/notes/notes"
NOTEBOOKS = "/api/v1/notes/notebooks"


def inbox_id(client) -> str:
    books = client.get(NOTEBOOKS, params={"title": DEFAULT_NOTEBOOK}, expect=200).data
    assert len(books) == 1, books
    return books[0]["id"]


def test_enabling_notes_gives_the_tenant_an_inbox(udyog_tenant):
    assert udyog_tenant.plugins == ("notes",)
    with udyog_tenant.scope(write=False) as scope:
        assert scope.session.scalars(select(Notebook.title)).all() == [DEFAULT_NOTEBOOK]


def test_notes_count_their_words_and_refuse_blank_titles(udyog_client):
    book = inbox_id(udyog_client)
    made = udyog_client.post(NOTES, json={"notebook_id": book, "title": "Plan", "body": "a b c"}, expect=201).data
    assert made["words"] == 3  # the plugin's own count (trylast): nobody overrides it here
    blank = udyog_client.post(NOTES, json={"notebook_id": book, "title": "   "}, expect=422)
    assert blank.errors == {"title": ["must not be blank"]}
    assert [n["title"] for n in udyog_client.get(NOTES, expect=200).data] == ["Plan"]


def test_a_note_in_a_notebook_that_does_not_exist_is_refused(udyog_client):
    answer = udyog_client.post(
        NOTES, json={"notebook_id": "01a20a4e-0000-7000-8000-000000000000", "title": "Lost"}, expect=422
    )
    assert answer.errors == {"notebook_id": ["no such notebook"]}


def test_a_notebook_in_use_cannot_be_deleted(udyog_client):
    book = inbox_id(udyog_client)
    udyog_client.post(NOTES, json={"notebook_id": book, "title": "Keep"}, expect=201)
    refused = udyog_client.delete(f"{NOTEBOOKS}/{book}", expect=409)
    assert "still used by notes" in refused.message


def test_services_run_in_a_tenant_scope(udyog_tenant):
    with udyog_tenant.scope() as scope:
        book = scope.session.scalar(select(Notebook).where(Notebook.title == DEFAULT_NOTEBOOK))
        note = create_note(notebook_id=book.id, title="From a service", body="one two")
        scope.session.commit()
        assert note.words == 2
    with udyog_tenant.scope() as scope, pytest.raises(UdyogError) as refused:
        create_note(notebook_id=book.id, title=" ")
    assert refused.value.errors == {"title": ["must not be blank"]}


@pytest.mark.udyog_user(roles=["Reader"])
def test_a_reader_reads_but_cannot_write(udyog_client, udyog_user):
    assert udyog_user.roles == ("Reader",)
    book = inbox_id(udyog_client)
    refused = udyog_client.post(NOTES, json={"notebook_id": book, "title": "No"}, expect=403)
    assert refused.errors == {"permission": ["notes.note.write"]}


@pytest.mark.udyog_user(permissions=["notes.note.read", "notes.notebook.read"], record_rules=["notes.short_notes"])
def test_record_rules_narrow_what_a_user_sees(udyog_client, udyog_tenant):
    with udyog_tenant.scope() as scope:
        book = scope.session.scalar(select(Notebook).where(Notebook.title == DEFAULT_NOTEBOOK))
        scope.session.add(Note(notebook_id=book.id, title="short", body="one", words=1))
        scope.session.add(Note(notebook_id=book.id, title="long", body="one two three four five six", words=6))
        scope.session.commit()
    assert [n["title"] for n in udyog_client.get(NOTES, expect=200).data] == ["short"]


def test_another_tenant_sees_only_its_own_notes(udyog_client, udyog_other_client):
    made = udyog_client.post(NOTES, json={"notebook_id": inbox_id(udyog_client), "title": "Secret"}, expect=201).data
    assert udyog_other_client.get(NOTES, expect=200).data == []
    udyog_other_client.get(f"{NOTES}/{made['id']}", expect=404)
    udyog_other_client.patch(f"{NOTES}/{made['id']}", json={"version": 1, "title": "Mine"}, expect=404)
    udyog_other_client.delete(f"{NOTES}/{made['id']}", expect=404)
    # Nor can it point its own note at the first tenant's notebook.
    foreign = udyog_other_client.post(NOTES, json={"notebook_id": inbox_id(udyog_client), "title": "X"}, expect=422)
    assert foreign.errors == {"notebook_id": ["no such notebook"]}


def test_the_notes_page_lists_notes(udyog_web_client, udyog_client):
    udyog_client.post(NOTES, json={"notebook_id": inbox_id(udyog_client), "title": "Shown on the page"}, expect=201)
    page = udyog_web_client.get("/notes/notes")
    assert page.status_code == 200 and "Shown on the page" in page.text
    assert 'href="/notes/notes"' in udyog_web_client.get("/").text


def test_notes_over_real_http(udyog_live_client):
    book = inbox_id(udyog_live_client)
    made = udyog_live_client.post(NOTES, json={"notebook_id": book, "title": "Wire", "body": "x y"}, expect=201)
    assert made.data["words"] == 2
    assert udyog_live_client.get(f"/api/v1/notes/notebooks/{book}/notes", expect=200).data[0]["title"] == "Wire"
