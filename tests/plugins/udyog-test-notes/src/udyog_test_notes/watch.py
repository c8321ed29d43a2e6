"""Vigilance rules of the notes test plugin (an optional cooperation: notes works without vigilance).

- ``notes.flagged_note`` (on ``notes.note.created``): a note whose title holds the word ``ALERT`` raises an
  alert whose subject is the rest of the title, if the note has at least ``min_words`` words; a title
  ``CLEAR <rest>`` clears the alert of ``<rest>``. Told: the Owner role.
- ``notes.fragile`` (on ``notes.*``): raises an exception for a title holding ``BOOM`` (isolation tests).
- ``notes.note_count`` (daily at 07:00): an alert while the tenant has more than ``max_notes`` notes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from udyog_sdk import db_session

from .models import Note


def _rest(title: str, word: str) -> str:
    return " ".join(w for w in title.split() if w != word).strip().lower()


def flagged_note(ctx: Any) -> None:
    """Raise (ALERT) or clear (CLEAR) by the title of the note the event names."""
    note = db_session().get(Note, (ctx.event.tenant_id, uuid.UUID(ctx.event.payload["note_id"])))
    if note is None:
        return
    words = note.title.split()
    if words and words[0] == "CLEAR":
        ctx.clear(f"title:{_rest(note.title, 'CLEAR')}")
    elif "ALERT" in words and note.words >= ctx.thresholds["min_words"]:
        ctx.raise_alert(
            f"title:{_rest(note.title, 'ALERT')}",
            f"Flagged note: {note.title}",
            detail=f"{note.words} words",
            link="/notes/",
            data={"note_id": str(note.id)},
        )


def fragile(ctx: Any) -> None:
    """Fail for a title holding BOOM; otherwise raise nothing."""
    if "BOOM" in str(ctx.event.payload.get("title", "")):
        raise RuntimeError("the fragile rule broke on purpose")


def note_count(ctx: Any) -> None:
    """An alert while there are more than ``max_notes`` notes; cleared below it."""
    count = db_session().scalar(select(func.count()).select_from(Note)) or 0
    if count > ctx.thresholds["max_notes"]:
        ctx.raise_alert("notes", f"{count} notes", severity="info")
    else:
        ctx.clear("notes")


def rules(rule: Any) -> list[Any]:
    """The rules, built with vigilance's factory."""
    return [
        rule(
            key="notes.flagged_note",
            title="Flagged note",
            description="A note titled with the word ALERT.",
            events=("notes.note.created",),
            evaluate=flagged_note,
            severity="warning",
            thresholds={"min_words": 0},
            roles=("Owner",),
        ),
        rule(key="notes.fragile", title="Fragile rule", events=("notes.*",), evaluate=fragile),
        rule(
            key="notes.note_count",
            title="Too many notes",
            cron="0 7 * * *",
            evaluate=note_count,
            thresholds={"max_notes": 100},
            enabled=False,
        ),
    ]
