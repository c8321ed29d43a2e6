"""Business logic of the FSSAI plugin: plain functions over the current tenant's session.

They work in the caller's transaction and never commit; a refusal raises
:class:`udyog_sdk.UdyogError` (422 naming the field for bad input, 409 when
the state forbids it). Dates ("today", expiry) are decided in the tenant's
timezone: :func:`today` reads :func:`clock` (tests replace it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import String, cast, select

from udyog_crm.models import Customer
from udyog_inventory import services as stock
from udyog_inventory.models import Lot, Product, StockBalance, Unit, Warehouse
from udyog_inventory.services import Allocation as StockAllocation
from udyog_sales.models import Invoice, Order
from udyog_sdk import UdyogError, db_session, emit, emit_detached, hooks, plugin_settings
from udyog_sdk.formatting import tenant_today
from udyog_sdk.models import Base, utcnow
from udyog_sdk.series import next_number

from . import rules
from .models import Allocation, Batch, CustomerFood, Licence, ProductFood, Recall, Recovery

ZERO = Decimal("0.000")
NEAR_EXPIRY_EVENT = "fssai.batch.near_expiry"
EXPIRED_EVENT = "fssai.batch.expired"
#: A despatch, invoice or allocation refused because of held, failed or expired batches (survives the rollback).
REFUSED_EVENT = "fssai.batch.use_refused"
#: The kinds of block that make a refused use worth recording (a batch merely awaiting QC is not).
REFUSED_KINDS = ("held", "qc_failed", "expired")


def clock() -> dt.datetime:
    """The current time (UTC, aware); tests replace it to decide dates at a chosen moment."""
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today in the current tenant's timezone (Asia/Kolkata by default)."""
    return tenant_today(clock())


def settings() -> Mapping[str, Any]:
    """The tenant's FSSAI settings (defaults when none are stored)."""
    try:
        return plugin_settings("fssai")
    except LookupError:
        return {"expiry_alert_days": 30, "require_licence": False, "recall_deadline_days": 10}


def _qty(value: Decimal) -> str:
    """A quantity for people: ``10.5``, ``0`` (no trailing zeros, no exponent)."""
    return format(value.normalize(), "f")


def _refuse(message: str, field_name: str, reason: str, status: int = 422) -> UdyogError:
    return UdyogError(message, status=status, errors={field_name: [reason]})


def _branch_model() -> Any:
    """The core's branch class, found by table name (plugins never import the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


# -- licences ------------------------------------------------------------------------------------


def check_licence_input(data: Mapping[str, Any], obj: Licence | None) -> None:
    """14 digits; the branch exists and has no other licence; validity ends after it starts."""
    session = db_session()
    branch_id = data.get("branch_id", getattr(obj, "branch_id", None))
    if "branch_id" in data:
        branch = _branch_model()
        if session.scalar(select(branch.id).where(branch.id == branch_id)) is None:
            raise _refuse("no such branch", "branch_id", "no such branch")
        taken = select(Licence.id).where(Licence.branch_id == branch_id)
        if obj is not None:
            taken = taken.where(Licence.id != obj.id)
        if session.scalar(taken) is not None:
            raise _refuse("branch has a licence", "branch_id", "this branch has a licence already: edit it", 409)
    number = data.get("number")
    if number is not None and not rules.licence_valid(number):
        raise _refuse("invalid licence number", "number", "exactly 14 digits")
    start = data.get("valid_from", getattr(obj, "valid_from", None))
    end = data.get("expires_on", getattr(obj, "expires_on", None))
    if start is not None and end is not None and end < start:
        raise _refuse("invalid validity", "expires_on", "must not be before valid_from")


def licence_problems(order: Any, *, on: dt.date | None = None) -> list[str]:
    """Why the order's branch may not despatch or invoice food: its licence has expired (or, by setting, is missing).

    The branch is the one of the order's warehouse. A licence is valid up to
    and including its expiry date, in the tenant's timezone.
    """
    session = db_session()
    day = on or today()
    branch = _branch_model()
    row = session.execute(
        select(branch.code, Licence.number, Licence.expires_on)
        .select_from(Warehouse)
        .join(branch, branch.id == Warehouse.branch_id)
        .outerjoin(Licence, Licence.branch_id == Warehouse.branch_id)
        .where(Warehouse.id == order.warehouse_id)
    ).first()
    if row is None:
        return []
    code, number, expires_on = row
    if number is None:
        if settings()["require_licence"]:
            return [f"branch {code} has no FSSAI licence on record"]
        return []
    if expires_on < day:
        return [f"the FSSAI licence {number} of branch {code} expired on {expires_on:%d-%m-%Y}: renew it first"]
    return []


# -- products and customers ----------------------------------------------------------------------


def shelf_life_days(product_id: uuid.UUID) -> int | None:
    """The product's shelf life in days, or None when none is recorded."""
    return db_session().scalar(select(ProductFood.shelf_life_days).where(ProductFood.record_id == product_id))


def min_remaining_days(customer_id: uuid.UUID) -> int | None:
    """The shortest remaining shelf life (days) the customer accepts, or None for no minimum."""
    return db_session().scalar(select(CustomerFood.min_remaining_days).where(CustomerFood.record_id == customer_id))


# -- batches -------------------------------------------------------------------------------------


def _check_dates(produced_on: dt.date | None, expires_on: dt.date | None, best_before: dt.date | None) -> None:
    if produced_on is None:
        raise _refuse("invalid batch", "produced_on", "required")
    if expires_on is None:
        raise _refuse("invalid batch", "expires_on", "required")
    if expires_on <= produced_on:
        raise _refuse("invalid batch", "expires_on", "must be after the date of manufacture or packing")
    if best_before is not None and not produced_on < best_before <= expires_on:
        raise _refuse("invalid batch", "best_before", "must be after production and no later than the expiry")


def create_batch(data: Mapping[str, Any]) -> Batch:
    """A batch of a lot-tracked product: its lot (created, or an existing lot without a batch) and its FSSAI data.

    ``data``: ``product_id``, ``produced_on``, optional ``number`` (default:
    the series ``fssai.batch``), ``date_kind``, ``expires_on`` (default:
    produced_on + the product's shelf life), ``best_before``, ``qc_status``
    (default pending) with ``qc_inspector`` and ``qc_notes``, and optionally
    ``warehouse_id`` + ``quantity`` (+ ``unit_cost``) to receive the batch's stock at once.
    """
    session = db_session()
    product = stock.products([data["product_id"]]).get(data["product_id"])
    if product is None:
        raise _refuse("no such product", "product_id", "no such product")
    if not product.track_lots:
        raise _refuse("not tracked by lot", "product_id", f"{product.sku} is not tracked by lot")
    produced_on = data.get("produced_on")
    expires_on = data.get("expires_on")
    if expires_on is None and produced_on is not None:
        days = shelf_life_days(product.id)
        if days is None:
            raise _refuse(
                "no expiry", "expires_on", f"required: product {product.sku} has no shelf life to derive it from"
            )
        try:
            expires_on = rules.derived_expiry(produced_on, days)
        except OverflowError:
            raise _refuse("no expiry", "expires_on", "the shelf life runs past the calendar") from None
    _check_dates(produced_on, expires_on, data.get("best_before"))
    if bool(data.get("warehouse_id")) != bool(data.get("quantity")):
        raise _refuse("incomplete receipt", "quantity", "give warehouse_id and quantity together")
    number = (data.get("number") or "").strip() or next_number("fssai.batch", on=produced_on)
    lot = session.scalar(select(Lot).where(Lot.product_id == product.id, Lot.code == number))
    if lot is not None and session.scalar(select(Batch.id).where(Batch.lot_id == lot.id)) is not None:
        raise _refuse("batch exists", "number", f"batch {number} of {product.sku} exists", 409)
    if lot is None:
        lot = stock.ensure_lot(product.id, number, received_on=today())
    status = data.get("qc_status") or "pending"
    batch = Batch(
        lot_id=lot.id,
        product_id=product.id,
        number=number,
        date_kind=data.get("date_kind") or "manufacture",
        produced_on=produced_on,
        expires_on=expires_on,
        best_before=data.get("best_before"),
        qc_status=status,
        qc_inspector=data.get("qc_inspector") or "",
        qc_notes=data.get("qc_notes") or "",
        qc_at=utcnow() if status != "pending" else None,
        on_hold=False,
        hold_reason="",
    )
    session.add(batch)
    session.flush()
    if data.get("warehouse_id"):
        stock.receive(
            product.id,
            data["warehouse_id"],
            data["quantity"],
            unit_cost=data.get("unit_cost"),
            lot_id=lot.id,
            reference="fssai.batch",
            reference_id=batch.id,
            reference_number=number,
            note="Batch produced",
        )
    emit("fssai.batch.created", {"batch_id": str(batch.id), "number": number, "product_id": str(product.id)})
    return batch


def update_batch(batch: Batch, data: Mapping[str, Any]) -> Batch:
    """Change a batch's dates (the expiry stays after production); QC and hold have actions of their own."""
    merged = {
        "produced_on": data.get("produced_on", batch.produced_on),
        "expires_on": data.get("expires_on", batch.expires_on),
        "best_before": data.get("best_before", batch.best_before),
    }
    _check_dates(merged["produced_on"], merged["expires_on"], merged["best_before"])
    for key, value in data.items():
        setattr(batch, key, value)
    db_session().flush()
    return batch


def record_qc(batch: Batch, status: str, inspector: str, notes: str = "") -> Batch:
    """Record a QC decision (``passed``/``failed``/``pending``), with the inspector (required unless pending)."""
    if status not in ("pending", "passed", "failed"):
        raise _refuse("invalid QC status", "status", "one of pending, passed, failed")
    if status != "pending" and not (inspector or "").strip():
        raise _refuse("inspector required", "inspector", "required for a QC decision")
    batch.qc_status = status
    batch.qc_inspector = (inspector or "").strip()
    batch.qc_notes = notes or ""
    batch.qc_at = utcnow() if status != "pending" else None
    db_session().flush()
    emit("fssai.batch.qc_recorded", {"batch_id": str(batch.id), "number": batch.number, "status": status})
    return batch


def hold_batch(batch: Batch, reason: str) -> Batch:
    """Put a batch on hold (recall): from now on it is not allocated, despatched or invoiced."""
    if not (reason or "").strip():
        raise _refuse("reason required", "reason", "say why the batch is held")
    batch.on_hold = True
    batch.hold_reason = reason.strip()[:500]
    db_session().flush()
    emit("fssai.batch.held", {"batch_id": str(batch.id), "number": batch.number, "reason": batch.hold_reason})
    return batch


def release_batch(batch: Batch) -> Batch:
    """Lift a hold; refused (409) while an open recall holds the batch."""
    if not batch.on_hold:
        raise _refuse("not held", "on_hold", "the batch is not on hold", 409)
    open_recall = select(Recall.number).where(Recall.lot_id == batch.lot_id, Recall.state == "open").limit(1)
    number = db_session().scalar(open_recall)
    if number is not None:
        raise _refuse("recall open", "on_hold", f"recall {number} is open: close it first", 409)
    batch.on_hold = False
    batch.hold_reason = ""
    db_session().flush()
    emit("fssai.batch.released", {"batch_id": str(batch.id), "number": batch.number})
    return batch


def batches_of_lots(lot_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Batch]:
    """The batches of these lots, by lot id (lots without FSSAI data are left out); one query."""
    ids = list({i for i in lot_ids if i is not None})
    if not ids:
        return {}
    return {b.lot_id: b for b in db_session().scalars(select(Batch).where(Batch.lot_id.in_(ids)))}


def block_reason(batch: Batch, day: dt.date) -> str | None:
    """Why a batch may not be allocated on ``day`` (on hold, QC not passed, expired), or None."""
    if batch.on_hold:
        return f"batch {batch.number} is on hold" + (f" ({batch.hold_reason})" if batch.hold_reason else "")
    if batch.qc_status != "passed":
        return f"batch {batch.number} has QC {batch.qc_status}"
    if rules.expired(batch.expires_on, day):
        return f"batch {batch.number} expired on {batch.expires_on:%d-%m-%Y}"
    return None


def block_kind(batch: Batch, day: dt.date) -> str | None:
    """``held``, ``qc_failed``, ``qc_pending`` or ``expired`` when the batch may not be used on ``day``; else None."""
    if batch.on_hold:
        return "held"
    if batch.qc_status != "passed":
        return f"qc_{batch.qc_status}"
    if rules.expired(batch.expires_on, day):
        return "expired"
    return None


def blocked_lots(lot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The answer to ``inventory_lot_blocked``: lots whose batch is held, not passed or expired."""
    day = today()
    out = {}
    for lot_id, batch in batches_of_lots(lot_ids).items():
        reason = block_reason(batch, day)
        if reason is not None:
            out[lot_id] = reason
    return out


# -- FEFO ------------------------------------------------------------------------------------------


def fefo_allocate(order: Any, line: Any) -> list[StockAllocation] | None:
    """First expiry, first out: the order line's quantity from the order's warehouse, earliest expiry first.

    Only lot-tracked products (others: None, the next implementation
    decides). Batches on hold, not QC-passed, expired, or with less remaining
    shelf life than the customer's minimum are skipped, as are lots any other
    plugin blocks (``inventory_lot_blocked``). Lots without FSSAI data come
    after every batch, oldest received first. Short: 409 naming the line's quantity.
    """
    product = stock.products([line.product_id]).get(line.product_id)
    if product is None or not product.track_lots:
        return None
    session = db_session()
    day = today()
    minimum = min_remaining_days(order.customer_id)
    rows = session.execute(
        select(StockBalance.lot_id, StockBalance.available, Lot.code, Lot.received_on)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .where(
            StockBalance.product_id == product.id,
            StockBalance.warehouse_id == order.warehouse_id,
            StockBalance.available > 0,
        )
    ).all()
    batches = batches_of_lots(r.lot_id for r in rows)
    blocked: dict[uuid.UUID, str] = {}
    if rows:
        for answer in hooks().inventory_lot_blocked(lot_ids=[r.lot_id for r in rows]):
            blocked.update(answer or {})
    for r in rows:
        batch = batches.get(r.lot_id)
        if batch is None or r.lot_id in blocked or minimum is None:
            continue
        left = rules.remaining_days(batch.expires_on, day)
        if left < minimum:
            blocked[r.lot_id] = f"batch {batch.number} has {left} days of shelf life left, the customer needs {minimum}"

    def rank(r: Any) -> tuple[Any, ...]:
        batch = batches.get(r.lot_id)
        if batch is not None:
            return (0, batch.expires_on, batch.number, str(r.lot_id))
        return (1, r.received_on, r.code, str(r.lot_id))

    out: list[StockAllocation] = []
    left_qty = Decimal(line.quantity)
    for r in sorted(rows, key=rank):
        if left_qty <= 0:
            break
        if r.lot_id in blocked:
            continue
        take = min(Decimal(r.available), left_qty)
        out.append(StockAllocation(order.warehouse_id, r.lot_id, take))
        left_qty -= take
    if left_qty > 0:
        got = Decimal(line.quantity) - left_qty
        unusable = []  # the shortfall involves held, failed or expired batches: an attempt worth recording
        for lot_id in sorted(blocked, key=str):
            batch = batches.get(lot_id)
            kind = block_kind(batch, day) if batch is not None else None
            if batch is not None and kind in REFUSED_KINDS:
                unusable.append((batch, kind, blocked[lot_id]))
        if unusable:
            record_refusal("allocate", order, unusable)
        reasons = sorted(set(blocked.values()))
        reason = f"only {_qty(got)} of {product.sku} can be allocated first-expiry-first-out"
        if reasons:
            reason += " (" + "; ".join(reasons[:5]) + ")"
        raise UdyogError(
            f"not enough stock of {product.sku}: {reason}",
            status=409,
            errors={f"lines.{line.line_no - 1}.quantity": [reason]},
        )
    return out


def record_allocations(order: Any) -> list[Allocation]:
    """Write which batch serves which order line (from the order's reservations), on confirmation."""
    reservations = [r for r in order.reservations if r.lot_id is not None]
    batches = batches_of_lots(r.lot_id for r in reservations)
    line_nos = {line.id: line.line_no for line in order.lines}
    rows = [
        Allocation(
            order_id=order.id,
            line_id=r.line_id,
            line_no=line_nos.get(r.line_id, 0),
            lot_id=r.lot_id,
            product_id=r.product_id,
            customer_id=order.customer_id,
            quantity=r.quantity,
        )
        for r in reservations
        if r.lot_id in batches
    ]
    if rows:
        db_session().add_all(rows)
        db_session().flush()
    return rows


def order_batch_blocks(order: Any, *, despatch: bool) -> list[tuple[Batch, str, str]]:
    """Batches of the order's reservations that stop it, as (batch, kind, problem), by batch number.

    ``kind`` is ``held`` (always), ``qc_failed`` or ``expired`` (despatch only).
    """
    day = today()
    out = []
    for batch in sorted(batches_of_lots(r.lot_id for r in order.reservations).values(), key=lambda b: b.number):
        if batch.on_hold:
            out.append((batch, "held", f"batch {batch.number} is on hold: {batch.hold_reason or 'recall'}"))
        elif despatch and batch.qc_status == "failed":
            out.append((batch, "qc_failed", f"batch {batch.number} failed QC"))
        elif despatch and rules.expired(batch.expires_on, day):
            out.append((batch, "expired", f"batch {batch.number} expired on {batch.expires_on:%d-%m-%Y}"))
    return out


def order_batch_problems(order: Any, *, despatch: bool) -> list[str]:
    """Batches of the order's reservations that stop it: on hold (always); failed QC or expired (despatch only)."""
    return [problem for _, _, problem in order_batch_blocks(order, despatch=despatch)]


def refuse_blocked_batches(order: Any, *, despatch: bool) -> list[str]:
    """The answer to ``sales_before_despatch`` / ``sales_before_invoice`` for the batches, recording a refusal.

    Sales refuses the operation (409) when any answer names a problem, and its
    transaction rolls back: the attempt is recorded with
    :func:`udyog_sdk.emit_detached` (event ``fssai.batch.use_refused``), which
    is written in a transaction of its own once the refused one has ended.
    """
    blocks = order_batch_blocks(order, despatch=despatch)
    if blocks:
        record_refusal("despatch" if despatch else "invoice", order, blocks)
    return [problem for _, _, problem in blocks]


def record_refusal(operation: str, order: Any, blocks: Sequence[tuple[Batch, str, str]]) -> uuid.UUID:
    """Record that ``operation`` (despatch, invoice, allocate) of ``order`` was refused for ``blocks``' batches.

    The event ``fssai.batch.use_refused`` survives the rollback of the refused
    operation (see docs/fssai.md): the vigilance rule ``fssai.expired_or_held_despatch``
    raises an alert from it.
    """
    return emit_detached(
        REFUSED_EVENT,
        {
            "operation": operation,
            "order_id": str(order.id),
            "order_number": order.number,
            "customer_id": str(order.customer_id) if order.customer_id else None,
            "batches": [
                {"batch_id": str(batch.id), "number": batch.number, "kind": kind, "problem": problem}
                for batch, kind, problem in blocks
            ],
        },
    )


def invoice_line_details(invoice: Any, line: Any) -> list[str]:
    """The batches behind an invoice line with their label dates (``Batch … · Mfg … · Use by …``)."""
    session = db_session()
    rows = session.execute(
        select(
            Batch.number, Batch.date_kind, Batch.produced_on, Batch.expires_on, Batch.best_before, Allocation.quantity
        )
        .select_from(Allocation)
        .join(Batch, Batch.lot_id == Allocation.lot_id)
        .where(Allocation.order_id == invoice.order_id, Allocation.line_no == line.line_no)
        .order_by(Batch.expires_on, Batch.number)
    ).all()
    several = len(rows) > 1
    out = []
    for number, kind, produced_on, expires_on, best_before, quantity in rows:
        text = rules.label_lines(number, kind, produced_on, expires_on, best_before)
        out.append(f"{text} · Qty {_qty(quantity)}" if several else text)
    return out


# -- expiry monitoring -------------------------------------------------------------------------------


@dataclass
class ExpiryRow:
    """A batch with stock on hand that is expired or within the alert window."""

    batch_id: uuid.UUID
    number: str
    product_id: uuid.UUID
    sku: str
    product_name: str
    expires_on: dt.date
    days_left: int
    status: str  # "expired" or "near_expiry"
    on_hand: Decimal = ZERO
    warehouses: list[str] = field(default_factory=list)
    on_hold: bool = False


def expiry_watch(*, window_days: int | None = None, on: dt.date | None = None) -> list[ExpiryRow]:
    """Batches with stock on hand that expired, or expire within the window (setting, 30 days), earliest first.

    One query: batches up to the window's end joined to their balances with stock on hand.
    """
    day = on or today()
    window = settings()["expiry_alert_days"] if window_days is None else window_days
    end = day + dt.timedelta(days=window)
    rows = (
        db_session()
        .execute(
            select(Batch, Product.sku, Product.name, StockBalance.on_hand, Warehouse.code)
            .join(Product, Product.id == Batch.product_id)
            .join(StockBalance, StockBalance.lot_id == Batch.lot_id)
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
            .where(Batch.expires_on <= end, StockBalance.on_hand > 0)
            .order_by(Batch.expires_on, Batch.number, Warehouse.code)
        )
        .all()
    )
    out: dict[uuid.UUID, ExpiryRow] = {}
    for batch, sku, name, on_hand, code in rows:
        row = out.get(batch.id)
        if row is None:
            left = rules.remaining_days(batch.expires_on, day)
            row = out[batch.id] = ExpiryRow(
                batch.id,
                batch.number,
                batch.product_id,
                sku,
                name,
                batch.expires_on,
                left,
                "expired" if rules.expired(batch.expires_on, day) else "near_expiry",
                on_hold=batch.on_hold,
            )
        row.on_hand += on_hand
        row.warehouses.append(code)
    return list(out.values())


def expiry_scan(*, on: dt.date | None = None) -> dict[str, int]:
    """The daily scan: one event per batch entering the window (``fssai.batch.near_expiry``) and per batch
    that expired with stock on hand (``fssai.batch.expired``); each batch alerts once per kind.
    """
    day = on or today()
    rows = expiry_watch(on=day)
    batches = {b.id: b for b in db_session().scalars(select(Batch).where(Batch.id.in_([r.batch_id for r in rows])))}
    counts = {"near_expiry": 0, "expired": 0}
    for row in rows:
        batch = batches[row.batch_id]
        payload = {
            "batch_id": str(row.batch_id),
            "number": row.number,
            "product_id": str(row.product_id),
            "sku": row.sku,
            "expires_on": row.expires_on.isoformat(),
            "days_left": row.days_left,
            "on_hand": str(row.on_hand),
        }
        if row.status == "expired" and batch.expired_alerted_on is None:
            batch.expired_alerted_on = day
            emit(EXPIRED_EVENT, payload)
            counts["expired"] += 1
        elif row.status == "near_expiry" and batch.near_expiry_alerted_on is None:
            batch.near_expiry_alerted_on = day
            emit(NEAR_EXPIRY_EVENT, payload)
            counts["near_expiry"] += 1
    db_session().flush()
    return counts


# -- recall: trace, recoveries, report -------------------------------------------------------------


class TraceRow(NamedTuple):
    """One order that took stock of the batch: who, which order and invoice, how much, when despatched.

    A named tuple of plain values (ids as text): ten thousand of them stay out
    of the garbage collector's way (tuples of untracked values are untracked).
    """

    customer_id: str
    customer_code: str
    customer_name: str
    order_id: str
    order_number: str
    order_state: str
    invoice_number: str | None
    invoice_date: dt.date | None
    quantity: Decimal
    despatched_on: dt.datetime | None


@dataclass
class CustomerTotal:
    """A customer's despatched and recovered quantities of a batch."""

    customer_id: str
    customer_code: str
    customer_name: str
    despatched: Decimal = ZERO
    recovered: Decimal = ZERO
    orders: int = 0

    @property
    def outstanding(self) -> Decimal:
        """Despatched and not recovered yet."""
        return self.despatched - self.recovered


@dataclass
class Trace:
    """The forward trace of a batch: its rows (per order) and totals per customer."""

    batch: Batch
    sku: str
    product_name: str
    pack_size: str
    rows: list[TraceRow]
    customers: list[CustomerTotal]

    @property
    def despatched(self) -> Decimal:
        """Everything despatched from the batch."""
        return sum((c.despatched for c in self.customers), ZERO)

    @property
    def recovered(self) -> Decimal:
        """Everything recovered of the batch."""
        return sum((c.recovered for c in self.customers), ZERO)


def get_batch(batch_id: uuid.UUID, field_name: str = "batch_id") -> Batch:
    """The batch, or 422 naming ``field_name``."""
    batch = db_session().scalar(select(Batch).where(Batch.id == batch_id)) if isinstance(batch_id, uuid.UUID) else None
    if batch is None:
        raise _refuse("no such batch", field_name, "no such batch")
    return batch


def trace(batch: Batch, *, recall: Recall | None = None) -> Trace:
    """Every customer, order, invoice, quantity and despatch date of a batch, with totals per customer.

    Set-based: one query for the order rows (the allocations of the lot,
    index ``ix_fssai_allocation_lot``, joined to the orders and their live
    invoices), one for the recoveries of ``recall`` (when given), one for the
    names of the customers, one for the product; quantities are added up in
    Python because SQLite keeps exact decimals as text.
    """
    session = db_session()
    invoice = (
        select(Invoice.order_id, Invoice.number, Invoice.invoice_date)
        .where(Invoice.state != "cancelled")
        .subquery("live_invoice")
    )
    # On PostgreSQL the ids come as text straight from the server: no UUID objects made and turned back into text.
    as_text = session.get_bind().dialect.name == "postgresql"
    customer_col = cast(Allocation.customer_id, String) if as_text else Allocation.customer_id
    order_col = cast(Allocation.order_id, String) if as_text else Allocation.order_id
    query = (
        select(
            customer_col,
            order_col,
            Order.number,
            Order.state,
            invoice.c.number,
            invoice.c.invoice_date,
            Allocation.quantity,
            Order.delivered_at,
        )
        .select_from(Allocation)
        .join(Order, Order.id == Allocation.order_id)
        .outerjoin(invoice, invoice.c.order_id == Allocation.order_id)
        .where(Allocation.lot_id == batch.lot_id, Order.state != "cancelled")
        .execution_options(yield_per=2000)  # streamed: a few thousand rows alive at a time
    )
    # (order, invoice) -> (customer, order, number, state, invoice, invoice date, quantity, despatched)
    merged: dict[tuple[str, str | None], tuple[Any, ...]] = {}
    for customer_id, order_id, number, state, invoice_number, invoice_date, quantity, delivered in session.execute(
        query
    ):
        key = (order_id if as_text else str(order_id), invoice_number)
        found = merged.get(key)
        if found is not None:
            quantity += found[6]
        customer = customer_id if as_text else str(customer_id)
        merged[key] = (customer, key[0], number, state, invoice_number, invoice_date, quantity, delivered)
    recovered: list[tuple[str, Decimal]] = []
    if recall is not None:
        recovered = [
            (str(customer_id), quantity)
            for customer_id, quantity in session.execute(
                select(Recovery.customer_id, Recovery.quantity).where(Recovery.recall_id == recall.id)
            )
        ]
    wanted = {values[0] for values in merged.values()} | {customer_id for customer_id, _ in recovered}
    names: dict[str, tuple[str, str]] = {}
    if wanted:
        query_names = select(Customer.id, Customer.code, Customer.name).where(
            Customer.id.in_([uuid.UUID(i) for i in wanted])
        )
        names = {str(i): (code, name) for i, code, name in session.execute(query_names)}
    latest = dt.datetime.max.replace(tzinfo=dt.UTC)
    trace_rows = sorted(
        (TraceRow(v[0], *names.get(v[0], ("", "")), *v[1:]) for v in merged.values()),
        key=lambda t: (t.customer_name, t.despatched_on or latest, t.order_number),
    )
    customers: dict[str, CustomerTotal] = {}
    for t in trace_rows:
        total = customers.get(t.customer_id)
        if total is None:
            total = customers[t.customer_id] = CustomerTotal(t.customer_id, t.customer_code, t.customer_name)
        total.orders += 1
        if t.despatched_on is not None:
            total.despatched += t.quantity
    for customer_id, quantity in recovered:
        code, name = names.get(customer_id, ("", ""))
        customers.setdefault(customer_id, CustomerTotal(customer_id, code, name)).recovered += quantity
    product = session.execute(
        select(Product.sku, Product.name, Unit.code, ProductFood.pack_size)
        .join(Unit, Unit.id == Product.unit_id)
        .outerjoin(ProductFood, ProductFood.record_id == Product.id)
        .where(Product.id == batch.product_id)
    ).one()
    pack = product[3] or product[2]
    return Trace(
        batch, product[0], product[1], pack, trace_rows, sorted(customers.values(), key=lambda c: c.customer_name)
    )


def create_recall(data: Mapping[str, Any]) -> Recall:
    """Start a recall of a batch (number from ``fssai.recall``): the batch goes on hold at once.

    ``data``: ``batch_id``, ``reason``, optional ``recall_class`` (I, II, III;
    default II), ``depth`` (distributor, retail, consumer; default retail),
    ``started_on`` (default today), ``deadline`` (default started_on + the
    setting ``recall_deadline_days``). Emits ``fssai.recall.started``.
    """
    batch = get_batch(data["batch_id"])
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise _refuse("reason required", "reason", "say why the batch is recalled")
    started = data.get("started_on") or today()
    try:
        deadline = data.get("deadline") or started + dt.timedelta(days=int(settings()["recall_deadline_days"]))
    except OverflowError:
        raise _refuse("invalid deadline", "deadline", "give a deadline: the default runs past the calendar") from None
    if deadline < started:
        raise _refuse("invalid deadline", "deadline", "must not be before started_on")
    taken = select(Recall.number).where(Recall.lot_id == batch.lot_id, Recall.state == "open").limit(1)
    other = db_session().scalar(taken)
    if other is not None:
        raise _refuse("recall open", "batch_id", f"recall {other} of this batch is open", 409)
    recall = Recall(
        number=next_number("fssai.recall", on=started),
        lot_id=batch.lot_id,
        recall_class=data.get("recall_class") or "II",
        depth=data.get("depth") or "retail",
        reason=reason,
        started_on=started,
        deadline=deadline,
        state="open",
    )
    db_session().add(recall)
    hold_batch(batch, f"recall {recall.number}: {reason}")
    db_session().flush()
    emit(
        "fssai.recall.started",
        {
            "recall_id": str(recall.id),
            "number": recall.number,
            "batch_id": str(batch.id),
            "batch": batch.number,
            "class": recall.recall_class,
            "deadline": deadline.isoformat(),
        },
    )
    return recall


def batch_of_recall(recall: Recall) -> Batch:
    """The recalled batch."""
    batch = db_session().scalar(select(Batch).where(Batch.lot_id == recall.lot_id))
    assert batch is not None  # a recall is only made for a batch
    return batch


def record_recovery(recall: Recall, data: Mapping[str, Any]) -> Recovery:
    """Record a quantity recovered from a customer; at most what was despatched to it and not recovered yet."""
    if recall.state != "open":
        raise _refuse("recall closed", "recall", f"recall {recall.number} is closed", 409)
    quantity = Decimal(data["quantity"])
    if quantity <= 0:
        raise _refuse("invalid quantity", "quantity", "must be greater than 0")
    customer_id = data["customer_id"]
    result = trace(batch_of_recall(recall), recall=recall)
    total = next((c for c in result.customers if c.customer_id == str(customer_id)), None)
    if total is None or total.despatched == 0:
        raise _refuse("not a recipient", "customer_id", "nothing of this batch was despatched to this customer")
    if quantity > total.outstanding:
        raise _refuse(
            "more than despatched",
            "quantity",
            f"at most {total.outstanding} (despatched {total.despatched}, recovered {total.recovered})",
        )
    row = Recovery(
        recall_id=recall.id,
        customer_id=customer_id,
        quantity=quantity,
        recovered_on=data.get("recovered_on") or today(),
        note=data.get("note") or "",
    )
    db_session().add(row)
    db_session().flush()
    return row


def close_recall(recall: Recall) -> Recall:
    """Close a recall (the batch stays on hold: release it explicitly if it may be sold again)."""
    if recall.state != "open":
        raise _refuse("recall closed", "state", f"recall {recall.number} is closed already", 409)
    recall.state = "closed"
    recall.closed_on = today()
    db_session().flush()
    emit("fssai.recall.closed", {"recall_id": str(recall.id), "number": recall.number})
    return recall
