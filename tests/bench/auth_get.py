"""Benchmark 4: an authenticated, tenant-scoped, permission-checked GET of one record.

Target: ``GET /api/v1/core/branches/<id>`` through the full stack (JWT
verified, login session checked, tenant scoped, permission checked, the row
read through the tenant-bound session, serialised by its marshmallow schema
and enveloped) takes <= 1.3x a hand-written Flask + SQLAlchemy endpoint that
does the same work by hand, from the same database, with the same token.

Ours: ``udyog.app.create_app(kernel=kernel)``, logged in with
``POST /api/v1/auth/login`` as an Owner; every request carries the bearer token.

Baseline: a separate minimal Flask app in the same process. Flask-JWT-Extended
is configured with the same secret, and the view:

1. calls ``verify_jwt_in_request()`` (the same token);
2. runs one revocation-check query through a plain SQLAlchemy ``Session``:
   ``core_auth_session`` joined to ``core_user`` where ``id = sid``,
   ``revoked_at IS NULL``, ``expires_at > now`` and the user is active;
3. reads the branch with a hand-written ``WHERE tenant_id = :tid AND id = :id``;
4. returns the same JSON envelope, the row serialised by hand.

The queries are Core selects on the kernel's table definitions (their column
types bind UUIDs and aware timestamps the same way on SQLite). Both apps are
driven by Flask's test client, so the WSGI overhead is the same.

Runs on a migrated SQLite file and, when ``UDYOG_TEST_DATABASE_URL`` names an
administrative PostgreSQL URL, on a fresh PostgreSQL database (created and
dropped here) twice: with both sides connected as the URL's user (a superuser:
row-level security bypassed), and with both sides as the application role of
``udyog.testing`` (row-level security enforced; the baseline sets
``udyog.tenant_id`` for its transaction as the kernel does).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, get_jwt, verify_jwt_in_request
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.orm import Session

from tests.bench import (
    Outcome,
    fmt_time,
    measure,
    print_heading,
    print_table,
    ratio_outcome,
    ratio_text,
    with_postgres,
)
from udyog.app import create_app
from udyog.kernel import Kernel
from udyog.models import AuthSession, Branch, Membership, Tenant, User
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import TEST_APP_ROLE, build_kernel, create_member, postgres_database, sqlite_url
from udyog_sdk.models import utcnow

REQUESTS = 100
ROUNDS = 15
TARGET = 1.30
EMAIL = "owner@bench.example"
PASSWORD = "bench-password-2026"
SECRET = "bench-secret-of-at-least-32-bytes-0123456789"

_sessions = AuthSession.__table__
_users = User.__table__
_members = Membership.__table__
_tenants = Tenant.__table__
_branches = Branch.__table__


@dataclass
class World:
    """A migrated database with a tenant, an Owner and a branch, and our app."""

    kernel: Kernel
    app: Flask
    tenant_id: uuid.UUID
    branch_id: uuid.UUID


def _world(kernel: Kernel) -> World:
    tenant_id = create_tenant(kernel, "bench", "Bench Foods")
    with kernel.tenant_scope(tenant_id) as scope:
        for i in range(20):
            create_branch(scope.session, code=f"B{i:02d}", name=f"Branch {i}", address="MIDC", state_code="27")
        branch = create_branch(scope.session, code="PUNE", name="Pune factory", address="Chakan", state_code="27")
        scope.session.commit()
        branch_id = branch.id
    create_member(kernel, tenant_id, EMAIL, roles=("Owner",), password=PASSWORD)
    return World(kernel, create_app(kernel=kernel), tenant_id, branch_id)


def _login(app: Flask) -> str:
    response = app.test_client().post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    if response.status_code != 200:
        raise AssertionError(f"login failed: {response.status_code} {response.get_json()}")
    return str(response.get_json()["data"]["access_token"])


# -- the hand-written baseline ------------------------------------------------------


def _check_query(sid: uuid.UUID, uid: uuid.UUID) -> Any:
    """The revocation check as the issue states it: login session joined to its user."""
    return (
        select(_sessions.c.id)
        .join(_users, _users.c.id == _sessions.c.user_id)
        .where(
            _sessions.c.id == sid,
            _sessions.c.user_id == uid,
            _sessions.c.revoked_at.is_(None),
            _sessions.c.expires_at > utcnow(),
            _users.c.is_active.is_(True),
        )
    )


def _full_check_query(sid: uuid.UUID, uid: uuid.UUID, tid: uuid.UUID) -> Any:
    """The same checks as the kernel's: also the membership in ``tid`` and the tenant active."""
    return (
        select(_sessions.c.id)
        .join(_users, _users.c.id == _sessions.c.user_id)
        .join(_members, (_members.c.user_id == _users.c.id) & (_members.c.tenant_id == tid))
        .join(_tenants, _tenants.c.id == _sessions.c.acting_tenant_id)
        .where(
            _sessions.c.id == sid,
            _sessions.c.user_id == uid,
            _sessions.c.acting_tenant_id == tid,
            _sessions.c.revoked_at.is_(None),
            _sessions.c.expires_at > utcnow(),
            _users.c.is_active.is_(True),
            _members.c.is_active.is_(True),
            _tenants.c.is_active.is_(True),
        )
    )


def _branch_query(tid: uuid.UUID, bid: uuid.UUID) -> Any:
    b = _branches.c
    return select(b.id, b.code, b.name, b.address, b.state_code, b.is_active, b.version).where(
        b.tenant_id == tid, b.id == bid
    )


def _baseline_app(secret: str, engine: Engine, *, full_check: bool, set_tenant: bool) -> Flask:
    """A minimal Flask + Flask-JWT-Extended + SQLAlchemy app doing the same GET by hand."""
    app = Flask("baseline")
    app.config.update(JWT_SECRET_KEY=secret, JWT_TOKEN_LOCATION=["headers", "cookies"])
    JWTManager(app)

    @app.get("/branches/<uuid:branch_id>")
    def get_branch(branch_id: uuid.UUID) -> Any:
        verify_jwt_in_request()
        claims = get_jwt()
        uid, tid, sid = uuid.UUID(claims["sub"]), uuid.UUID(claims["tid"]), uuid.UUID(claims["sid"])
        with Session(engine) as session:
            if set_tenant:  # the application role is bound by row-level security
                session.execute(text("SELECT set_config('udyog.tenant_id', :t, true)"), {"t": str(tid)})
            check = _full_check_query(sid, uid, tid) if full_check else _check_query(sid, uid)
            if session.execute(check).first() is None:
                return jsonify({"success": False, "message": "log in again", "errors": {}}), 401
            row = session.execute(_branch_query(tid, branch_id)).first()
        if row is None:
            return jsonify({"success": False, "message": "branch not found", "errors": {}}), 404
        data = {
            "id": str(row.id),
            "code": row.code,
            "name": row.name,
            "address": row.address,
            "state_code": row.state_code,
            "is_active": row.is_active,
            "version": row.version,
        }
        return jsonify({"success": True, "message": "OK", "data": data, "meta": {}})

    return app


def _bare_app() -> Flask:
    """The floor: Flask and its test client answering a constant JSON body."""
    app = Flask("bare")

    @app.get("/ping")
    def ping() -> Any:
        return jsonify({"success": True, "message": "OK", "data": None, "meta": {}})

    return app


# -- timing -----------------------------------------------------------------------------


def _requests(app: Flask, path: str, token: str) -> Callable[[], None]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def run() -> None:
        for _ in range(REQUESTS):
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise AssertionError(f"GET {path}: {response.status_code} {response.get_data(as_text=True)}")

    return run


def _verify_only(app: Flask, token: str) -> Callable[[], None]:
    def run() -> None:
        with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
            for _ in range(REQUESTS):
                verify_jwt_in_request()

    return run


def _check_only(engine: Engine, token_claims: dict[str, Any]) -> Callable[[], None]:
    uid, sid = uuid.UUID(token_claims["sub"]), uuid.UUID(token_claims["sid"])

    def run() -> None:
        for _ in range(REQUESTS):
            with Session(engine) as session:
                if session.execute(_check_query(sid, uid)).first() is None:
                    raise AssertionError("revocation check found no live login")

    return run


def _claims(app: Flask, token: str) -> dict[str, Any]:
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        verify_jwt_in_request()
        return dict(get_jwt())


def _same_answer(ours: Flask, baseline: Flask, world: World, token: str) -> None:
    """Sanity, not timing: both apps answer the same envelope for the branch."""
    headers = {"Authorization": f"Bearer {token}"}
    a = ours.test_client().get(f"/api/v1/core/branches/{world.branch_id}", headers=headers)
    b = baseline.test_client().get(f"/branches/{world.branch_id}", headers=headers)
    if a.status_code != 200 or b.status_code != 200 or a.get_json() != b.get_json():
        raise AssertionError(
            f"answers differ: ours {a.status_code} {a.get_json()}, baseline {b.status_code} {b.get_json()}"
        )


def _time(
    world: World,
    baselines: dict[str, Flask],
    engine: Engine,
) -> dict[str, float]:
    """Median seconds per request of every case (interleaved rounds)."""
    token = _login(world.app)
    for app in baselines.values():
        _same_answer(world.app, app, world, token)
    branch = f"/api/v1/core/branches/{world.branch_id}"
    batches: dict[str, Callable[[], None]] = {
        "ours": _requests(world.app, branch, token),
        "ours_tenant": _requests(world.app, "/api/v1/core/tenant", token),
        "bare": _requests(_bare_app(), "/ping", token),
        "verify": _verify_only(baselines["baseline"], token),
        "check": _check_only(engine, _claims(baselines["baseline"], token)),
    }
    for name, app in baselines.items():
        batches[name] = _requests(app, f"/branches/{world.branch_id}", token)
    return measure(batches, per_batch=REQUESTS, rounds=ROUNDS)


def _print(title: str, t: dict[str, float], labels: dict[str, str]) -> None:
    base = t["baseline"]
    rows = [
        ["baseline: Flask + Flask-JWT-Extended + SQLAlchemy by hand", fmt_time(base), "1.00"],
        ["ours: GET /api/v1/core/branches/<id>, full stack", fmt_time(t["ours"]), ratio_text(t["ours"], base)],
    ]
    for key, label in labels.items():
        rows.append([label, fmt_time(t[key]), ratio_text(t[key], base)])
    rows += [
        [
            "breakdown: ours, GET /api/v1/core/tenant (auth, scope, no route query)",
            fmt_time(t["ours_tenant"]),
            ratio_text(t["ours_tenant"], base),
        ],
        ["breakdown: bare Flask test client, constant JSON", fmt_time(t["bare"]), ratio_text(t["bare"], base)],
        ["breakdown: verify_jwt_in_request() alone", fmt_time(t["verify"]), ratio_text(t["verify"], base)],
        ["breakdown: baseline's revocation query alone", fmt_time(t["check"]), ratio_text(t["check"], base)],
    ]
    print(f"-- {title}")
    print_table(["case", "per request", "ratio"], rows)


def _outcome(backend: str, t: dict[str, float]) -> Outcome:
    return ratio_outcome(
        f"authenticated GET ({backend})", "hand-written Flask", t["baseline"], "full stack", t["ours"], TARGET
    )


def _sqlite() -> Outcome:
    with tempfile.TemporaryDirectory(prefix="udyog-bench-") as tmp, ExitStack() as stack:
        url = sqlite_url(Path(tmp), "bench.db")
        kernel = build_kernel(url, secret_key=SECRET)
        stack.callback(kernel.close)
        world = _world(kernel)
        engine = create_engine(url)
        stack.callback(engine.dispose)
        secret = kernel.settings.secret_key
        baselines = {
            "baseline": _baseline_app(secret, engine, full_check=False, set_tenant=False),
            "baseline_full": _baseline_app(secret, engine, full_check=True, set_tenant=False),
        }
        t = _time(world, baselines, engine)
    _print(
        "SQLite (file, WAL)",
        t,
        {"baseline_full": "context: baseline checking membership and tenant too (as ours)"},
    )
    return _outcome("SQLite", t)


def _app_role_engine(url: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_conn: Any, record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f'SET ROLE "{TEST_APP_ROLE}"')
        dbapi_conn.commit()

    return engine


def _postgres(admin_url: str) -> list[Outcome]:
    with postgres_database(admin_url, prefix="udyog_bench") as url, ExitStack() as stack:
        kernel = build_kernel(url, secret_key=SECRET)  # migrated; the app runs as TEST_APP_ROLE (row-level security)
        stack.callback(kernel.close)
        world = _world(kernel)
        # The same database as the URL's user (a superuser): row-level security bypassed.
        owner_kernel = build_kernel(url, migrate=False, app_db_role=None, secret_key=SECRET)
        stack.callback(owner_kernel.close)
        owner_app = create_app(kernel=owner_kernel)
        secret = kernel.settings.secret_key
        owner_engine = create_engine(url)
        stack.callback(owner_engine.dispose)
        role_engine = _app_role_engine(url)
        stack.callback(role_engine.dispose)
        owner_world = World(owner_kernel, owner_app, world.tenant_id, world.branch_id)
        t_owner = _time(
            owner_world,
            {
                "baseline": _baseline_app(secret, owner_engine, full_check=False, set_tenant=False),
                "baseline_full": _baseline_app(secret, owner_engine, full_check=True, set_tenant=False),
            },
            owner_engine,
        )
        t_role = _time(
            world,
            {
                "baseline": _baseline_app(secret, role_engine, full_check=False, set_tenant=True),
                "baseline_full": _baseline_app(secret, role_engine, full_check=True, set_tenant=True),
                "baseline_owner": _baseline_app(secret, owner_engine, full_check=False, set_tenant=False),
            },
            role_engine,
        )
    full = {"baseline_full": "context: baseline checking membership and tenant too (as ours)"}
    _print("PostgreSQL, both as the URL's user (superuser: row-level security bypassed)", t_owner, full)
    _print(
        f"PostgreSQL, both as the application role {TEST_APP_ROLE} (row-level security enforced)",
        t_role,
        {
            **full,
            "baseline_owner": "context: baseline as the URL's user (no RLS, no set_config)",
        },
    )
    return [_outcome("PostgreSQL, RLS bypassed", t_owner), _outcome("PostgreSQL, app role with RLS", t_role)]


def run() -> list[Outcome]:
    """Run the benchmark, print its tables, return its targets."""
    print_heading(
        f"4. Authenticated GET of one branch: full stack vs hand-written Flask, "
        f"median of {ROUNDS} rounds x {REQUESTS} requests"
    )
    return with_postgres([_sqlite()], "authenticated GET (PostgreSQL)", _postgres)


if __name__ == "__main__":
    for outcome in run():
        print(outcome.summary)
