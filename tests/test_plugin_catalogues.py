"""The business plugins' Hindi catalogues: complete, nothing stale, and used by the shell (docs/locale.md).

Each plugin ships ``src/<package>/translations/hi/LC_MESSAGES/messages.po``
holding exactly the strings it hands to ``_()``: those its templates and
modules mark (``_("…")``, ``gettext("…")``, the singular of ``ngettext``), its
menu labels, its resources' labels and plurals (which the generic pages pass
through ``_()``) and its dashboard widgets' titles.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

PLUGINS = ("crm", "inventory", "sales", "gst", "fssai", "hr", "payroll", "vigilance")

#: A string literal passed to _(), gettext(), _l() / lazy_gettext() or ngettext() (its singular), in double or
#: single quotes, with backslash escapes: the same reading as core/tests/test_locale.py's for the core's catalogue.
MARKED = re.compile(r"""\b(?:_l?|n?gettext|lazy_gettext)\(\s*(?:"((?:[^"\\]|\\.)+)"|'((?:[^'\\]|\\.)+)')""")
#: A named placeholder, or a literal percent sign (Jinja's new-style _() always formats, so "%%" reads "%").
PLACEHOLDER = re.compile(r"%\(\w+\)s|%%")


def package_dir(plugin: str) -> Path:
    return Path(importlib.import_module(f"udyog_{plugin}").__file__).parent


def marked_strings(folder: Path) -> set[str]:
    """The msgids marked in the plugin's templates and modules (its migrations left out)."""
    found = set()
    for path in sorted([*folder.rglob("*.html"), *folder.rglob("*.py")]):
        if "migrations" in path.relative_to(folder).parts:
            continue
        for a, b in MARKED.findall(path.read_text(encoding="utf-8")):
            found.add(re.sub(r"\\(['\"\\])", r"\1", a or b))
    return found


def shell_strings(plugin: str) -> set[str]:
    """What the shell, the generic pages and the plugin's pages pass through ``_()`` from its declarations."""
    import udyog.models  # noqa: F401  (the core's tables, which the plugins' foreign keys name)

    for name in PLUGINS:  # every plugin's tables, for the foreign keys between plugins
        importlib.import_module(f"udyog_{name}.models")
    hooks = importlib.import_module(f"udyog_{plugin}.hooks")
    out: set[str] = set()
    if hasattr(hooks, "udyog_menu"):
        out |= {entry.label for entry in hooks.udyog_menu()}
    if hasattr(hooks, "udyog_resources"):
        for resource in hooks.udyog_resources():
            out |= {resource.label, resource.label_plural}
    if hasattr(hooks, "udyog_dashboard"):
        out |= {widget.title for widget in hooks.udyog_dashboard()}
    if plugin == "sales":  # the order actions' flashes, _(done, number=…) with the text from a table
        from udyog_sales.pages import ACTIONS

        out |= {done for *_, done in ACTIONS.values()}
    return {text for text in out if text}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugins_hindi_catalogue_translates_exactly_its_strings(plugin):
    folder = package_dir(plugin)
    path = folder / "translations" / "hi" / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"{plugin}: no Hindi catalogue at {path}"
    with path.open("rb") as handle:
        po = read_po(handle, locale="hi")
    entries = {message.id: message for message in po if message.id}
    wanted = marked_strings(folder) | shell_strings(plugin)
    missing = sorted(wanted - set(entries))
    stale = sorted(set(entries) - wanted)
    untranslated = sorted(key for key, message in entries.items() if not message.string or message.fuzzy)
    placeholders = sorted(
        key
        for key, message in entries.items()
        if message.string and sorted(PLACEHOLDER.findall(key)) != sorted(PLACEHOLDER.findall(message.string))
    )
    assert not missing, f"{plugin}: strings without a Hindi translation in {path}: {missing}"
    assert not stale, f"{plugin}: catalogue entries no longer in the plugin's code: {stale}"
    assert not untranslated, f"{plugin}: empty or fuzzy translations: {untranslated}"
    assert not placeholders, f"{plugin}: translations whose placeholders differ from the English: {placeholders}"


def test_the_plugins_pyproject_ships_its_catalogues():
    root = Path(__file__).resolve().parent.parent / "plugins"
    for plugin in PLUGINS:
        text = (root / plugin / "pyproject.toml").read_text(encoding="utf-8")
        data = re.search(rf"^udyog_{plugin} = \[(.*)\]$", text, re.MULTILINE)
        assert data and '"translations/*/LC_MESSAGES/*.po"' in data.group(1), f"{plugin}: .po files not package data"


@pytest.mark.udyog_plugins("sales")
def test_a_hindi_tenant_reads_the_plugins_menu_widgets_and_headings(udyog_client, udyog_web_client):
    english = udyog_web_client.get("/").text
    assert "> Sales</a>" in english and "> Distributors</a>" in english and "Sales by month</h2>" in english
    distributors = udyog_web_client.get("/sales/distributors").text
    assert '<h1 class="h3 mb-0 me-auto">Distributors</h1>' in distributors
    settings = {"version": 0, "values": {"locale": "hi_IN"}}
    udyog_client.patch("/api/v1/core/settings/core", json=settings, expect=200)
    home = udyog_web_client.get("/").text
    # Menu labels (sales' own, crm's and inventory's) and a widget title, from the plugins' catalogues.
    assert "> बिक्री</a>" in home and "> वितरक</a>" in home and "> ग्राहक</a>" in home and "> उत्पाद</a>" in home
    assert "माह के अनुसार बिक्री</h2>" in home and "> Sales</a>" not in home and "Sales by month</h2>" not in home
    # The widgets' own text, which sales marks with udyog_sdk.i18n: no distributors yet, no sales yet.
    assert "शीर्ष वितरक</h2>" in home and "अभी कोई वितरक नहीं।" in home and "No distributors yet." not in home
    # A plugin's own page, and a generic list page whose heading is the resource's plural.
    distributors = udyog_web_client.get("/sales/distributors").text
    assert '<h1 class="h3 mb-0 me-auto">वितरक</h1>' in distributors and ">Distributors<" not in distributors
    invoices = udyog_web_client.get("/sales/invoices").text
    assert '<h1 class="h3 mb-0 me-auto">बीजक</h1>' in invoices
    pipeline = udyog_web_client.get("/crm/pipeline").text
    assert '<h1 class="h3 mb-0 me-auto">पाइपलाइन</h1>' in pipeline
