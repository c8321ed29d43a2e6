"""The shell's translations: gettext in templates, in the tenant's language.

Templates mark text with ``{% trans %}…{% endtrans %}`` or ``{{ _("…") }}``
(Jinja's i18n extension, new style: ``_("%(n)s unread", n=3)``). The
language is the one of the tenant's ``locale`` setting (``hi_IN`` → ``hi``);
outside a tenant scope (the login page, errors before a login) it is the
browser's preferred language among those with a catalogue (``Accept-Language``),
else English. The catalogues are
the ``.po`` files under ``udyog/translations/<language>/LC_MESSAGES/``, read
once per process with Babel: no compiled ``.mo`` is built or shipped.
docs/locale.md explains how to add a language.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.pofile import read_po
from flask import has_request_context, request

from udyog_sdk.formatting import current_locale
from udyog_sdk.runtime import active_tenant

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

#: Where the catalogues live: ``<language>/LC_MESSAGES/messages.po``.
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
#: The language the templates are written in.
SOURCE_LANGUAGE = "en"


@functools.cache
def catalogue(language: str) -> dict[str, str | tuple[str, ...]]:
    """msgid → translation of ``language`` (fuzzy and empty entries left out); empty if there is none."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not path.is_file():
        return {}
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    out: dict[str, str | tuple[str, ...]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if isinstance(message.string, tuple):
            if all(message.string):
                out[key] = tuple(message.string)
        elif message.string:
            out[key] = message.string
    log.debug("loaded %d translations of %s from %s", len(out), language, path)
    return out


@functools.cache
def available_languages() -> tuple[str, ...]:
    """English and every language with a catalogue under :data:`TRANSLATIONS`."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    return (SOURCE_LANGUAGE, *(language for language in found if language != SOURCE_LANGUAGE))


def preferred_language(accepted: Iterable[tuple[str, float]]) -> str:
    """The first of the browser's languages, by quality, that has a catalogue (``hi-IN`` counts as ``hi``).

    Regional tags fall back to their language before a less wanted language
    is tried: ``ta, en-GB;q=0.8, hi;q=0.5`` gives English, not Hindi.
    """
    languages = available_languages()
    for tag, quality in sorted(accepted, key=lambda pair: -pair[1]):
        language = tag.replace("_", "-").split("-", 1)[0].lower()
        if quality > 0 and language in languages:
            return language
    return SOURCE_LANGUAGE


def current_language() -> str:
    """The shell's language: the tenant's locale's language (``hi_IN`` → ``hi``).

    With no tenant bound (the login page), the browser's best match among
    :func:`available_languages` by ``Accept-Language``, else English.
    """
    if active_tenant() is None and has_request_context():
        return preferred_language(request.accept_languages)
    return current_locale().split("_", 1)[0].lower()


def gettext(message: str) -> str:
    """``message`` in the current language, or as it is."""
    found = catalogue(current_language()).get(message)
    return found if isinstance(found, str) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message in the current language (Hindi and English: n == 1 is singular)."""
    found = catalogue(current_language()).get(singular)
    if isinstance(found, tuple):
        return found[0] if n == 1 else found[-1]
    return singular if n == 1 else plural


def install(app: Flask) -> None:
    """Jinja's i18n extension with the shell's gettext, and ``html_lang`` for ``<html lang>``."""
    if "jinja2.ext.InternationalizationExtension" not in app.jinja_env.extensions:
        app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.context_processor(lambda: {"html_lang": current_language()})
