"""Automatic tenant scoping of ORM statements, stamping and the guards around them."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, bindparam, delete, func, literal_column, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import aliased, contains_eager, joinedload, selectinload, subqueryload, with_loader_criteria
from udyog_test_notes.models import Note, Notebook

from udyog.db import PreparedStatement, TenantBoundaryError
from udyog.models import Branch
from udyog.tenancy import create_branch, create_tenant
from udyog_sdk.models import new_id


@pytest.fixture
def two_tenants(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend)
    ids = {}
    for slug in ("acme", "globex"):
        ids[slug] = create_tenant(kernel, slug, slug.title(), plugins=["notes"])
        with kernel.tenant_scope(slug) as scope:
            branch = create_branch(scope.session, code="HQ", name=f"{slug} HQ", state_code="27")
            book = Notebook(title=f"{slug} book")
            scope.session.add(book)
            scope.session.flush()
            scope.session.add_all(
                [Note(notebook_id=book.id, title=f"{slug} note {i}", branch_id=branch.id, words=i) for i in range(3)]
            )
            scope.session.commit()
    return kernel, ids


def test_selects_see_only_the_sessions_tenant(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        titles = s.scalars(select(Note.title)).all()
        assert sorted(titles) == ["acme note 0", "acme note 1", "acme note 2"]
        assert s.scalar(select(func.count()).select_from(Note)) == 3
        assert {b.title for b in s.scalars(select(Notebook))} == {"acme book", "Inbox"}


def test_get_by_primary_key_of_another_tenant_finds_nothing(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["globex"]) as s:
        other = s.scalars(select(Note.id)).first()
    with kernel.db.session(ids["acme"]) as s:
        assert s.get(Note, (ids["globex"], other)) is None
        assert s.scalar(select(Note).where(Note.id == other)) is None


#: Built once, as hot paths build their statements: the session scopes it per execution.
_NOTES_BY_WORDS = select(Note.title).where(Note.words >= bindparam("words")).order_by(Note.title)


def test_a_statement_built_once_is_scoped_to_each_sessions_tenant(two_tenants):
    kernel, ids = two_tenants
    for _ in range(2):  # the second round runs the scoped forms cached by the first
        for slug in ("acme", "globex", "acme"):
            with kernel.db.session(ids[slug]) as s:
                titles = s.scalars(_NOTES_BY_WORDS, {"words": 1}).all()
            assert titles == [f"{slug} note 1", f"{slug} note 2"]


def test_a_statement_built_once_gets_each_sessions_record_rules(two_tenants):
    kernel, ids = two_tenants
    rule_sets = {
        "none": (None, ["acme note 1", "acme note 2"]),
        "two words": ([with_loader_criteria(Note, Note.words >= 2)], ["acme note 2"]),
        "no note 2": ([with_loader_criteria(Note, Note.title != "acme note 2")], ["acme note 1"]),
    }
    for _ in range(2):
        for rules, expected in rule_sets.values():
            with kernel.db.session(ids["acme"]) as s:
                if rules is not None:
                    s.info["udyog_record_criteria"] = rules  # as a scope with a user sets them
                assert s.scalars(_NOTES_BY_WORDS, {"words": 1}).all() == expected


@pytest.mark.parametrize("loader", ["lazy", "selectin", "joined", "subquery", "contains_eager"])
def test_every_loader_strategy_is_scoped(two_tenants, loader):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        if loader == "lazy":
            books = s.scalars(select(Notebook)).all()
        elif loader == "selectin":
            books = s.scalars(select(Notebook).options(selectinload(Notebook.notes))).all()
        elif loader == "joined":
            books = s.scalars(select(Notebook).options(joinedload(Notebook.notes))).unique().all()
        elif loader == "subquery":
            books = s.scalars(select(Notebook).options(subqueryload(Notebook.notes))).all()
        else:
            books = (
                s.scalars(select(Notebook).outerjoin(Notebook.notes).options(contains_eager(Notebook.notes)))
                .unique()
                .all()
            )
        notes = [n for b in books for n in b.notes]
        assert len(notes) == 3
        assert all(n.tenant_id == ids["acme"] for n in notes)


def test_aliases_and_joins_are_scoped(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        other = aliased(Note)
        pairs = s.execute(select(Note.title, other.title).join(other, other.notebook_id == Note.notebook_id)).all()
        assert len(pairs) == 9
        assert all(a.startswith("acme") and b.startswith("acme") for a, b in pairs)
        sub = select(Note.notebook_id).scalar_subquery()
        assert s.scalar(select(func.count()).select_from(Notebook).where(Notebook.id.in_(sub))) == 1


def test_bulk_update_and_delete_touch_only_the_sessions_tenant(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        changed = s.execute(update(Note).values(words=99).execution_options(synchronize_session=False)).rowcount
        assert changed == 3
        removed = s.execute(delete(Note).where(Note.words == 99)).rowcount
        assert removed == 3
        s.commit()
    with kernel.db.session(ids["globex"]) as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 3
        assert set(s.scalars(select(Note.words))) == {0, 1, 2}


def test_new_rows_are_stamped_and_other_tenants_rows_refused(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        book = Notebook(title="stamped")
        s.add(book)
        s.flush()
        assert book.tenant_id == ids["acme"]
        s.add(Notebook(title="intruder", tenant_id=ids["globex"]))
        with pytest.raises(TenantBoundaryError, match="another tenant"):
            s.flush()


def test_tenant_id_cannot_change(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        book = s.scalars(select(Notebook)).first()
        book.tenant_id = ids["globex"]
        with pytest.raises(TenantBoundaryError):
            s.flush()


def test_composite_keys_refuse_a_reference_to_another_tenants_row(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["globex"]) as s:
        globex_book = s.scalars(select(Notebook.id).where(Notebook.title == "globex book")).one()
        globex_branch = s.scalars(select(Branch.id)).one()
    with kernel.db.session(ids["acme"]) as s:
        s.add(Note(notebook_id=globex_book, title="sneaky"))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        acme_book = s.scalars(select(Notebook.id).where(Notebook.title == "acme book")).one()
        s.add(Note(notebook_id=acme_book, title="sneaky", branch_id=globex_branch))
        with pytest.raises(IntegrityError):
            s.flush()


def test_core_and_text_statements_against_tenant_tables_are_refused(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        with pytest.raises(TenantBoundaryError, match="Core statements"):
            s.execute(select(Note.__table__))
        with pytest.raises(TenantBoundaryError, match="Core statements"):
            s.execute(Note.__table__.delete())
        with pytest.raises(TenantBoundaryError, match="text"):
            s.execute(text("SELECT * FROM notes_note"))


def test_a_session_never_serves_two_tenants(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        s.bind_tenant(ids["acme"])  # idempotent
        with pytest.raises(TenantBoundaryError, match="never serves two tenants"):
            s.bind_tenant(ids["globex"])
    with kernel.db.session() as s, pytest.raises(TenantBoundaryError, match="bound to no tenant"):
        s.scalars(select(Note)).all()
    with kernel.db.session(all_tenants=True) as s:
        assert len(s.scalars(select(Note)).all()) == 6
        with pytest.raises(TenantBoundaryError):
            s.bind_tenant(ids["acme"])


def test_sdk_runtime_reads_the_bound_scope(two_tenants):
    from udyog_sdk import current_tenant, db_session
    from udyog_sdk.runtime import NoScopeError

    kernel, ids = two_tenants
    with pytest.raises(NoScopeError):
        current_tenant()
    with kernel.tenant_scope("globex") as scope:
        assert current_tenant().slug == "globex"
        assert db_session() is scope.session
        assert current_tenant().enabled_plugins == frozenset({"notes"})
    with pytest.raises(NoScopeError):
        db_session()


def test_tenant_and_branch_validation(kernel_factory):
    from udyog_sdk import UdyogError

    kernel = kernel_factory([])
    with pytest.raises(UdyogError) as bad_slug:
        create_tenant(kernel, "Bad Slug", "X")
    assert "slug" in bad_slug.value.errors
    with pytest.raises(UdyogError) as bad_tz:
        create_tenant(kernel, "okslug", "X", timezone="Mars/Olympus")
    assert "timezone" in bad_tz.value.errors
    create_tenant(kernel, "okslug", "X")
    with pytest.raises(UdyogError) as taken:
        create_tenant(kernel, "okslug", "Y")
    assert taken.value.status == 409
    with kernel.tenant_scope("okslug") as scope:
        with pytest.raises(UdyogError) as bad_branch:
            create_branch(scope.session, code="lower", name="", state_code="Maharashtra")
        assert set(bad_branch.value.errors) == {"code", "name", "state_code"}


def test_bulk_inserts_are_stamped_and_foreign_rows_refused(two_tenants):
    from sqlalchemy import insert

    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        s.execute(insert(Notebook), [{"id": new_id(), "title": "bulk 1"}, {"id": new_id(), "title": "bulk 2"}])
        s.commit()
        assert {"bulk 1", "bulk 2"} <= set(s.scalars(select(Notebook.title)))
        with pytest.raises(TenantBoundaryError, match="another tenant"):
            s.execute(insert(Notebook), [{"id": new_id(), "title": "x", "tenant_id": ids["globex"]}])
        with pytest.raises(TenantBoundaryError, match=r"session\.add"):
            s.execute(insert(Notebook).values(id=new_id(), title="x", tenant_id=ids["globex"]))
        with pytest.raises(TenantBoundaryError, match=r"session\.add"):
            s.execute(Notebook.__table__.insert(), [{"id": new_id(), "title": "x", "tenant_id": ids["globex"]}])
    with kernel.db.session(ids["globex"]) as s:
        assert not {"bulk 1", "bulk 2", "x"} & set(s.scalars(select(Notebook.title)))


def test_updates_cannot_move_rows_to_another_tenant(two_tenants):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        with pytest.raises(TenantBoundaryError, match="cannot be changed"):
            s.execute(update(Notebook).values(tenant_id=ids["globex"]))
        book = s.scalars(select(Notebook)).first()
        with pytest.raises(TenantBoundaryError, match="another tenant"):
            s.execute(update(Notebook), [{"tenant_id": ids["globex"], "id": book.id, "title": "moved"}])


#: A kernel-style prepared statement; deliberately without a tenant filter, to show what row-level security does.
_TITLES_FROM = PreparedStatement(
    "test_notebook_titles_from",
    select(Notebook.__table__.c.title)
    .where(Notebook.__table__.c.title >= bindparam("first"))
    .order_by(Notebook.__table__.c.title),
    {"first": String()},
)


def test_prepared_statement_rows_match_its_result_and_run_in_the_sessions_transaction(two_tenants, backend):
    kernel, ids = two_tenants
    with kernel.db.session(ids["acme"]) as s:
        s.add(Notebook(title="zz uncommitted"))
        s.flush()
        for _ in range(2):  # the second time the statement is prepared already (PostgreSQL)
            rows = _TITLES_FROM.rows(s.connection(), {"first": "acme"})
            assert rows == [tuple(r) for r in _TITLES_FROM.execute(s.connection(), {"first": "acme"})]
            assert ("zz uncommitted",) in rows  # the session's own pending row: same transaction
            s.rollback()
            s.add(Notebook(title="zz uncommitted"))
            s.flush()
        if backend == "postgresql":  # the tenant setting went with the statement: RLS shows acme's rows only
            assert ("globex book",) not in rows and ("acme book",) in rows


def test_prepared_statement_rows_raise_driver_errors_as_sqlalchemy_errors(two_tenants, backend):
    if backend != "postgresql":
        pytest.skip("rows() goes to the driver on PostgreSQL only (SQLite divides by zero into NULL)")
    kernel, ids = two_tenants
    failing = PreparedStatement(
        "test_failing_division",
        select((literal_column("1") / bindparam("zero", type_=Integer())).label("q")),
        {"zero": Integer()},
    )
    with kernel.db.session(ids["acme"]) as s:
        with pytest.raises(DBAPIError):
            failing.rows(s.connection(), {"zero": 0})
        s.rollback()
        assert failing.rows(s.connection(), {"zero": 1}) == [(1,)]  # prepared once, still usable
