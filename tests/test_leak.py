"""The generic tenancy leak test.

For every tenant-scoped model of every loaded plugin, and every route the app
serves, it proves that nothing of tenant A can be read, listed, updated,
deleted or referenced from tenant B. It discovers models from the shared
metadata and routes from the URL map, so plugins and routes added later are
covered without changing it. It runs on SQLite (ORM scoping) and on
PostgreSQL with the ORM filter switched off, proving row-level security holds
alone. Tenant A's own owner, reading every route on A's data (every column
filled, JSON columns with an object), never gets a 5xx either.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ForeignKeyConstraint, Table, inspect, select, update
from sqlalchemy.exc import DBAPIError

from udyog.app import create_app
from udyog.audit import AuditLogImmutableError, is_deletable
from udyog.models import AuditEntry, User
from udyog.registry import PluginState
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login
from udyog_sdk import UdyogError
from udyog_sdk.models import Base, is_tenant_model, new_id

MARKER_MIN = 8  # markers shorter than this are not searched for in responses
#: A row id as ``str(uuid)`` writes it, matched at every position of a text (a lookahead: overlapping matches too).
UUID_IN_TEXT = re.compile(r"(?=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NEEDLE_HEAD = 4  # strings at least this long are found by their first characters, then compared whole


class Needles:
    """Which of many strings a text contains: exactly ``{s for s in strings if s in text}``, in a few passes.

    Searching a page for each of A's ~100 ids and ~150 markers in turn cost
    about 1 ms per response, and the probe reads tens of thousands of them.
    Here the ids (``str(uuid)``) are the UUID-shaped substrings of the text
    at every position, intersected with the set; every other string is looked
    for only where its first :data:`NEEDLE_HEAD` characters occur (all
    markers begin ``LEAK``), and compared whole there. The few shorter ones
    are searched for as they are.
    """

    def __init__(self, strings: set[str]) -> None:
        self.ids = {s for s in strings if UUID_TEXT.fullmatch(s)}
        rest = strings - self.ids
        self.short = {s for s in rest if len(s) < NEEDLE_HEAD}
        self.by_head: dict[str, dict[int, set[str]]] = {}  # head -> length -> strings
        for s in rest - self.short:
            self.by_head.setdefault(s[:NEEDLE_HEAD], {}).setdefault(len(s), set()).add(s)

    def find(self, text: str) -> set[str]:
        """The strings that occur in ``text``."""
        found = self.ids.intersection(UUID_IN_TEXT.findall(text)) if self.ids else set()
        for head, by_length in self.by_head.items():
            at = text.find(head)
            while at != -1:
                for length, strings in by_length.items():
                    if text[at : at + length] in strings:
                        found.add(text[at : at + length])
                at = text.find(head, at + 1)
        found.update(s for s in self.short if s in text)
        return found


def tenant_classes(existing: set[str]) -> list[type]:
    """Tenant-scoped mapped classes whose tables exist, in foreign-key order."""
    by_table = {m.local_table.name: m.class_ for m in Base.registry.mappers if is_tenant_model(m.class_)}
    return [by_table[t.name] for t in Base.metadata.sorted_tables if t.name in by_table and t.name in existing]


def tenant_references(table: Table) -> list[tuple[list[str], str]]:
    """(local columns without tenant_id, referenced table) of each composite tenant foreign key."""
    refs = []
    for fk in table.foreign_key_constraints:
        assert isinstance(fk, ForeignKeyConstraint)
        cols = [c.name for c in fk.columns]
        if cols[0] == "tenant_id" and len(cols) > 1:
            refs.append((cols[1:], fk.referred_table.name))
    return refs


def value_for(column: Any, marker: str) -> Any:
    from sqlalchemy import JSON

    if isinstance(column.type, JSON):
        return {"marker": marker}
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        python_type = str
    if python_type is str:
        length = getattr(column.type, "length", None) or 64
        return marker[:length]
    if python_type is bool:
        return True
    if python_type is int:
        return 7
    if python_type is float:
        return 7.5
    if python_type is decimal.Decimal:
        return decimal.Decimal("1.00")
    if python_type is dt.datetime:
        return dt.datetime.now(dt.UTC)
    if python_type is dt.date:
        return dt.date.today()
    if python_type is dt.time:
        return dt.time(9, 30)
    if python_type is uuid.UUID:
        return new_id()
    if python_type in (dict, list):
        return {"marker": marker}
    raise AssertionError(f"the leak test cannot fill column {column} of type {column.type}")


class World:
    """Two tenants with one row of every tenant-scoped model each."""

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.tenants: dict[str, uuid.UUID] = {}
        self.rows: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
        self.ids: dict[str, set[str]] = {"a": set(), "b": set()}
        self.markers: dict[str, set[str]] = {"a": set(), "b": set()}
        self._heads: set[str] = set()  # the first MARKER_MIN characters of every marker handed out
        self._needles: dict[str, Needles] = {}
        existing = set(inspect(kernel.db.owner_engine).get_table_names())
        self.classes = tenant_classes(existing)
        loaded = kernel.registry.order
        for key in ("a", "b"):
            self.tenants[key] = create_tenant(kernel, f"leak-{key}", f"Leak {key.upper()}", plugins=loaded)
            create_member(kernel, f"leak-{key}", f"owner@leak-{key}.test", roles=("Owner",))
            self._populate(key)

    def _marker(self, key: str) -> str:
        """A fresh marker whose first ``MARKER_MIN`` characters no other marker shares.

        A column shorter than the marker keeps only its head; were two heads
        equal, a short column's marker would be found inside another
        column's full marker that a probe sent and the route echoed.
        """
        while True:
            marker = f"LEAK{key.upper()}{uuid.uuid4().hex[:10]}"
            if marker[:MARKER_MIN] not in self._heads:
                self._heads.add(marker[:MARKER_MIN])
                return marker

    def _populate(self, key: str) -> None:
        with self.kernel.db.session(self.tenants[key]) as session:
            for cls in self.classes:
                table = cls.__table__
                refs = {cols[0]: target for cols, target in tenant_references(table) if len(cols) == 1}
                values: dict[str, Any] = {}
                for column in table.columns:
                    if column.name in ("tenant_id", "id"):
                        continue
                    if column.name in refs and refs[column.name] == table.name:
                        values[column.name] = None  # a self-reference (an employee's manager): the first row has none
                    elif column.name in refs:
                        values[column.name] = self.rows[key][refs[column.name]].id
                    elif column.foreign_keys and next(iter(column.foreign_keys)).column.table.name == "core_user":
                        user = User(
                            email=f"leak-{key}-{uuid.uuid4().hex[:6]}@example.com", name=f"LEAK{key.upper()}USER"
                        )
                        session.add(user)
                        session.flush()
                        values[column.name] = user.id
                    else:
                        values[column.name] = value_for(column, self._marker(key))
                row = cls(**values)
                session.add(row)
                session.flush()
                self.rows[key][table.name] = row
                self.ids[key].add(str(row.id))
                for value in values.values():
                    if isinstance(value, str) and len(value) >= MARKER_MIN:
                        self.markers[key].add(value)
            session.commit()

    def snapshot(self, key: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of tenant ``key``, read with a system session."""
        out = {}
        with self.kernel.db.session(all_tenants=True, write=False) as session:
            for cls in self.classes:
                rows = session.scalars(select(cls).where(cls.tenant_id == self.tenants[key])).all()
                cols = [c.key for c in cls.__mapper__.column_attrs]
                out[cls.__tablename__] = sorted(tuple(str(getattr(r, c)) for c in cols) for r in rows)
        return out

    def strings(self, key: str) -> set[str]:
        """Every value (as text) in tenant ``key``'s rows, read with a system session."""
        return {value for rows in self.snapshot(key).values() for row in rows for value in row} - self.ids["a"]

    def leaked(self, text: str, victim: str = "a") -> list[str]:
        """The ids and markers of tenant ``victim``'s rows that occur in ``text``."""
        needles = self._needles.get(victim)
        if needles is None:  # the rows are all written in __init__: their ids and markers do not change after
            needles = self._needles[victim] = Needles(self.ids[victim] | self.markers[victim])
        return sorted(needles.find(text))


def test_needles_find_exactly_the_strings_a_text_contains():
    ids = {str(uuid.uuid4()) for _ in range(50)}
    markers = {f"LEAKA{uuid.uuid4().hex[:10]}" for _ in range(50)}
    markers |= {m[:9] for m in list(markers)[:5]}  # a short column keeps only a marker's head
    odd = {"ab", "LEAKAUSER", "7", "x" * 40}
    strings = ids | markers | odd
    needles = Needles(strings)
    some_id, other_id = sorted(ids)[:2]
    some_marker = sorted(markers)[0]
    texts = [
        "",
        "nothing here but LEAKB0123456789 and LEAK",
        f"<td>{some_id}</td><td>{some_id.upper()}</td>",  # ids are searched for as str(uuid) writes them
        f"{some_id}{other_id}",  # adjacent
        f"0123{some_id[4:]}abc{some_id}",  # a near miss, then the id
        f"{some_marker}{some_marker}LEAKA",
        f'{{"code": "{some_marker[:9]}", "name": "LEAKAUSER"}} ab 7 {"x" * 41}',
        " ".join(sorted(strings)),
    ]
    for text in texts:
        assert needles.find(text) == {s for s in strings if s in text}, text
    assert needles.find(" ".join(sorted(strings))) == strings


@pytest.fixture(params=["sqlite", "postgresql-rls-only"])
def world(request, kernel_factory) -> Iterator[World]:
    backend = "sqlite" if request.param == "sqlite" else "postgresql"
    overrides: dict[str, Any] = {"strict": False}
    if backend == "postgresql":
        overrides["orm_tenant_filter"] = False  # RLS alone must hold
    kernel = kernel_factory(["*"], backend=backend, **overrides)
    yield World(kernel)


def test_the_leak_test_covers_every_plugin_with_tables(world):
    covered = {cls.__tablename__.split("_", 1)[0] for cls in world.classes}
    assert "core" in covered
    for record in world.kernel.registry.loaded():
        module = record.modules.get("models")
        if module is not None and any(is_tenant_model(v) for v in vars(module).values() if isinstance(v, type)):
            assert record.name in covered, f"plugin {record.name} has tenant tables the leak test does not cover"
    assert len(world.classes) >= 5


def test_orm_cannot_read_list_update_delete_across_tenants(world):
    kernel = world.kernel
    before = world.snapshot("a")
    with kernel.db.session(world.tenants["b"]) as session:
        for cls in world.classes:
            victim = world.rows["a"][cls.__tablename__]
            listed = {str(r.id) for r in session.scalars(select(cls)).all()}
            assert str(victim.id) not in listed, f"{cls.__name__}: listed across tenants"
            assert str(world.rows["b"][cls.__tablename__].id) in listed, f"{cls.__name__}: own row not listed"
            assert session.get(cls, (world.tenants["a"], victim.id)) is None, f"{cls.__name__}: read across tenants"
            assert session.scalar(select(cls).where(cls.id == victim.id)) is None
            from sqlalchemy import delete

            change = update(cls).where(cls.id == victim.id).values(id=victim.id)
            remove = delete(cls).where(cls.id == victim.id)
            if cls is AuditEntry:  # never edited: refused before any SQL (and the database role may not either)
                with pytest.raises(AuditLogImmutableError):
                    session.execute(change.execution_options(synchronize_session=False))
                with pytest.raises(AuditLogImmutableError):
                    session.execute(remove)
                continue
            changed = session.execute(change.execution_options(synchronize_session=False)).rowcount
            assert changed == 0, f"{cls.__name__}: updated across tenants"
            if not is_deletable(cls):  # legal documents: deletes are refused outright
                with pytest.raises(UdyogError):
                    session.execute(remove)
                continue
            assert session.execute(remove).rowcount == 0
        session.commit()
    assert world.snapshot("a") == before


def test_rows_cannot_reference_another_tenants_rows(world):
    kernel = world.kernel
    checked = 0
    for cls in world.classes:
        for cols, target in tenant_references(cls.__table__):
            if len(cols) != 1:
                continue
            victim = world.rows["a"][target]
            with kernel.db.session(world.tenants["b"]) as session:
                mine = session.scalar(select(cls).where(cls.id == world.rows["b"][cls.__tablename__].id))
                assert mine is not None
                setattr(mine, cols[0], victim.id)
                with pytest.raises(DBAPIError):
                    session.flush()
                session.rollback()
            checked += 1
    assert checked >= 2, "no composite tenant reference was exercised"


def _json_body(world: World) -> dict[str, Any]:
    """A request body naming tenant A's ids and values under every column name."""
    body: dict[str, Any] = {}
    for table, row in world.rows["a"].items():
        for column in row.__table__.columns:
            value = getattr(row, column.key)
            if column.name == "id":
                body[f"{table.split('_', 1)[1]}_id"] = str(value)
                continue
            if isinstance(value, (uuid.UUID, decimal.Decimal)):
                value = str(value)
            elif isinstance(value, (dt.datetime, dt.date, dt.time)):
                value = value.isoformat()
            body.setdefault(column.name, value)
    body["id"] = str(next(iter(world.rows["a"].values())).id)
    return body


def _shaped_bodies(app: Any, endpoint: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Bodies holding only the fields the route's JSON schema accepts, filled with tenant A's values.

    The full body is refused for its unknown fields before a route runs; these
    reach the route itself (e.g. a note pointing at tenant A's notebook).
    """
    view = app.view_functions.get(endpoint)
    shaped = []
    for param in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if param.get("in") != "json":
            continue
        schema = param["schema"]() if isinstance(param["schema"], type) else param["schema"]
        fields = {name for name, f in schema.fields.items() if not f.dump_only}
        shaped.append({name: body[name] for name in fields if name in body})
    return shaped


def _reachable_ids(app: Any, world: World) -> Any:
    """``ids(rule)``: tenant A's row ids worth putting into the rule's URL parameters.

    A plugin's code imports only the SDK and the plugins it requires or
    cooperates with (the import contracts hold it to that), so its routes can
    reach only their tables and the core's: those ids are probed. The core's
    own routes (attachments, audit, custom fields: generic over every
    resource) and tables of no known plugin get every id.
    """
    owners = app.extensions["udyog.blueprint_owners"]
    manifests = {r.name: r.manifest for r in world.kernel.registry if r.manifest is not None}

    def closure(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                manifest = manifests.get(current)
                if manifest is not None:
                    todo.extend(manifest.required_names)
                    todo.extend(manifest.optional)
        return seen

    by_plugin: dict[str, set[str]] = {}
    for table, row in world.rows["a"].items():
        prefix = table.split("_", 1)[0]
        by_plugin.setdefault(prefix if prefix in manifests or prefix == "core" else "", set()).add(str(row.id))
    everything = set(world.ids["a"])
    cache: dict[str, set[str]] = {}

    def ids(rule: Any) -> set[str]:
        owner = owners.get(rule.endpoint.rsplit(".", 1)[0]) if "." in rule.endpoint else None
        if owner is None or owner == "core":
            return everything
        if owner not in cache:
            reach = closure(owner) | {"core", ""}
            cache[owner] = {i for plugin, found in by_plugin.items() if plugin in reach for i in found}
        return cache[owner]

    return ids


def _urls(rule: Any, world: World, victims: set[str]) -> Iterator[str]:
    params = list(rule.arguments)
    if not params:
        yield rule.rule
        return
    for victim_id in sorted(victims):
        url = rule.rule
        for name in params:
            url = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + ">", victim_id, url)
        yield url


def _gates(app: Any) -> Any:
    """``gate(rule, url)``: the URL whose GET by tenant A's owner decides whether ``url`` is worth probing.

    Each id of A is put into every route that could reach its table; most of
    those routes look up another table and answer 404 to anyone. If A's own
    owner (every permission, all of A's data) gets 404 from the route, or for
    an action (``…/<id>/confirm``) from the record it acts on, tenant B
    cannot reach A's row by that id either, and the attacker's probes are
    spared. Routes with several parameters and actions without a readable
    record are probed with every id.
    """
    readable = {r.rule: r for r in app.url_map.iter_rules() if "GET" in r.methods and len(r.arguments) == 1}

    def gate(rule: Any, url: str) -> str | None:
        if len(rule.arguments) != 1:
            return None
        if rule.rule in readable:
            return url
        parent_rule, _sep, last = rule.rule.rpartition("/")
        parent = readable.get(parent_rule)
        if parent is None or "<" in last or parent.arguments != rule.arguments:
            return None
        return url.rsplit("/", 1)[0]

    return gate


#: The route probe runs in this many parts (every rule is in exactly one), so the parts spread over the workers.
ROUTE_SHARDS = 3


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(ROUTE_SHARDS))
def test_no_route_reads_lists_changes_or_references_another_tenants_data(world, shard):
    app = create_app(kernel=world.kernel)
    loaded = [r.name for r in world.kernel.registry if r.state is PluginState.LOADED]
    assert "notes" in loaded and "tags" in loaded
    before = world.snapshot("a")
    body = _json_body(world)
    attacker = login(app, "owner@leak-b.test")  # tenant B's owner: every permission there
    owner = login(app, "owner@leak-a.test")
    requests = 0
    reached_routes = 0
    b_holds: set[str] = set()  # strings in tenant B's own rows (written there by B's requests)
    seen_by_owner = set()

    # Routes that end the attacker's login (logout, password, tenant switch; API and
    # web shell alike) run last, each with a fresh login, so every other route is
    # probed while logged in.
    def ends_login(rule: Any) -> bool:
        return rule.rule.startswith("/api/v1/auth/") or rule.rule in ("/logout", "/switch-tenant")

    # A record's routes (its page, API, actions: the same path up to its first parameter) go to
    # one part together, so the owner's GET that gates them is made once.
    families: dict[str, list[Any]] = {}
    for rule in app.url_map.iter_rules():
        families.setdefault(rule.rule.split(">", 1)[0], []).append(rule)
    mine = [rule for key in sorted(families)[shard::ROUTE_SHARDS] for rule in families[key]]
    rules = sorted(mine, key=lambda r: (ends_login(r), r.rule))
    reachable = _reachable_ids(app, world)
    gate = _gates(app)
    owner_status: dict[str, int] = {}  # URL -> the status tenant A's owner gets for GET
    # The owner's 5xx on its own data (every column filled, e.g. a JSON column holding an object): bad or
    # damaged data answers 4xx naming the reason, never 5xx. Collected, and all reported after the probe.
    owner_failures: list[str] = []
    adapter = app.url_map.bind("localhost")

    def owner_get(url: str) -> int:
        if url not in owner_status:
            resp = owner.get(url)
            owner_status[url] = resp.status_code
            text = resp.get_data().decode("utf-8", "replace")
            if resp.status_code >= 500:
                route = adapter.match(url, method="GET", return_rule=True)[0].rule
                owner_failures.append(f"GET {route} ({url}): {resp.status_code} {text[:200]}")
            seen_by_owner.update(world.leaked(text))
        return owner_status[url]

    passed_gate = 0  # URLs naming one of A's ids that the owner found: the attacker's probes that matter most
    for rule in rules:
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for url in _urls(rule, world, reachable(rule)):
                gate_url = gate(rule, url) if not ends_login(rule) else None
                if gate_url is not None and owner_get(gate_url) == 404:
                    # The route (or the record page it acts on) does not find this id even for
                    # A's own owner, who sees all of A's data: tenant B cannot reach A's row by it.
                    continue
                passed_gate += gate_url is not None
                writes = method in ("POST", "PUT", "PATCH")
                probes = [{"json": body}, *({"json": b} for b in _shaped_bodies(app, rule.endpoint, body))]
                for kwargs in probes if writes else [{}]:
                    if ends_login(rule):
                        attacker = login(app, "owner@leak-b.test")
                    resp = attacker.open(url, method=method, **kwargs)
                    requests += 1
                    text = resp.get_data().decode("utf-8", "replace")  # downloads (PDF, Excel) are bytes
                    assert resp.status_code < 500, f"{method} {url}: {resp.status_code} {text[:300]}"
                    # Values we sent may come back (a new row of B holding those strings),
                    # now or on a later page; tenant A's ids may not (that would be a
                    # reference across tenants).
                    sent = {v for v in kwargs.get("json", {}).values() if isinstance(v, str)} - world.ids["a"]
                    leaked = [x for x in world.leaked(text) if x not in sent and x not in b_holds]
                    if leaked:  # perhaps B's own rows hold them now: read them (only then: it reads every table)
                        b_holds = world.strings("b")
                        leaked = [x for x in leaked if x not in b_holds]
                    assert not leaked, f"{method} {url} leaked {leaked}: {text[:300]}"
                    if writes and "Unknown field" not in text:
                        reached_routes += 1
                if method == "GET":
                    owner_get(url)
    assert not owner_failures, "tenant A's owner got 5xx on its own data:\n" + "\n".join(owner_failures)
    assert requests > 20
    assert passed_gate > 10, "the owner found A's rows through hardly any route of this part: the gate is wrong"
    assert reached_routes > 10, "the write probes never got past input validation"
    # The owner sees its own data through the same routes: the probe is not vacuous.
    assert seen_by_owner, "tenant A's owner saw none of A's data through this part's routes"
    for path, table in (("/api/v1/notes/notes/<", "notes_note"), ("/api/v1/core/branches/<", "core_branch")):
        if any(r.rule.startswith(path) and "GET" in r.methods for r in rules):
            assert str(world.rows["a"][table].id) in seen_by_owner, f"the owner did not see its {table} row"
    assert world.snapshot("a") == before, "tenant A's data changed through tenant B's requests"
    # Nothing tenant B wrote points at tenant A's rows.
    a_ids = {uuid.UUID(i) for i in world.ids["a"]}
    with world.kernel.db.session(all_tenants=True, write=False) as session:
        for cls in world.classes:
            for row in session.scalars(select(cls).where(cls.tenant_id == world.tenants["b"])):
                for cols, _target in tenant_references(cls.__table__):
                    for col in cols:
                        assert getattr(row, col) not in a_ids, f"{cls.__name__}.{col} references tenant A"
    json.dumps(body)  # the probe body was plain JSON
