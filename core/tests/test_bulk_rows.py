"""insert_rows / update_rows: many rows of an unaudited tenant table in one Core statement, the tenant enforced."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from udyog_test_notes.models import Note

import udyog_sdk
from udyog.bulk import insert_rows, update_rows
from udyog.db import TenantBoundaryError
from udyog.models import Notification
from udyog.tenancy import create_tenant
from udyog.testing import create_member
from udyog_sdk.models import new_id, utcnow


@pytest.fixture
def tenants(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    ids, users = {}, {}
    for slug in ("acme", "globex"):
        ids[slug] = create_tenant(kernel, slug, slug.title(), plugins=["notes"])
        users[slug] = create_member(kernel, ids[slug], f"owner@{slug}.test")
    return kernel, ids, users


def _rows(user_id, titles):
    return [{"id": new_id(), "user_id": user_id, "event": "test.bulk", "title": t} for t in titles]


def _titles(kernel, tenant_id):
    with kernel.db.session(tenant_id) as s:
        return sorted(s.scalars(select(Notification.title).where(Notification.event == "test.bulk")))


def test_inserted_rows_are_the_sessions_tenants_with_defaults_filled(tenants):
    kernel, ids, users = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        udyog_sdk.insert_rows(Notification, _rows(users["acme"], ["one", "two"]))
        scope.session.commit()
    assert _titles(kernel, ids["acme"]) == ["one", "two"]
    assert _titles(kernel, ids["globex"]) == []
    with kernel.db.session(ids["acme"]) as s:
        row = s.scalars(select(Notification).where(Notification.title == "one")).one()
        assert row.tenant_id == ids["acme"]
        assert row.in_app is True and row.body == "" and row.created_at is not None  # column defaults applied


def test_a_row_of_another_tenant_is_refused_and_nothing_is_written(tenants):
    kernel, ids, users = tenants
    rows = _rows(users["acme"], ["mine", "theirs"])
    rows[1]["tenant_id"] = ids["globex"]
    with kernel.tenant_scope(ids["acme"]) as scope, pytest.raises(TenantBoundaryError, match="another tenant"):
        insert_rows(scope.session, Notification, rows)
    assert _titles(kernel, ids["acme"]) == [] and _titles(kernel, ids["globex"]) == []


def test_updates_touch_only_the_sessions_tenants_rows_and_expire_held_objects(tenants):
    kernel, ids, users = tenants
    theirs = _rows(users["globex"], ["globex"])
    with kernel.tenant_scope(ids["globex"]) as scope:
        insert_rows(scope.session, Notification, theirs)
        scope.session.commit()
    mine = _rows(users["acme"], ["a", "b"])
    read_at = utcnow()
    with kernel.tenant_scope(ids["acme"]) as scope:
        insert_rows(scope.session, Notification, mine)
        held = scope.session.scalars(select(Notification).where(Notification.id == mine[0]["id"])).one()
        assert held.read_at is None
        udyog_sdk.update_rows(
            Notification,
            [
                {"id": mine[0]["id"], "read_at": read_at, "title": "a read"},
                {"id": theirs[0]["id"], "read_at": read_at, "title": "hijacked"},  # globex's id: not matched
            ],
        )
        assert held.read_at == read_at and held.title == "a read"  # expired, read again
        scope.session.commit()
    assert _titles(kernel, ids["acme"]) == ["a read", "b"]
    assert _titles(kernel, ids["globex"]) == ["globex"]
    with kernel.db.session(ids["globex"]) as s:
        assert s.scalar(select(Notification.read_at).where(Notification.id == theirs[0]["id"])) is None


def test_an_update_never_moves_a_row_to_another_tenant(tenants):
    kernel, ids, users = tenants
    mine = _rows(users["acme"], ["a"])
    with kernel.tenant_scope(ids["acme"]) as scope:
        insert_rows(scope.session, Notification, mine)
        with pytest.raises(TenantBoundaryError, match="another tenant"):
            update_rows(scope.session, Notification, [{"id": mine[0]["id"], "tenant_id": ids["globex"], "title": "x"}])
        # Naming the session's own tenant is allowed and changes nothing but the title.
        update_rows(scope.session, Notification, [{"id": mine[0]["id"], "tenant_id": ids["acme"], "title": "b"}])
        scope.session.commit()
    assert _titles(kernel, ids["acme"]) == ["b"]


def test_misuse_is_refused_before_anything_is_sent(tenants):
    kernel, ids, users = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        session = scope.session
        with pytest.raises(TypeError, match="audited"):
            insert_rows(session, Note, [{"title": "x"}])
        with pytest.raises(TypeError, match="not a tenant model"):
            insert_rows(session, object, [{"x": 1}])
        with pytest.raises(ValueError, match="same columns"):
            insert_rows(session, Notification, [*_rows(users["acme"], ["a"]), {"user_id": users["acme"], "event": "e"}])
        with pytest.raises(ValueError, match="no column colour"):
            insert_rows(session, Notification, [{**_rows(users["acme"], ["a"])[0], "colour": "red"}])
        with pytest.raises(ValueError, match="needs its id"):
            update_rows(session, Notification, [{"title": "x"}])
        with pytest.raises(ValueError, match="no column to set"):
            update_rows(session, Notification, [{"id": new_id()}])
        insert_rows(session, Notification, [])  # nothing to do
        update_rows(session, Notification, [])
        session.commit()
    assert _titles(kernel, ids["acme"]) == []
    with kernel.db.session() as unbound, pytest.raises(TenantBoundaryError, match="bound to no tenant"):
        insert_rows(unbound, Notification, _rows(users["acme"], ["a"]))


def test_pending_orm_rows_are_flushed_first(tenants):
    kernel, ids, users = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        scope.session.add(Notification(user_id=users["acme"], event="test.bulk", title="pending"))
        first = _rows(users["acme"], ["bulk"])
        insert_rows(scope.session, Notification, first)
        # The ORM row went first: both are there, and an update reaches the bulk one.
        update_rows(scope.session, Notification, [{"id": first[0]["id"], "title": "bulk, updated"}])
        scope.session.commit()
    assert _titles(kernel, ids["acme"]) == ["bulk, updated", "pending"]


def test_the_first_statement_of_a_transaction_carries_the_tenant(tenants, backend):
    """On PostgreSQL the rows are written by the driver (udyog.db.write_many) with the tenant setting that
    row-level security checks sent along; as a transaction's first statement it must still be in force."""
    kernel, ids, users = tenants
    with kernel.db.session(ids["acme"]) as session:  # nothing run yet in this transaction
        insert_rows(session, Notification, _rows(users["acme"], ["first", "second"]))
        session.commit()
    assert _titles(kernel, ids["acme"]) == ["first", "second"]


def test_a_driver_error_is_sqlalchemys_and_leaves_nothing(tenants):
    from sqlalchemy.exc import IntegrityError

    kernel, ids, users = tenants
    rows = _rows(users["acme"], ["one", "two"])
    rows[1]["id"] = rows[0]["id"]  # the same key twice
    with kernel.tenant_scope(ids["acme"]) as scope:
        with pytest.raises(IntegrityError):
            insert_rows(scope.session, Notification, rows)
        scope.session.rollback()
        insert_rows(scope.session, Notification, _rows(users["acme"], ["after"]))  # the session goes on
        scope.session.commit()
    assert _titles(kernel, ids["acme"]) == ["after"]
