"""Hooks the ``sales`` plugin publishes: the order lifecycle.

Other plugins (GST, FSSAI, a third party's) implement them in their
``hooks.py`` with ``@hookimpl``; sales' own defaults are registered
``trylast``, so any other plugin's answer to a ``firstresult`` hook wins.

What the hooks receive:

- ``order`` is the ORM row :class:`udyog_sales.models.Order`, in the caller's
  transaction. Stable attributes: ``id``, ``number``, ``customer_id``,
  ``warehouse_id``, ``owner_id``, ``order_date``, ``state``, ``discount_pct``,
  ``subtotal``, ``discount_amount``, ``tax_total``, ``round_off``, ``total``, ``notes``, ``lines`` and
  ``reservations`` (``product_id``, ``warehouse_id``, ``lot_id``, ``quantity``; after step 4).
  Read it; change it only where a hook says so.
- ``line`` is :class:`udyog_sales.models.OrderLine`: ``id``, ``line_no``,
  ``product_id``, ``description``, ``quantity``, ``discount_pct``, ``agreed_price``, and after
  pricing ``unit_price``, ``amount`` (after the line discount) and
  ``taxable`` (after the order-level discount, what tax is computed on).
- ``account`` is :class:`Account`, a frozen snapshot of the customer's terms.
- ``invoice`` is :class:`udyog_sales.models.Invoice` (``number``,
  ``order_id``, ``customer_id``, ``invoice_date``, ``total``, ``lines``).

Every hook runs inside the transaction of the operation that calls it: a
refusal (or an exception) rolls back everything that operation did.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from udyog_sdk import hookspec

if TYPE_CHECKING:
    from udyog_inventory.services import Allocation


@dataclass(frozen=True)
class Account:
    """A customer's sales terms as the hooks see them (a snapshot; change them through the API).

    ``margin_pct`` is the distributor's margin on the base price in percent;
    ``credit_limit`` is None for no limit; ``outstanding`` is what the customer
    owes before the order at hand.
    """

    customer_id: uuid.UUID
    is_distributor: bool
    margin_pct: Decimal
    credit_limit: Decimal | None
    outstanding: Decimal


@dataclass(frozen=True)
class LineTax:
    """One tax on one order line: its ``line_no``, a ``name`` ("CGST"), the ``rate`` in percent and the ``amount``.

    A line may carry several (CGST and SGST). ``amount`` is in rupees with
    paise (it is rounded to 2 places when stored).
    """

    line_no: int
    name: str
    rate: Decimal
    amount: Decimal


@hookspec
def sales_validate_order(order: Any) -> list[str]:
    """Check an order before it is confirmed.

    Called in step 2 of the confirmation, after the lines are priced and the
    totals computed, before the credit check. Return problems as messages
    (an empty list when the order is fine); any problem refuses the
    confirmation with 422 (``errors["order"]`` lists them) and nothing of the
    confirmation stays.

    Arguments: ``order`` (an :class:`~udyog_sales.models.Order`, priced).

    Returns: a list of messages. Broadcast.

    Since: sales 0.1.
    """


@hookspec(firstresult=True)
def sales_price_line(order: Any, line: Any, account: Account) -> Decimal | None:
    """The unit price of an order line, before the line's discount.

    Called in step 1 of the confirmation for every line, in line order. The
    line's discount (``line.discount_pct``) and the order-level discount are
    applied to the answer afterwards; do not apply them here.

    Arguments: ``order``, ``line`` (an :class:`~udyog_sales.models.OrderLine`)
    and ``account`` (the customer's :class:`Account`).

    Returns: the unit price (a ``Decimal``, rounded to paise by sales), or None
    to let the next implementation decide. ``firstresult``: the first answer
    wins; sales' own default (``trylast``) is the product's base price times
    (1 + ``account.margin_pct`` / 100).

    Since: sales 0.1.
    """


@hookspec(firstresult=True)
def sales_compute_taxes(order: Any, lines: list[Any]) -> list[LineTax] | None:
    """The taxes of an order's lines.

    Called in step 1 of the confirmation, after every line is priced and the
    order-level discount is spread over the lines (``line.taxable``).

    Arguments: ``order`` and its ``lines``, in line order.

    Returns: a list of :class:`LineTax` (several per line allowed; none for an
    untaxed line), or None to let the next implementation decide.
    ``firstresult``; sales' own default (``trylast``) is no tax at all. The
    GST plugin implements it (CGST + SGST or IGST).

    Since: sales 0.1.
    """


@hookspec(firstresult=True)
def sales_round_off(order: Any) -> Decimal | None:
    """The round-off added to an order's total (rounding it to the rupee, for instance).

    Called in step 1 of the confirmation, after the taxes, with
    ``order.subtotal``, ``order.discount_amount`` and ``order.tax_total`` set.
    The answer is rounded to paise, stored as ``order.round_off`` (copied to
    the invoice) and added to the total. An answer of a rupee or more either
    way refuses the confirmation (409 naming ``round_off``).

    Arguments: ``order``.

    Returns: the round-off (a ``Decimal``, e.g. ``Decimal("-0.40")``), or None
    to let the next implementation decide. ``firstresult``; sales' own default
    (``trylast``) is ``0`` (no rounding). The GST plugin rounds to the rupee.

    Since: sales 0.2.
    """


@hookspec(firstresult=True)
def sales_allocate_stock(order: Any, line: Any) -> list[Allocation] | None:
    """Which stock (warehouse and lot) serves an order line.

    Called in step 3 of the confirmation for every line, in line order.
    The allocations' quantities must add up to ``line.quantity``; sales
    reserves them (step 4), sorted by product, warehouse and lot.

    Arguments: ``order`` (its ``warehouse_id`` is where it ships from) and
    ``line``.

    Returns: a list of :class:`udyog_inventory.services.Allocation`, or None
    to let the next implementation decide. ``firstresult``; sales' own
    default (``trylast``) is :func:`udyog_inventory.services.allocate`
    (lots first in, first out; 409 naming ``quantity`` when short). The FSSAI
    plugin replaces it with first expiry, first out.

    Since: sales 0.1.
    """


@hookspec
def sales_before_despatch(order: Any) -> list[str]:
    """Check an order before its stock is issued (delivery).

    Called by ``POST /api/v1/sales/orders/<id>/deliver`` before any stock
    moves. Any problem refuses the delivery with 409 (``errors["order"]``)
    and nothing moves.

    Arguments: ``order`` (confirmed, with its lines).

    Returns: a list of messages (empty: fine). Broadcast.

    Since: sales 0.1.
    """


@hookspec
def sales_before_invoice(order: Any) -> list[str]:
    """Check an order before an invoice is issued for it (a recall hold, an expired licence).

    Called before the invoice number is taken, by ``POST
    /api/v1/sales/orders/<id>/invoice`` and by the confirmation when the
    tenant's setting ``invoice_on_confirm`` is on. Any problem refuses with
    409 (``errors["invoice"]``); in a confirmation, the whole confirmation.

    Arguments: ``order``.

    Returns: a list of messages (empty: fine). Broadcast.

    Since: sales 0.1.
    """


@hookspec
def sales_after_confirm(order: Any) -> None:
    """React to a confirmation, inside its transaction.

    Called at the end of the confirmation, after the outstanding balance is
    updated and before the event ``sales.order.confirmed`` is emitted. An
    exception rolls the confirmation back. For work that may happen after
    the commit (messages, exports), listen to the event instead.

    Arguments: ``order`` (confirmed).

    Returns: nothing. Broadcast.

    Since: sales 0.1.
    """


@hookspec
def sales_after_invoice(invoice: Any) -> None:
    """React to an issued invoice, inside its transaction.

    Called right after the invoice is numbered and written (by the invoice
    action or a confirmation). An exception rolls the operation back.

    Arguments: ``invoice`` (an :class:`~udyog_sales.models.Invoice` with its
    ``lines``).

    Returns: nothing. Broadcast.

    Since: sales 0.1.
    """


@hookspec
def sales_invoice_line_details(invoice: Any, line: Any) -> list[str]:
    """Printable details under one invoice line (the batch, its dates), for invoice pages and PDFs.

    Called by :func:`udyog_sales.services.invoice_line_details`, which the
    invoice page and any invoice print (GST's tax invoice) use. Nothing is
    changed here: only read.

    Arguments: ``invoice`` (an :class:`~udyog_sales.models.Invoice`) and
    ``line`` (one of its :class:`~udyog_sales.models.InvoiceLine`).

    Returns: a list of short lines of text (empty: nothing to add). Broadcast;
    the answers are printed in the order the plugins answer.

    Example::

        @hookimpl
        def sales_invoice_line_details(invoice, line):
            return [f"Batch {b.number} · Exp {b.expiry:%b %Y}" for b in batches_of(invoice, line)]

    Since: sales 0.1.
    """
