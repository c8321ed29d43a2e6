"""Business logic of GST: plain functions over the current tenant's session.

Place of supply, tax heads and per-line rounding (:func:`line_taxes`), the
rate in force by the time of supply (:func:`rate_for`), the round-off, the
snapshot of an issued invoice and the dated thresholds. They work in the
caller's transaction and never commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_inventory.models import Warehouse
from udyog_sales.hookspecs import LineTax
from udyog_sales.models import Invoice, Order
from udyog_sdk import UdyogError, db_session, plugin_settings
from udyog_sdk.models import Base
from udyog_sdk.stored import rows_problem

from . import data
from .identifiers import IdentifierError, pan_of, state_of, validate_gstin
from .models import HsnRate, InvoiceTax, Party, ProductTax, Registration

PAISE = Decimal("0.01")
RUPEE = Decimal("1")
HUNDRED = Decimal("100")
ZERO = Decimal("0.00")
HEADS = ("IGST", "CGST", "SGST", "UTGST")


def money(value: Decimal) -> Decimal:
    """``value`` to 2 decimals, half up (each tax head per line, INDIA.md)."""
    return Decimal(value).quantize(PAISE, rounding=ROUND_HALF_UP)


def plain(rate: Decimal) -> Decimal:
    """A rate without trailing zeros and without an exponent: 12.00 → 12, 2.50 → 2.5, 40 → 40."""
    value = Decimal(rate)
    return value.quantize(RUPEE) if value == value.to_integral_value() else value.normalize()


def _problem(message: str, field: str, reason: str, status: int = 422) -> UdyogError:
    return UdyogError(message, status=status, errors={field: [reason]})


def settings() -> Mapping[str, Any]:
    """The tenant's GST settings (turnovers, rounding)."""
    return plugin_settings("gst")


# -- registrations -----------------------------------------------------------------------------


def branch_model() -> Any:
    """The core's branch class, found by table name (plugins never import the core)."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table.name == "core_branch")


def check_registration(data_in: Mapping[str, Any], current: Registration | None = None) -> dict[str, Any]:
    """Normalise and check a branch registration; 422 naming the field and the reason.

    The GSTIN's state must be the branch's state code, and branches in one
    state share one registration (one GSTIN per state).
    """
    values = dict(data_in)
    branch_id = values.get("branch_id", current.branch_id if current else None)
    branch = db_session().scalar(select(branch_model()).where(branch_model().id == branch_id))
    if branch is None:
        raise _problem("invalid registration", "branch_id", "no such branch")
    raw = values.get("gstin", current.gstin if current else "")
    try:
        gstin = validate_gstin(raw or "")
    except IdentifierError as exc:
        raise _problem("invalid GSTIN", "gstin", str(exc)) from None
    if state_of(gstin) in data.LEGACY_STATES:
        raise _problem("invalid GSTIN", "gstin", f"{state_of(gstin)} is a legacy state code (old documents only)")
    if branch.state_code and branch.state_code != state_of(gstin):
        raise _problem(
            "invalid GSTIN",
            "gstin",
            f"the GSTIN is of state {state_of(gstin)}, the branch {branch.code} is in state {branch.state_code}",
        )
    query = select(Registration).where(Registration.state_code == state_of(gstin), Registration.gstin != gstin)
    if current is not None:
        query = query.where(Registration.id != current.id)
    other = db_session().scalar(query.limit(1))
    if other is not None:
        raise _problem(
            "one registration per state",
            "gstin",
            f"state {state_of(gstin)} is registered already as {other.gstin}: branches of a state share one GSTIN",
        )
    values.update(gstin=gstin, pan=pan_of(gstin), state_code=state_of(gstin))
    return values


def supplier_registration(order: Order) -> Registration:
    """The registration of the branch the order ships from (its warehouse's); 422 naming ``warehouse_id`` if none."""
    branch_id = db_session().scalar(select(Warehouse.branch_id).where(Warehouse.id == order.warehouse_id))
    found = db_session().scalar(select(Registration).where(Registration.branch_id == branch_id))
    if found is None:
        raise _problem(
            "no GST registration",
            "warehouse_id",
            "the warehouse's branch has no GSTIN: add its registration under GST → Registrations",
        )
    return found


# -- parties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Supply:
    """Where a supply goes and which heads apply: ``pos`` (2 digits), inter-state, SEZ, export, buyer GSTIN."""

    supplier_state: str
    pos: str
    inter_state: bool
    sez: bool
    export: bool
    buyer_gstin: str | None


def place_of_supply(customer: Customer, party: Party | None, supplier_state: str) -> Supply:
    """The place of supply of goods sold to ``customer`` from ``supplier_state``.

    Exports: ``96``, IGST. Otherwise where the movement ends: the shipping
    address's state; for a registered buyer without one, its GSTIN's state;
    for an unregistered buyer, the address on the invoice (shipping, else
    billing), and the supplier's own state when the invoice has none (a
    counter sale). SEZ supplies are inter-state (IGST) whatever the states.
    """
    export = bool(party and party.export)
    sez = bool(party and party.sez)
    gstin = party.gstin if party and party.gstin else None
    if export:
        return Supply(supplier_state, data.EXPORT_POS, True, sez, True, gstin)
    pos = customer.shipping_state_code or (state_of(gstin) if gstin else None) or customer.billing_state_code
    pos = pos or supplier_state
    return Supply(supplier_state, pos, sez or pos != supplier_state, sez, False, gstin)


# -- rates --------------------------------------------------------------------------------


def hsn_rates() -> dict[str, list[tuple[dt.date, Decimal]]]:
    """The tenant's HSN rate table: code → [(valid_from, rate)], oldest first."""
    table: dict[str, list[tuple[dt.date, Decimal]]] = {}
    for row in db_session().scalars(select(HsnRate).order_by(HsnRate.hsn_code, HsnRate.valid_from)):
        table.setdefault(row.hsn_code, []).append((row.valid_from, row.rate))
    return table


def rate_for(hsn: str, on: dt.date, table: Mapping[str, Sequence[tuple[dt.date, Decimal]]]) -> Decimal | None:
    """The rate for ``hsn`` on ``on``: the longest matching code or prefix with a rate in force then."""
    for length in range(len(hsn), 1, -1):
        history = table.get(hsn[:length])
        if not history:
            continue
        found = data.in_force([data.Dated(since, rate) for since, rate in history], on)
        if found is not None:
            return found
    return None


def product_rate(
    tax: ProductTax | None, on: dt.date, table: Mapping[str, Sequence[tuple[dt.date, Decimal]]]
) -> Decimal | None:
    """A product's rate on ``on``: its own rate from its date, else the HSN table's."""
    if tax is None or not tax.hsn_code:
        return None
    if tax.rate is not None and (tax.rate_from is None or tax.rate_from <= on):
        return tax.rate
    return rate_for(tax.hsn_code, on, table)


def product_taxes(product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ProductTax]:
    """The products' GST side rows, by product id (one query)."""
    ids = set(product_ids)
    if not ids:
        return {}
    return {row.record_id: row for row in db_session().scalars(select(ProductTax).where(ProductTax.record_id.in_(ids)))}


def hsn_digits(on: dt.date) -> int:
    """The HSN digits invoices need: 4 up to the turnover limit of the previous year, 6 above (tenant setting)."""
    rule = data.in_force(data.HSN_DIGITS, on)
    if rule is None:
        return 0
    limit, low, high = rule
    return high if Decimal(settings()["turnover_previous_year"]) > limit else low


# -- taxes ------------------------------------------------------------------------------------


def split(taxable: Decimal, rate: Decimal, supply: Supply) -> list[tuple[str, Decimal, Decimal]]:
    """A line's heads as (name, rate, amount): IGST at the full rate, or CGST and SGST/UTGST at half each.

    Each head is rounded separately to paise, half up, so CGST + SGST may
    differ from IGST by 0.01.
    """
    rate = plain(rate)
    if rate == 0:
        return []
    if supply.inter_state:
        return [("IGST", rate, money(taxable * rate / HUNDRED))]
    half = plain(rate / 2)
    state_head = "UTGST" if supply.pos in data.UTGST_STATES else "SGST"
    return [("CGST", half, money(taxable * half / HUNDRED)), (state_head, half, money(taxable * half / HUNDRED))]


def order_supply(order: Order) -> Supply:
    """The supply of an order: its branch's registration and its customer's place of supply."""
    registration = supplier_registration(order)
    customer = db_session().scalar(select(Customer).where(Customer.id == order.customer_id))
    if customer is None:
        raise _problem("no such customer", "customer_id", "no such customer")
    party = db_session().scalar(select(Party).where(Party.record_id == order.customer_id))
    return place_of_supply(customer, party, registration.state_code)


def line_taxes(order: Order, lines: Sequence[Any]) -> list[LineTax]:
    """The GST of an order's lines on ``line.taxable``, by the rates in force on the order date (time of supply).

    A product without an HSN code or without a rate on that date refuses
    the confirmation (422 naming the line).
    """
    supply = order_supply(order)
    taxes = product_taxes(line.product_id for line in lines)
    table = hsn_rates()
    on = order.order_date
    errors: dict[str, list[str]] = {}
    out: list[LineTax] = []
    for index, line in enumerate(lines):
        tax = taxes.get(line.product_id)
        field = f"lines.{index}.product_id"
        if tax is None or not tax.hsn_code:
            errors[field] = ["the product has no HSN code (GST)"]
            continue
        rate = product_rate(tax, on, table)
        if rate is None:
            errors[field] = [f"no GST rate for HSN {tax.hsn_code} on {on:%d-%m-%Y}"]
            continue
        for name, head_rate, amount in split(Decimal(line.taxable), Decimal(rate), supply):
            out.append(LineTax(line.line_no, name, head_rate, amount))
    if errors:
        raise UdyogError("GST cannot be computed for every line", status=422, errors=errors)
    return out


def round_off(gross: Decimal) -> Decimal:
    """What rounds ``gross`` to the rupee, half up (-0.50 < r <= 0.50), when the tenant rounds totals."""
    if not settings()["round_to_rupee"]:
        return ZERO
    return money(Decimal(gross).quantize(RUPEE, rounding=ROUND_HALF_UP) - Decimal(gross))


# -- thresholds -------------------------------------------------------------------------------


def eway_bill_needed(inter_state: bool, value: Decimal, on: dt.date) -> bool:
    """An inter-state consignment whose value including tax exceeds the threshold in force on ``on``."""
    limit = data.in_force(data.EWAY_BILL_INTERSTATE, on)
    return bool(inter_state and limit is not None and Decimal(value) > limit)


def einvoice_needed(on: dt.date, turnover: Decimal | None = None) -> bool:
    """Whether the tenant's aggregate turnover (the setting) exceeds the e-invoice threshold in force on ``on``."""
    limit = data.in_force(data.EINVOICE_TURNOVER, on)
    value = Decimal(settings()["aggregate_turnover"]) if turnover is None else Decimal(turnover)
    return limit is not None and value > limit


# -- invoices ---------------------------------------------------------------------------------


#: The amounts of each row of an issued invoice's GST lines (``gst_invoice.lines``), and of an order's taxes.
INVOICE_LINE_AMOUNTS = ("rate", "taxable", "igst", "cgst", "sgst", "utgst")
ORDER_TAX_AMOUNTS = ("rate", "amount")


def stored_rows(
    value: Any, texts: Sequence[str], amounts: Sequence[str], *, record: str, field: str
) -> list[Mapping[str, Any]]:
    """A JSON column of one row per line, checked before a document is made of it.

    Each row must be an object with an integer ``line_no``, the keys
    ``texts`` and the decimal ``amounts`` (:func:`udyog_sdk.stored.rows_problem`).
    What this plugin and sales write always is; anything else (a row changed
    in the database, a damaged restore) answers 409 naming ``field`` and what
    is wrong with it, instead of failing halfway through an invoice.
    """
    reason = rows_problem(value, texts=texts, amounts=amounts, integers=("line_no",))
    if reason is not None:
        raise _problem(f"{record} cannot be shown: its stored {field} are damaged", field, reason, 409)
    return value  # type: ignore[no-any-return]


def invoice_gst_lines(gst: InvoiceTax, number: str) -> list[Mapping[str, Any]]:
    """An issued invoice's GST lines (``gst_invoice.lines``), checked (:func:`stored_rows`; 409 when damaged)."""
    return stored_rows(gst.lines, ("hsn",), INVOICE_LINE_AMOUNTS, record=f"invoice {number}", field="lines")


def order_taxes(order: Order) -> list[Mapping[str, Any]]:
    """An order's taxes per line and head (``sales_order.taxes``), checked (:func:`stored_rows`; 409 when damaged)."""
    return stored_rows(order.taxes or [], ("name",), ORDER_TAX_AMOUNTS, record=f"order {order.number}", field="taxes")


def heads_by_line(taxes: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Decimal]]:
    """An order's ``taxes`` breakdown as {line_no: {head: amount}} plus ``rate`` (the line's total rate)."""
    out: dict[int, dict[str, Decimal]] = {}
    for tax in taxes:
        entry = out.setdefault(int(tax["line_no"]), {h: ZERO for h in (*HEADS, "rate")})
        name = str(tax["name"])
        if name in HEADS:
            entry[name] += Decimal(str(tax["amount"]))
            entry["rate"] += Decimal(str(tax["rate"]))
    return out


def gst_lines(lines: Iterable[Any], taxes: Iterable[Mapping[str, Any]]) -> list[dict[str, str | int]]:
    """GST lines of invoice or order lines: per line its HSN, rate, taxable value and every head (as strings)."""
    lines = list(lines)
    hsn = product_taxes(line.product_id for line in lines)
    heads = heads_by_line(taxes)
    rows: list[dict[str, str | int]] = []
    for line in lines:
        entry = heads.get(line.line_no, {h: ZERO for h in (*HEADS, "rate")})
        tax = hsn.get(line.product_id)
        rows.append(
            {
                "line_no": line.line_no,
                "hsn": (tax.hsn_code if tax else "") or "",
                "rate": str(plain(entry["rate"])),
                "taxable": str(line.taxable),
                "igst": str(money(entry["IGST"])),
                "cgst": str(money(entry["CGST"])),
                "sgst": str(money(entry["SGST"])),
                "utgst": str(money(entry["UTGST"])),
            }
        )
    return rows


def check_invoice_number(number: str, einvoicing: bool) -> None:
    """Rule 46 beyond what series constraints say: the first character alphanumeric, not ``0`` with e-invoicing."""
    if not number or not number[0].isascii() or not number[0].isalnum():
        raise _problem(
            f"invoice number {number} breaks GST rule 46",
            "series",
            "the first character must be a letter or a digit",
            409,
        )
    if einvoicing and number[0] == "0":
        raise _problem(
            f"invoice number {number} breaks GST rule 46",
            "series",
            "with e-invoicing the number may not start with 0",
            409,
        )


def snapshot_invoice(invoice: Invoice) -> None:
    """Record an issued invoice's GST facts (``gst_invoice``): GSTINs, place of supply, lines, the two flags."""
    order = db_session().scalar(select(Order).where(Order.id == invoice.order_id))
    assert order is not None
    supply = order_supply(order)
    registration = supplier_registration(order)
    einvoicing = einvoice_needed(invoice.invoice_date)
    check_invoice_number(invoice.number, einvoicing)
    row = db_session().scalar(select(InvoiceTax).where(InvoiceTax.record_id == invoice.id))
    if row is None:
        row = InvoiceTax(record_id=invoice.id)
        db_session().add(row)
    row.supplier_gstin = registration.gstin
    row.buyer_gstin = supply.buyer_gstin
    row.place_of_supply = supply.pos
    row.inter_state = supply.inter_state
    row.sez = supply.sez
    row.export = supply.export
    row.eway_bill_needed = eway_bill_needed(supply.inter_state, invoice.total, invoice.invoice_date)
    row.einvoice_needed = einvoicing
    row.lines = gst_lines(invoice.lines, order_taxes(order))
    db_session().flush()


def breakup(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Tax per rate: taxable value and each head, summed over the lines of that rate (sorted by rate)."""
    sums: dict[Decimal, dict[str, Decimal]] = {}
    for line in lines:
        rate = Decimal(str(line["rate"]))
        entry = sums.setdefault(rate, {k: ZERO for k in ("taxable", "igst", "cgst", "sgst", "utgst")})
        for key in entry:
            entry[key] += Decimal(str(line[key]))
    return [{"rate": str(plain(rate)), **{k: str(v) for k, v in entry.items()}} for rate, entry in sorted(sums.items())]


def seed_rates() -> int:
    """Copy the shipped HSN rates into the tenant's table (rows it lacks only); how many were added."""
    session = db_session()
    have = {(r.hsn_code, r.valid_from) for r in session.scalars(select(HsnRate))}
    added = 0
    for row in data.HSN_RATES:
        if (row.hsn, row.valid_from) in have:
            continue
        session.add(HsnRate(hsn_code=row.hsn, description=row.description, valid_from=row.valid_from, rate=row.rate))
        added += 1
    session.flush()
    return added


def credit_note_lines(
    note_amount: Decimal, invoice_total: Decimal, lines: Iterable[Mapping[str, Any]]
) -> list[dict[str, str | int]]:
    """A credit note's GST lines: the invoice's, in proportion to the note's amount over the invoice's total.

    Sales' credit notes carry an amount only; each line's taxable value and
    each head are scaled and rounded to paise, half up (GSTR-1 uses the same).
    """
    ratio = Decimal(note_amount) / Decimal(invoice_total) if invoice_total else Decimal("0")
    return [
        {
            "line_no": int(line["line_no"]),
            "hsn": str(line["hsn"]),
            "rate": str(line["rate"]),
            **{
                key: str(money(Decimal(str(line[key])) * ratio)) for key in ("taxable", "igst", "cgst", "sgst", "utgst")
            },
        }
        for line in lines
    ]
