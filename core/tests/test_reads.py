"""read_records: ORM records read by a prepared statement, as the ORM would read them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, func, insert, select, text, update
from udyog_test_notes.models import Note, Notebook

import udyog_sdk
from udyog.models import AuditEntry, Tenant
from udyog.reads import _PLANS, read_records, read_rows
from udyog.tenancy import create_tenant
from udyog.testing import statements_seen

BOOK = select(Notebook).where(Notebook.id == bindparam("book_id"))
LOCKED_BOOK = BOOK.with_for_update().execution_options(populate_existing=True)
NOTES = select(Note).where(Note.notebook_id == bindparam("book_id")).order_by(Note.title)
SHORT_NOTES = select(Note).where(Note.notebook_id == bindparam("book_id"), Note.words < 5).order_by(Note.title)
NOTES_IN = select(Note).where(Note.id.in_(bindparam("ids", expanding=True))).order_by(Note.title)
WORDS = (
    select(Note.notebook_id, func.sum(Note.words).label("words"), func.count().label("notes"))
    .where(Note.notebook_id.in_(bindparam("books", expanding=True)))
    .group_by(Note.notebook_id)
)
TITLES = (
    select(Note.id, Note.title).where(Note.notebook_id == bindparam("book_id")).order_by(Note.title).with_for_update()
)
AUDIT = select(AuditEntry).where(AuditEntry.entity == "notes_note").order_by(AuditEntry.at, AuditEntry.id)


@pytest.fixture
def world(kernel_factory, backend):
    """Two tenants; acme's notebook with three notes (one of six words), globex's notebook."""
    kernel = kernel_factory(["notes"], backend=backend)
    ids = {slug: create_tenant(kernel, slug, slug.title(), plugins=["notes"]) for slug in ("acme", "globex")}
    books = {}
    for slug, tenant_id in ids.items():
        with kernel.tenant_scope(tenant_id) as scope:
            book = Notebook(title=f"{slug} ledger")
            scope.session.add(book)
            for title, words in (("alpha", 1), ("beta", 6), ("gamma", 2)):
                book.notes.append(Note(title=title, body=f"{title} body", words=words))
            scope.session.commit()
            books[slug] = book.id
    return kernel, ids, books


def _columns(record):
    return {attr.key: getattr(record, attr.key) for attr in record.__mapper__.column_attrs}


def test_records_are_what_the_orm_reads_held_by_the_session_and_clean(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        fast = read_records(scope.session, NOTES, {"book_id": books["acme"]})
        assert [n.title for n in fast] == ["alpha", "beta", "gamma"]
        assert all(n in scope.session and not scope.session.is_modified(n) for n in fast)
        assert not scope.session.new and not scope.session.dirty
        # The ORM reading the same rows finds the very records (one identity map), and the same values.
        orm = list(scope.session.scalars(NOTES, {"book_id": books["acme"]}))
        assert [id(n) for n in orm] == [id(n) for n in fast]
        fast_values = [_columns(n) for n in fast]
    with kernel.tenant_scope(ids["acme"]) as scope:
        assert [_columns(n) for n in scope.session.scalars(NOTES, {"book_id": books["acme"]})] == fast_values
    with kernel.tenant_scope(ids["acme"]) as scope:
        # A record read this way is an ordinary loaded record: its relationship loads, a change is flushed.
        (book,) = read_records(scope.session, BOOK, {"book_id": books["acme"]})
        assert [n.title for n in book.notes] == ["alpha", "beta", "gamma"]
        book.title = "renamed"
        scope.session.commit()
    with kernel.db.session(ids["acme"]) as s:
        stored = s.execute(select(Notebook.title, Notebook.version).where(Notebook.id == books["acme"])).one()
        assert tuple(stored) == ("renamed", 2)


def test_literals_expanding_parameters_and_type_processing_as_the_orm(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        short = read_records(scope.session, SHORT_NOTES, {"book_id": books["acme"]})
        assert [n.title for n in short] == ["alpha", "gamma"]
        picked = read_records(scope.session, NOTES_IN, {"ids": [short[1].id, short[0].id]})
        assert [n.title for n in picked] == ["alpha", "gamma"]
        assert read_records(scope.session, NOTES_IN, {"ids": []}) == []
        # Timestamps come back through the column type (UTCDateTime): aware UTC, on every backend.
        entries = read_records(scope.session, AUDIT)
        assert len(entries) == 3
        assert all(e.at.tzinfo is not None and e.at.utcoffset() == dt.timedelta(0) for e in entries)
        at = [e.at for e in entries]
    with kernel.tenant_scope(ids["acme"]) as scope:
        assert [e.at for e in scope.session.scalars(AUDIT)] == at


def test_only_the_current_tenants_rows(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        assert read_records(scope.session, BOOK, {"book_id": books["globex"]}) == []
        assert read_records(scope.session, NOTES, {"book_id": books["globex"]}) == []
        assert len(read_records(scope.session, BOOK, {"book_id": books["acme"]})) == 1


def test_populate_existing_overwrites_a_held_record_and_expires_its_loaded_relationships(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        book = scope.session.get(Notebook, (ids["acme"], books["acme"]))
        assert len(book.notes) == 3  # loaded
        # The rows change behind the session's back (as a concurrent transaction's committed change would).
        scope.session.execute(
            update(Notebook).where(Notebook.id == books["acme"]).values(title="changed", version=Notebook.version + 1),
            execution_options={"synchronize_session": False},
        )
        scope.session.execute(insert(Note), [{"notebook_id": books["acme"], "title": "delta", "body": ""}])
        # Without populate_existing the held record is returned as held, as the ORM does.
        assert read_records(scope.session, BOOK, {"book_id": books["acme"]}) == [book]
        assert book.title == "acme ledger"
        (again,) = read_records(scope.session, LOCKED_BOOK, {"book_id": books["acme"]})
        assert again is book and (book.title, book.version) == ("changed", 2)
        assert not scope.session.is_modified(book)
        assert [n.title for n in book.notes] == ["alpha", "beta", "delta", "gamma"]  # read again


def test_pending_changes_are_flushed_first(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        scope.session.add(Note(notebook_id=books["acme"], title="aardvark", words=1))
        titles = [n.title for n in read_records(scope.session, NOTES, {"book_id": books["acme"]})]
        assert titles == ["aardvark", "alpha", "beta", "gamma"]
        with scope.session.no_autoflush:
            scope.session.add(Note(notebook_id=books["acme"], title="aaa", words=1))
            assert len(read_records(scope.session, NOTES, {"book_id": books["acme"]})) == 4


def test_through_the_sdk_in_a_scope(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]):
        (book,) = udyog_sdk.read_records(BOOK, {"book_id": books["acme"]})
        assert book.title == "acme ledger"


@pytest.mark.parametrize(
    ("reader", "statement"),
    [
        (read_records, select(Note.title)),
        (read_records, select(Note, Notebook).join(Notebook)),
        (read_records, select(AuditEntry.id)),
        (read_records, text("SELECT 1")),
        (read_records, select(Tenant)),
        (read_rows, select(Note)),
        (read_rows, select(Note.title, Notebook.title).join(Notebook)),
        (read_rows, select(AuditEntry.id).join(Note, text("1 = 1"))),
        (read_rows, select(Tenant.slug)),
    ],
    ids=[
        "records-of-columns",
        "records-of-two-entities",
        "records-of-a-column-of-a-core-model",
        "records-of-text",
        "records-of-a-global-model",
        "rows-of-a-model",
        "rows-of-two-tables",
        "rows-of-a-join",
        "rows-of-a-global-table",
    ],
)
def test_statements_a_reader_does_not_take_are_refused(world, reader, statement):
    kernel, ids, _ = world
    with kernel.tenant_scope(ids["acme"]) as scope, pytest.raises(TypeError):
        reader(scope.session, statement)


def test_on_postgresql_the_statement_is_prepared_once_per_connection(world, backend):
    if backend != "postgresql":
        pytest.skip("PREPARE is PostgreSQL's")
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope, statements_seen(kernel.db.engine) as seen:
        for _ in range(3):
            assert len(read_records(scope.session, NOTES, {"book_id": books["acme"]})) == 3
        prepared = scope.session.execute(
            text("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'udyog_read_%'").execution_options(
                udyog_raw=True
            )
        ).all()
    _, plan = _PLANS[NOTES]["records", "postgresql"]
    assert plan is not None
    assert [name for name, _ in prepared] == [plan.prepared.name]
    assert "FROM notes_note" in prepared[0][1] and "tenant_id" in prepared[0][1]
    # statements_seen gives each run as the SQL it runs, with the tenant criterion.
    reads = [s for s in seen if "FROM notes_note" in s]
    assert len(reads) == 3 and all("notes_note.tenant_id = $" in s for s in reads)


def test_rows_of_columns_and_aggregates_of_the_current_tenant_as_the_orm(world):
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        both = {"books": [books["acme"], books["globex"]]}
        assert read_rows(scope.session, WORDS, both) == [{"notebook_id": books["acme"], "words": 9, "notes": 3}]
        titles = read_rows(scope.session, TITLES, {"book_id": books["acme"]})
        assert [row["title"] for row in titles] == ["alpha", "beta", "gamma"]
        assert titles == [dict(r) for r in scope.session.execute(TITLES, {"book_id": books["acme"]}).mappings()]
        assert read_rows(scope.session, TITLES, {"book_id": books["globex"]}) == []
        scope.session.add(Note(notebook_id=books["acme"], title="delta", words=4))  # flushed first
        assert read_rows(scope.session, WORDS, both)[0]["words"] == 13


def test_a_record_rule_on_the_model_makes_the_orm_read(world):
    from sqlalchemy.orm import with_loader_criteria

    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        # What a scope acting as a user with a rule on notes carries (udyog.rbac builds these options).
        scope.session.info["udyog_record_criteria"] = [with_loader_criteria(Note, Note.words < 5)]
        assert [n.title for n in read_records(scope.session, NOTES, {"book_id": books["acme"]})] == ["alpha", "gamma"]
        assert [r["title"] for r in read_rows(scope.session, TITLES, {"book_id": books["acme"]})] == ["alpha", "gamma"]
        assert len(read_records(scope.session, BOOK, {"book_id": books["acme"]})) == 1  # no rule on notebooks


def test_on_postgresql_an_in_list_is_prepared_as_an_array(world, backend):
    if backend != "postgresql":
        pytest.skip("PREPARE is PostgreSQL's")
    kernel, ids, books = world
    with kernel.tenant_scope(ids["acme"]) as scope:
        notes = read_records(scope.session, NOTES, {"book_id": books["acme"]})
        for wanted in ([notes[0].id], [n.id for n in notes], []):  # one statement for any length
            assert read_records(scope.session, NOTES_IN, {"ids": wanted}) == [n for n in notes if n.id in wanted]
        _, plan = _PLANS[NOTES_IN]["records", "postgresql"]
        statement = scope.session.execute(
            text("SELECT statement FROM pg_prepared_statements WHERE name = :name").execution_options(udyog_raw=True),
            {"name": plan.prepared.name},
        ).scalar_one()
    assert "= ANY (" in statement and "uuid[]" in statement.lower()
