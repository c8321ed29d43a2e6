"""pluggy markers shared by the core and every plugin."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "udyog"

#: Marks a function as a hook specification (in a ``hookspecs`` module).
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: Marks a function as a hook implementation (in a plugin's ``hooks`` module).
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
