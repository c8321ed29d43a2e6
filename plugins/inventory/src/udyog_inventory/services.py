"""The inventory's published services: the stock ledger, reservations, allocation, valuation, units.

Every function works in the caller's transaction (``udyog_sdk.db_session()``
of the bound tenant scope), never commits, and refuses with
``udyog_sdk.UdyogError`` (422 for bad input naming the field, 409 when the
stock does not allow it). Quantities are in the product's unit, as
``Decimal``; amounts are ``Decimal`` too.

Locking (why no movement can oversell, on PostgreSQL under any concurrency):

1. every movement of a product first locks the product's :class:`ProductStock`
   row (``SELECT … FOR UPDATE``): one transaction at a time decides a
   product's valuation (FIFO layers, running average) and its reorder
   crossing;
2. then the balance rows it changes, in a stable order (product, warehouse,
   lot key), read under the lock so the check sees the committed
   quantities;
3. missing rows are created race-free: ``INSERT … ON CONFLICT DO NOTHING``
   on the unique key, then the ``SELECT … FOR UPDATE``.

A transaction touching several products should call the services in a
stable product order (e.g. by ``product_id``) to avoid deadlocks between
transactions taking the same products in opposite orders, or use the batch
services (:func:`reserve_many`, :func:`issue_many`): they lock every
product's totals row in one statement (product order), then every balance
in one statement (product, warehouse, lot order). A FIFO issue reads and
locks the open cost layers oldest first, a few at a time, only until the
quantity is covered.

The rows a movement locks (totals, balances, cost layers) are read as plain
values, not ORM objects, and written back when the movement ends: its moves
in one insert, each changed table in one update by primary key (see
``_Ledger``). An ORM instance of such a row read earlier in the transaction
is expired when its row is written.

Products and warehouses read by a movement are kept for the rest of the
transaction (the session's identity map alone would drop them), so a
transaction moving the same products again does not read them again.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from udyog_sdk import (
    UdyogError,
    current_tenant,
    current_user,
    db_session,
    emit,
    hooks,
    insert_rows,
    plugin_settings,
    read_records,
    read_rows,
    update_rows,
)
from udyog_sdk.models import new_id, utcnow

from .models import (
    ZERO,
    CostLayer,
    Lot,
    Product,
    ProductStock,
    StockBalance,
    StockMove,
    UnitConversion,
    Warehouse,
)

__all__ = [
    "REORDER_EVENT",
    "Allocation",
    "MoveLine",
    "ValuationLine",
    "adjust",
    "allocate",
    "available",
    "convert",
    "ensure_lot",
    "issue",
    "issue_many",
    "products",
    "receive",
    "release",
    "reserve",
    "reserve_many",
    "transfer",
    "valuation",
]

#: The domain event of a product whose available stock fell below its reorder point.
REORDER_EVENT = "inventory.stock.below_reorder"
#: The domain event of a product whose available stock rose back to its reorder point or above.
RESTOCKED_EVENT = "inventory.stock.reorder_restored"

QTY = decimal.Decimal("0.001")
CENTS = decimal.Decimal("0.01")
UNIT_COST = decimal.Decimal("0.0001")
#: Quantities and costs must stay below this (Numeric(18, 3) has 15 integer digits).
MAX_QUANTITY = decimal.Decimal(10) ** 9
MAX_UNIT_COST = decimal.Decimal(10) ** 7
#: A stock value must stay below this (Money(18, 2) has 16 integer digits).
MAX_VALUE = decimal.Decimal(10) ** 15


@dataclass(frozen=True)
class Allocation:
    """Where to take stock from: a warehouse, a lot (None for products without lots) and a quantity."""

    warehouse_id: uuid.UUID
    lot_id: uuid.UUID | None
    quantity: decimal.Decimal


@dataclass(frozen=True)
class ValuationLine:
    """A product's stock and its value (see :func:`valuation`)."""

    product_id: uuid.UUID
    sku: str
    name: str
    valuation: str
    quantity: decimal.Decimal
    value: decimal.Decimal
    unit_cost: decimal.Decimal


# -- checks --------------------------------------------------------------------------------


def _refuse(message: str, field: str, reason: str, status: int = 422) -> UdyogError:
    return UdyogError(message, status=status, errors={field: [reason]})


def _quantity(value: Any, field: str = "quantity", *, signed: bool = False) -> decimal.Decimal:
    """A positive (or, ``signed``, non-zero) quantity with at most three decimals; 422 naming ``field``."""
    try:
        number = decimal.Decimal(value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise _refuse("invalid quantity", field, "not a number") from None
    if not number.is_finite():
        raise _refuse("invalid quantity", field, "not a number")
    if signed and number == 0:
        raise _refuse("invalid quantity", field, "must not be zero")
    if not signed and number <= 0:
        raise _refuse("invalid quantity", field, "must be greater than 0")
    if abs(number) >= MAX_QUANTITY:
        raise _refuse("invalid quantity", field, f"must be less than {MAX_QUANTITY}")
    if number != number.quantize(QTY):
        raise _refuse("invalid quantity", field, "at most 3 decimals")
    return number.quantize(QTY)


def _unit_cost(value: Any) -> decimal.Decimal | None:
    if value is None:
        return None
    try:
        number = decimal.Decimal(value)
    except (decimal.InvalidOperation, TypeError, ValueError):
        raise _refuse("invalid unit cost", "unit_cost", "not a number") from None
    if not number.is_finite() or number < 0 or number >= MAX_UNIT_COST:
        raise _refuse("invalid unit cost", "unit_cost", f"must be at least 0 and less than {MAX_UNIT_COST}")
    return number.quantize(UNIT_COST)


_CACHE = "udyog_inventory_cache"


def _cache(kind: str) -> dict[Any, Any]:
    """This transaction's cache of ``kind`` (products, warehouses), by id; a new transaction starts empty.

    The session's identity map is weak: a product read by one movement is
    gone by the next unless something holds it, so every call read it again.
    The cache holds the rows for the rest of the (outermost) transaction.
    """
    session = db_session()
    root = session.get_transaction()
    held = session.info.get(_CACHE)
    if held is None or held[0] is not root:
        held = (root, {})
        if root is not None:
            session.info[_CACHE] = held
    return held[1].setdefault(kind, {})  # type: ignore[no-any-return]


def _cached(kind: str, key: Any) -> Any:
    if not isinstance(key, uuid.UUID):
        return None
    found = _cache(kind).get(key)
    if found is not None and found not in db_session():  # e.g. created in a savepoint that rolled back
        return None
    return found


def _remember(kind: str, row: Any) -> None:
    if db_session().get_transaction() is not None:
        _cache(kind)[row.id] = row


def products(product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Product]:
    """The products of ``product_ids`` that exist, by id: one query for those not read yet in this transaction."""
    out: dict[uuid.UUID, Product] = {}
    missing = []
    for product_id in product_ids:
        found = _cached("product", product_id)
        if found is not None:
            out[product_id] = found
        elif isinstance(product_id, uuid.UUID):
            missing.append(product_id)
    if missing:
        for row in read_records(_PRODUCTS_BY_ID, {"ids": missing}):
            _remember("product", row)
            out[row.id] = row
    return out


#: Built once: a statement object run again skips building and keying its SQL (the tenant scoping is memoised
#: per statement object too). The same holds for :func:`_lock_query` and :func:`_first_chunks_query`.
_PRODUCTS_BY_ID = select(Product).where(Product.id.in_(bindparam("ids", expanding=True)))


def _product(product_id: Any) -> Product:
    product = _cached("product", product_id)
    if product is None and isinstance(product_id, uuid.UUID):
        product = db_session().get(Product, (current_tenant().id, product_id))
        if product is not None:
            _remember("product", product)
    if product is None:
        raise _refuse("no such product", "product_id", "no such product")
    return product


def _warehouse(warehouse_id: Any, field: str = "warehouse_id", *, inactive_ok: bool = False) -> Warehouse:
    found = _cached("warehouse", warehouse_id)
    if found is None and isinstance(warehouse_id, uuid.UUID):
        found = next(iter(read_records(_WAREHOUSE_BY_ID, {"id": warehouse_id})), None)
        if found is not None:
            _remember("warehouse", found)
    if found is None:
        raise _refuse("no such warehouse", field, "no such warehouse")
    if not found.active and not inactive_ok:
        raise _refuse("inactive warehouse", field, f"warehouse {found.code} is inactive")
    return found


_WAREHOUSE_BY_ID = select(Warehouse).where(Warehouse.id == bindparam("id"))


def _lot(product: Product, lot_id: Any) -> Lot | None:
    """The lot of a movement: required for lot-tracked products, refused for others."""
    if not product.track_lots:
        if lot_id is not None:
            raise _refuse("no lots", "lot_id", f"product {product.sku} is not tracked by lot")
        return None
    if lot_id is None:
        raise _refuse("lot required", "lot_id", f"required: product {product.sku} is tracked by lot")
    lot = db_session().get(Lot, (current_tenant().id, lot_id)) if isinstance(lot_id, uuid.UUID) else None
    if lot is None or lot.product_id != product.id:
        raise _refuse("no such lot", "lot_id", f"no such lot of product {product.sku}")
    return lot


def _allow_negative() -> bool:
    try:
        return bool(plugin_settings("inventory")["allow_negative_stock"])
    except LookupError:
        return False


def _user_id() -> uuid.UUID | None:
    user = current_user()
    return user.user_id if user is not None else None


# -- race-free rows, locked, written back once ------------------------------------------------

_UNREAD = object()


class _Row:
    """A row of the ledger's state (a product's totals, a balance, a FIFO cost layer) as plain values.

    Read under its lock by a column select, changed in Python by the movement
    and written back by :meth:`_Ledger.write`, by primary key, one statement
    per table: the rows every movement touches never become ORM objects, so no
    identity map, attribute events or unit of work are paid for them.
    """

    def __init__(self, model: type, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
        self._model = model
        self._read = dict(values)

    def changes(self) -> dict[str, Any]:
        """The columns whose value differs from what was read (or last written)."""
        read = self._read
        return {k: v for k, v in self.__dict__.items() if k[0] != "_" and read.get(k, _UNREAD) != v}


#: What a movement reads of each state table (:func:`_read_columns`).
_READ: dict[type, tuple[str, ...]] = {
    ProductStock: ("id", "product_id", "on_hand", "reserved", "available", "value", "updated_at"),
    StockBalance: (
        "id",
        "product_id",
        "warehouse_id",
        "lot_id",
        "lot_key",
        "on_hand",
        "reserved",
        "available",
        "updated_at",
    ),
    CostLayer: ("id", "product_id", "received_at", "remaining", "unit_cost"),
}


def _read_columns(model: type) -> list[Any]:
    """The column attributes of ``model`` that a movement reads (:data:`_READ`)."""
    return [getattr(model, c) for c in _READ[model]]


def _insert_missing(model: type, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` of rows keyed by ``keys`` (the table's unique key), in one statement."""
    session = db_session()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    tenant_id = current_tenant().id
    # An ORM bulk insert (a list of rows): the tenant session checks and stamps the rows.
    stmt = insert(model).on_conflict_do_nothing(index_elements=["tenant_id", *keys])
    session.execute(stmt, [{"tenant_id": tenant_id, "id": new_id(), **row} for row in rows])


def _balance_key(product_id: uuid.UUID, warehouse_id: uuid.UUID, lot_id: uuid.UUID | None) -> tuple[Any, ...]:
    return (product_id, warehouse_id, str(lot_id) if lot_id else "")


@cache
def _lock_query(model: type, columns: tuple[str, ...], single: bool) -> Any:
    """``SELECT`` of :data:`_READ`'s columns ``FOR UPDATE``, ordered by ``columns``, of one key (its values are
    parameters named as its columns) or of a list of keys (parameter ``keys``). Built once per shape.
    """
    cols = [getattr(model, c) for c in columns]
    if single:
        where = [c == bindparam(name) for c, name in zip(cols, columns, strict=True)]
    elif len(cols) == 1:
        where = [cols[0].in_(bindparam("keys", expanding=True))]
    else:
        where = [tuple_(*cols).in_(bindparam("keys", expanding=True))]
    return select(*_read_columns(model)).where(*where).order_by(*cols).with_for_update()


class _Ledger:
    """What one movement (or one batch of them) does: the rows it locks and changes, its moves, new cost layers.

    :meth:`write` sends it all at the end: the moves in one insert, new FIFO
    layers in one, and each changed table in one update by primary key. A
    refused movement raises before :meth:`write`, so nothing of it is sent
    (the caller rolls back what was).
    """

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.moves: list[StockMove] = []
        self.layers: list[dict[str, Any]] = []

    def _lock(
        self,
        model: type,
        columns: Sequence[str],
        keys: Iterable[tuple[Any, ...]],
        defaults: Callable[[tuple[Any, ...]], Mapping[str, Any]],
    ) -> dict[tuple[Any, ...], _Row]:
        """The rows of ``model`` whose ``columns`` hold ``keys``, locked ``FOR UPDATE`` and freshly read, by key.

        One statement for all of them, ordered by ``columns`` (the rows are locked
        in that order); missing rows are created (one insert) and then locked.
        """
        wanted = sorted(set(keys), key=lambda k: tuple("" if v is None else str(v) for v in k))

        def fetch(subset: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], _Row]:
            out = {}
            single = len(subset) == 1
            if single:
                params: dict[str, Any] = dict(zip(columns, subset[0], strict=True))
            else:
                params = {"keys": [k[0] for k in subset] if len(columns) == 1 else subset}
            for values in read_rows(_lock_query(model, tuple(columns), single), params):
                row = _Row(model, values)
                self.rows.append(row)
                out[tuple(values[c] for c in columns)] = row
            return out

        found = fetch(wanted)
        missing = [k for k in wanted if k not in found]
        if missing:  # a product's first movement (here or in that warehouse and lot)
            _insert_missing(model, [{**defaults(k), **dict(zip(columns, k, strict=True))} for k in missing], columns)
            found.update(fetch(missing))
        return found

    def stocks(self, product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, _Row]:
        """The products' totals rows, locked in product order."""
        now = utcnow()
        rows = self._lock(
            ProductStock,
            ("product_id",),
            [(p,) for p in product_ids],
            lambda k: {"on_hand": ZERO, "reserved": ZERO, "available": ZERO, "value": ZERO, "updated_at": now},
        )
        return {k[0]: row for k, row in rows.items()}

    def balances(self, keys: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, ...], _Row]:
        """Balance rows by (product, warehouse, lot key), locked in that order (after the products' totals)."""
        now = utcnow()
        return self._lock(
            StockBalance,
            ("product_id", "warehouse_id", "lot_key"),
            keys,
            lambda k: {
                "lot_id": uuid.UUID(k[2]) if k[2] else None,
                "on_hand": ZERO,
                "reserved": ZERO,
                "available": ZERO,
                "updated_at": now,
            },
        )

    def stock(self, product: Product) -> _Row:
        """One product's totals row, locked."""
        return self.stocks([product.id])[product.id]

    def balance(self, product_id: uuid.UUID, warehouse_id: uuid.UUID, lot_id: uuid.UUID | None) -> _Row:
        """One balance row, locked."""
        key = _balance_key(product_id, warehouse_id, lot_id)
        return self.balances([key])[key]

    def layer_rows(self, query: Any, params: Mapping[str, Any] | None = None) -> list[_Row]:
        """Cost layers read (and locked) by ``query``, a select of :data:`_READ`'s layer columns."""
        session = db_session()
        with session.no_autoflush:  # nothing of this movement is pending in the session
            rows = [_Row(CostLayer, values) for values in session.execute(query, params).mappings()]
        self.rows.extend(rows)
        return rows

    def add_layer(self, values: dict[str, Any]) -> None:
        """A new FIFO cost layer (inserted after the moves it references)."""
        self.layers.append({"id": new_id(), **values})

    def move(
        self,
        kind: str,
        product: Product,
        warehouse: Warehouse,
        lot: Lot | None,
        quantity: decimal.Decimal,
        *,
        on_hand: decimal.Decimal = ZERO,
        reserved: decimal.Decimal = ZERO,
        unit_cost: decimal.Decimal = ZERO,
        value: decimal.Decimal = ZERO,
        reference: str = "",
        reference_id: uuid.UUID | None = None,
        reference_number: str = "",
        note: str = "",
    ) -> StockMove:
        """A new move of the ledger (inserted by :meth:`write`; its value may still be set until then)."""
        for field, text, limit in (("reference", reference, 40), ("reference_number", reference_number, 40)):
            if len(text or "") > limit:
                raise _refuse("invalid reference", field, f"at most {limit} characters")
        if len(note or "") > 500:
            raise _refuse("invalid note", "note", "at most 500 characters")
        move = StockMove(
            tenant_id=current_tenant().id,
            id=new_id(),
            kind=kind,
            product_id=product.id,
            warehouse_id=warehouse.id,
            lot_id=lot.id if lot else None,
            quantity=quantity.quantize(QTY),
            on_hand_delta=on_hand.quantize(QTY),
            reserved_delta=reserved.quantize(QTY),
            unit_cost=unit_cost.quantize(UNIT_COST),
            value=value.quantize(CENTS),
            reference=reference or "",
            reference_id=reference_id,
            reference_number=reference_number or "",
            user_id=_user_id(),
            moved_at=utcnow(),
            note=note or "",
        )
        self.moves.append(move)
        return move

    def write(self) -> None:
        """Send everything: moves, new layers, then every changed row, one statement per table.

        Through ``insert_rows`` and ``update_rows`` (plain statements: the ledger's
        tables are not audited, and the ORM's bulk paths cost several times more).
        """
        session = db_session()
        if self.moves:
            names = _MOVE_COLUMNS
            insert_rows(StockMove, [{n: getattr(m, n) for n in names} for m in self.moves])
            for move in self.moves:  # now persistent, as a flushed object would be
                make_transient_to_detached(move)
                session.add(move)
        if self.layers:
            insert_rows(CostLayer, self.layers)
        changed: dict[type, list[tuple[_Row, dict[str, Any]]]] = {}
        for row in self.rows:
            changes = row.changes()
            if changes:
                changed.setdefault(row._model, []).append((row, changes))
        for model, rows in changed.items():
            names = sorted({name for _, changes in rows for name in changes})
            update_rows(model, [{"id": row.id, **{n: getattr(row, n) for n in names}} for row, _ in rows])
            for row, changes in rows:
                row._read.update(changes)
        self.moves, self.layers = [], []


#: The columns of a move, as :meth:`_Ledger.write` inserts them.
_MOVE_COLUMNS = tuple(c.key for c in StockMove.__table__.columns)


def _lock_lines(
    ledger: _Ledger,
    checked: Sequence[tuple[Product, Warehouse, Lot | None, decimal.Decimal]],
) -> tuple[dict[uuid.UUID, _Row], dict[tuple[Any, ...], _Row]]:
    """Lock what the lines move: the products' totals (product order), then the balances (product, warehouse, lot).

    Two statements whatever the number of lines. Every movement holds a
    product's totals row before any of its balances, so taking all the totals
    first keeps the order deadlock-free against single movements.
    """
    stocks = ledger.stocks(product.id for product, _, _, _ in checked)
    balances = ledger.balances(
        _balance_key(product.id, warehouse.id, lot.id if lot else None) for product, warehouse, lot, _ in checked
    )
    return stocks, balances


# -- the core of every movement ------------------------------------------------------------


def _where(product: Product, warehouse: Warehouse, lot: Lot | None) -> str:
    return f"{product.sku} in {warehouse.code}" + (f" (lot {lot.code})" if lot else "")


def _change(
    product: Product,
    stock: _Row,
    balance: _Row,
    *,
    on_hand: decimal.Decimal,
    reserved: decimal.Decimal,
    where: str,
    check_available: bool,
) -> None:
    """Apply deltas to a locked balance and the product's locked totals, refusing what stock cannot give."""
    db_session().info.pop(_SNAPSHOT, None)  # an availability snapshot no longer holds
    new_on_hand = balance.on_hand + on_hand
    new_reserved = balance.reserved + reserved
    if reserved < 0 and new_reserved < 0:
        raise _refuse(
            "not enough reserved",
            "quantity",
            f"only {balance.reserved} of {where} is reserved",
            409,
        )
    if reserved > 0 and new_on_hand - new_reserved < 0:
        raise _refuse(
            "not enough stock to reserve",
            "quantity",
            f"only {balance.available} of {where} is available",
            409,
        )
    if check_available and on_hand < 0 and new_on_hand - new_reserved < 0 and not _allow_negative():
        raise _refuse("not enough stock", "quantity", f"only {balance.available} of {where} is available", 409)
    now = utcnow()
    balance.on_hand = new_on_hand
    balance.reserved = new_reserved
    balance.available = new_on_hand - new_reserved
    balance.updated_at = now
    before = stock.available
    stock.on_hand += on_hand
    stock.reserved += reserved
    stock.available = stock.on_hand - stock.reserved
    stock.updated_at = now
    point = product.reorder_point
    if point is not None and (before >= point > stock.available or before < point <= stock.available):
        emit(
            REORDER_EVENT if stock.available < point else RESTOCKED_EVENT,
            {
                "product_id": str(product.id),
                "sku": product.sku,
                "name": product.name,
                "available": str(decimal.Decimal(stock.available).quantize(QTY)),
                "reorder_point": str(decimal.Decimal(point).quantize(QTY)),
            },
        )


def _average_cost(product: Product, stock: _Row, on_hand: decimal.Decimal | None = None) -> decimal.Decimal:
    """The running average unit cost (per product, across warehouses); the standard cost without stock.

    ``on_hand`` is the quantity the value stands for (default: the stock's on hand).
    """
    on_hand = stock.on_hand if on_hand is None else on_hand
    if on_hand > 0 and stock.value > 0:
        return (stock.value / on_hand).quantize(UNIT_COST)
    return decimal.Decimal(product.cost).quantize(UNIT_COST)


def _value_in(ledger: _Ledger, product: Product, stock: _Row, move: StockMove, quantity: decimal.Decimal) -> None:
    """Value an inbound quantity at ``move.unit_cost``: the stock's value grows, FIFO gets a layer."""
    value = (quantity * move.unit_cost).quantize(CENTS)
    if stock.value + value >= MAX_VALUE:
        raise _refuse("value too large", "quantity", f"the stock's value would reach {MAX_VALUE} or more")
    move.value = value
    if product.valuation == "fifo":
        remaining = quantity
        if stock.on_hand < 0:  # stock taken below zero: this receipt first covers the shortfall
            remaining = max(ZERO, quantity + stock.on_hand)
        if remaining > 0:
            ledger.add_layer(
                {
                    "product_id": product.id,
                    "move_id": move.id,
                    "received_at": move.moved_at,
                    "quantity": quantity,
                    "remaining": remaining,
                    "unit_cost": move.unit_cost,
                }
            )
    stock.value += value


@cache
def _first_chunks_query() -> Any:
    """The first :attr:`_OpenLayers.CHUNK` open layers of each of ``products`` (a parameter), ``FOR UPDATE``."""
    ranked = (
        select(
            CostLayer.id,
            func.row_number()
            .over(partition_by=CostLayer.product_id, order_by=(CostLayer.received_at, CostLayer.id))
            .label("rank"),
        )
        .where(CostLayer.product_id.in_(bindparam("products", expanding=True)), CostLayer.remaining > 0)
        .subquery()
    )
    return (
        select(*_read_columns(CostLayer))
        .where(CostLayer.id.in_(select(ranked.c.id).where(ranked.c.rank <= _OpenLayers.CHUNK)))
        .order_by(CostLayer.product_id, CostLayer.received_at, CostLayer.id)
        .with_for_update()
    )


class _OpenLayers:
    """A FIFO product's open cost layers, oldest first, read and locked ``FOR UPDATE`` in chunks as issues need them.

    Only as many layers as the quantity needs are read (the product's totals
    row is locked first, so nobody else consumes them meanwhile); the issues
    of one batch share the pool. The layers are the ledger's rows: what is
    taken is written back with the movement.
    """

    CHUNK = 8

    def __init__(self, ledger: _Ledger, product_id: uuid.UUID) -> None:
        self.ledger = ledger
        self.product_id = product_id
        self.rows: list[_Row] = []
        self.after: tuple[Any, uuid.UUID] | None = None
        self.exhausted = False

    def _fetch(self) -> bool:
        open_layers = (CostLayer.product_id == self.product_id, CostLayer.remaining > 0)
        query = select(*_read_columns(CostLayer)).where(*open_layers)
        if self.after is not None:
            at, layer_id = self.after
            query = query.where(
                CostLayer.received_at >= at,
                or_(CostLayer.received_at > at, CostLayer.id > layer_id),
            )
        query = query.order_by(CostLayer.received_at, CostLayer.id).limit(self.CHUNK).with_for_update()
        self._seed(self.ledger.layer_rows(query))
        return bool(self.rows)

    def _seed(self, rows: list[_Row]) -> None:
        """Take ``rows``, the product's next chunk (read here or by :meth:`first_chunks`)."""
        self.rows = rows
        self.exhausted = len(rows) < self.CHUNK
        if rows:
            self.after = (rows[-1].received_at, rows[-1].id)

    @classmethod
    def first_chunks(cls, ledger: _Ledger, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _OpenLayers]:
        """The pools of several FIFO products, each with its first chunk read and locked: one statement for all.

        The callers hold the products' totals rows, so nobody else consumes
        these layers meanwhile; the layers are locked in (product, age) order.
        """
        found: dict[uuid.UUID, list[_Row]] = {product_id: [] for product_id in product_ids}
        for layer in ledger.layer_rows(_first_chunks_query(), {"products": list(product_ids)}):
            found[layer.product_id].append(layer)
        pools = {}
        for product_id, rows in found.items():
            pool = pools[product_id] = cls(ledger, product_id)
            pool._seed(rows)
        return pools

    def take(self, quantity: decimal.Decimal) -> tuple[decimal.Decimal, decimal.Decimal, decimal.Decimal | None]:
        """Consume ``quantity``: (exact cost, quantity no layer covered, the last layer's unit cost or None)."""
        left = quantity
        exact = ZERO
        last_cost: decimal.Decimal | None = None
        while left > 0:
            if not self.rows and (self.exhausted or not self._fetch()):
                break
            layer = self.rows[0]
            take = min(left, layer.remaining)
            layer.remaining -= take
            exact += take * layer.unit_cost
            last_cost = layer.unit_cost
            left -= take
            if layer.remaining <= 0:
                self.rows.pop(0)
        return exact, left, last_cost


def _value_out(
    product: Product,
    stock: _Row,
    quantity: decimal.Decimal,
    on_hand: decimal.Decimal,
    layers: _OpenLayers,
) -> tuple[decimal.Decimal, decimal.Decimal]:
    """Cost an outbound quantity, consuming FIFO layers or at the running average; returns (unit cost, value).

    Taking the whole stock takes its whole value (no rounding residue stays behind).
    Quantities beyond the stock (negative stock allowed) cost the last layer's
    cost (FIFO) or the standard cost.
    """
    clears = on_hand > 0 and on_hand == quantity  # on_hand: the product's total before this movement
    if product.valuation == "fifo":
        exact, left, last_cost = layers.take(quantity)
        if left > 0:
            exact += left * (last_cost if last_cost is not None else decimal.Decimal(product.cost))
        value = exact.quantize(CENTS)
    else:
        value = (quantity * _average_cost(product, stock, on_hand)).quantize(CENTS)
    if clears:
        value = stock.value
    stock.value -= value
    return (value / quantity).quantize(UNIT_COST), value


# -- published services ---------------------------------------------------------------------------


def receive(
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: decimal.Decimal,
    *,
    unit_cost: decimal.Decimal | None = None,
    lot_id: uuid.UUID | None = None,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
    note: str = "",
) -> StockMove:
    """Receive ``quantity`` into a warehouse (and lot) at ``unit_cost`` (default: the product's standard cost).

    Adds to on hand and available, to the stock's value and (FIFO) a cost layer.
    Returns the ``receipt`` move (written).
    """
    product = _product(product_id)
    warehouse = _warehouse(warehouse_id)
    lot = _lot(product, lot_id)
    qty = _quantity(quantity)
    cost = _unit_cost(unit_cost)
    ledger = _Ledger()
    stock = ledger.stock(product)
    balance = ledger.balance(product.id, warehouse.id, lot.id if lot else None)
    move = ledger.move(
        "receipt",
        product,
        warehouse,
        lot,
        qty,
        on_hand=qty,
        unit_cost=cost if cost is not None else decimal.Decimal(product.cost).quantize(UNIT_COST),
        reference=reference,
        reference_id=reference_id,
        reference_number=reference_number,
        note=note,
    )
    _value_in(ledger, product, stock, move, qty)
    _change(
        product,
        stock,
        balance,
        on_hand=qty,
        reserved=ZERO,
        where=_where(product, warehouse, lot),
        check_available=False,
    )
    ledger.write()
    return move


@dataclass(frozen=True)
class MoveLine:
    """One line of a batch movement (:func:`reserve_many`, :func:`issue_many`)."""

    product_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: decimal.Decimal
    lot_id: uuid.UUID | None = None


def _checked_lines(
    lines: Sequence[MoveLine], *, inactive_ok: bool
) -> list[tuple[Product, Warehouse, Lot | None, decimal.Decimal]]:
    """Each line's product, warehouse, lot and quantity, checked as the single movements check them."""
    products([line.product_id for line in lines])  # one read for all of them
    out = []
    for line in lines:
        product = _product(line.product_id)
        warehouse = _warehouse(line.warehouse_id, inactive_ok=inactive_ok)
        lot = _lot(product, line.lot_id)
        out.append((product, warehouse, lot, _quantity(line.quantity)))
    return out


def issue_many(
    lines: Sequence[MoveLine],
    *,
    from_reserved: bool = False,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
    note: str = "",
) -> list[StockMove]:
    """:func:`issue` for several lines at once (same checks, costs and refusals); returns their moves, in order.

    The rows are locked in two statements (see :func:`_lock_lines`) and
    written in one statement per table. A refused line refuses the batch
    (nothing of it is written; the caller rolls back).
    """
    checked = _checked_lines(lines, inactive_ok=from_reserved)  # reserved stock still leaves
    ledger = _Ledger()
    stocks, balances = _lock_lines(ledger, checked)
    fifo = sorted({product.id for product, _, _, _ in checked if product.valuation == "fifo"}, key=str)
    # Several FIFO products: their first layers in one statement (one product reads its own as it goes).
    layers: dict[uuid.UUID, _OpenLayers] = _OpenLayers.first_chunks(ledger, fifo) if len(fifo) > 1 else {}
    moves = []
    for product, warehouse, lot, qty in checked:
        stock = stocks[product.id]
        balance = balances[_balance_key(product.id, warehouse.id, lot.id if lot else None)]
        reserved = -qty if from_reserved else ZERO
        where = _where(product, warehouse, lot)
        before = stock.on_hand
        _change(
            product, stock, balance, on_hand=-qty, reserved=reserved, where=where, check_available=not from_reserved
        )
        pool = layers.setdefault(product.id, _OpenLayers(ledger, product.id))
        unit_cost, value = _value_out(product, stock, qty, before, pool)
        moves.append(
            ledger.move(
                "issue",
                product,
                warehouse,
                lot,
                qty,
                on_hand=-qty,
                reserved=reserved,
                unit_cost=unit_cost,
                value=value,
                reference=reference,
                reference_id=reference_id,
                reference_number=reference_number,
                note=note,
            )
        )
    ledger.write()
    return moves


def issue(
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: decimal.Decimal,
    *,
    lot_id: uuid.UUID | None = None,
    from_reserved: bool = False,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
    note: str = "",
) -> StockMove:
    """Issue ``quantity`` out of a warehouse (and lot); returns the ``issue`` move with its cost.

    The cost is FIFO (layers consumed oldest first) or the running average,
    as the product says. ``from_reserved=True`` consumes a reservation (on hand
    and reserved both drop; 409 when less is reserved). Otherwise the available
    quantity must cover it (409 naming ``quantity``) unless the tenant's setting
    ``allow_negative_stock`` is on.
    """
    return issue_many(
        [MoveLine(product_id, warehouse_id, quantity, lot_id)],
        from_reserved=from_reserved,
        reference=reference,
        reference_id=reference_id,
        reference_number=reference_number,
        note=note,
    )[0]


def transfer(
    product_id: uuid.UUID,
    from_warehouse_id: uuid.UUID,
    to_warehouse_id: uuid.UUID,
    quantity: decimal.Decimal,
    *,
    lot_id: uuid.UUID | None = None,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
    note: str = "",
) -> tuple[StockMove, StockMove]:
    """Move ``quantity`` between warehouses: a ``transfer_out`` and a ``transfer_in`` move.

    The value stays (valuation is per product); both moves carry the current
    unit cost for information. The source's available stock must cover it.
    """
    product = _product(product_id)
    source = _warehouse(from_warehouse_id, "from_warehouse_id")
    target = _warehouse(to_warehouse_id, "to_warehouse_id")
    if source.id == target.id:
        raise _refuse("same warehouse", "to_warehouse_id", "must differ from from_warehouse_id")
    lot = _lot(product, lot_id)
    qty = _quantity(quantity)
    ledger = _Ledger()
    stock = ledger.stock(product)
    lot_ref = lot.id if lot else None
    locked = {
        key[1]: row
        for key, row in ledger.balances(_balance_key(product.id, w.id, lot_ref) for w in (source, target)).items()
    }
    _change(
        product,
        stock,
        locked[source.id],
        on_hand=-qty,
        reserved=ZERO,
        where=_where(product, source, lot),
        check_available=True,
    )
    _change(product, stock, locked[target.id], on_hand=qty, reserved=ZERO, where="", check_available=False)
    cost = _average_cost(product, stock)
    value = (qty * cost).quantize(CENTS)
    common: dict[str, Any] = {
        "unit_cost": cost,
        "value": value,
        "reference": reference,
        "reference_id": reference_id,
        "reference_number": reference_number,
        "note": note,
    }
    out = ledger.move("transfer_out", product, source, lot, qty, on_hand=-qty, **common)
    into = ledger.move("transfer_in", product, target, lot, qty, on_hand=qty, **common)
    ledger.write()
    return out, into


def adjust(
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity_delta: decimal.Decimal,
    *,
    unit_cost: decimal.Decimal | None = None,
    lot_id: uuid.UUID | None = None,
    note: str = "",
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
) -> StockMove:
    """Correct on hand by ``quantity_delta`` (positive: found, negative: lost); an ``adjustment`` move.

    A positive adjustment is valued at ``unit_cost`` (default: the running
    average, else the standard cost); a negative one is costed like an issue
    and may not take on hand below the reserved quantity unless negative
    stock is allowed.
    """
    product = _product(product_id)
    warehouse = _warehouse(warehouse_id)
    lot = _lot(product, lot_id)
    delta = _quantity(quantity_delta, "quantity_delta", signed=True)
    cost = _unit_cost(unit_cost)
    ledger = _Ledger()
    stock = ledger.stock(product)
    balance = ledger.balance(product.id, warehouse.id, lot.id if lot else None)
    size = abs(delta)
    common: dict[str, Any] = {
        "reference": reference,
        "reference_id": reference_id,
        "reference_number": reference_number,
        "note": note,
    }
    if delta > 0:
        move = ledger.move(
            "adjustment",
            product,
            warehouse,
            lot,
            size,
            on_hand=delta,
            unit_cost=cost if cost is not None else _average_cost(product, stock),
            **common,
        )
        _value_in(ledger, product, stock, move, size)
        _change(product, stock, balance, on_hand=delta, reserved=ZERO, where="", check_available=False)
    else:
        where = _where(product, warehouse, lot)
        before = stock.on_hand
        try:
            _change(product, stock, balance, on_hand=delta, reserved=ZERO, where=where, check_available=True)
        except UdyogError as refused:
            raise UdyogError(str(refused), status=409, errors={"quantity_delta": refused.errors["quantity"]}) from None
        out_cost, value = _value_out(product, stock, size, before, _OpenLayers(ledger, product.id))
        move = ledger.move(
            "adjustment", product, warehouse, lot, size, on_hand=delta, unit_cost=out_cost, value=value, **common
        )
    ledger.write()
    return move


def reserve_many(
    lines: Sequence[MoveLine],
    *,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
) -> list[StockMove]:
    """:func:`reserve` for several lines at once (same checks and refusals); returns their moves, in order.

    The rows are locked in two statements (the products' totals, then the
    balances, each in a stable order) and written in one statement per table.
    """
    checked = _checked_lines(lines, inactive_ok=False)
    ledger = _Ledger()
    stocks, balances = _lock_lines(ledger, checked)
    moves = []
    for product, warehouse, lot, qty in checked:
        _change(
            product,
            stocks[product.id],
            balances[_balance_key(product.id, warehouse.id, lot.id if lot else None)],
            on_hand=ZERO,
            reserved=qty,
            where=_where(product, warehouse, lot),
            check_available=False,
        )
        moves.append(
            ledger.move(
                "reservation",
                product,
                warehouse,
                lot,
                qty,
                reserved=qty,
                reference=reference,
                reference_id=reference_id,
                reference_number=reference_number,
            )
        )
    ledger.write()
    return moves


def reserve(
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: decimal.Decimal,
    *,
    lot_id: uuid.UUID | None = None,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
) -> StockMove:
    """Reserve available stock (available drops, on hand stays); 409 naming ``quantity`` when short.

    A reservation never takes stock below zero, whatever ``allow_negative_stock`` says.
    """
    return reserve_many(
        [MoveLine(product_id, warehouse_id, quantity, lot_id)],
        reference=reference,
        reference_id=reference_id,
        reference_number=reference_number,
    )[0]


def release(
    product_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    quantity: decimal.Decimal,
    *,
    lot_id: uuid.UUID | None = None,
    reference: str = "",
    reference_id: uuid.UUID | None = None,
    reference_number: str = "",
) -> StockMove:
    """Release a reservation (available grows back); 409 naming ``quantity`` when less is reserved."""
    product = _product(product_id)
    warehouse = _warehouse(warehouse_id, inactive_ok=True)  # reservations can always be given back
    lot = _lot(product, lot_id)
    qty = _quantity(quantity)
    ledger = _Ledger()
    stock = ledger.stock(product)
    balance = ledger.balance(product.id, warehouse.id, lot.id if lot else None)
    _change(
        product,
        stock,
        balance,
        on_hand=ZERO,
        reserved=-qty,
        where=_where(product, warehouse, lot),
        check_available=False,
    )
    move = ledger.move(
        "release",
        product,
        warehouse,
        lot,
        qty,
        reserved=-qty,
        reference=reference,
        reference_id=reference_id,
        reference_number=reference_number,
    )
    ledger.write()
    return move


#: Session info key: (warehouse id, product id → available) read by :func:`availability_snapshot`.
_SNAPSHOT = "udyog_inventory_available_snapshot"


@contextmanager
def availability_snapshot(product_ids: Iterable[uuid.UUID], warehouse_id: uuid.UUID) -> Iterator[None]:
    """Within the block, :func:`available` of these products in ``warehouse_id`` (any lot) answers from one read.

    For checking the lines of an order before reserving them (the plain
    reads :func:`allocate` makes, one per line otherwise). Any movement in
    the block drops the snapshot (``available`` reads again), and so does
    the block's end. Like ``available``, it is a plain read, not a lock: the
    reservation that follows locks and checks again.
    """
    ids = sorted({p for p in product_ids if isinstance(p, uuid.UUID)}, key=str)
    session = db_session()
    values: dict[uuid.UUID, decimal.Decimal] = dict.fromkeys(ids, ZERO)
    if ids:
        for row in read_rows(_AVAILABLE_BY_PRODUCT, {"ids": ids, "warehouse_id": warehouse_id}):
            values[row["product_id"]] = decimal.Decimal(row["available"] or 0)
    session.info[_SNAPSHOT] = (warehouse_id, values)
    try:
        yield
    finally:
        session.info.pop(_SNAPSHOT, None)


_AVAILABLE_BY_PRODUCT = (
    select(StockBalance.product_id, func.sum(StockBalance.available).label("available"))
    .where(
        StockBalance.product_id.in_(bindparam("ids", expanding=True)),
        StockBalance.warehouse_id == bindparam("warehouse_id"),
    )
    .group_by(StockBalance.product_id)
)


def available(
    product_id: uuid.UUID, warehouse_id: uuid.UUID | None = None, lot_id: uuid.UUID | None = None
) -> decimal.Decimal:
    """The available quantity of a product: in one warehouse and/or lot, or in all (a plain read, no lock)."""
    if warehouse_id is not None and lot_id is None:
        snapshot = db_session().info.get(_SNAPSHOT)
        if snapshot is not None and snapshot[0] == warehouse_id and product_id in snapshot[1]:
            return snapshot[1][product_id]  # type: ignore[no-any-return]
    query = select(StockBalance.available).where(StockBalance.product_id == product_id)
    if warehouse_id is not None:
        query = query.where(StockBalance.warehouse_id == warehouse_id)
    if lot_id is not None:
        query = query.where(StockBalance.lot_id == lot_id)
    return sum(db_session().scalars(query), ZERO)


def allocate(product_id: uuid.UUID, warehouse_id: uuid.UUID, quantity: decimal.Decimal) -> list[Allocation]:
    """The default allocation of ``quantity`` of a product in a warehouse (no stock is reserved).

    Products without lots: one allocation. Lot-tracked products: lots oldest
    received first (then by code), skipping lots with nothing available and
    lots any plugin blocks through ``inventory_lot_blocked``. Short: 409
    naming ``quantity`` (and the product's sku).
    """
    product = _product(product_id)
    warehouse = _warehouse(warehouse_id)
    qty = _quantity(quantity)
    session = db_session()
    if not product.track_lots:
        have = available(product.id, warehouse.id)
        if have < qty:
            raise _refuse(
                "not enough stock", "quantity", f"only {have} of {product.sku} in {warehouse.code} is available", 409
            )
        return [Allocation(warehouse.id, None, qty)]
    rows = session.execute(
        select(StockBalance.lot_id, StockBalance.available)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .where(StockBalance.product_id == product.id, StockBalance.warehouse_id == warehouse.id)
        .order_by(Lot.received_on, Lot.code, Lot.id)
    ).all()
    candidates = [(lot_id, have) for lot_id, have in rows if lot_id is not None and have > 0]
    blocked: dict[uuid.UUID, str] = {}
    if candidates:
        for answer in hooks().inventory_lot_blocked(lot_ids=[lot_id for lot_id, _ in candidates]):
            blocked.update(answer or {})
    out: list[Allocation] = []
    left = qty
    for lot_id, have in candidates:
        if left <= 0:
            break
        if lot_id in blocked:
            continue
        take = min(have, left)
        out.append(Allocation(warehouse.id, lot_id, take))
        left -= take
    if left > 0:
        got = qty - left
        held = sum((have for lot_id, have in candidates if lot_id in blocked), ZERO)
        reason = f"only {got} of {product.sku} in {warehouse.code} can be allocated"
        if held:
            reason += f" ({held} more is in blocked lots)"
        raise _refuse("not enough stock", "quantity", reason, 409)
    return out


def ensure_lot(product_id: uuid.UUID, code: str, *, received_on: date | None = None) -> Lot:
    """The product's lot ``code``, created (received today, or on ``received_on``) when missing."""
    product = _product(product_id)
    code = (code or "").strip()
    if not code or len(code) > 40:
        raise _refuse("invalid lot", "lot_code", "1 to 40 characters")
    if not product.track_lots:
        raise _refuse("no lots", "lot_code", f"product {product.sku} is not tracked by lot")
    session = db_session()
    lot = session.scalar(select(Lot).where(Lot.product_id == product.id, Lot.code == code))
    if lot is None:
        lot = Lot(product_id=product.id, code=code, received_on=received_on or utcnow().date(), note="")
        session.add(lot)
        session.flush()
    return lot


def convert(
    quantity: decimal.Decimal, from_unit: uuid.UUID, to_unit: uuid.UUID, product_id: uuid.UUID | None = None
) -> decimal.Decimal:
    """``quantity`` in ``from_unit`` expressed in ``to_unit`` (unit ids), rounded to 3 decimals.

    A conversion of the product wins over a general one; either direction of a
    stored conversion serves (the reverse divides). No conversion: 422 naming ``to_unit``.
    """
    amount = decimal.Decimal(quantity)
    if from_unit == to_unit:
        return amount.quantize(QTY)
    rows = (
        db_session()
        .scalars(
            select(UnitConversion).where(
                ((UnitConversion.from_unit_id == from_unit) & (UnitConversion.to_unit_id == to_unit))
                | ((UnitConversion.from_unit_id == to_unit) & (UnitConversion.to_unit_id == from_unit))
            )
        )
        .all()
    )
    candidates = [r for r in rows if r.product_id is not None and r.product_id == product_id] or [
        r for r in rows if r.product_id is None
    ]
    if not candidates:
        raise _refuse("no conversion", "to_unit", "no conversion between these units")
    found = next((r for r in candidates if r.from_unit_id == from_unit), candidates[0])
    if found.from_unit_id == from_unit:
        return (amount * found.factor).quantize(QTY)
    return (amount / found.factor).quantize(QTY)


def valuation(product_ids: Sequence[uuid.UUID] | None = None) -> list[ValuationLine]:
    """Stock quantity and value per product (FIFO: the open layers; average: the running value), by sku."""
    query = (
        select(Product, ProductStock).join(ProductStock, ProductStock.product_id == Product.id).order_by(Product.sku)
    )
    if product_ids:
        query = query.where(Product.id.in_(list(product_ids)))
    out = []
    for product, stock in db_session().execute(query).all():
        cost = (stock.value / stock.on_hand).quantize(UNIT_COST) if stock.on_hand > 0 else ZERO
        out.append(
            ValuationLine(product.id, product.sku, product.name, product.valuation, stock.on_hand, stock.value, cost)
        )
    return out
