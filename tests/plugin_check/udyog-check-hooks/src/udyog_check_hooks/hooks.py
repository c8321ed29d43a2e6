"""Hook implementations, wrong in several ways."""

from typing import Any

from udyog_sdk import Permission, RecordRule, hookimpl


@hookimpl
def udyog_tenant_setup(tenant: Any, session: Any, colour: str) -> None:
    """An argument the specification does not have."""


@hookimpl
def udyog_menus() -> list[Any]:
    """Misspelt: the specification is udyog_menu."""
    return []


@hookimpl
def notes_word_count(body: str) -> int:
    """A hook of the notes plugin, which this plugin does not require."""
    return 0


@hookimpl
def checkhooks_rounding(amount: int) -> int:
    """Its own hook: fine."""
    return amount


@hookimpl
def udyog_permissions() -> list[Permission]:
    """One outside the prefix, one declared twice."""
    return [
        Permission("checkhooks.thing.read", "See things"),
        Permission("notes.note.read", "Not ours"),
        Permission("checkhooks.thing.read", "See things again"),
    ]


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    """A rule outside the prefix."""
    return [RecordRule("other.everything", object, lambda principal: True)]
