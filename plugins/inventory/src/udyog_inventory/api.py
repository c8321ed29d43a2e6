"""The inventory's REST API: generic resources, the stock movements, the ledger, balances and valuation.

Everything lives under ``/api/v1/inventory``: the masters (``products``,
``categories``, ``units``, ``conversions``, ``warehouses``, ``lots``) are
declared :class:`udyog_sdk.resources.Resource` s; ``moves`` and ``balances``
are read-only resources (keyset-paginated, never counted); ``receipts``,
``issues``, ``transfers`` and ``adjustments`` are POST routes over
:mod:`udyog_inventory.services`; ``valuation`` reports quantity and value
per product.
"""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import marshmallow as ma
from sqlalchemy import and_, or_, select
from sqlalchemy.sql import Select

from udyog_sdk import UdyogError, current_tenant, db_session
from udyog_sdk.api import Blueprint, Filter, envelope, ok
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import services
from .models import (
    Category,
    Lot,
    Product,
    ProductStock,
    StockBalance,
    StockMove,
    Unit,
    UnitConversion,
    Warehouse,
)
from .schemas import (
    AdjustmentInput,
    BalanceSchema,
    CategorySchema,
    IssueInput,
    LotSchema,
    MoveSchema,
    ProductSchema,
    ReceiptInput,
    TransferInput,
    TransferResultSchema,
    UnitConversionSchema,
    UnitSchema,
    ValuationArgs,
    ValuationLineSchema,
    WarehouseSchema,
    quantity_filter,
)


class CategoryResource(Resource):
    """Product categories."""

    model = Category
    schema = CategorySchema
    permission_prefix = "inventory.category"
    path = "categories"
    filters = ("name",)
    sort = ("name",)
    search = ("name",)
    list_columns = ("name", "description")


class UnitResource(Resource):
    """Units of measure."""

    model = Unit
    schema = UnitSchema
    permission_prefix = "inventory.unit"
    filters = ("code", "name")
    sort = ("code", "name")
    search = ("code", "name")
    list_columns = ("code", "name")


class ConversionResource(Resource):
    """Unit conversions: general, or for one product."""

    model = UnitConversion
    schema = UnitConversionSchema
    permission_prefix = "inventory.conversion"
    filters = ("from_unit_id", "to_unit_id", "product_id")
    sort = ("factor",)
    list_columns = ("from_unit_id", "to_unit_id", "factor", "product_id")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """Two different units, and one conversion per pair of units and product."""
        source = data.get("from_unit_id", getattr(obj, "from_unit_id", None))
        target = data.get("to_unit_id", getattr(obj, "to_unit_id", None))
        product = data["product_id"] if "product_id" in data else getattr(obj, "product_id", None)
        if source is not None and source == target:
            raise UdyogError("invalid conversion", status=422, errors={"to_unit_id": ["must differ from from_unit_id"]})
        query = select(UnitConversion.id).where(
            or_(
                and_(UnitConversion.from_unit_id == source, UnitConversion.to_unit_id == target),
                and_(UnitConversion.from_unit_id == target, UnitConversion.to_unit_id == source),
            ),
            UnitConversion.product_id.is_(None) if product is None else UnitConversion.product_id == product,
        )
        if obj is not None:
            query = query.where(UnitConversion.id != obj.id)
        if db_session().scalar(query.limit(1)) is not None:
            raise UdyogError(
                "conversion exists", status=409, errors={"to_unit_id": ["a conversion between these units exists"]}
            )


class ProductResource(Resource):
    """Products. Resource key ``inventory.product``: other plugins contribute fields."""

    model = Product
    schema = ProductSchema
    permission_prefix = "inventory.product"
    filters = ("sku", "name", "category_id", "unit_id", "valuation", "track_lots", "active")
    sort = ("sku", "name", "price")
    search = ("sku", "name")
    list_columns = ("sku", "name", "category_id", "unit_id", "price", "reorder_point", "active")
    title_field = "name"

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """An sku is unique; valuation and lot tracking do not change once the product has stock movements."""
        sku = data.get("sku")
        taken = select(Product.id).where(Product.sku == sku)
        if sku is not None and (obj is None or sku != obj.sku) and db_session().scalar(taken) is not None:
            raise UdyogError("sku taken", status=409, errors={"sku": [f"a product {sku!r} already exists"]})
        if obj is None:
            return
        moved = db_session().scalar(select(StockMove.id).where(StockMove.product_id == obj.id).limit(1)) is not None
        for field in ("valuation", "track_lots", "unit_id"):
            if field in data and data[field] != getattr(obj, field) and moved:
                raise UdyogError(
                    f"{field} cannot change",
                    status=409,
                    errors={field: ["cannot change once the product has stock movements"]},
                )


class WarehouseResource(Resource):
    """Warehouses, each of a branch."""

    model = Warehouse
    schema = WarehouseSchema
    permission_prefix = "inventory.warehouse"
    filters = ("code", "name", "branch_id", "active")
    sort = ("code", "name")
    search = ("code", "name")
    list_columns = ("code", "name", "branch_id", "active")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A code is unique."""
        code = data.get("code")
        taken = select(Warehouse.id).where(Warehouse.code == code)
        if code is not None and (obj is None or code != obj.code) and db_session().scalar(taken) is not None:
            raise UdyogError("code taken", status=409, errors={"code": [f"a warehouse {code!r} already exists"]})


class LotResource(Resource):
    """Lots. Resource key ``inventory.lot``: other plugins contribute fields (mfg, expiry, QC)."""

    model = Lot
    schema = LotSchema
    permission_prefix = "inventory.lot"
    filters = ("product_id", "code", "received_on")
    sort = ("received_on", "code")
    search = ("code",)
    default_sort = "-received_on"
    list_columns = ("code", "product_id", "received_on")
    create_only = ("product_id",)

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """Only lot-tracked products have lots; a code is unique per product."""
        product_id = data.get("product_id", getattr(obj, "product_id", None))
        product = db_session().get(Product, (current_tenant().id, product_id)) if product_id else None
        if product is not None and not product.track_lots:
            raise UdyogError(
                "not tracked by lot", status=422, errors={"product_id": [f"{product.sku} is not tracked by lot"]}
            )
        code = data.get("code")
        if code is not None and (obj is None or code != obj.code):
            taken = select(Lot.id).where(Lot.product_id == product_id, Lot.code == code)
            if db_session().scalar(taken) is not None:
                raise UdyogError("code taken", status=409, errors={"code": [f"lot {code!r} exists for this product"]})


class NamedReferences:
    """Adds ``sku``, ``product_name``, ``warehouse_code`` and ``lot_code`` to the output of ledger rows.

    The names of a page's products, warehouses and lots are read with one
    query each (by primary key), so lists and pages show names, not ids.
    """

    def dump(self, obj: Any) -> dict[str, Any]:
        """One row's output, names included."""
        return self.dump_many([obj])[0]

    def dump_many(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """A page's output, names included."""
        out: list[dict[str, Any]] = super().dump_many(rows)  # type: ignore[misc]
        if not rows:
            return out
        session = db_session()
        products = {
            i: (sku, name)
            for i, sku, name in session.execute(
                select(Product.id, Product.sku, Product.name).where(Product.id.in_({r.product_id for r in rows}))
            )
        }
        warehouses = dict(
            session.execute(
                select(Warehouse.id, Warehouse.code).where(Warehouse.id.in_({r.warehouse_id for r in rows}))
            ).all()
        )
        lot_ids = {r.lot_id for r in rows if r.lot_id is not None}
        lots = dict(session.execute(select(Lot.id, Lot.code).where(Lot.id.in_(lot_ids))).all()) if lot_ids else {}
        for item, row in zip(out, rows, strict=True):
            sku, name = products.get(row.product_id, ("", ""))
            item.update(
                sku=sku,
                product_name=name,
                warehouse_code=warehouses.get(row.warehouse_id, ""),
                lot_code=lots.get(row.lot_id, "") if row.lot_id else "",
            )
        return out


class MoveResource(NamedReferences, Resource):
    """The stock ledger, read-only: keyset pages, filters, no count."""

    model = StockMove
    schema = MoveSchema
    permission_prefix = "inventory.move"
    label = "Stock move"
    filters = {
        "product_id": ("eq", "in"),
        "warehouse_id": ("eq", "in"),
        "lot_id": ("eq",),
        "kind": ("eq", "in"),
        "reference_id": ("eq",),
        "moved_at": ("gte", "lte"),
    }
    sort = ("moved_at",)
    default_sort = "-moved_at"
    operations = ("list", "get")
    importable = False
    exportable = False
    list_columns = (
        "moved_at",
        "kind",
        "sku",
        "product_name",
        "warehouse_code",
        "lot_code",
        "on_hand_delta",
        "reserved_delta",
        "value",
        "reference_number",
    )
    title_field = "kind"


class BalanceResource(NamedReferences, Resource):
    """Stock on hand, reserved and available per product, warehouse and lot, read-only.

    ``below_reorder=true`` lists the balances of products whose total
    available stock is below their reorder point.
    """

    model = StockBalance
    schema = BalanceSchema
    permission_prefix = "inventory.balance"
    label = "Stock balance"
    path = "balances"
    filters = {
        "product_id": ("eq", "in"),
        "warehouse_id": ("eq", "in"),
        "lot_id": ("eq",),
        "available__gte": Filter(StockBalance.available, "gte", quantity_filter()),
        "available__lte": Filter(StockBalance.available, "lte", quantity_filter()),
        "on_hand__gte": Filter(StockBalance.on_hand, "gte", quantity_filter()),
        "on_hand__lte": Filter(StockBalance.on_hand, "lte", quantity_filter()),
    }
    sort = ("product_id", "warehouse_id", "available", "on_hand")
    default_sort = "product_id"
    operations = ("list", "get")
    importable = False
    exportable = False
    list_columns = ("sku", "product_name", "warehouse_code", "lot_code", "on_hand", "reserved", "available")
    title_field = "product_id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        below = ma.fields.Boolean(
            metadata={"description": "true: only products whose total available is below their reorder point"}
        )
        self.list_schema = type(self.list_schema.__name__, (self.list_schema,), {"below_reorder": below})

    def page(self, args: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The page, narrowed by ``below_reorder`` when asked."""
        args = dict(args)
        below = args.pop("below_reorder", None)
        if below is None:
            return super().page(args)
        query: Select[Any] = self.query()
        low = low_stock_products()
        query = query.where(StockBalance.product_id.in_(low) if below else StockBalance.product_id.not_in(low))
        return self.listing.page(query, args)


def low_stock_products() -> Select[Any]:
    """Ids of products whose total available stock is below their reorder point (no stock counts as 0)."""
    return (
        select(Product.id)
        .outerjoin(ProductStock, ProductStock.product_id == Product.id)
        .where(
            Product.reorder_point.is_not(None),
            Product.active.is_(True),
            or_(
                and_(ProductStock.id.is_(None), Product.reorder_point > decimal.Decimal(0)),
                ProductStock.available < Product.__table__.c.reorder_point,
            ),
        )
    )


CATEGORIES = CategoryResource()
UNITS = UnitResource()
CONVERSIONS = ConversionResource()
PRODUCTS = ProductResource()
WAREHOUSES = WarehouseResource()
LOTS = LotResource()
MOVES = MoveResource()
BALANCES = BalanceResource()

RESOURCES = (PRODUCTS, CATEGORIES, UNITS, CONVERSIONS, WAREHOUSES, LOTS, MOVES, BALANCES)


# -- stock movements ---------------------------------------------------------------------------------


def _in_product_unit(data: Mapping[str, Any], field: str = "quantity") -> decimal.Decimal:
    """The quantity of ``data`` in the product's unit (converted from ``unit_id`` when given)."""
    quantity = data[field]
    unit_id = data.get("unit_id")
    if unit_id is None:
        return quantity  # type: ignore[no-any-return]
    product = db_session().get(Product, (current_tenant().id, data["product_id"]))
    if product is None:
        raise UdyogError("no such product", status=422, errors={"product_id": ["no such product"]})
    try:
        return services.convert(quantity, unit_id, product.unit_id, product.id)
    except UdyogError:
        raise UdyogError(
            "no conversion", status=422, errors={"unit_id": ["no conversion to the product's unit"]}
        ) from None


def _refs(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("reference", "reference_id", "reference_number", "note") if k in data}


def record_receipt(data: Mapping[str, Any]) -> StockMove:
    """A receipt from API or form input (lot by id or by code, quantity maybe in another unit); not committed."""
    lot_id = data.get("lot_id")
    if data.get("lot_code"):
        if lot_id is not None:
            raise UdyogError("lot twice", status=422, errors={"lot_code": ["give lot_id or lot_code, not both"]})
        lot_id = services.ensure_lot(data["product_id"], data["lot_code"], received_on=data.get("received_on")).id
    return services.receive(
        data["product_id"],
        data["warehouse_id"],
        _in_product_unit(data),
        unit_cost=data.get("unit_cost"),
        lot_id=lot_id,
        **_refs(data),
    )


def record_adjustment(data: Mapping[str, Any]) -> StockMove:
    """An adjustment from API or form input; not committed."""
    return services.adjust(
        data["product_id"],
        data["warehouse_id"],
        data["quantity_delta"],
        unit_cost=data.get("unit_cost"),
        lot_id=data.get("lot_id"),
        note=data.get("note", ""),
    )


def create_blueprint() -> Blueprint:
    """The inventory API: every resource plus the movement routes and the valuation report."""
    bp = Blueprint(
        "inventory", __name__, url_prefix="/api/v1/inventory", description="Inventory: products, stock and ledger"
    )
    for resource in RESOURCES:
        resource.register(bp)
    moves = MoveSchema()

    @bp.route("/receipts", methods=["POST"])
    @bp.arguments(ReceiptInput)
    @bp.response(201, envelope(MoveSchema))
    @requires("inventory.receipt.create")
    def post_receipt(data: dict[str, Any]) -> dict[str, Any]:
        """Receive stock into a warehouse

        A lot-tracked product needs ``lot_id`` or ``lot_code`` (a new code makes
        the lot). ``unit_id`` gives the quantity in another unit.
        """
        move = record_receipt(data)
        db_session().commit()
        return ok(moves.dump(move), message="received")

    @bp.route("/issues", methods=["POST"])
    @bp.arguments(IssueInput)
    @bp.response(201, envelope(MoveSchema))
    @requires("inventory.issue.create")
    def post_issue(data: dict[str, Any]) -> dict[str, Any]:
        """Issue stock out of a warehouse

        409 naming ``quantity`` when the available stock does not cover it (unless
        the tenant allows negative stock). The move carries its cost.
        """
        move = services.issue(
            data["product_id"],
            data["warehouse_id"],
            _in_product_unit(data),
            lot_id=data.get("lot_id"),
            from_reserved=data["from_reserved"],
            **_refs(data),
        )
        db_session().commit()
        return ok(moves.dump(move), message="issued")

    @bp.route("/transfers", methods=["POST"])
    @bp.arguments(TransferInput)
    @bp.response(201, envelope(TransferResultSchema))
    @requires("inventory.transfer.create")
    def post_transfer(data: dict[str, Any]) -> dict[str, Any]:
        """Transfer stock between warehouses: a transfer_out and a transfer_in move"""
        out, into = services.transfer(
            data["product_id"],
            data["from_warehouse_id"],
            data["to_warehouse_id"],
            _in_product_unit(data),
            lot_id=data.get("lot_id"),
            **_refs(data),
        )
        db_session().commit()
        return ok({"out": moves.dump(out), "in": moves.dump(into)}, message="transferred")

    @bp.route("/adjustments", methods=["POST"])
    @bp.arguments(AdjustmentInput)
    @bp.response(201, envelope(MoveSchema))
    @requires("inventory.adjustment.create")
    def post_adjustment(data: dict[str, Any]) -> dict[str, Any]:
        """Correct the stock on hand (positive: found, negative: lost), with a note"""
        move = record_adjustment(data)
        db_session().commit()
        return ok(moves.dump(move), message="adjusted")

    @bp.route("/valuation", methods=["GET"])
    @bp.arguments(ValuationArgs, location="query")
    @bp.response(200, envelope(ValuationLineSchema, many=True))
    @requires("inventory.valuation.read")
    def get_valuation(args: dict[str, Any]) -> dict[str, Any]:
        """Stock quantity and value per product (FIFO layers or running average), by sku"""
        product_id: uuid.UUID | None = args.get("product_id")
        lines = services.valuation([product_id] if product_id else None)
        total = sum((line.value for line in lines), decimal.Decimal("0.00"))
        return ok(ValuationLineSchema(many=True).dump(lines), meta={"total_value": str(total)})

    return bp
