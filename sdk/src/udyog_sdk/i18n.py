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

__all__ = ["GETTEXT_EXTENSION", "LazyText", "gettext", "lazy_gettext"]

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


class LazyText:
    """A message translated when it is shown, not when it is declared (see :func:`lazy_gettext`).

    ``str(text)`` is the message in the current language; ``text.message`` the
    English original (the catalogue's msgid). Equal to another ``LazyText`` of
    the same message, and hashable by it.
    """

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return gettext(self.message)

    def __repr__(self) -> str:
        return f"lazy_gettext({self.message!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyText):
            return self.message == other.message
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.message)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def lazy_gettext(message: str) -> LazyText:
    """``message`` marked for translation, translated each time it is shown (since 1.3).

    For words declared at import or registration time, when no request says
    the language yet: a rule's title, a label in a hook's answer. Import it as
    ``_l``; the plugin's catalogue needs the message like any ``_()`` string.
    """
    return LazyText(message)
