"""REST API of the notes plugin."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint

from udyog_sdk.api import Blueprint, envelope, ok, version_field
from udyog_sdk.resources import Resource
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


class NotebookResource(Resource):
    """Notebooks, declared: every route and page comes from the SDK."""

    model = Notebook
    schema = NotebookSchema
    permission_prefix = "notes.notebook"
    filters = {"title": ("eq", "in")}
    sort = ("title",)
    search = ("title",)
    # The plugin's older permission names: one "manage" for every change.
    permission_names = {
        "create": "notes.notebook.manage",
        "write": "notes.notebook.manage",
        "delete": "notes.notebook.manage",
        "import": "notes.notebook.manage",
    }


class NoteResource(Resource):
    """Notes, declared, with the plugin's own creation logic (title rules, word count, event)."""

    model = Note
    schema = NoteSchema
    update_schema = NoteUpdateSchema
    permission_prefix = "notes.note"
    filters = ("notebook_id", "branch_id", "title", "words")
    sort = ("title", "words")
    search = ("title", "body")
    default_sort = "title"
    list_columns = ("title", "words", "notebook_id", "branch_id")
    permission_names = {"create": "notes.note.write", "delete": "notes.note.write", "import": "notes.note.write"}

    def create(self, data: dict[str, Any]) -> Note:
        """Create through the service, so hooks and events apply as everywhere else."""
        return create_note(**data)


NOTEBOOKS = NotebookResource()
NOTES = NoteResource()


def create_blueprint() -> Blueprint:
    bp = Blueprint("notes", __name__, url_prefix="/api/v1/notes", description="Notes (test plugin)")
    NOTEBOOKS.register(bp)
    NOTES.register(bp)

    @bp.route("/notebooks/<uuid:notebook_id>/notes")
    @bp.response(200, envelope(NoteSchema, many=True))
    @requires("notes.note.read")
    def notebook_notes(notebook_id: uuid.UUID) -> dict[str, Any]:
        """The notes of one notebook."""
        book = NOTEBOOKS.lookup(notebook_id)
        return ok(NoteSchema(many=True).dump(book.notes))

    return bp


def create_pages() -> FlaskBlueprint:
    """The generic pages of notes and notebooks, at ``/notes/notes`` and ``/notes/notebooks``."""
    bp = FlaskBlueprint("notes_pages", __name__, url_prefix="/notes")
    NOTES.register_pages(bp)
    NOTEBOOKS.register_pages(bp)
    return bp
