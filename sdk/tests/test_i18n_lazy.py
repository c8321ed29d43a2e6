"""``udyog_sdk.i18n.lazy_gettext``: translated when shown, in the language of that moment."""

from __future__ import annotations

from flask import Flask

from udyog_sdk.i18n import GETTEXT_EXTENSION, LazyText, lazy_gettext


def test_lazy_text_is_english_outside_an_app_and_translated_when_shown_inside_one():
    title = lazy_gettext("Credit limit breached")  # declared at import time: no app, no language
    assert isinstance(title, LazyText) and title.message == "Credit limit breached"
    assert str(title) == "Credit limit breached"
    app = Flask(__name__)
    language = {"now": "hi"}
    catalogue = {"hi": {"Credit limit breached": "ऋण सीमा पार"}}
    app.extensions[GETTEXT_EXTENSION] = lambda message: catalogue.get(language["now"], {}).get(message)
    with app.app_context():
        assert str(title) == "ऋण सीमा पार"
        language["now"] = "en"  # the same object follows the language of the moment it is shown
        assert str(title) == "Credit limit breached"


def test_lazy_texts_compare_and_hash_by_message_and_escape_as_html():
    assert lazy_gettext("A") == lazy_gettext("A") and lazy_gettext("A") != lazy_gettext("B")
    assert len({lazy_gettext("A"), lazy_gettext("A")}) == 1
    assert lazy_gettext("<b>").__html__() == "&lt;b&gt;"
