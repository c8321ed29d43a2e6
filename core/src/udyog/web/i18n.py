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
import importlib.util
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.pofile import read_po
from flask import current_app, has_app_context, has_request_context, request

from udyog_sdk.formatting import current_locale
from udyog_sdk.i18n import GETTEXT_EXTENSION
from udyog_sdk.runtime import active_tenant

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

#: Where the catalogues live: ``<language>/LC_MESSAGES/messages.po``.
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
#: The language the templates are written in.
SOURCE_LANGUAGE = "en"
#: ``app.extensions`` key: the loaded plugins' ``translations/`` folders, in load order.
TRANSLATION_DIRS = "udyog.translation_dirs"


@functools.cache
def read_catalogue(path: Path, language: str) -> dict[str, str | tuple[str, ...]]:
    """msgid → translation from one ``.po`` file (fuzzy and empty entries left out); empty if it does not exist."""
    if not path.is_file():
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


def catalogue(language: str) -> dict[str, str | tuple[str, ...]]:
    """The core's msgid → translation of ``language``; empty if there is none."""
    if language == SOURCE_LANGUAGE:
        return {}
    return read_catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", language)


def plugin_translation_dirs(packages: Iterable[str]) -> tuple[Path, ...]:
    """The ``translations/`` folders that the plugins' import packages ship, in the order given."""
    found = []
    for package in packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            folder = Path(location) / "translations"
            if folder.is_dir():
                found.append(folder)
    return tuple(found)


@functools.cache
def merged_catalogue(language: str, plugin_dirs: tuple[Path, ...]) -> dict[str, str | tuple[str, ...]]:
    """The core's catalogue of ``language``, then each plugin's for what the core does not translate."""
    merged = dict(catalogue(language))
    if language == SOURCE_LANGUAGE:
        return merged
    for folder in plugin_dirs:
        for key, value in read_catalogue(folder / language / "LC_MESSAGES" / "messages.po", language).items():
            merged.setdefault(key, value)
    return merged


def translations(language: str) -> dict[str, str | tuple[str, ...]]:
    """What ``_()`` looks up: the core's and the loaded plugins' catalogues of ``language`` (see :func:`install`)."""
    plugin_dirs: tuple[Path, ...] = ()
    if has_app_context():
        plugin_dirs = current_app.extensions.get(TRANSLATION_DIRS, ())
    return merged_catalogue(language, plugin_dirs)


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
    found = translations(current_language()).get(message)
    return found if isinstance(found, str) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message in the current language (Hindi and English: n == 1 is singular)."""
    found = translations(current_language()).get(singular)
    if isinstance(found, tuple):
        return found[0] if n == 1 else found[-1]
    return singular if n == 1 else plural


def install(app: Flask) -> None:
    """Jinja's i18n extension with the shell's gettext, and ``html_lang`` for ``<html lang>``.

    Also records the loaded plugins' ``translations/`` folders: a plugin ships
    ``<package>/translations/<language>/LC_MESSAGES/messages.po`` for its own
    strings (menu labels, widget titles, its templates' text), looked up after
    the core's catalogue. The SDK's Python code (flashes and breadcrumbs of
    the generic pages) translates through ``udyog_sdk.i18n.gettext``, which
    finds :func:`gettext` in ``app.extensions``.
    """
    kernel = app.extensions.get("udyog")
    if kernel is not None:
        packages = [record.manifest.package for record in kernel.registry.loaded() if record.manifest is not None]
        app.extensions[TRANSLATION_DIRS] = plugin_translation_dirs(packages)
    if "jinja2.ext.InternationalizationExtension" not in app.jinja_env.extensions:
        app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.extensions[GETTEXT_EXTENSION] = gettext  # the SDK's udyog_sdk.i18n.gettext (its pages' flashes, breadcrumbs)
    app.context_processor(lambda: {"html_lang": current_language()})
