"""Translating the SDK's own words: the generic pages' flashes, breadcrumbs and messages.

The SDK does not import the core, so it cannot reach the shell's catalogues
directly. The application that serves the pages installs its translation
function under ``app.extensions[GETTEXT_EXTENSION]`` (the core's
``udyog.web.i18n.install`` does): a callable taking an English message and
returning it in the current language. :func:`gettext` looks it up there, and
outside such an application (a bare Flask app, a script, no app context) it
returns the English message.

The SDK's templates use the shell's ``_()`` directly, which Jinja's i18n
extension provides where the core renders them. docs/locale.md explains the
catalogues; the core's Hindi catalogue translates the SDK's strings too.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, has_app_context

__all__ = ["GETTEXT_EXTENSION", "gettext"]

#: ``app.extensions`` key of the host application's ``gettext(message) -> str``.
GETTEXT_EXTENSION = "udyog_sdk.gettext"


def gettext(message: str, **variables: object) -> str:
    """``message`` in the current language, with named placeholders filled in.

    Like the templates' new-style ``_()``: ``gettext("%(name)s saved.", name="Note 1")``.
    Placeholders are filled only when variables are given, so a message
    without them needs no ``%%``. Without a host translation (see the module
    docstring), or when it returns nothing, the English message is used.
    """
    translate: Callable[[str], str] | None = None
    if has_app_context():
        translate = current_app.extensions.get(GETTEXT_EXTENSION)
    text = (translate(message) if translate is not None else None) or message
    return text % variables if variables else text
