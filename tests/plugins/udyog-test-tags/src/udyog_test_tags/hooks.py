"""Hook implementations of the tags plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Event, Listener, Permission, RoleTemplate, hookimpl
from udyog_sdk.series import SeriesConstraint

SEEN: list[str] = []
#: Titles whose listener call fails (tests of retried listeners).
FAIL_TITLES: set[str] = set()


@hookimpl
def notes_title_rules(title: str) -> list[str]:
    return ["must not contain '#' (use tags)"] if "#" in title else []


@hookimpl
def notes_word_count(body: str) -> int | None:
    # Counts words of at least two letters; wins over the notes default.
    return len([w for w in body.split() if len(w) > 1])


def _tag_new_note(event: Event) -> None:
    import uuid

    from udyog_sdk import db_session

    from .models import NoteTag

    if event.payload["title"] in FAIL_TITLES:
        raise RuntimeError("tags listener failed on purpose")
    SEEN.append(event.payload["title"])
    db_session().add(NoteTag(note_id=uuid.UUID(event.payload["note_id"]), label="new"))


def _seen_update(event: Event) -> None:
    SEEN.append(event.payload["title"])


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    return [
        Listener("notes.note.created", _tag_new_note, name="tags.tag_new_note"),
        # With notes.remember (notes.*): an event of two in-process listeners only.
        Listener("notes.note.updated", _seen_update, name="tags.seen_update"),
    ]


@hookimpl
def udyog_permissions() -> list[Permission]:
    return [Permission("tags.tag.read", "See tags"), Permission("tags.tag.manage", "Tag notes")]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    return [RoleTemplate("Owner", ("tags.*",)), RoleTemplate("Reader", ("tags.tag.read",))]


@hookimpl
def udyog_blueprints() -> list[Any]:
    import marshmallow as ma
    from sqlalchemy import select

    from udyog_sdk import db_session
    from udyog_sdk.api import Blueprint, envelope, ok
    from udyog_sdk.security import requires

    from .models import NoteTag

    class TagSchema(ma.Schema):
        id = ma.fields.UUID(dump_only=True)
        note_id = ma.fields.UUID(required=True)
        label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))

    bp = Blueprint("tags", __name__, url_prefix="/api/v1/tags")

    @bp.route("/tags")
    @bp.response(200, envelope(TagSchema, many=True))
    @requires("tags.tag.read")
    def list_tags() -> dict[str, Any]:
        return ok(TagSchema(many=True).dump(db_session().scalars(select(NoteTag).order_by(NoteTag.label)).all()))

    @bp.route("/tags", methods=["POST"])
    @bp.arguments(TagSchema)
    @bp.response(201, envelope(TagSchema))
    @requires("tags.tag.manage")
    def add_tag(data: dict[str, Any]) -> dict[str, Any]:
        tag = NoteTag(**data)
        db_session().add(tag)
        db_session().commit()
        return ok(TagSchema().dump(tag))

    return [bp]


@hookimpl
def udyog_series_constraints(key: str) -> list[SeriesConstraint]:
    # A rule on another plugin's series, as GST puts one on sales invoices.
    if key != "notes.note":
        return []
    return [
        SeriesConstraint(key, "tags: at most 16 characters", max_length=16),
        SeriesConstraint(key, "tags: restart at least every financial year", resets=("financial_year", "monthly")),
    ]
