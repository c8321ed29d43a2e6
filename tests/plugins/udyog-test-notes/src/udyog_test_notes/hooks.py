"""Hook implementations of the notes plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Event, Listener, Permission, RecordRule, RoleTemplate, TenantContext, hookimpl
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import MenuEntry

RECEIVED: list[tuple[str, str]] = []
#: Titles on whose events ``notes.remember`` fails (tests of a failed delivery).
FAIL_TITLES: set[str] = set()


@hookimpl
def udyog_blueprints() -> list[Any]:
    from .api import create_blueprint, create_pages

    return [create_blueprint(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    from .api import NOTEBOOKS, NOTES

    return [NOTEBOOKS, NOTES]


@hookimpl
def udyog_permissions() -> list[Permission]:
    return [
        Permission("notes.notebook.read", "See notebooks"),
        Permission("notes.notebook.manage", "Create notebooks"),
        Permission("notes.note.read", "Read notes"),
        Permission("notes.note.write", "Write and delete notes"),
    ]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    return [
        RoleTemplate("Owner", ("notes.*",)),
        RoleTemplate(
            "Branch Writer",
            ("notes.note.*", "notes.notebook.read"),
            record_rules=("notes.own_branch",),
            description="Reads and writes the notes of their own branch only",
        ),
        RoleTemplate("Reader", ("notes.note.read", "notes.notebook.read")),
    ]


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    from .models import Note

    return [
        RecordRule(
            "notes.own_branch",
            Note,
            lambda principal: Note.branch_id == principal.branch_id,
            "Only notes of the user's own branch",
        ),
        RecordRule("notes.short_notes", Note, lambda principal: Note.words < 5, "Only notes under five words"),
    ]


@hookimpl
def udyog_tenant_setup(tenant: TenantContext, session: Any) -> None:
    from .services import ensure_default_notebook

    ensure_default_notebook()  # through udyog_sdk.db_session(): the scope is bound during setup


def _remember(event: Event) -> None:
    import os

    if os.environ.get("NOTES_DIE_ON_EVENT") == event.payload.get("title"):
        os._exit(3)  # the process dies after the commit, during delivery (crash test)
    if event.payload.get("title") in FAIL_TITLES:
        raise RuntimeError("notes listener failed on purpose")
    RECEIVED.append((str(event.tenant_id), event.name))


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    from .tasks import digest_note, index_note

    return [
        Listener("notes.*", _remember, name="notes.remember"),
        Listener("notes.note.created", index_note, name="notes.index", background=True),
        Listener("notes.note.created", digest_note, name="notes.digest", background=True, batch=True),
    ]


@hookimpl
def udyog_tasks() -> list[Any]:
    from .tasks import definitions

    return definitions()


@hookimpl
def udyog_schedules() -> list[Any]:
    from .tasks import schedules

    return schedules()


@hookimpl(trylast=True)
def notes_word_count(body: str) -> int:
    return len(body.split())


@hookimpl
def notes_title_rules(title: str) -> list[str]:
    return [] if title.strip() else ["must not be blank"]


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    from sqlalchemy import select

    from .models import Note, Notebook
    from .services import DEFAULT_NOTEBOOK

    book = session.scalar(select(Notebook).where(Notebook.title == DEFAULT_NOTEBOOK))
    if book is not None and session.scalar(select(Note.id).where(Note.title == "Welcome")) is None:
        session.add(Note(notebook_id=book.id, title="Welcome", body="Hello from the notes plugin", words=5))
        progress("notes: welcome note")


@hookimpl
def udyog_cli_commands() -> list[Any]:
    import click

    @click.command("notes-hello")
    def hello() -> None:
        """Say hello (a plugin-contributed command)."""
        click.echo("hello from notes")

    return [hello]


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    return [
        SeriesDefinition("notes.note", "Note", "NOTE/{FY}/{seq:04}", reset="financial_year", gap_free=True),
        SeriesDefinition("notes.notebook", "Notebook", "NB-{seq:03}"),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    from .api import NOTES

    return [NOTES.menu_entry(weight=50, icon="journal")]


@hookimpl
def udyog_notification_templates() -> list[Any]:
    from udyog_sdk import NotificationTemplate

    reader = "notes.note.read"
    return [
        NotificationTemplate(
            "notes.note.shared", "in_app", "{{ by }} shared “{{ title }}”", "{{ excerpt }}", permission=reader
        ),
        NotificationTemplate(
            "notes.note.shared",
            "email",
            "Note shared: {{ title }}",
            "Dear {{ recipient.name }},\n\n{{ by }} shared the note “{{ title }}” in {{ tenant.name }}.",
            permission=reader,
        ),
        NotificationTemplate(
            "notes.note.shared",
            "email",
            "नोट साझा किया गया: {{ title }}",
            "प्रिय {{ recipient.name }},\n\n{{ by }} ने “{{ title }}” नोट साझा किया है।",
            language="hi",
            permission=reader,
        ),
        NotificationTemplate("notes.note.shared", "sms", "", "{{ by }} shared {{ title }}", permission=reader),
    ]


@hookimpl(optionalhook=True)
def vigilance_rules(rule: Any) -> list[Any]:
    """Rules for vigilance's tests (see :mod:`udyog_test_notes.watch`)."""
    from .watch import rules

    return rules(rule)
