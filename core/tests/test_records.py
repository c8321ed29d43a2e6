"""write_records: new and changed ORM records written by plain statements, as a flush would write them."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError
from udyog_test_notes.models import Note, Notebook

import udyog_sdk
from udyog.db import TenantBoundaryError
from udyog.models import AuditEntry
from udyog.records import write_records
from udyog.tenancy import create_tenant
from udyog.testing import create_member, statements_seen
from udyog_sdk.models import new_id


@pytest.fixture
def tenants(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    ids = {slug: create_tenant(kernel, slug, slug.title(), plugins=["notes"]) for slug in ("acme", "globex")}
    return kernel, ids, create_member(kernel, ids["acme"], "owner@acme.test", roles=("Owner",))


def _log_in(session, entity):
    rows = session.scalars(select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.at, AuditEntry.id))
    return [(e.action, e.record_id, e.changes, e.user_id) for e in rows]


def _log(kernel, tenant_id, entity):
    with kernel.db.session(tenant_id) as s:
        return _log_in(s, entity)


def _saved(kernel, tenant_id, titles):
    """A notebook with notes of ``titles``, written and committed."""
    with kernel.tenant_scope(tenant_id) as scope:
        book, notes = _book_with_notes(titles)
        udyog_sdk.write_records([book, *notes])
        scope.session.commit()


def _statements(kernel):
    """(the statements run from now on, as "INSERT table" or "UPDATE table"; a function to stop listening)."""
    seen: list[str] = []

    def short(sql):
        seen.append(sql.split()[0] + " " + sql.split()[2 if sql.startswith("INSERT") else 1])

    watch = statements_seen(kernel.db.engine, short)
    watch.__enter__()
    return seen, lambda: watch.__exit__(None, None, None)


def _book_with_notes(titles):
    book = Notebook(id=new_id(), title="Ledger")
    notes = [Note(notebook_id=book.id, title=t, body=f"about {t}") for t in titles]
    return book, notes


def test_new_records_are_inserted_with_defaults_audited_and_held_as_loaded(tenants):
    kernel, ids, _ = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        book, notes = _book_with_notes(["one", "two", "three"])
        seen, stop = _statements(kernel)
        udyog_sdk.write_records([book, *notes])
        stop()
        # One statement per table, and one for the audit entries of all four records.
        assert seen == ["INSERT notes_notebook", "INSERT notes_note", "INSERT core_audit"]
        assert all(n.id is not None and n.version == 1 and n.words == 0 for n in notes)  # defaults, on the objects
        assert all(n in scope.session and not scope.session.is_modified(n) for n in [book, *notes])
        assert not scope.session.new  # nothing left for the unit of work
        notes[0].title = "one, edited"  # now an ordinary loaded record: the ORM updates it
        scope.session.commit()
    with kernel.db.session(ids["acme"]) as s:
        stored = {n.title: (n.body, n.version, n.tenant_id) for n in s.scalars(select(Note))}
    assert stored == {
        "one, edited": ("about one", 2, ids["acme"]),
        "two": ("about two", 1, ids["acme"]),
        "three": ("about three", 1, ids["acme"]),
    }
    log = _log(kernel, ids["acme"], "notes_note")
    assert [action for action, *_ in log] == ["insert"] * 3 + ["update"]
    action, record_id, changes, _ = log[0]
    assert record_id == str(notes[0].id)
    after = changes["after"]
    assert (after["notebook_id"], after["title"], after["body"]) == (str(book.id), "one", "about one")
    assert after["words"] == 0
    assert after.get("branch_id") is None and not {"version", "id", "tenant_id"} & set(after)


def test_records_pending_in_the_session_are_written_once(tenants):
    kernel, ids, _ = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        book = Notebook(title="Ledger")
        book.notes.append(Note(title="one"))
        book.notes.append(Note(title="two"))
        scope.session.add(book)  # pending, and its notes with it (cascade)
        seen, stop = _statements(kernel)
        udyog_sdk.write_records([book, *book.notes])
        scope.session.commit()
        stop()
    assert seen.count("INSERT notes_note") == 1 and seen.count("INSERT notes_notebook") == 1
    with kernel.db.session(ids["acme"]) as s:
        assert sorted(s.scalars(select(Note.title).where(Note.notebook_id == book.id))) == ["one", "two"]


def test_a_parent_set_by_relationship_gives_its_key_as_a_flush_would(tenants):
    kernel, ids, _ = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        book = Notebook(title="Ledger")  # no id yet: its default is applied first, then copied to the note
        note = Note(notebook=book, title="one")
        udyog_sdk.write_records([book, note])
        assert book.id is not None and note.notebook_id == book.id
        scope.session.commit()
    with kernel.db.session(ids["acme"]) as s:
        assert s.scalars(select(Note.notebook_id)).one() == book.id


def test_the_audit_entries_match_what_a_flush_writes(tenants):
    kernel, ids, _ = tenants
    with kernel.tenant_scope(ids["acme"]) as scope:
        orm_book, orm_notes = _book_with_notes(["a"])
        scope.session.add_all([orm_book, *orm_notes])
        scope.session.flush()
        fast_book = Notebook(id=new_id(), title="Fast")
        fast_note = Note(notebook_id=fast_book.id, title="a", body="about a")
        udyog_sdk.write_records([fast_book, fast_note])
        for note in (orm_notes[0], fast_note):
            note.body, note.words = "changed", 7
        scope.session.flush()  # the ORM's update of the first
        udyog_sdk.write_records([fast_note])
        scope.session.commit()

    def shape(entity, record_id):
        return [
            (action, {k: v for k, v in changes.get("after", {}).items() if k not in ("created_at", "updated_at")})
            if action == "insert"
            else (action, changes)
            for action, rid, changes, _ in _log(kernel, ids["acme"], entity)
            if rid == str(record_id)
        ]

    orm, fast = shape("notes_note", orm_notes[0].id), shape("notes_note", fast_note.id)
    orm[0][1]["notebook_id"] = fast[0][1]["notebook_id"]
    assert fast == orm
    changed = {"body": {"before": "about a", "after": "changed"}, "words": {"before": 0, "after": 7}}
    assert fast[1] == ("update", changed)


def test_changed_records_update_only_changed_columns_and_bump_the_version(tenants):
    kernel, ids, _ = tenants
    _saved(kernel, ids["acme"], ["one", "two"])
    with kernel.tenant_scope(ids["acme"]) as scope:
        notes = list(scope.session.scalars(select(Note).order_by(Note.title)))
        notes[0].words = 5
        notes[1].title = "two"  # the same value: no change, no statement
        seen, stop = _statements(kernel)
        udyog_sdk.write_records(notes)
        stop()
        assert seen == ["UPDATE notes_note", "INSERT core_audit"]
        assert notes[0].version == 2 and notes[1].version == 1
        assert not scope.session.dirty
        scope.session.commit()
    with kernel.db.session(ids["acme"]) as s:
        assert {n.title: (n.words, n.version) for n in s.scalars(select(Note))} == {"one": (5, 2), "two": (0, 1)}


def test_a_concurrent_change_raises_stale_data_and_nothing_is_written(tenants):
    kernel, ids, _ = tenants
    _saved(kernel, ids["acme"], ["one"])
    with kernel.tenant_scope(ids["acme"]) as scope:
        note = scope.session.scalars(select(Note)).one()
        # Someone else saved it since it was read (version 2 now), behind this session's back.
        table = Note.__table__
        scope.session.connection().execute(update(table).where(table.c.id == note.id).values(version=2, words=9))
        note.words = 3
        with pytest.raises(StaleDataError, match="version 1"):
            udyog_sdk.write_records([note])
        assert scope.session.connection().execute(select(table.c.words)).scalar_one() == 9  # theirs stands
        assert [a for a, *_ in _log_in(scope.session, "notes_note")] == ["insert"]  # no entry for the refused one


def test_records_of_another_tenant_are_refused(tenants):
    kernel, ids, _ = tenants
    with kernel.tenant_scope(ids["acme"]):
        book = Notebook(id=new_id(), title="Theirs", tenant_id=ids["globex"])
        with pytest.raises(TenantBoundaryError, match="another tenant"):
            udyog_sdk.write_records([book])
    with kernel.db.session(ids["globex"]) as s:
        assert "Theirs" not in s.scalars(select(Notebook.title)).all()
    with kernel.db.session(None, all_tenants=True) as s, pytest.raises(TenantBoundaryError, match="no tenant"):
        write_records(s, [Notebook(id=new_id(), title="Nobody's")])


def test_a_relationship_change_is_left_to_the_unit_of_work(tenants):
    kernel, ids, _ = tenants
    _saved(kernel, ids["acme"], ["one"])
    with kernel.tenant_scope(ids["acme"]) as scope:
        other = Notebook(title="Other")
        scope.session.add(other)
        scope.session.flush()
        note = scope.session.scalars(select(Note)).one()
        note.notebook = other  # a relationship, not a column: the ORM syncs the foreign key
        note.words = 4
        udyog_sdk.write_records([note])
        assert note.notebook_id == other.id and note.version == 2  # the flush it fell back to wrote it
        scope.session.commit()
    with kernel.db.session(ids["acme"]) as s:
        assert s.scalars(select(Note.notebook_id)).one() == other.id
