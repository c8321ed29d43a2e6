"""The audit log: who changed what and when, in the same transaction, never edited."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from udyog_test_notes.models import Note, Notebook

from udyog.app import create_app
from udyog.audit import AuditLogImmutableError, json_safe
from udyog.models import AuditEntry, Branch, OutboxEvent
from udyog.tenancy import create_branch, create_tenant
from udyog.testing import create_member, login
from udyog_sdk.models import new_id


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_tenant(kernel, "globex", "Globex", plugins=["notes"])
    owner_id = create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "acme", "member@acme.test", roles=("Member",))
    app = create_app(kernel=kernel)
    return kernel, app, owner_id


def entries(kernel, tenant="acme", **where):
    with kernel.tenant_scope(tenant, write=False) as scope:
        query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEntry, key) == value)
        return scope.session.scalars(query).all()


def test_api_changes_are_recorded_with_user_fields_and_values(world):
    kernel, app, owner_id = world
    owner = login(app, "owner@acme.test")
    made = owner.post("/api/v1/core/branches", json={"code": "PUNE", "name": "Pune", "state_code": "27"})
    branch = made.get_json()["data"]
    url = f"/api/v1/core/branches/{branch['id']}"
    assert owner.patch(url, json={"name": "Pune works", "state_code": None, "version": 1}).status_code == 200
    assert owner.patch(url, json={"name": "Pune works", "version": 2}).status_code == 200  # no change: no entry
    assert owner.delete(url).status_code == 200
    log = entries(kernel, entity="core_branch", record_id=branch["id"])
    assert [e.action for e in log] == ["insert", "update", "delete"]
    assert {e.user_id for e in log} == {owner_id}
    inserted, updated, deleted = (e.changes for e in log)
    assert inserted["after"]["code"] == "PUNE" and inserted["after"]["state_code"] == "27"
    assert set(inserted["after"]) >= {"code", "name", "address", "state_code", "is_active", "created_at"}
    assert not {"id", "tenant_id", "version"} & set(inserted["after"])
    dt.datetime.fromisoformat(inserted["after"]["created_at"])  # timestamps are ISO strings
    assert updated == {
        "name": {"before": "Pune", "after": "Pune works"},
        "state_code": {"before": "27", "after": None},
    }
    assert deleted["before"]["name"] == "Pune works" and deleted["before"]["state_code"] is None
    assert all(e.at.tzinfo is not None for e in log)


def test_entries_share_the_transaction_of_the_change(world):
    kernel, app, owner_id = world
    with kernel.tenant_scope("acme") as scope:
        create_branch(scope.session, code="GONE", name="Rolled back")
        scope.session.flush()
        assert scope.session.scalars(select(AuditEntry.entity).where(AuditEntry.entity == "core_branch")).all()
        scope.session.rollback()
    assert entries(kernel, entity="core_branch") == []
    with kernel.tenant_scope("acme") as scope:
        create_branch(scope.session, code="KEPT", name="Committed")
        scope.session.commit()
    log = entries(kernel, entity="core_branch")
    assert len(log) == 1 and log[0].user_id is None  # system work: no user
    assert entries(kernel, "globex", entity="core_branch") == []  # entries belong to the changed row's tenant


def test_unit_of_work_and_bulk_statements_are_audited(world):
    kernel, app, owner_id = world
    with kernel.tenant_scope("acme") as scope:
        s = scope.session
        book = s.scalar(select(Notebook))
        note = Note(notebook_id=book.id, title="first", body="a b")
        s.add(note)
        s.commit()
        s.expire(note)  # the old value is not loaded when the title is set
        note.title = "second"
        s.commit()
        s.execute(update(Note).where(Note.id == note.id).values(words=Note.words + 5))
        s.execute(insert(Notebook), [{"title": "bulk one"}, {"id": new_id(), "title": "bulk two"}])
        s.execute(update(Notebook).where(Notebook.title == "bulk one").values(title="bulk 1"))
        s.commit()
        s.execute(delete(Notebook).where(Notebook.title.like("bulk%")))
        s.execute(delete(Note))
        s.commit()
    notes = entries(kernel, entity="notes_note")
    assert [e.action for e in notes] == ["insert", "update", "update", "delete"]
    assert notes[1].changes == {"title": {"before": "first", "after": "second"}}
    assert notes[2].changes == {"words": {"before": 0, "after": 5}}
    assert notes[3].changes["before"]["title"] == "second" and notes[3].changes["before"]["words"] == 5
    assert {e.record_id for e in notes} == {str(note.id)}
    books = [e for e in entries(kernel, entity="notes_notebook") if "Inbox" not in str(e.changes)]
    assert sorted(e.action for e in books) == ["delete", "delete", "insert", "insert", "update"]
    assert next(e for e in books if e.action == "update").changes == {
        "title": {"before": "bulk one", "after": "bulk 1"}
    }
    inserted = {e.changes["after"]["title"]: e.record_id for e in books if e.action == "insert"}
    deleted = {e.changes["before"]["title"]: e.record_id for e in books if e.action == "delete"}
    assert deleted == {"bulk 1": inserted["bulk one"], "bulk two": inserted["bulk two"]}
    assert all(uuid.UUID(i) for i in inserted.values())  # ids given to bulk rows that had none


def test_one_bulk_update_may_opt_out_but_inserts_and_deletes_may_not(world):
    kernel, app, owner_id = world
    with kernel.tenant_scope("acme") as scope:
        s = scope.session
        book = s.scalar(select(Notebook))
        quiet = {"udyog_audit": False}
        s.execute(insert(Note).execution_options(**quiet), [{"notebook_id": book.id, "title": "counted"}])
        s.execute(update(Note).where(Note.title == "counted").values(words=Note.words + 1).execution_options(**quiet))
        s.execute(update(Note).where(Note.title == "counted").values(title="renamed"))
        s.execute(delete(Note).where(Note.title == "renamed").execution_options(**quiet))
        s.commit()
    assert [e.action for e in entries(kernel, entity="notes_note")] == ["insert", "update", "delete"]
    assert entries(kernel, entity="notes_note")[1].changes == {"title": {"before": "counted", "after": "renamed"}}


def test_the_log_is_never_edited(world, backend):
    kernel, app, owner_id = world
    with kernel.tenant_scope("acme") as scope:
        create_branch(scope.session, code="HQ", name="HQ")
        scope.session.commit()
    with kernel.tenant_scope("acme") as scope:
        entry = scope.session.scalar(select(AuditEntry))
        entry.action = "forged"
        with pytest.raises(AuditLogImmutableError):
            scope.session.flush()
        scope.session.rollback()
        scope.session.delete(scope.session.scalar(select(AuditEntry)))
        with pytest.raises(AuditLogImmutableError):
            scope.session.flush()
        scope.session.rollback()
        with pytest.raises(AuditLogImmutableError):
            scope.session.execute(update(AuditEntry).values(action="forged"))
        with pytest.raises(AuditLogImmutableError):
            scope.session.execute(delete(AuditEntry))
    with kernel.db.session(all_tenants=True) as system, pytest.raises(AuditLogImmutableError):
        system.execute(AuditEntry.__table__.delete())  # not even a Core statement in a system session
    if backend == "postgresql":
        # The application role itself may not: even raw SQL past the ORM is refused.
        for sql in ("UPDATE core_audit SET action = 'forged'", "DELETE FROM core_audit", "TRUNCATE core_audit"):
            with kernel.db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT set_config('udyog.all_tenants', 'on', true)")
                with pytest.raises(DBAPIError, match="permission denied"):
                    conn.exec_driver_sql(sql)
    assert [e.action for e in entries(kernel, entity="core_branch")] == ["insert"]


def test_models_opt_out_and_the_outbox_is_not_audited(world, monkeypatch):
    kernel, app, owner_id = world
    with kernel.tenant_scope("acme") as scope:
        scope.emit("notes.note.created", {"note_id": str(new_id()), "title": "x"})
        scope.session.commit()
    assert entries(kernel, entity=OutboxEvent.__tablename__) == []
    assert entries(kernel, entity=AuditEntry.__tablename__) == []
    monkeypatch.setattr(Branch, "__udyog_audit__", False, raising=False)
    with kernel.tenant_scope("acme") as scope:
        create_branch(scope.session, code="QUIET", name="Not audited")
        scope.session.commit()
    assert entries(kernel, entity="core_branch") == []


def test_values_are_json_safe():
    moment = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.UTC)
    ident = uuid.UUID("01920000-0000-7000-8000-000000000000")
    assert json_safe(
        {"m": decimal.Decimal("12.50"), "u": ident, "t": moment, "d": dt.date(2026, 4, 1), "b": b"\x01", "l": (1, "a")}
    ) == {
        "m": "12.50",
        "u": str(ident),
        "t": "2026-04-01T09:30:00+00:00",
        "d": "2026-04-01",
        "b": "AQ==",
        "l": [1, "a"],
    }
    assert json_safe(float("nan")) == "nan"


def test_the_audit_api_filters_and_pages_newest_first(world):
    kernel, app, owner_id = world
    owner = login(app, "owner@acme.test")
    ids = []
    for code in ("AAA", "BBB", "CCC"):
        ids.append(owner.post("/api/v1/core/branches", json={"code": code, "name": code}).get_json()["data"]["id"])
    assert owner.patch(f"/api/v1/core/branches/{ids[0]}", json={"name": "A2", "version": 1}).status_code == 200
    listed = owner.get("/api/v1/core/audit", query_string={"entity": "core_branch"}).get_json()
    assert [(e["action"], e["record_id"]) for e in listed["data"]] == [
        ("update", ids[0]),
        ("insert", ids[2]),
        ("insert", ids[1]),
        ("insert", ids[0]),
    ]
    assert listed["data"][0]["changes"] == {"name": {"before": "AAA", "after": "A2"}}
    assert listed["data"][0]["user_id"] == str(owner_id)
    pages, cursor, seen = 0, None, []
    while True:
        query = {"entity": "core_branch", "limit": 1} | ({"cursor": cursor} if cursor else {})
        body = owner.get("/api/v1/core/audit", query_string=query).get_json()
        seen += [e["id"] for e in body["data"]]
        pages += 1
        cursor = body["meta"]["pagination"]["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in listed["data"]] and pages == 4
    one = owner.get("/api/v1/core/audit", query_string={"record_id": ids[0], "action": "update"}).get_json()["data"]
    assert len(one) == 1
    mine = owner.get("/api/v1/core/audit", query_string={"user_id": str(owner_id), "entity__in": "core_branch,x"})
    assert len(mine.get_json()["data"]) == 4
    oldest = owner.get("/api/v1/core/audit", query_string={"sort": "at", "entity": "core_branch"}).get_json()["data"]
    assert [e["id"] for e in oldest] == list(reversed(seen))
    middle = listed["data"][2]["at"]
    since = owner.get("/api/v1/core/audit", query_string={"since": middle, "entity": "core_branch"}).get_json()["data"]
    until = owner.get("/api/v1/core/audit", query_string={"until": middle, "entity": "core_branch"}).get_json()["data"]
    assert {e["id"] for e in since} | {e["id"] for e in until} == set(seen)
    assert listed["data"][2]["id"] in {e["id"] for e in since} & {e["id"] for e in until}
    bad = owner.get("/api/v1/core/audit", query_string={"action": "truncate", "since": "yesterday"})
    assert bad.status_code == 422 and {"action", "since"} <= set(bad.get_json()["errors"])


def test_reading_the_audit_log_needs_its_permission(world):
    kernel, app, owner_id = world
    member = login(app, "member@acme.test")
    denied = member.get("/api/v1/core/audit")
    assert denied.status_code == 403
    assert denied.get_json()["errors"] == {"permission": ["core.audit.read"]}
    assert app.test_client().get("/api/v1/core/audit").status_code == 401
