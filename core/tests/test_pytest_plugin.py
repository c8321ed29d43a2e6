"""The pytest plugin's fixtures (udyog.pytest_plugin): what each gives, and the option and markers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

from udyog.testing import TEST_PASSWORD, make_user


def test_without_a_marker_the_kernel_loads_the_core_alone(udyog_kernel, udyog_tenant, backend):
    assert udyog_kernel.registry.order == []
    assert udyog_kernel.db.dialect == backend
    assert udyog_tenant.slug == "acme" and udyog_tenant.plugins == ()


@pytest.mark.udyog_plugins("tags")
def test_the_marker_loads_and_enables_plugins_with_what_they_require(udyog_kernel, udyog_tenant, udyog_other_tenant):
    assert udyog_kernel.registry.order == ["notes", "tags"]
    assert udyog_tenant.plugins == ("notes", "tags")
    assert udyog_other_tenant.slug == "globex" and udyog_other_tenant.id != udyog_tenant.id
    assert udyog_other_tenant.plugins == ("notes", "tags")
    with udyog_tenant.scope(write=False) as scope:
        from udyog_sdk import current_tenant

        assert current_tenant().slug == "acme" and scope.tenant.is_enabled("tags")


@pytest.mark.udyog_plugins("notes")
def test_the_default_user_is_an_owner_with_a_working_client(udyog_user, udyog_client):
    assert udyog_user.roles == ("Owner",) and udyog_user.tenant == "acme" and udyog_user.password == TEST_PASSWORD
    me = udyog_client.get("/api/v1/auth/me", expect=200)
    assert me.success is True and me.data["email"] == udyog_user.email
    assert udyog_client.tokens["tenant"]["slug"] == "acme"


@pytest.mark.udyog_plugins("notes")
@pytest.mark.udyog_user(permissions=["notes.note.read"])
def test_a_user_with_exact_permissions(udyog_user, udyog_client):
    assert udyog_user.roles == (f"test: {udyog_user.email}",)
    udyog_client.get("/api/v1/notes/notes", expect=200)
    refused = udyog_client.get("/api/v1/notes/notebooks", expect=403)
    assert refused.success is False and refused.errors == {"permission": ["notes.notebook.read"]}


@pytest.mark.udyog_plugins("notes")
def test_users_with_roles_and_the_mistakes_a_test_can_make(
    udyog_user_factory, udyog_client_factory, udyog_other_tenant
):
    reader = udyog_user_factory(roles=["Reader"], email="reader@acme.test")
    assert reader.email == "reader@acme.test" and reader.roles == ("Reader",)
    mixed = udyog_user_factory(roles=["Reader"], permissions=["notes.notebook.manage"])
    assert mixed.roles[0] == "Reader" and mixed.roles[1].startswith("test: ")
    udyog_client_factory(mixed).post("/api/v1/notes/notebooks", json={"title": "Mixed"}, expect=201)
    elsewhere = udyog_user_factory(tenant=udyog_other_tenant)
    assert elsewhere.tenant == "globex"
    with pytest.raises(ValueError, match=r"'ghost\.thing\.read' matches no declared permission"):
        udyog_user_factory(permissions=["ghost.thing.read"])
    with pytest.raises(ValueError, match=r"no role 'Auditor' in tenant acme \(roles: .*Owner"):
        udyog_user_factory(roles=["Auditor"])
    with pytest.raises(ValueError, match=r"unknown record rule 'notes\.nothing'"):
        udyog_user_factory(record_rules=["notes.nothing"])


def test_expect_shows_the_answer_when_the_status_differs(udyog_client):
    with pytest.raises(AssertionError) as failed:
        udyog_client.get("/api/v1/core/branches/not-a-uuid", expect=200)
    assert str(failed.value).startswith("GET /api/v1/core/branches/not-a-uuid: expected 200, got 404: {")
    anonymous = udyog_client.request("GET", "/api/v1/core/branches", headers={"Authorization": ""})
    assert anonymous.status == 401 and anonymous.message


def test_the_live_server_answers_over_http(udyog_live_server, udyog_live_client, udyog_user):
    import urllib.request

    with urllib.request.urlopen(f"{udyog_live_server.url}/api/v1/health", timeout=10) as answer:
        assert answer.status == 200
    branches = udyog_live_client.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune"}, expect=201)
    assert branches.headers["Content-Type"].startswith("application/json")
    listed = udyog_live_client.get("/api/v1/core/branches", params={"code": "PUNE"}, expect=200)
    assert [b["code"] for b in listed.data] == ["PUNE"]


def test_the_web_client_is_logged_in_through_the_form(udyog_web_client, udyog_user):
    home = udyog_web_client.get("/")
    assert home.status_code == 200 and udyog_user.email.split("@")[0] in home.text
    refused = udyog_web_client.client.post("/logout")  # a form without the CSRF value
    assert refused.status_code == 400
    out = udyog_web_client.submit("/logout", {})
    assert out.status_code in (302, 303) and out.headers["Location"].startswith("/login"), out.text
    assert udyog_web_client.get("/").status_code == 302  # logged out


def test_make_user_refuses_an_unknown_tenant(udyog_kernel):
    with pytest.raises(ValueError, match="no tenant 'nowhere'"):
        make_user(udyog_kernel, "nowhere")


@pytest.mark.udyog_plugins("ledger")
def test_tenant_scopes_see_only_their_own_rows(udyog_tenant, udyog_other_tenant, udyog_client):
    from udyog_test_ledger.models import Voucher

    udyog_client.post(
        "/api/v1/ledger/vouchers", json={"party": "P", "amount": "1.00", "issued_on": "2026-04-01"}, expect=201
    )
    with udyog_tenant.scope(write=False) as scope:
        assert len(scope.session.scalars(select(Voucher)).all()) == 1
    with udyog_other_tenant.scope(write=False) as scope:
        assert scope.session.scalars(select(Voucher)).all() == []


# -- the option and the markers, in a pytest run of its own -----------------------------------------------

INNER = textwrap.dedent(
    """
    import pytest

    def test_on_each_backend(backend, database_url_factory):
        assert database_url_factory(backend).startswith(backend)

    @pytest.mark.udyog_plugins(3)
    def test_a_bad_marker(udyog_plugin_names):
        pass

    @pytest.mark.udyog_user(role="Owner")
    def test_a_misspelt_user_option(udyog_user):
        pass
    """
)


def run_inner(tmp_path, *args, **env):
    (tmp_path / "test_inner.py").write_text(INNER)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("UDYOG_") and k != "CI"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:xdist", *args, str(tmp_path)],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def outcome(output: str, test: str) -> str:
    for line in output.splitlines():
        for state in ("PASSED", "FAILED", "SKIPPED", "ERROR"):
            if line.startswith(state) and test in line:
                return state
    return "not run"


def test_postgresql_runs_are_skipped_without_a_server_and_fail_under_ci(tmp_path):
    local = run_inner(tmp_path)
    assert outcome(local.stdout, "test_on_each_backend[sqlite]") == "PASSED"
    assert outcome(local.stdout, "PostgreSQL not configured (set UDYOG_TEST_DATABASE_URL)") == "SKIPPED"
    ci = run_inner(tmp_path, CI="true")
    assert outcome(ci.stdout, "test_on_each_backend[postgresql]") == "ERROR"  # in the fixture's setup
    assert "CI=true but UDYOG_TEST_DATABASE_URL is not set" in ci.stdout


def test_the_backend_option_deselects_the_other_backend(tmp_path):
    only = run_inner(tmp_path, "--udyog-backend=sqlite", "-k", "each_backend")
    assert only.returncode == 0, only.stdout
    assert "1 passed, 4 deselected" in only.stdout.splitlines()[-1]
    wrong = run_inner(tmp_path, "--udyog-backend=oracle")
    assert wrong.returncode == 4 and "invalid choice: 'oracle'" in wrong.stderr


def test_marker_mistakes_are_usage_errors(tmp_path):
    result = run_inner(tmp_path, "-k", "bad_marker or misspelt")
    assert outcome(result.stdout, "test_a_bad_marker") == "ERROR"
    assert "udyog_plugins takes plugin names as strings, got (3,)" in result.stdout
    assert outcome(result.stdout, "test_a_misspelt_user_option") == "ERROR"
    assert "udyog_user takes roles=, permissions=, record_rules= and email=, got {'role': 'Owner'}" in result.stdout
