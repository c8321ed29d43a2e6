"""Hooks the notes plugin publishes."""

from __future__ import annotations

from udyog_sdk import hookspec


@hookspec
def notes_title_rules(title: str) -> list[str]:
    """Check a note's title before it is saved.

    Called for every note created through the API. Return a list of problems
    (empty when the title is fine); any problem refuses the note with 422.

    Returns: a list of messages. Broadcast.

    Since: notes 0.1.
    """


@hookspec(firstresult=True)
def notes_word_count(body: str) -> int | None:
    """Count the words of a note's body.

    Returns: the count, or None to defer. ``firstresult``: the first answer
    wins; the notes plugin's own count (splitting on whitespace) is
    ``trylast``.

    Since: notes 0.1.
    """
