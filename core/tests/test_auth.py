"""Authentication: login, tokens bound to revocable sessions, limits, tenant switch, cookies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from udyog.app import create_app
from udyog.auth import MAX_FAILURES_PER_EMAIL
from udyog.models import User
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import TEST_PASSWORD, create_member, login


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    for slug in ("acme", "globex"):
        create_tenant(kernel, slug, slug.title(), plugins=["notes"])
        with kernel.tenant_scope(slug) as scope:
            create_branch(scope.session, code="HQ", name=f"{slug} HQ")
            scope.session.commit()
    create_member(kernel, "acme", "asha@example.com", roles=("Owner",))
    create_member(kernel, "globex", "asha@example.com", roles=("Member",))
    create_member(kernel, "acme", "ravi@example.com", roles=("Member",))
    return kernel, create_app(kernel=kernel)


def bearer(client):
    return client.environ_base["HTTP_AUTHORIZATION"]


def test_login_issues_tokens_and_me_describes_the_principal(world):
    kernel, app = world
    client = login(app, "Asha@Example.com ", tenant="acme")
    tokens = client.udyog_tokens
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 15 * 60
    assert {t["slug"] for t in tokens["tenants"]} == {"acme", "globex"}
    me = client.get("/api/v1/auth/me").get_json()["data"]
    assert me["email"] == "asha@example.com" and me["tenant"]["slug"] == "acme"
    assert me["roles"] == ["Owner"] and me["permissions"] == ["*", "notes.*"]


def test_passwords_are_stored_as_argon2id_hashes(world):
    kernel, app = world
    with kernel.db.session(write=False) as s:
        stored = s.scalar(select(User.password_hash).where(User.email == "asha@example.com"))
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored


def test_wrong_credentials_get_one_generic_answer(world):
    kernel, app = world
    c = app.test_client()
    wrong = c.post("/api/v1/auth/login", json={"email": "asha@example.com", "password": "nope-nope-nope"})
    unknown = c.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.get_json()
        == unknown.get_json()
        == {
            "success": False,
            "message": "invalid e-mail or password",
            "errors": {},
        }
    )
    missing = c.post("/api/v1/auth/login", json={"email": "asha@example.com"})
    assert missing.status_code == 422 and "password" in missing.get_json()["errors"]


def test_failed_logins_are_rate_limited_with_a_clear_429(world):
    kernel, app = world
    c = app.test_client()
    for _ in range(MAX_FAILURES_PER_EMAIL):
        assert c.post("/api/v1/auth/login", json={"email": "ravi@example.com", "password": "x" * 12}).status_code == 401
    blocked = c.post("/api/v1/auth/login", json={"email": "ravi@example.com", "password": TEST_PASSWORD})
    assert blocked.status_code == 429
    assert blocked.get_json()["message"].startswith("too many failed logins; try again in")
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    # Another account is not locked by ravi's failures.
    assert (
        c.post("/api/v1/auth/login", json={"email": "asha@example.com", "password": TEST_PASSWORD}).status_code == 200
    )


def test_logout_revokes_access_and_refresh_tokens_at_once(world):
    kernel, app = world
    client = login(app, "asha@example.com")
    refresh = client.udyog_tokens["refresh_token"]
    assert client.get("/api/v1/core/branches").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 200
    after = client.get("/api/v1/core/branches")
    assert after.status_code == 401 and "log in again" in after.get_json()["message"]
    again = app.test_client().post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"})
    assert again.status_code == 401


def test_refresh_gives_a_new_access_token_and_refuses_access_tokens(world):
    kernel, app = world
    client = login(app, "asha@example.com")
    c = app.test_client()
    wrong_kind = c.post("/api/v1/auth/refresh", headers={"Authorization": bearer(client)})
    assert wrong_kind.status_code == 401
    ok = c.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {client.udyog_tokens['refresh_token']}"})
    assert ok.status_code == 200
    fresh = ok.get_json()["data"]["access_token"]
    assert c.get("/api/v1/core/branches", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_password_change_revokes_every_login(world):
    kernel, app = world
    first = login(app, "asha@example.com")
    second = login(app, "asha@example.com")
    weak = first.post("/api/v1/auth/password", json={"current_password": TEST_PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and "password" in weak.get_json()["errors"]
    bad = first.post("/api/v1/auth/password", json={"current_password": "wrong", "new_password": "a much better one"})
    assert bad.status_code == 422 and "current_password" in bad.get_json()["errors"]
    changed = first.post(
        "/api/v1/auth/password", json={"current_password": TEST_PASSWORD, "new_password": "a much better one"}
    )
    assert changed.status_code == 200
    assert first.get("/api/v1/core/branches").status_code == 401
    assert second.get("/api/v1/core/branches").status_code == 401
    token = changed.get_json()["data"]["access_token"]
    assert (
        app.test_client().get("/api/v1/core/branches", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    login(app, "asha@example.com", "a much better one")


def test_disabling_a_user_or_a_membership_takes_effect_at_once(world):
    kernel, app = world
    ravi = login(app, "ravi@example.com")
    owner = login(app, "asha@example.com", tenant="acme")
    users = owner.get("/api/v1/core/users").get_json()["data"]
    ravi_id = next(u["id"] for u in users if u["email"] == "ravi@example.com")
    assert ravi.get("/api/v1/core/branches").status_code == 200
    assert owner.patch(f"/api/v1/core/users/{ravi_id}", json={"is_active": False}).status_code == 200
    assert ravi.get("/api/v1/core/branches").status_code == 401
    assert owner.patch(f"/api/v1/core/users/{ravi_id}", json={"is_active": True}).status_code == 200
    assert ravi.get("/api/v1/core/branches").status_code == 401  # reactivation does not revive old logins
    ravi = login(app, "ravi@example.com")
    assert ravi.get("/api/v1/core/branches").status_code == 200
    from udyog.auth import set_user_active

    with kernel.db.session() as s:
        set_user_active(s, s.scalar(select(User.id).where(User.email == "ravi@example.com")), False)
        s.commit()
    assert ravi.get("/api/v1/core/branches").status_code == 401
    assert (
        app.test_client()
        .post("/api/v1/auth/login", json={"email": "ravi@example.com", "password": TEST_PASSWORD})
        .status_code
        == 401
    )


def test_tenant_switch_scopes_a_new_token_to_the_chosen_tenant(world):
    kernel, app = world
    client = login(app, "asha@example.com", tenant="acme")
    assert [b["name"] for b in client.get("/api/v1/core/branches").get_json()["data"]] == ["acme HQ"]
    switched = client.post("/api/v1/auth/switch-tenant", json={"tenant": "globex"})
    assert switched.status_code == 200
    token = switched.get_json()["data"]["access_token"]
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert [b["name"] for b in other.get("/api/v1/core/branches").get_json()["data"]] == ["globex HQ"]
    me = other.get("/api/v1/auth/me").get_json()["data"]
    assert me["tenant"]["slug"] == "globex" and me["roles"] == ["Member"]
    assert other.post("/api/v1/core/branches", json={"code": "X", "name": "x"}).status_code == 403
    assert client.get("/api/v1/core/branches").status_code == 401  # the old login ended
    ravi = login(app, "ravi@example.com")
    refused = ravi.post("/api/v1/auth/switch-tenant", json={"tenant": "globex"})
    assert refused.status_code == 403 and "tenant" in refused.get_json()["errors"]


def test_cookie_tokens_are_httponly_and_need_csrf_for_changes(world):
    kernel, app = world
    c = app.test_client()
    resp = c.post(
        "/api/v1/auth/login", json={"email": "asha@example.com", "password": TEST_PASSWORD, "use_cookies": True}
    )
    cookies = resp.headers.getlist("Set-Cookie")
    access = next(h for h in cookies if h.startswith("access_token_cookie="))
    csrf = next(h for h in cookies if h.startswith("csrf_access_token="))
    assert "HttpOnly" in access and "HttpOnly" not in csrf and "SameSite=Lax" in access
    assert c.get("/api/v1/core/branches").status_code == 200
    refused = c.post("/api/v1/core/branches", json={"code": "NGP", "name": "Nagpur"})
    assert refused.status_code == 401 and "CSRF" in refused.get_json()["message"]
    token = c.get_cookie("csrf_access_token").value
    made = c.post("/api/v1/core/branches", json={"code": "NGP", "name": "Nagpur"}, headers={"X-CSRF-TOKEN": token})
    assert made.status_code == 201


def test_garbage_tokens_are_401_not_500(world):
    kernel, app = world
    c = app.test_client()
    for value in ("Bearer nonsense", "Bearer a.b.c", "Basic abc", "Bearer "):
        resp = c.get("/api/v1/core/branches", headers={"Authorization": value})
        assert resp.status_code == 401, value
        assert resp.get_json()["success"] is False


def test_concurrent_failed_logins_are_all_counted(world):
    import threading

    kernel, app = world
    statuses: list[int] = []

    def attempt() -> None:
        c = app.test_client()
        for _ in range(3):
            statuses.append(
                c.post("/api/v1/auth/login", json={"email": "ravi@example.com", "password": "x" * 12}).status_code
            )

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(statuses) <= {401, 429} and statuses.count(401) <= MAX_FAILURES_PER_EMAIL + 6
    from udyog.models import LoginFailure

    with kernel.db.session(write=False) as s:
        counted = s.get(LoginFailure, "email:ravi@example.com").count
    assert counted == statuses.count(401)  # every refused attempt counted, none lost to a race


def test_guessing_the_current_password_is_limited(world):
    kernel, app = world
    client = login(app, "asha@example.com")
    for _ in range(MAX_FAILURES_PER_EMAIL):
        wrong = {"current_password": "guess-guess", "new_password": "a much better one"}
        assert client.post("/api/v1/auth/password", json=wrong).status_code == 422
    blocked = client.post("/api/v1/auth/password", json={"current_password": TEST_PASSWORD, "new_password": "x" * 12})
    assert blocked.status_code == 429


def test_behind_a_trusted_proxy_the_login_limit_sees_the_client_address(kernel_factory):
    from udyog.auth import MAX_FAILURES_PER_ADDRESS
    from udyog.config import ConfigError, Settings

    kernel = kernel_factory([], proxy_hops=1)
    create_tenant(kernel, "acme", "Acme")
    app = create_app(kernel=kernel)
    c = app.test_client()
    for i in range(MAX_FAILURES_PER_ADDRESS):
        wrong = {"email": f"nobody{i}@example.com", "password": "x" * 12}
        assert c.post("/api/v1/auth/login", json=wrong, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 401
    blocked = c.post(
        "/api/v1/auth/login",
        json={"email": "z@example.com", "password": "x"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert blocked.status_code == 429
    other = c.post(
        "/api/v1/auth/login",
        json={"email": "z@example.com", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.2"},
    )
    assert other.status_code == 401  # another client behind the same proxy is not blocked
    with pytest.raises(ConfigError, match="UDYOG_PROXY_HOPS"):
        Settings.from_env(environ={"UDYOG_PROXY_HOPS": "many"})


def test_creating_a_user_with_an_unknown_role_writes_nothing(world):
    from udyog.auth import create_user, user_by_email
    from udyog_sdk import UdyogError

    kernel, app = world
    with pytest.raises(UdyogError, match="unknown role"):
        create_user(kernel, "new@example.com", "New", TEST_PASSWORD, tenant="acme", roles=["Wizard"])
    assert user_by_email(kernel, "new@example.com") is None
    create_user(kernel, "new@example.com", "New", TEST_PASSWORD, tenant="acme", roles=["Member"])
    assert login(app, "new@example.com").get("/api/v1/core/branches").status_code == 200


def test_cli_resets_a_password_and_disables_a_user(world, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    kernel, app = world
    client = login(app, "ravi@example.com")
    exe = str(Path(sys.executable).with_name("udyog"))
    plugins = tmp_path / "plugins.toml"
    plugins.write_text('[deployment]\nenabled = ["notes"]\n')
    env = {**os.environ, "UDYOG_DATABASE_URL": kernel.settings.database_url, "UDYOG_PLUGINS_FILE": str(plugins)}
    if kernel.settings.app_db_role:
        env["UDYOG_APP_DB_ROLE"] = kernel.settings.app_db_role
    reset = subprocess.run(
        [exe, "user", "password", "ravi@example.com", "--password", "a brand new secret"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reset.returncode == 0, reset.stderr
    assert client.get("/api/v1/core/branches").status_code == 401
    client = login(app, "ravi@example.com", "a brand new secret")
    off = subprocess.run(
        [exe, "user", "disable", "ravi@example.com"], env=env, capture_output=True, text=True, timeout=120
    )
    assert off.returncode == 0, off.stderr
    assert client.get("/api/v1/core/branches").status_code == 401
    missing = subprocess.run([exe, "user", "disable", "nobody@example.com"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "no user nobody@example.com" in missing.stderr
