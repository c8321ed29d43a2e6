"""Contributions to the web UI shell."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuEntry:
    """An entry of the shell's menu, shown only to users holding ``permission``.

    ``url`` is a path (``/notes/``); ``weight`` orders entries (lower first,
    then by label); ``parent`` names another entry's key to nest under it.
    """

    key: str
    label: str
    url: str
    permission: str | None
    weight: int = 100
    parent: str | None = None
    icon: str | None = None
