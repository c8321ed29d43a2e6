"""Background tasks of the notes plugin (exercise the jobs system in tests)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from udyog_sdk import Event, JobContext, JobFailed, Schedule, TaskDefinition, TransientError, UdyogError, db_session

from .models import Note, Notebook
from .services import ensure_default_notebook


def _append(title: str, body: str = "") -> None:
    book = ensure_default_notebook()
    db_session().add(Note(notebook_id=book.id, title=title, body=body, words=len(body.split())))


def append(ctx: JobContext, title: str, seconds: float = 0.0, started_file: str | None = None) -> None:
    """Add a note titled ``title`` to the Inbox, after ``seconds`` (touching ``started_file`` first)."""
    if started_file:
        Path(started_file).write_text(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    _append(title, f"run {ctx.run_id} attempt {ctx.attempt}")


def flaky(ctx: JobContext, title: str, fail_until: int = 2) -> None:
    """Fail with a transient error until attempt ``fail_until`` + 1, then add a note."""
    _append(title, f"attempt {ctx.attempt}")
    if ctx.attempt <= fail_until:
        raise TransientError(f"the remote service is busy (attempt {ctx.attempt})")


def copy_to(ctx: JobContext, title: str, notebook: str) -> None:
    """Add a note to ``notebook``, which must exist (a failing task until someone creates it)."""
    book = db_session().scalar(select(Notebook).where(Notebook.title == notebook))
    if book is None:
        raise LookupError(f"no notebook called {notebook!r}")
    db_session().add(Note(notebook_id=book.id, title=title, body="", words=0))


def count_up(ctx: JobContext, title: str, steps: int = 4, crash_at: int | None = None) -> None:
    """Add ``steps`` notes, one per checkpoint, resuming after the last checkpoint."""
    done = int(ctx.state.get("done", 0))
    for step in range(done, steps):
        if crash_at is not None and step == crash_at and ctx.attempt == 1:
            raise TransientError("crashed mid-way")
        _append(f"{title} {step + 1}")
        ctx.progress(100 * (step + 1) / steps, f"step {step + 1} of {steps}", state={"done": step + 1})


def tick(ctx: JobContext) -> None:
    """A periodic task: one note per run in the notebook Ticks."""
    session = db_session()
    book = session.scalar(select(Notebook).where(Notebook.title == "Ticks"))
    if book is None:
        book = Notebook(title="Ticks")
        session.add(book)
        session.flush()
    count = session.scalar(select(func.count()).select_from(Note).where(Note.notebook_id == book.id)) or 0
    session.add(Note(notebook_id=book.id, title=f"tick {count + 1}", body=str(ctx.run_id), words=1))


def index_note(event: Event) -> None:
    """A background listener: notes whose title starts with ``bg:`` get an ``indexed:`` twin."""
    title = str(event.payload.get("title", ""))
    if not title.startswith("bg:"):
        return
    if title == "bg:explode":
        raise UdyogError("cannot index this note")
    _append("indexed:" + title[3:])


def digest_note(event: Event) -> None:
    """A batched background listener: notes whose title starts with ``batch:`` get a ``digested:`` twin."""
    title = str(event.payload.get("title", ""))
    if not title.startswith("batch:"):
        return
    if title == "batch:explode":
        raise UdyogError("cannot digest this note")
    _append("digested:" + title[6:])


def trivial(ctx: JobContext, n: int = 0) -> None:
    """Does nothing (the drain benchmark); returns nothing, so no result is written either."""


def tally(ctx: JobContext, title: str) -> dict[str, int]:
    """Appends a note and returns how many notes there are: the run's result."""
    _append(title)
    return {"notes": len(db_session().scalars(select(Note.id)).all())}


def refuse(ctx: JobContext, title: str) -> None:
    """Appends a note, then refuses with a result: the note is rolled back, the run fails at once."""
    _append(title)
    raise JobFailed(f"refused {title}", result={"errors": [{"row": 2, "column": "Title", "messages": ["no"]}]})


def definitions() -> list[TaskDefinition]:
    """The plugin's tasks."""
    return [
        TaskDefinition("notes.append", append, title="Append a note"),
        TaskDefinition("notes.flaky", flaky, title="Flaky append", backoff=0.2, backoff_max=1.0, max_retries=3),
        TaskDefinition("notes.copy_to", copy_to, title="Copy to a notebook", max_retries=0),
        TaskDefinition("notes.count_up", count_up, title="Count up", backoff=0.1, backoff_max=0.5),
        TaskDefinition("notes.tick", tick, title="Tick"),
        TaskDefinition("notes.trivial", trivial, title="Trivial"),
        TaskDefinition("notes.tally", tally, title="Append and count"),
        TaskDefinition("notes.refuse", refuse, title="Append, then refuse"),
    ]


def schedules() -> list[Schedule]:
    """Every ``NOTES_TICK_SECONDS`` (default: hourly) a tick."""
    seconds = float(os.environ.get("NOTES_TICK_SECONDS", "3600"))
    return [Schedule("notes.tick", "notes.tick", every=timedelta(seconds=seconds))]
