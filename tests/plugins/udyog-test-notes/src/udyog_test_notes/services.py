"""Business logic of the notes plugin."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from udyog_sdk import UdyogError, db_session, emit, hooks

from .models import Note, Notebook

DEFAULT_NOTEBOOK = "Inbox"


def ensure_default_notebook() -> Notebook:
    """The tenant's Inbox notebook, created if missing."""
    session = db_session()
    book = session.scalar(select(Notebook).where(Notebook.title == DEFAULT_NOTEBOOK))
    if book is None:
        book = Notebook(title=DEFAULT_NOTEBOOK)
        session.add(book)
        session.flush()
    return book


def create_note(*, notebook_id: uuid.UUID, title: str, body: str = "", branch_id: uuid.UUID | None = None) -> Note:
    """Create a note after the published title rules; emits ``notes.note.created``."""
    session = db_session()
    problems = [p for result in hooks().notes_title_rules(title=title) for p in result]
    if problems:
        raise UdyogError("invalid note", status=422, errors={"title": problems})
    if session.scalar(select(Notebook.id).where(Notebook.id == notebook_id)) is None:
        raise UdyogError("invalid note", status=422, errors={"notebook_id": ["no such notebook"]})
    words = hooks().notes_word_count(body=body)
    note = Note(notebook_id=notebook_id, title=title, body=body, branch_id=branch_id, words=words)
    session.add(note)
    session.flush()
    emit("notes.note.created", {"note_id": str(note.id), "title": title})
    return note
