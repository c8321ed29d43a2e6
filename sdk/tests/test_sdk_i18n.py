"""udyog_sdk.i18n.gettext: the host application's translation, else English."""

from __future__ import annotations

from flask import Flask

from udyog_sdk.i18n import GETTEXT_EXTENSION, gettext


def test_gettext_is_english_without_a_host_translation():
    assert gettext("Save") == "Save"
    assert gettext("%(name)s saved.", name="Note 1") == "Note 1 saved."
    assert gettext("100% sure") == "100% sure"  # no variables: no formatting, no %% needed
    with Flask(__name__).app_context():
        assert gettext("%(name)s saved.", name="Note 1") == "Note 1 saved."


def test_gettext_uses_the_function_the_application_installs():
    app = Flask(__name__)
    app.extensions[GETTEXT_EXTENSION] = {"%(name)s saved.": "%(name)s सहेजा गया।"}.get
    with app.app_context():
        assert gettext("%(name)s saved.", name="Note 1") == "Note 1 सहेजा गया।"
    app.extensions[GETTEXT_EXTENSION] = lambda message: message.upper()
    with app.app_context():
        assert gettext("Save") == "SAVE"
