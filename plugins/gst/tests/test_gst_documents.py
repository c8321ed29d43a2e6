"""Tax invoices, credit notes and order taxes on unusual data: long unbroken text renders, damaged stored lines 409."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from gst_kit import BUYER_KA, CREDIT_NOTES, CUSTOMERS, GST, PRODUCTS, download, invoiced, world
from sqlalchemy import update
from udyog_gst.models import InvoiceTax

from udyog_inventory import services as stock
from udyog_sales.models import Order

pytestmark = pytest.mark.udyog_plugins("gst")

#: A customer's name at its column's limit (200) without a single space.
LONG_WORD = "Ghee" * 50
#: HTML, Devanagari, right-to-left, CJK, an emoji and a zero-width space: the API takes them all.
ODD = "<b>घी</b> & مرحبا 中文 🧈\u200b"
#: A full, valid row of ``gst_invoice.lines``.
GOOD_LINE = {
    "line_no": 1,
    "hsn": "0405",
    "rate": "5",
    "taxable": "100.10",
    "igst": "5.01",
    "cgst": "0.00",
    "sgst": "0.00",
    "utgst": "0.00",
}


def pdf_text(body: bytes) -> str:
    """The text of a PDF with its line breaks removed (a long word wraps over several lines)."""
    assert body.startswith(b"%PDF")
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages).replace("\n", "")


def test_long_unbroken_names_and_unusual_characters_render(udyog_client, udyog_web_client, udyog_tenant):
    w = world(udyog_tenant)
    unit = udyog_client.get("/api/v1/inventory/units", expect=200).data[0]["id"]
    customer = udyog_client.post(
        CUSTOMERS,
        json={"code": "LONG", "name": LONG_WORD, "gstin": BUYER_KA, "shipping_address": (ODD * 100)[:2000]},
        expect=201,
    ).data
    product = udyog_client.post(
        PRODUCTS,
        json={"unit_id": unit, "sku": "S" * 40, "name": ODD, "hsn_code": "0405", "price": "99999.99"},
        expect=201,
    ).data
    with udyog_tenant.scope() as scope:
        stock.receive(uuid.UUID(product["id"]), uuid.UUID(w["w1"]), Decimal("10"), unit_cost=Decimal("1"))
        scope.session.commit()
    w = {**w, "long": customer["id"], "odd": product["id"]}
    invoice = invoiced(udyog_client, w, "long", ("odd", "3"), ("ghee", "1"), order_date="2025-10-01")
    view = udyog_client.get(f"{GST}/invoices/{invoice['id']}", expect=200).data
    assert [(line["description"], line["hsn"]) for line in view["lines"]] == [(ODD, "0405"), ("Cow ghee 1 L", "0405")]
    for path in (f"{GST}/invoices/{invoice['id']}/pdf", f"/gst/invoices/{invoice['id']}/pdf"):
        status, headers, body = download(udyog_client, path) if path.startswith(GST) else _web(udyog_web_client, path)
        assert (status, headers["Content-Type"]) == (200, "application/pdf"), body[:300]
        text = pdf_text(body)
        assert LONG_WORD in text  # wrapped over lines, none of it cut
        assert "<b>घी</b>" in text
    page = udyog_web_client.get(f"/gst/invoices/{invoice['id']}")
    assert page.status_code == 200 and LONG_WORD in page.text
    assert "&lt;b&gt;घी&lt;/b&gt;" in page.text and "<b>घी</b>" not in page.text  # escaped, not markup
    note = udyog_client.post(
        CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "20.00", "reason": ODD}, expect=201
    ).data
    assert udyog_client.get(f"{GST}/credit-notes/{note['id']}", expect=200).data["lines"]
    assert udyog_client.get(f"{GST}/orders/{invoice['order_id']}/taxes", expect=200).data["lines"]


def _web(client: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    answer = client.get(path)
    return answer.status_code, dict(answer.headers), answer.data


#: Damaged ``gst_invoice.lines`` (only a change in the database or a bad restore can store them) and the reason given.
DAMAGED_LINES = [
    ({"marker": "LEAKA0123456789"}, "expected a list of lines, found an object"),  # what the leak test writes
    (None, "expected a list of lines, found null"),
    (["1"], "entry 1 is a string, not an object"),
    ([{"line_no": 1, "hsn": "0405"}], "entry 1 has no rate, taxable, igst, cgst, sgst, utgst"),
    ([{**GOOD_LINE, "line_no": "one"}], "entry 1: line_no 'one' is not a whole number"),
    ([{**GOOD_LINE, "hsn": 405}], "entry 1: hsn not text"),
    ([GOOD_LINE, {**GOOD_LINE, "line_no": 2, "igst": "abc"}], "entry 2: igst 'abc' is not an amount"),
    ([{**GOOD_LINE, "taxable": "NaN"}], "entry 1: taxable 'NaN' is not an amount"),
]
#: Damaged ``sales_order.taxes`` and the reason given.
DAMAGED_TAXES = [
    ({"marker": "LEAKA0123456789"}, "expected a list of lines, found an object"),
    ([{"line_no": 1, "name": "IGST", "rate": "5"}], "entry 1 has no amount"),
    ([{"line_no": 1, "name": "IGST", "rate": "5", "amount": [1]}], "entry 1: amount [1] is not an amount"),
]


def test_damaged_stored_lines_answer_409_naming_the_field(udyog_client, udyog_web_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "ka", ("ghee", "1"), order_date="2025-10-01")
    note = udyog_client.post(
        CREDIT_NOTES, json={"invoice_id": invoice["id"], "amount": "20.00", "reason": "damaged jar"}, expect=201
    ).data
    message = f"invoice {invoice['number']} cannot be shown: its stored lines are damaged"
    for stored, reason in DAMAGED_LINES:
        with udyog_tenant.scope() as scope:
            scope.session.execute(
                update(InvoiceTax).where(InvoiceTax.record_id == uuid.UUID(invoice["id"])).values(lines=stored)
            )
            scope.session.commit()
        for path in (f"{GST}/invoices/{invoice['id']}", f"{GST}/invoices/{invoice['id']}/pdf"):
            refused = udyog_client.get(path, expect=409)
            assert (refused.message, refused.errors) == (message, {"lines": [reason]})
        refused = udyog_client.get(f"{GST}/credit-notes/{note['id']}", expect=409)
        assert refused.errors == {"lines": [reason]}
        for path in (f"/gst/invoices/{invoice['id']}", f"/gst/invoices/{invoice['id']}/pdf"):
            page = udyog_web_client.get(path)
            assert page.status_code == 409 and message in page.text
    # The order's own taxes are not the invoice's snapshot: still shown.
    assert udyog_client.get(f"{GST}/orders/{invoice['order_id']}/taxes", expect=200).data["lines"]


def test_damaged_stored_order_taxes_answer_409_naming_the_field(udyog_client, udyog_tenant):
    w = world(udyog_tenant)
    invoice = invoiced(udyog_client, w, "ka", ("ghee", "1"), order_date="2025-10-01")
    for stored, reason in DAMAGED_TAXES:
        with udyog_tenant.scope() as scope:
            scope.session.execute(update(Order).where(Order.id == uuid.UUID(invoice["order_id"])).values(taxes=stored))
            scope.session.commit()
        refused = udyog_client.get(f"{GST}/orders/{invoice['order_id']}/taxes", expect=409)
        assert refused.errors == {"taxes": [reason]} and "its stored taxes are damaged" in refused.message
    # The issued invoice keeps its own GST lines: still shown.
    assert udyog_client.get(f"{GST}/invoices/{invoice['id']}", expect=200).data["lines"]
