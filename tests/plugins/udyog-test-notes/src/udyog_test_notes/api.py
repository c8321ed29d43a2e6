"""REST API of the notes plugin."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from sqlalchemy import select

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import Blueprint, Listing, check_version, envelope, ok, version_field
from udyog_sdk.security import requires

from .models import Note, Notebook
from .services import create_note


class NotebookSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    version = ma.fields.Integer(dump_only=True)


class NoteSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    notebook_id = ma.fields.UUID(required=True)
    branch_id = ma.fields.UUID(allow_none=True, load_default=None)
    title = ma.fields.String(required=True, validate=ma.validate.Length(max=200))
    body = ma.fields.String(load_default="", validate=ma.validate.Length(max=10000))
    words = ma.fields.Integer(dump_only=True)
    version = ma.fields.Integer(dump_only=True)


class NoteUpdateSchema(ma.Schema):
    version = version_field()
    title = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    body = ma.fields.String(validate=ma.validate.Length(max=10000))
    notebook_id = ma.fields.UUID()


NOTEBOOKS = Listing(Notebook, filters={"title": ("eq", "in")}, sort=("title",))
NOTES = Listing(
    Note,
    filters=["notebook_id", "branch_id", "title", "words"],
    sort=("title", "words"),
    default_sort="title",
)


def _note(note_id: uuid.UUID) -> Note:
    note = db_session().scalar(select(Note).where(Note.id == note_id))
    if note is None:
        raise UdyogError("note not found", status=404)
    return note


def create_blueprint() -> Blueprint:
    bp = Blueprint("notes", __name__, url_prefix="/api/v1/notes", description="Notes (test plugin)")

    @bp.route("/notebooks")
    @bp.arguments(NOTEBOOKS.schema, location="query")
    @bp.response(200, envelope(NotebookSchema, many=True, paginated=True))
    @requires("notes.notebook.read")
    def list_notebooks(args: dict[str, Any]) -> dict[str, Any]:
        rows, meta = NOTEBOOKS.page(select(Notebook), args)
        return ok(rows, meta=meta)

    @bp.route("/notebooks", methods=["POST"])
    @bp.arguments(NotebookSchema)
    @bp.response(201, envelope(NotebookSchema))
    @requires("notes.notebook.manage")
    def create_notebook(data: dict[str, Any]) -> dict[str, Any]:
        session = db_session()
        book = Notebook(title=data["title"])
        session.add(book)
        session.commit()
        return ok(NotebookSchema().dump(book))

    @bp.route("/notebooks/<uuid:notebook_id>/notes")
    @bp.response(200, envelope(NoteSchema, many=True))
    @requires("notes.note.read")
    def notebook_notes(notebook_id: uuid.UUID) -> dict[str, Any]:
        book = db_session().scalar(select(Notebook).where(Notebook.id == notebook_id))
        if book is None:
            raise UdyogError("notebook not found", status=404)
        return ok(NoteSchema(many=True).dump(book.notes))

    @bp.route("/notes")
    @bp.arguments(NOTES.schema, location="query")
    @bp.response(200, envelope(NoteSchema, many=True, paginated=True))
    @requires("notes.note.read")
    def list_notes(args: dict[str, Any]) -> dict[str, Any]:
        rows, meta = NOTES.page(select(Note), args)
        return ok(rows, meta=meta)

    @bp.route("/notes", methods=["POST"])
    @bp.arguments(NoteSchema)
    @bp.response(201, envelope(NoteSchema))
    @requires("notes.note.write")
    def post_note(data: dict[str, Any]) -> dict[str, Any]:
        note = create_note(**data)
        db_session().commit()
        return ok(NoteSchema().dump(note))

    @bp.route("/notes/<uuid:note_id>")
    @bp.response(200, envelope(NoteSchema))
    @requires("notes.note.read")
    def get_note(note_id: uuid.UUID) -> dict[str, Any]:
        return ok(NoteSchema().dump(_note(note_id)))

    @bp.route("/notes/<uuid:note_id>", methods=["PATCH"])
    @bp.arguments(NoteUpdateSchema)
    @bp.response(200, envelope(NoteSchema))
    @requires("notes.note.write")
    def patch_note(data: dict[str, Any], note_id: uuid.UUID) -> dict[str, Any]:
        note = _note(note_id)
        check_version(note, data.pop("version"))
        for key, value in data.items():
            setattr(note, key, value)
        db_session().commit()
        return ok(NoteSchema().dump(note))

    @bp.route("/notes/<uuid:note_id>", methods=["DELETE"])
    @bp.response(200, envelope(NoteSchema))
    @requires("notes.note.write")
    def delete_note(note_id: uuid.UUID) -> dict[str, Any]:
        note = _note(note_id)
        data = NoteSchema().dump(note)
        db_session().delete(note)
        db_session().commit()
        return ok(data)

    return bp
