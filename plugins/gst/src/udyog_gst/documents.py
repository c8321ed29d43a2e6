"""The GST tax invoice: its data (for the API and the page) and its PDF (the SDK's PDF helper)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from udyog_crm.models import Customer
from udyog_sales.models import Invoice
from udyog_sales.services import invoice_line_details
from udyog_sdk import UdyogError, current_tenant, db_session
from udyog_sdk.exports import Column, PdfDocument
from udyog_sdk.formatting import amount_in_words

from . import data, services
from .models import InvoiceTax, Registration


def _state(code: str | None) -> str:
    if not code:
        return ""
    if code == data.EXPORT_POS:
        return "96 · Outside India (export)"
    return f"{code} · {data.STATES.get(code, '?')}"


def tax_invoice(invoice: Invoice) -> dict[str, Any]:
    """Everything a GST tax invoice shows, as plain data; 409 for an invoice issued without GST."""
    gst = db_session().scalar(select(InvoiceTax).where(InvoiceTax.record_id == invoice.id))
    if gst is None:
        raise UdyogError(
            f"invoice {invoice.number} was issued without GST", status=409, errors={"invoice": ["no GST details"]}
        )
    customer = db_session().scalar(select(Customer).where(Customer.id == invoice.customer_id))
    supplier = db_session().scalar(select(Registration).where(Registration.gstin == gst.supplier_gstin).limit(1))
    gst_lines = services.invoice_gst_lines(gst, invoice.number)
    details = invoice_line_details(invoice)
    by_no = {int(row["line_no"]): row for row in gst_lines}
    lines = []
    for line in invoice.lines:
        row = by_no.get(line.line_no, {})
        lines.append(
            {
                "line_no": line.line_no,
                "description": line.description,
                "hsn": row.get("hsn", ""),
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_pct": line.discount_pct,
                "rate": row.get("rate", "0"),
                "taxable": str(line.taxable),
                "igst": row.get("igst", "0.00"),
                "cgst": row.get("cgst", "0.00"),
                "sgst": row.get("sgst", "0.00"),
                "utgst": row.get("utgst", "0.00"),
                "details": details.get(line.line_no, []),
            }
        )
    taxable = sum((Decimal(str(line.taxable)) for line in invoice.lines), Decimal("0.00"))
    return {
        "invoice_id": invoice.id,
        "number": invoice.number,
        "invoice_date": invoice.invoice_date,
        "state": invoice.state,
        "supplier_name": (supplier.legal_name if supplier and supplier.legal_name else current_tenant().name),
        "supplier_gstin": gst.supplier_gstin,
        "supplier_state": _state(gst.supplier_gstin[:2] if gst.supplier_gstin else None),
        "buyer_name": customer.name if customer else "",
        "buyer_address": (customer.shipping_address or customer.billing_address) if customer else "",
        "buyer_gstin": gst.buyer_gstin,
        "place_of_supply": gst.place_of_supply,
        "place_of_supply_name": _state(gst.place_of_supply),
        "inter_state": gst.inter_state,
        "sez": gst.sez,
        "export": gst.export,
        "eway_bill_needed": gst.eway_bill_needed,
        "einvoice_needed": gst.einvoice_needed,
        "lines": lines,
        "breakup": services.breakup(gst_lines),
        "taxable_total": str(taxable),
        "tax_total": str(invoice.tax_total),
        "round_off": str(invoice.round_off),
        "total": str(invoice.total),
        "amount_in_words": amount_in_words(invoice.total),
    }


def invoice_pdf(view: dict[str, Any]) -> bytes:
    """The tax invoice as a PDF: parties, place of supply, lines with HSN and details, tax by head, words."""
    doc = PdfDocument("Tax invoice", subtitle=f"{view['supplier_name']} · GSTIN {view['supplier_gstin']}")
    doc.key_values(
        [
            ("Invoice no.", view["number"]),
            ("Invoice date", view["invoice_date"].strftime("%d-%m-%Y")),
            ("Supplier GSTIN", view["supplier_gstin"] or ""),
            ("Supplier state", view["supplier_state"]),
            ("Buyer", view["buyer_name"]),
            ("Buyer address", view["buyer_address"] or "—"),
            ("Buyer GSTIN", view["buyer_gstin"] or "Unregistered"),
            ("Place of supply", view["place_of_supply_name"]),
            (
                "Supply",
                ("SEZ · " if view["sez"] else "") + ("inter-state (IGST)" if view["inter_state"] else "intra-state"),
            ),
            ("Cancelled", "Yes") if view.get("state") == "cancelled" else ("Status", view.get("state", "")),
        ],
        label_width=38,
    )
    utgst = any(Decimal(str(line["utgst"])) for line in view["lines"])
    state_head = ("utgst", "UTGST") if utgst else ("sgst", "SGST")
    columns = [
        Column("line_no", "#", width=0.6),
        Column("description", "Description", width=4),
        Column("hsn", "HSN", width=1.4),
        Column("quantity", "Qty", "number", width=1.2),
        Column("unit_price", "Rate ₹", "money", width=1.5),
        Column("taxable", "Taxable ₹", "money", width=1.7),
        Column("rate", "GST %", "number", width=1),
    ]
    if view["inter_state"]:
        columns.append(Column("igst", "IGST ₹", "money", width=1.5))
    else:
        columns += [
            Column("cgst", "CGST ₹", "money", width=1.5),
            Column(state_head[0], f"{state_head[1]} ₹", "money", width=1.5),
        ]
    rows = []
    for line in view["lines"]:
        row = {**line, "description": "\n".join([line["description"], *line["details"]])}
        for key in ("taxable", "igst", "cgst", "sgst", "utgst", "rate"):
            row[key] = Decimal(str(line[key]))
        rows.append(row)
    doc.table(columns, rows)
    doc.heading("Tax by rate")
    heads = [Column("rate", "GST %", "number"), Column("taxable", "Taxable ₹", "money")]
    if view["inter_state"]:
        heads.append(Column("igst", "IGST ₹", "money"))
    else:
        heads += [Column("cgst", "CGST ₹", "money"), Column(state_head[0], f"{state_head[1]} ₹", "money")]
    doc.table(heads, [{k: Decimal(v) for k, v in row.items()} for row in view["breakup"]])
    totals: list[tuple[str, Any]] = [("Taxable value", Decimal(view["taxable_total"]))]
    sums = {
        key: sum((Decimal(str(r[key])) for r in view["breakup"]), Decimal("0.00"))
        for key in ("igst", "cgst", "sgst", "utgst")
    }
    for key, label in (("igst", "IGST"), ("cgst", "CGST"), ("sgst", "SGST"), ("utgst", "UTGST")):
        if sums[key]:
            totals.append((label, sums[key]))
    totals += [("Round-off", Decimal(view["round_off"])), ("Invoice total", Decimal(view["total"]))]
    doc.totals(totals)
    doc.paragraph(f"Amount in words: {view['amount_in_words']}")
    flags = []
    if view["eway_bill_needed"]:
        flags.append("E-way bill required (inter-state consignment above ₹50,000).")
    if view["einvoice_needed"]:
        flags.append("E-invoice (IRN) required for this supplier.")
    if flags:
        doc.paragraph(" ".join(flags), size=9)
    doc.paragraph("Reverse charge: No. This is a computer-generated invoice.", size=8)
    return doc.output()
