"""Business logic of sales: plain functions over the current tenant's session.

Routes, pages, the quote conversion, demo data and tests call them alike.
They work in the caller's transaction and never commit: a refusal raises
:class:`udyog_sdk.UdyogError` and the caller rolls back, so nothing of a
refused operation stays (reservations, numbers, balances).

Lock order (to keep concurrent operations free of deadlocks): the customer's
account row, then stock balances (inventory sorts them by product, warehouse
and lot), then invoices, then the number series' counters.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from udyog_crm.services import get_customer
from udyog_inventory import services as stock
from udyog_inventory.models import Product, Warehouse
from udyog_sdk import (
    UdyogError,
    current_user,
    db_session,
    emit,
    hooks,
    plugin_settings,
    read_records,
    write_records,
)
from udyog_sdk.api import check_version
from udyog_sdk.formatting import tenant_today
from udyog_sdk.models import new_id, utcnow
from udyog_sdk.series import next_number

from . import pricing
from .hookspecs import Account, LineTax
from .models import (
    ZERO,
    AccountTerms,
    CreditNote,
    Invoice,
    InvoiceLine,
    Order,
    OrderLine,
    Payment,
    PaymentAllocation,
    Reservation,
)

CREDIT_OVERRIDE = "sales.order.credit_override"
ORDER_REFERENCE = "sales.order"


# -- accounts ---------------------------------------------------------------------------------


def account_row(customer_id: uuid.UUID, *, lock: bool = False) -> AccountTerms | None:
    """The customer's terms row, or None; ``lock`` takes it ``FOR UPDATE`` (and re-reads it)."""
    return next(iter(read_records(_LOCKED_ACCOUNT if lock else _ACCOUNT, {"customer_id": customer_id})), None)


#: Statements built once (a statement object run again skips building and keying its SQL).
_ACCOUNT = select(AccountTerms).where(AccountTerms.record_id == bindparam("customer_id"))
_LOCKED_ACCOUNT = _ACCOUNT.with_for_update().execution_options(populate_existing=True)


def locked_account(customer_id: uuid.UUID) -> AccountTerms:
    """The customer's terms row, locked ``FOR UPDATE``; created with the defaults when missing.

    Concurrent confirmations, payments and credit notes of one customer queue
    on this lock, so two cannot both pass the credit check.
    """
    row = account_row(customer_id, lock=True)
    if row is not None:
        return row
    session = db_session()
    try:
        with session.begin_nested():
            session.add(AccountTerms(record_id=customer_id, is_distributor=False, margin_pct=ZERO, outstanding=ZERO))
    except IntegrityError:
        pass  # created by a concurrent transaction: lock theirs
    row = account_row(customer_id, lock=True)
    assert row is not None
    return row


def snapshot(customer_id: uuid.UUID, row: AccountTerms | None) -> Account:
    """The hooks' view of a customer's terms (defaults when there is no row)."""
    if row is None:
        return Account(customer_id, False, ZERO, None, ZERO)
    return Account(
        customer_id=customer_id,
        is_distributor=bool(row.is_distributor),
        margin_pct=row.margin_pct if row.margin_pct is not None else ZERO,
        credit_limit=row.credit_limit,
        outstanding=row.outstanding if row.outstanding is not None else ZERO,
    )


def change_outstanding(customer_id: uuid.UUID, delta: Decimal) -> AccountTerms:
    """Add ``delta`` to the customer's outstanding balance (the row locked)."""
    row = locked_account(customer_id)
    row.outstanding = pricing.money((row.outstanding or ZERO) + delta)
    return row


# -- orders ---------------------------------------------------------------------------------


def _problem(message: str, field: str, reason: str, status: int = 422) -> UdyogError:
    return UdyogError(message, status=status, errors={field: [reason]})


def _refused(message: str, field: str, problems: list[str], status: int) -> UdyogError:
    return UdyogError(message + "; ".join(problems), status=status, errors={field: problems})


def _check_products(lines: Sequence[Mapping[str, Any]]) -> dict[uuid.UUID, Product]:
    """The products the lines name, by id; 422 naming the line for one that does not exist."""
    found = stock.products(list({line["product_id"]: None for line in lines}))
    errors = {
        f"lines.{i}.product_id": ["no such product"] for i, line in enumerate(lines) if line["product_id"] not in found
    }
    if errors:
        raise UdyogError("invalid order lines", status=422, errors=errors)
    return found


def _set_lines(order: Order, lines: Sequence[Mapping[str, Any]]) -> None:
    if not lines:
        raise _problem("an order needs lines", "lines", "at least one line is required")
    products = _check_products(lines)
    order.lines.clear()
    db_session().flush()
    for number, line in enumerate(lines, start=1):
        product = products[line["product_id"]]
        order.lines.append(
            OrderLine(
                order_id=order.id,
                line_no=number,
                product_id=product.id,
                description=line.get("description") or product.name,
                quantity=line["quantity"],
                discount_pct=line.get("discount_pct") or ZERO,
                agreed_price=line.get("agreed_price"),
            )
        )


def create_order(data: Mapping[str, Any]) -> Order:
    """Create a draft order with its lines (numbered from the series ``sales.order``).

    ``data``: ``customer_id``, ``warehouse_id``, optional ``order_date``
    (default today in the tenant's timezone), ``discount_pct``, ``notes``,
    ``owner_id`` (default the current user) and ``lines`` (each
    ``product_id``, ``quantity``, optional ``discount_pct``, ``description``,
    ``agreed_price``).
    """
    data = dict(data)
    lines = data.pop("lines", None) or []
    get_customer(data["customer_id"])
    if db_session().scalar(select(Warehouse.id).where(Warehouse.id == data["warehouse_id"])) is None:
        raise _problem("invalid order", "warehouse_id", "no such warehouse")
    user = current_user()
    order = Order(
        id=new_id(),
        customer_id=data["customer_id"],
        warehouse_id=data["warehouse_id"],
        order_date=data.get("order_date") or tenant_today(),
        discount_pct=data.get("discount_pct") or ZERO,
        notes=data.get("notes") or "",
        owner_id=data.get("owner_id") or (user.user_id if user is not None else None),
        state="draft",
    )
    _set_lines(order, lines)
    order.number = next_number("sales.order", on=order.order_date)
    write_records([order, *order.lines])
    return order


#: Session info key: order id → the transaction that read the order ``FOR UPDATE`` (see :func:`mark_locked`).
_LOCKED = "udyog_sales_locked_orders"


def mark_locked(order: Order) -> None:
    """Record that ``order`` was just read ``FOR UPDATE`` in the current transaction (``lock_order`` keeps it)."""
    session = db_session()
    session.info.setdefault(_LOCKED, {})[order.id] = session.get_transaction()


def lock_order(order: Order, version: int | None) -> None:
    """Lock the order's row ``FOR UPDATE`` (re-read), then check the client's version (409 when stale).

    Every order action starts here, so two actions on one order run one after
    the other and the second sees the first's outcome (on SQLite writing
    transactions are serial anyway). An order the caller read ``FOR UPDATE``
    in this transaction (:func:`udyog_sales.api.order_for_action`) is not
    read again.
    """
    session = db_session()
    locked = session.info.get(_LOCKED)
    if locked is None or locked.get(order.id) is not session.get_transaction():
        read_records(_LOCKED_ORDER, {"order_id": order.id})
        mark_locked(order)
    check_version(order, version)


_LOCKED_ORDER = (
    select(Order).where(Order.id == bindparam("order_id")).with_for_update().execution_options(populate_existing=True)
)
_LINES = select(OrderLine).where(OrderLine.order_id == bindparam("order_id")).order_by(OrderLine.line_no)
_RESERVATIONS = select(Reservation).where(Reservation.order_id == bindparam("order_id")).order_by(Reservation.id)


def _collection(order: Order, key: str, statement: Any) -> list[Any]:
    """``order.<key>``, read by ``statement`` (prepared) when not loaded yet in this session, not lazily."""
    if key not in order.__dict__:
        set_committed_value(order, key, read_records(statement, {"order_id": order.id}))
    return getattr(order, key)  # type: ignore[no-any-return]


def order_lines(order: Order) -> list[OrderLine]:
    """``order.lines``: read by a prepared statement when not loaded yet in this session."""
    return _collection(order, "lines", _LINES)


def order_reservations(order: Order) -> list[Reservation]:
    """``order.reservations``: read by a prepared statement when not loaded yet in this session."""
    return _collection(order, "reservations", _RESERVATIONS)


def require_draft(order: Order, what: str = "changed") -> None:
    """409 unless ``order`` is a draft."""
    if order.state != "draft":
        raise _problem(
            f"order {order.number} is {order.state} and cannot be {what}", "state", f"is {order.state}", status=409
        )


def update_order(order: Order, data: Mapping[str, Any]) -> Order:
    """Change a draft order (``lines``, when given, replace all lines); confirmed orders are refused (409)."""
    require_draft(order)
    data = dict(data)
    lines = data.pop("lines", None)
    if "customer_id" in data:
        get_customer(data["customer_id"])
    for key, value in data.items():
        setattr(order, key, ZERO if key == "discount_pct" and value is None else value)
    if lines is not None:
        _set_lines(order, lines)
    db_session().flush()
    return order


def price_order(order: Order, account: Account) -> None:
    """Step 1: price every line (hook), spread the order discount, compute taxes (hook) and totals."""
    relay = hooks()
    session = db_session()
    stock.products([line.product_id for line in order.lines])  # one read; the default price hook finds them
    # No autoflush while pricing: each line is written once, with its taxable amount and tax, not once per hook.
    with session.no_autoflush:
        for line in order.lines:
            price = relay.sales_price_line(order=order, line=line, account=account)
            if price is None:
                raise _problem("no price", f"lines.{line.line_no - 1}.product_id", "no plugin prices this line", 409)
            price = Decimal(price)
            if price < 0:
                raise _problem("negative price", f"lines.{line.line_no - 1}.product_id", "priced below zero", 409)
            line.unit_price = pricing.money(price)
            line.amount = pricing.line_amount(line.quantity, line.unit_price, line.discount_pct)
    subtotal = sum((line.amount for line in order.lines), ZERO)
    discount = pricing.order_discount(subtotal, order.discount_pct)
    for line, taxable in zip(order.lines, pricing.spread([ln.amount for ln in order.lines], discount), strict=True):
        line.taxable = taxable
    taxes: list[LineTax] = relay.sales_compute_taxes(order=order, lines=list(order.lines)) or []
    by_line: dict[int, Decimal] = {}
    for tax in taxes:
        by_line[tax.line_no] = by_line.get(tax.line_no, ZERO) + pricing.money(tax.amount)
    for line in order.lines:
        line.tax_amount = by_line.get(line.line_no, ZERO)
    order.subtotal = subtotal
    order.discount_amount = discount
    order.tax_total = sum(by_line.values(), ZERO)
    order.round_off = ZERO
    answer = relay.sales_round_off(order=order)
    round_off = pricing.money(Decimal(answer)) if answer is not None else ZERO
    if abs(round_off) >= 1:
        raise _problem("invalid round-off", "round_off", f"{round_off} is not between -0.99 and 0.99", 409)
    order.round_off = round_off
    order.total = subtotal - discount + order.tax_total + round_off
    order.taxes = [
        {"line_no": t.line_no, "name": t.name, "rate": str(t.rate), "amount": str(pricing.money(t.amount))}
        for t in taxes
    ]


def _messages(answers: Iterable[list[str] | None]) -> list[str]:
    return [str(m) for answer in answers if answer for m in answer]


def check_credit(order: Order, account: Account) -> None:
    """Step 2's credit check: total + outstanding above the credit limit → 409, unless the user may override."""
    limit = account.credit_limit
    if limit is None or account.outstanding + order.total <= limit:
        return
    user = current_user()
    if user is not None and user.can(CREDIT_OVERRIDE):
        return
    raise UdyogError(
        f"credit limit exceeded: order {order.number} of ₹{order.total} with ₹{account.outstanding} outstanding "
        f"exceeds the customer's credit limit of ₹{limit}",
        status=409,
        errors={
            "credit_limit": [
                f"total {order.total} + outstanding {account.outstanding} = {order.total + account.outstanding} "
                f"exceeds the credit limit {limit} (needs {CREDIT_OVERRIDE})"
            ]
        },
    )


def _lot_key(lot_id: uuid.UUID | None) -> str:
    return "" if lot_id is None else str(lot_id)


def reserve_stock(order: Order) -> list[Reservation]:
    """Steps 3 and 4: allocate every line (hook) and reserve the allocations, sorted by product, warehouse, lot.

    Returns the order's new reservation records, held by ``order.reservations``
    but not written yet: the caller writes them (:func:`udyog_sdk.write_records`)
    with the rest of its changes, in one statement per table.
    """
    relay = hooks()
    planned: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None, Decimal, OrderLine]] = []
    with stock.availability_snapshot((line.product_id for line in order.lines), order.warehouse_id):
        answers = [(line, relay.sales_allocate_stock(order=order, line=line)) for line in order.lines]
    for line, allocations in answers:
        if allocations is None:
            raise _problem("no allocation", f"lines.{line.line_no - 1}.quantity", "no plugin allocates stock", 409)
        total = sum((Decimal(a.quantity) for a in allocations), Decimal("0"))
        if total != line.quantity:
            raise _problem(
                "allocation does not match",
                f"lines.{line.line_no - 1}.quantity",
                f"allocated {total} of {line.quantity}",
                409,
            )
        planned += [(line.product_id, a.warehouse_id, a.lot_id, Decimal(a.quantity), line) for a in allocations]
    planned.sort(key=lambda p: (str(p[0]), str(p[1]), _lot_key(p[2])))
    planned = [p for p in planned if p[3] > 0]
    if not planned:
        return []
    stock.reserve_many(
        [
            stock.MoveLine(product_id, warehouse_id, quantity, lot_id)
            for product_id, warehouse_id, lot_id, quantity, _ in planned
        ],
        reference=ORDER_REFERENCE,
        reference_id=order.id,
        reference_number=order.number,
    )
    reservations = [
        Reservation(
            order_id=order.id,
            line_id=line.id,
            product_id=product_id,
            warehouse_id=warehouse_id,
            lot_id=lot_id,
            quantity=quantity,
        )
        for product_id, warehouse_id, lot_id, quantity, line in planned
    ]
    # A draft never holds reservations (only confirming makes them): nothing to read before adding.
    held = order.reservations if "reservations" in sa_inspect(order).dict else []
    set_committed_value(order, "reservations", [*held, *reservations])
    return reservations


def confirm_order(order: Order, version: int | None) -> Order:
    """Confirm a draft order: the eight steps, in the caller's transaction (see docs/sales.md).

    1. price the lines and compute taxes → totals; 2. validate (hook; 422)
    and check the credit limit (409 unless ``sales.order.credit_override``),
    with the account row locked; 3. allocate stock (hook); 4. reserve it;
    5. mark the order confirmed (written with the totals, before 3 and 4: one update of the order);
    6. issue the invoice when the setting
    ``invoice_on_confirm`` says so; 7. add the total to the outstanding
    balance; 8. ``sales_after_confirm`` and the event ``sales.order.confirmed``.
    """
    lock_order(order, version)
    require_draft(order, "confirmed")
    if not order_lines(order):
        raise _problem("an order needs lines", "lines", "at least one line is required")
    customer = get_customer(order.customer_id)
    account_terms = locked_account(order.customer_id)
    account = snapshot(order.customer_id, account_terms)
    price_order(order, account)  # 1
    problems = _messages(hooks().sales_validate_order(order=order))  # 2
    if problems:
        raise _refused(f"order {order.number} is not valid: ", "order", problems, 422)
    check_credit(order, account)
    # 5 is written with 1's totals: one update of the order (one version, one audit entry) per confirmation.
    # A refusal in 3 or 4 rolls the whole transaction back.
    order.state = "confirmed"
    order.confirmed_at = utcnow()
    write_records([order, *order.lines])
    reservations = reserve_stock(order)  # 3, 4
    invoice = None
    if plugin_settings("sales")["invoice_on_confirm"]:  # 6
        write_records(reservations)  # before the invoice's hooks, which may read them
        reservations = []
        invoice = issue_invoice(order)
    account_terms.outstanding = pricing.money((account_terms.outstanding or ZERO) + order.total)  # 7
    write_records([*reservations, account_terms])
    hooks().sales_after_confirm(order=order)  # 8
    emit(
        "sales.order.confirmed",
        {
            "order_id": str(order.id),
            "number": order.number,
            "customer_id": str(order.customer_id),
            "customer": customer.name,
            "owner_id": str(order.owner_id) if order.owner_id else None,
            "total": str(order.total),
            "invoice_id": str(invoice.id) if invoice is not None else None,
            "invoice_number": invoice.number if invoice is not None else None,
        },
    )
    return order


def active_invoices(order: Order) -> list[Invoice]:
    """The order's invoices that are not cancelled."""
    return read_records(_ACTIVE_INVOICES, {"order_id": order.id})


_ACTIVE_INVOICES = select(Invoice).where(Invoice.order_id == bindparam("order_id"), Invoice.state != "cancelled")


def refresh_state(order: Order, invoices: list[Invoice] | None = None) -> None:
    """Move a confirmed order along: delivered, invoiced (delivered and invoiced), paid (every invoice paid).

    ``invoices``: the order's active invoices when the caller knows them (else they are read).
    """
    if order.state in ("draft", "cancelled"):
        return
    if invoices is None:
        invoices = active_invoices(order)
    if order.delivered_at is not None and invoices:
        order.state = "paid" if all(i.state == "paid" for i in invoices) else "invoiced"
    elif order.delivered_at is not None:
        order.state = "delivered"
    else:
        order.state = "confirmed"


def deliver_order(order: Order, version: int | None) -> Order:
    """Issue an order's reserved stock (``sales_before_despatch`` may refuse, 409); emits ``sales.order.delivered``."""
    lock_order(order, version)
    if order.state == "draft" or order.state == "cancelled" or order.delivered_at is not None:
        reason = "delivered already" if order.delivered_at is not None else f"is {order.state}"
        raise _problem(f"order {order.number} cannot be delivered: {reason}", "state", reason, 409)
    problems = _messages(hooks().sales_before_despatch(order=order))
    if problems:
        raise _refused(f"order {order.number} cannot be despatched: ", "order", problems, 409)
    reservations = sorted(
        order_reservations(order), key=lambda r: (str(r.product_id), str(r.warehouse_id), _lot_key(r.lot_id))
    )
    if reservations:
        stock.issue_many(
            [stock.MoveLine(r.product_id, r.warehouse_id, r.quantity, r.lot_id) for r in reservations],
            from_reserved=True,
            reference=ORDER_REFERENCE,
            reference_id=order.id,
            reference_number=order.number,
        )
    order.delivered_at = utcnow()
    with db_session().no_autoflush:  # delivered_at and the state in one update (one version, one audit entry)
        refresh_state(order)
    write_records([order])
    emit("sales.order.delivered", {"order_id": str(order.id), "number": order.number})
    return order


def issue_invoice(order: Order, *, on: dt.date | None = None) -> Invoice:
    """Issue the invoice of a confirmed order: ``sales_before_invoice`` may refuse (409); the number is taken last.

    The number comes from the gap-free series ``sales.invoice``: a rolled-back
    transaction gives it back. Calls ``sales_after_invoice`` and emits
    ``sales.invoice.issued``.
    """
    if order.state in ("draft", "cancelled"):
        raise _problem(f"order {order.number} is {order.state}: it cannot be invoiced", "state", order.state, 409)
    if active_invoices(order):
        raise _problem(f"order {order.number} is invoiced already", "state", "invoiced already", 409)
    problems = _messages(hooks().sales_before_invoice(order=order))
    if problems:
        raise _refused(f"order {order.number} cannot be invoiced: ", "invoice", problems, 409)
    invoice_id = new_id()
    invoice = Invoice(
        id=invoice_id,
        order_id=order.id,
        customer_id=order.customer_id,
        invoice_date=on or tenant_today(),
        state="issued",
        subtotal=order.subtotal,
        discount_amount=order.discount_amount,
        tax_total=order.tax_total,
        round_off=order.round_off or ZERO,
        total=order.total,
        paid_amount=ZERO,
        credited_amount=ZERO,
        balance=order.total,
        lines=[
            InvoiceLine(
                invoice_id=invoice_id,
                line_no=line.line_no,
                product_id=line.product_id,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price or ZERO,
                discount_pct=line.discount_pct,
                taxable=line.taxable,
                tax_amount=line.tax_amount,
            )
            for line in order_lines(order)
        ],
    )
    if invoice.total == 0:
        invoice.state = "paid"
    invoice.number = next_number("sales.invoice", on=invoice.invoice_date)  # as late as possible
    refresh_state(order, [invoice])  # it had none active (checked above, the order locked)
    write_records([invoice, *invoice.lines, order])  # the invoice, its lines, the order's state: one audit statement
    hooks().sales_after_invoice(invoice=invoice)
    emit(
        "sales.invoice.issued",
        {
            "invoice_id": str(invoice.id),
            "number": invoice.number,
            "order_id": str(order.id),
            "customer_id": str(order.customer_id),
            "total": str(invoice.total),
        },
    )
    return invoice


def invoice_line_details(invoice: Invoice) -> dict[int, list[str]]:
    """What plugins print under each line of ``invoice`` (``sales_invoice_line_details``), by ``line_no``."""
    relay = hooks()
    details: dict[int, list[str]] = {}
    for line in invoice.lines:
        details[line.line_no] = _messages(relay.sales_invoice_line_details(invoice=invoice, line=line))
    return details


def invoice_order(order: Order, version: int | None) -> Invoice:
    """The invoice action: check the version, then :func:`issue_invoice`."""
    lock_order(order, version)
    return issue_invoice(order)


def cancel_order(order: Order, version: int | None) -> Order:
    """Cancel a draft, or a confirmed and undelivered order (its reservation released, outstanding reduced).

    A delivered order is refused (409: reverse it with a credit note); so is
    one whose invoice is not cancelled. Emits ``sales.order.cancelled``.
    """
    lock_order(order, version)
    if order.state == "cancelled":
        raise _problem(f"order {order.number} is cancelled already", "state", "cancelled already", 409)
    if order.delivered_at is not None:
        raise _problem(
            f"order {order.number} is delivered: issue a credit note instead", "state", "delivered", status=409
        )
    was_confirmed = order.state != "draft"
    if was_confirmed:
        if active_invoices(order):
            raise _problem(
                f"order {order.number} has an invoice: cancel the invoice first", "state", "invoiced", status=409
            )
        change_outstanding(order.customer_id, -order.total)
        for res in sorted(
            order.reservations, key=lambda r: (str(r.product_id), str(r.warehouse_id), _lot_key(r.lot_id))
        ):
            stock.release(
                res.product_id,
                res.warehouse_id,
                res.quantity,
                lot_id=res.lot_id,
                reference=ORDER_REFERENCE,
                reference_id=order.id,
                reference_number=order.number,
            )
        order.reservations.clear()
    order.state = "cancelled"
    order.cancelled_at = utcnow()
    db_session().flush()
    emit(
        "sales.order.cancelled",
        {
            "order_id": str(order.id),
            "number": order.number,
            "customer_id": str(order.customer_id),
            "was_confirmed": was_confirmed,
            "total": str(order.total),
        },
    )
    return order


# -- invoices and credit notes -----------------------------------------------------------------


def locked_invoice(invoice_id: uuid.UUID) -> Invoice:
    """The invoice, locked ``FOR UPDATE`` and re-read; 422 naming ``invoice_id`` when it does not exist."""
    query = select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    invoice = db_session().scalar(query)
    if invoice is None:
        raise _problem("no such invoice", "invoice_id", "no such invoice")
    return invoice


def _settle(invoice: Invoice) -> None:
    invoice.balance = invoice.total - invoice.paid_amount - invoice.credited_amount
    if invoice.state != "cancelled":
        invoice.state = "paid" if invoice.balance <= 0 else "issued"
    db_session().flush()
    order = db_session().scalar(select(Order).where(Order.id == invoice.order_id))
    if order is not None:
        refresh_state(order)
        db_session().flush()


def cancel_invoice(invoice: Invoice) -> None:
    """Cancel an invoice (it keeps its number); refused (409) with payments allocated or credit notes issued."""
    if invoice.paid_amount > 0:
        raise _problem(
            f"invoice {invoice.number} has payments allocated and cannot be cancelled: issue a credit note",
            "state",
            "payments allocated",
            409,
        )
    if invoice.credited_amount > 0:
        raise _problem(
            f"invoice {invoice.number} has credit notes: cancel them first", "state", "credit notes issued", 409
        )
    invoice.state = "cancelled"
    invoice.balance = ZERO
    _settle(invoice)
    emit("sales.invoice.cancelled", {"invoice_id": str(invoice.id), "number": invoice.number})


def create_credit_note(data: Mapping[str, Any]) -> CreditNote:
    """A credit note against an invoice: ``amount`` at most the invoice's balance; reduces it and the outstanding."""
    amount = Decimal(data["amount"])
    if amount <= 0:
        raise _problem("invalid credit note", "amount", "must be more than 0")
    peek = db_session().scalar(select(Invoice.customer_id).where(Invoice.id == data["invoice_id"]))
    if peek is None:
        raise _problem("no such invoice", "invoice_id", "no such invoice")
    account = locked_account(peek)
    invoice = locked_invoice(data["invoice_id"])
    if invoice.state == "cancelled":
        raise _problem(f"invoice {invoice.number} is cancelled", "invoice_id", "the invoice is cancelled", 409)
    if amount > invoice.balance:
        raise _problem(
            "credit note above the invoice's balance", "amount", f"at most the invoice's balance, {invoice.balance}"
        )
    invoice.credited_amount += amount
    account.outstanding = pricing.money((account.outstanding or ZERO) - amount)
    _settle(invoice)
    note = CreditNote(
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        note_date=data.get("note_date") or tenant_today(),
        amount=amount,
        reason=data.get("reason") or "",
        state="issued",
    )
    note.number = next_number("sales.credit_note", on=note.note_date)
    db_session().add(note)
    db_session().flush()
    emit(
        "sales.credit_note.issued",
        {
            "credit_note_id": str(note.id),
            "number": note.number,
            "invoice_id": str(invoice.id),
            "customer_id": str(invoice.customer_id),
            "amount": str(amount),
        },
    )
    return note


def cancel_credit_note(note: CreditNote) -> None:
    """Cancel a credit note: the invoice's balance and the outstanding come back."""
    account = locked_account(note.customer_id)
    invoice = locked_invoice(note.invoice_id)
    invoice.credited_amount -= note.amount
    account.outstanding = pricing.money((account.outstanding or ZERO) + note.amount)
    note.state = "cancelled"
    _settle(invoice)


# -- payments ---------------------------------------------------------------------------------


def create_payment(data: Mapping[str, Any]) -> Payment:
    """Record a payment (series ``sales.payment``): reduces the outstanding; ``allocations`` are applied at once."""
    get_customer(data["customer_id"])
    amount = Decimal(data["amount"])
    if amount <= 0:
        raise _problem("invalid payment", "amount", "must be more than 0")
    change_outstanding(data["customer_id"], -amount)
    payment = Payment(
        customer_id=data["customer_id"],
        payment_date=data.get("payment_date") or tenant_today(),
        amount=amount,
        allocated_amount=ZERO,
        method=data.get("method") or "bank",
        reference=data.get("reference") or "",
    )
    payment.number = next_number("sales.payment", on=payment.payment_date)
    db_session().add(payment)
    db_session().flush()
    for i, alloc in enumerate(data.get("allocations") or []):
        allocate_payment(payment, alloc["invoice_id"], Decimal(alloc["amount"]), field=f"allocations.{i}")
    emit(
        "sales.payment.received",
        {
            "payment_id": str(payment.id),
            "number": payment.number,
            "customer_id": str(payment.customer_id),
            "amount": str(amount),
        },
    )
    return payment


def allocate_payment(payment: Payment, invoice_id: uuid.UUID, amount: Decimal, *, field: str = "") -> PaymentAllocation:
    """Apply ``amount`` of ``payment`` to an invoice of the same customer.

    At most the invoice's balance and the payment's unallocated amount (422
    naming ``amount``); the invoice becomes paid at a zero balance, and its
    order when all its invoices are.
    """
    prefix = f"{field}." if field else ""
    if amount <= 0:
        raise _problem("invalid allocation", f"{prefix}amount", "must be more than 0")
    if payment.state == "cancelled":
        raise _problem(f"payment {payment.number} is cancelled", "state", "cancelled", 409)
    invoice = locked_invoice(invoice_id)
    if invoice.customer_id != payment.customer_id:
        raise _problem("invalid allocation", f"{prefix}invoice_id", "an invoice of another customer")
    if invoice.state == "cancelled":
        raise _problem("invalid allocation", f"{prefix}invoice_id", "the invoice is cancelled", 409)
    unallocated = payment.amount - payment.allocated_amount
    if amount > unallocated:
        raise _problem("allocation above the payment", f"{prefix}amount", f"at most the unallocated {unallocated}")
    if amount > invoice.balance:
        reason = f"at most the invoice's balance {invoice.balance}"
        raise _problem("allocation above the balance", f"{prefix}amount", reason)
    allocation = PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=amount)
    payment.allocations.append(allocation)
    payment.allocated_amount += amount
    invoice.paid_amount += amount
    _settle(invoice)
    return allocation


def cancel_payment(payment: Payment) -> None:
    """Cancel a payment entered in error: every allocation is reversed and the outstanding comes back.

    The invoices it paid are open again for their allocated amounts (a paid
    order goes back to invoiced); the payment keeps its number and its
    allocations as history. Emits ``sales.payment.cancelled``.
    """
    if payment.state == "cancelled":
        raise _problem(f"payment {payment.number} is cancelled already", "state", "cancelled", 409)
    change_outstanding(payment.customer_id, payment.amount)  # the account row first (the lock order)
    for allocation in sorted(payment.allocations, key=lambda a: str(a.invoice_id)):
        invoice = locked_invoice(allocation.invoice_id)
        invoice.paid_amount -= allocation.amount
        _settle(invoice)
    payment.state = "cancelled"
    emit(
        "sales.payment.cancelled",
        {
            "payment_id": str(payment.id),
            "number": payment.number,
            "customer_id": str(payment.customer_id),
            "amount": str(payment.amount),
        },
    )


# -- quotes ---------------------------------------------------------------------------------


def first_warehouse() -> uuid.UUID:
    """The tenant's first active warehouse by code; 422 naming ``warehouse_id`` when there is none."""
    query = select(Warehouse.id).order_by(Warehouse.code).limit(1)
    if hasattr(Warehouse, "active"):
        query = query.where(Warehouse.active.is_(True))
    found = db_session().scalar(query)
    if found is None:
        raise _problem("no warehouse", "warehouse_id", "no warehouse: create one first")
    return found


def order_from_quote(quote: Any) -> Order:
    """A draft order from crm's :class:`~udyog_crm.hookspecs.QuoteData`: its lines at the quoted prices.

    ``quote.options["warehouse_id"]`` chooses the warehouse (default: the
    first). A line without a product is refused (422 naming it).
    """
    options = dict(quote.options or {})
    raw = options.get("warehouse_id")
    try:
        warehouse_id = uuid.UUID(str(raw)) if raw else first_warehouse()
    except ValueError:
        raise _problem("invalid options", "options.warehouse_id", "not a valid UUID") from None
    errors = {f"lines.{i}.product_id": ["no product"] for i, ln in enumerate(quote.lines) if ln.product_id is None}
    if errors:
        raise UdyogError("every quote line needs a product to become an order line", status=422, errors=errors)
    lines = [
        {
            "product_id": ln.product_id,
            "description": ln.description[:200],
            "quantity": Decimal(ln.quantity),
            "discount_pct": Decimal(ln.discount_pct),
            "agreed_price": Decimal(ln.unit_price),
        }
        for ln in quote.lines
    ]
    return create_order(
        {
            "customer_id": quote.customer_id,
            "warehouse_id": warehouse_id,
            "notes": f"From quote {quote.number}",
            "lines": lines,
        }
    )
