"""The shell's password page (/core/account/password): the API's rules, errors inline, other logins end."""

from __future__ import annotations

import re
from typing import Any

import pytest

from udyog.app import create_app
from udyog.tenancy import create_tenant
from udyog.testing import TEST_PASSWORD, create_member, form_token, login, web_login

NEW_PASSWORD = "a fresh and long passphrase"
URL = "/core/account/password"


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(backend=backend)
    create_tenant(kernel, "acme", "Acme")
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    create_member(kernel, "acme", "other@acme.test", roles=("Member",))
    return {"kernel": kernel, "app": create_app(kernel=kernel)}


def field_errors(text: str, name: str) -> list[str]:
    """The messages under input ``name``."""
    block = re.search(rf'name="{name}".*?(?=<div class="mb-3">|<p class="small)', text, re.S)
    assert block is not None, name
    return re.findall(r'<div class="invalid-feedback">([^<]*)</div>', block.group(0))


def submit(web: Any, current: str, new: str, repeat: str | None = None) -> Any:
    page = web.get(URL)
    data = {"current_password": current, "new_password": new, "new_password_repeat": new if repeat is None else repeat}
    return web.post(URL, data={"csrf_token": form_token(page.text), **data})


def test_the_password_page_is_linked_from_the_user_menu_and_asks_for_three_passwords(world):
    web = web_login(world["app"], "member@acme.test")
    home = web.get("/")
    assert 'id="udyog-change-password"' in home.text and f'href="{URL}"' in home.text
    page = web.get(URL)
    assert page.status_code == 200
    for name in ("current_password", "new_password", "new_password_repeat"):
        assert f'name="{name}"' in page.text
    assert 'autocomplete="current-password"' in page.text and 'autocomplete="new-password"' in page.text
    assert 'id="udyog-breadcrumbs"' in page.text
    # Not logged in: to the login page.
    anonymous = world["app"].test_client().get(URL)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_bad_input_is_shown_inline_with_422_and_changes_nothing(world):
    app = world["app"]
    web = web_login(app, "member@acme.test")
    wrong = submit(web, "not my password", NEW_PASSWORD)
    assert wrong.status_code == 422
    assert field_errors(wrong.text, "current_password") == ["This is not your current password."]
    short = submit(web, TEST_PASSWORD, "short")
    assert short.status_code == 422
    assert any("at least" in m for m in field_errors(short.text, "new_password"))
    digits = submit(web, TEST_PASSWORD, "12345678901234")
    assert digits.status_code == 422 and "not only digits" in " ".join(field_errors(digits.text, "new_password"))
    differ = submit(web, TEST_PASSWORD, NEW_PASSWORD, "something else entirely")
    assert differ.status_code == 422
    assert field_errors(differ.text, "new_password_repeat") == ["The two new passwords differ."]
    empty = submit(web, "", "", "")
    assert empty.status_code == 422 and field_errors(empty.text, "current_password") == ["Enter it."]
    # Passwords are never echoed back into the form.
    assert NEW_PASSWORD not in differ.text and TEST_PASSWORD not in wrong.text
    # The old password still works; the new one does not.
    login(app, "member@acme.test", TEST_PASSWORD)
    refused = app.test_client().post("/api/v1/auth/login", json={"email": "member@acme.test", "password": NEW_PASSWORD})
    assert refused.status_code == 401
    # Without the CSRF value: the shell's 400 page.
    forged = web.post(URL, data={"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD})
    assert forged.status_code == 400


def test_wrong_current_passwords_count_like_failed_logins(world):
    web = web_login(world["app"], "member@acme.test")
    statuses = [submit(web, f"wrong guess {n}", NEW_PASSWORD).status_code for n in range(12)]
    assert statuses[0] == 422 and statuses[-1] == 429
    limited = submit(web, TEST_PASSWORD, NEW_PASSWORD)
    assert limited.status_code == 429 and "Too many wrong passwords" in limited.text
    assert limited.headers["Retry-After"].isdigit()


def test_a_changed_password_logs_in_and_ends_the_other_sessions(world):
    app = world["app"]
    web = web_login(app, "member@acme.test")
    elsewhere = web_login(app, "member@acme.test")
    api = login(app, "member@acme.test")
    done = submit(web, TEST_PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    home = web.get("/")
    assert home.status_code == 200 and "Your password was changed." in home.text
    assert 'id="udyog-flash"' in home.text
    # This browser goes on; the other login and the API token are revoked.
    assert web.get(URL).status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert api.get("/api/v1/auth/me").status_code == 401
    # The new password logs in, the old one no longer.
    assert web_login(app, "member@acme.test", NEW_PASSWORD).get("/").status_code == 200
    old = app.test_client().post("/api/v1/auth/login", json={"email": "member@acme.test", "password": TEST_PASSWORD})
    assert old.status_code == 401
    # Another member is untouched.
    login(app, "other@acme.test", TEST_PASSWORD)
