"""REST API of GST: registrations and HSN rates as resources; tax invoices, order taxes and GSTR-1 as routes."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response
from sqlalchemy import select

from udyog_sales.models import Invoice, Order
from udyog_sdk import UdyogError, db_session, enqueue, run_status
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.exports import FORMATS, file_response
from udyog_sdk.fields import ExactDecimal
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import gstr1, services
from .models import HsnRate, Registration, Return


class RegistrationSchema(ma.Schema):
    """A branch's GST registration: the GSTIN is normalised and validated; PAN and state come from it."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    branch_id = ma.fields.UUID(required=True, metadata={"label": "Branch"})
    gstin = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40), metadata={"label": "GSTIN"})
    pan = ma.fields.String(dump_only=True, metadata={"label": "PAN"})
    state_code = ma.fields.String(dump_only=True, metadata={"label": "State"})
    legal_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    trade_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class RegistrationResource(Resource):
    """GST registrations of the tenant's branches (one GSTIN per state)."""

    model = Registration
    schema = RegistrationSchema
    permission_prefix = "gst.registration"
    filters = ("branch_id", "gstin", "state_code")
    sort = ("gstin", "state_code")
    default_sort = "state_code"
    search = ("gstin", "legal_name")
    list_columns = ("gstin", "state_code", "branch_id", "legal_name")
    importable = False

    def create(self, data: dict[str, Any]) -> Registration:
        """Normalise and check the GSTIN (422 naming ``gstin``), then write."""
        return super().create(services.check_registration(data))

    def update(self, obj: Registration, data: dict[str, Any]) -> Registration:
        """Check the changed registration as a whole, then write."""
        checked = services.check_registration(data, current=obj)
        return super().update(obj, {k: v for k, v in checked.items() if k in (*data, "gstin", "pan", "state_code")})


def _rate(value: Any) -> None:
    if not 0 <= value <= 100:
        raise ma.ValidationError("must be between 0 and 100")


def _hsn(value: str) -> None:
    if not (value.isdigit() and 2 <= len(value) <= 8):
        raise ma.ValidationError("an HSN/SAC code or prefix is 2 to 8 digits")


class HsnRateSchema(ma.Schema):
    """A GST rate for an HSN code or prefix, in force from ``valid_from`` until the next row of that code."""

    id = ma.fields.UUID(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    hsn_code = ma.fields.String(required=True, validate=_hsn, metadata={"label": "HSN/SAC code"})
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    valid_from = ma.fields.Date(required=True, metadata={"label": "Valid from"})
    rate = ExactDecimal(2, digits=3, required=True, validate=_rate, metadata={"label": "Rate (%)"})


class HsnRateResource(Resource):
    """The tenant's dated GST rates by HSN code (seeded with the shipped rates, editable)."""

    model = HsnRate
    schema = HsnRateSchema
    permission_prefix = "gst.rate"
    path = "rates"
    label = "GST rate"
    filters = ("hsn_code", "valid_from")
    sort = ("hsn_code", "valid_from")
    default_sort = "hsn_code"
    search = ("hsn_code", "description")
    list_columns = ("hsn_code", "description", "valid_from", "rate")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """One rate per code and date (422 naming ``valid_from``)."""
        code = data.get("hsn_code", obj.hsn_code if obj else None)
        since = data.get("valid_from", obj.valid_from if obj else None)
        query = select(HsnRate.id).where(HsnRate.hsn_code == code, HsnRate.valid_from == since)
        if obj is not None:
            query = query.where(HsnRate.id != obj.id)
        if db_session().scalar(query) is not None:
            raise UdyogError(
                "a rate exists already", status=422, errors={"valid_from": [f"HSN {code} has a rate from that date"]}
            )


REGISTRATIONS = RegistrationResource()
RATES = HsnRateResource()
RESOURCES = (REGISTRATIONS, RATES)


class TaxLineSchema(ma.Schema):
    """One line's GST: HSN, rate, taxable value and each head."""

    line_no = ma.fields.Integer()
    hsn = ma.fields.String()
    rate = ma.fields.String()
    taxable = ma.fields.String()
    igst = ma.fields.String()
    cgst = ma.fields.String()
    sgst = ma.fields.String()
    utgst = ma.fields.String()


class TaxInvoiceLineSchema(TaxLineSchema):
    """An invoice line on the tax invoice: what was sold, its GST and what plugins print under it."""

    description = ma.fields.String()
    quantity = ma.fields.Decimal(as_string=True)
    unit_price = ma.fields.Decimal(as_string=True)
    details = ma.fields.List(ma.fields.String(), metadata={"description": "Lines plugins print under it (batches)"})


class BreakupSchema(ma.Schema):
    """Taxable value and heads summed per rate."""

    rate = ma.fields.String()
    taxable = ma.fields.String()
    igst = ma.fields.String()
    cgst = ma.fields.String()
    sgst = ma.fields.String()
    utgst = ma.fields.String()


class TaxInvoiceSchema(ma.Schema):
    """An invoice as GST sees it."""

    invoice_id = ma.fields.UUID()
    number = ma.fields.String()
    invoice_date = ma.fields.Date()
    supplier_gstin = ma.fields.String(allow_none=True)
    buyer_gstin = ma.fields.String(allow_none=True)
    place_of_supply = ma.fields.String()
    place_of_supply_name = ma.fields.String()
    inter_state = ma.fields.Boolean()
    sez = ma.fields.Boolean()
    export = ma.fields.Boolean()
    eway_bill_needed = ma.fields.Boolean()
    einvoice_needed = ma.fields.Boolean()
    lines = ma.fields.List(ma.fields.Nested(TaxInvoiceLineSchema))
    breakup = ma.fields.List(ma.fields.Nested(BreakupSchema))
    taxable_total = ma.fields.String()
    tax_total = ma.fields.String()
    round_off = ma.fields.String()
    total = ma.fields.String()
    amount_in_words = ma.fields.String()


class OrderTaxesSchema(ma.Schema):
    """A confirmed order's GST lines and breakup per rate."""

    order_id = ma.fields.UUID()
    place_of_supply = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(TaxLineSchema))
    breakup = ma.fields.List(ma.fields.Nested(BreakupSchema))
    round_off = ma.fields.String()
    total = ma.fields.String()


class CreditNoteTaxSchema(ma.Schema):
    """A credit note's GST: the invoice's lines in proportion to the note's amount."""

    credit_note_id = ma.fields.UUID()
    number = ma.fields.String()
    note_date = ma.fields.Date()
    invoice_number = ma.fields.String()
    amount = ma.fields.String()
    place_of_supply = ma.fields.String()
    buyer_gstin = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(TaxLineSchema))
    breakup = ma.fields.List(ma.fields.Nested(BreakupSchema))


class PeriodSchema(ma.Schema):
    """A GSTR-1 month."""

    period = ma.fields.String(required=True, metadata={"description": "MMYYYY, e.g. 102025"})
    gstin = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(max=20),
        metadata={"description": "The GSTIN to file for; needed when the tenant has several"},
    )


class RunSchema(ma.Schema):
    """A queued or finished GSTR-1 run."""

    run_id = ma.fields.UUID()
    state = ma.fields.String()
    period = ma.fields.String(allow_none=True)
    return_id = ma.fields.UUID(allow_none=True)
    error = ma.fields.String(allow_none=True)


class ReturnSchema(ma.Schema):
    """A generated GSTR-1."""

    id = ma.fields.UUID()
    period = ma.fields.String()
    gstin = ma.fields.String()
    run_id = ma.fields.UUID(allow_none=True)
    generated_at = ma.fields.DateTime()
    total_value = ExactDecimal(2)
    data = ma.fields.Raw(metadata={"description": "The portal's JSON (amounts as strings here; numbers in the file)"})


class DownloadSchema(ma.Schema):
    """The file format."""

    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "xlsx"]))


def invoice_view(invoice_id: uuid.UUID) -> dict[str, Any]:
    """The GST view of an invoice (404 when there is none, 409 when it was issued without GST)."""
    from .documents import tax_invoice

    invoice = db_session().scalar(select(Invoice).where(Invoice.id == invoice_id))
    if invoice is None:
        raise UdyogError("Invoice not found", status=404)
    return tax_invoice(invoice)


def create_blueprint() -> Blueprint:
    """The GST API: the resources' routes, tax invoices, order taxes and GSTR-1 (fresh on every call)."""
    bp = Blueprint("gst", __name__, url_prefix="/api/v1/gst", description="GST: registrations, rates, invoices, GSTR-1")
    for resource in RESOURCES:
        resource.register(bp)

    @bp.route("/invoices/<uuid:invoice_id>", methods=["GET"])
    @bp.response(200, envelope(TaxInvoiceSchema))
    @requires("gst.invoice.read")
    def tax_invoice(invoice_id: uuid.UUID) -> Any:
        """An invoice's GST: GSTINs, place of supply, heads per line, breakup per rate, flags, amount in words"""
        return ok(TaxInvoiceSchema().dump(invoice_view(invoice_id)))

    @bp.route("/invoices/<uuid:invoice_id>/pdf", methods=["GET"])
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
    @requires("gst.invoice.read")
    def tax_invoice_pdf(invoice_id: uuid.UUID) -> Response:
        """The GST tax invoice as a PDF (a download)"""
        from .documents import invoice_pdf

        view = invoice_view(invoice_id)
        name = view["number"].replace("/", "-")
        return file_response(invoice_pdf(view), FORMATS["pdf"], f"tax-invoice-{name}.pdf")

    @bp.route("/credit-notes/<uuid:note_id>", methods=["GET"])
    @bp.response(200, envelope(CreditNoteTaxSchema))
    @requires("gst.invoice.read")
    def credit_note_tax(note_id: uuid.UUID) -> Any:
        """A credit note's GST: the invoice's lines and heads in proportion to the note's amount"""
        from udyog_sales.models import CreditNote

        from .models import InvoiceTax

        note = db_session().scalar(select(CreditNote).where(CreditNote.id == note_id))
        invoice = db_session().scalar(select(Invoice).where(Invoice.id == note.invoice_id)) if note else None
        gst = db_session().scalar(select(InvoiceTax).where(InvoiceTax.record_id == note.invoice_id)) if note else None
        if note is None or invoice is None:
            raise UdyogError("Credit note not found", status=404)
        if gst is None:
            raise UdyogError(
                f"invoice {invoice.number} was issued without GST", status=409, errors={"invoice": ["no GST"]}
            )
        stored = services.invoice_gst_lines(gst, invoice.number)
        lines = services.credit_note_lines(note.amount, invoice.total, stored)
        return ok(
            CreditNoteTaxSchema().dump(
                {
                    "credit_note_id": note.id,
                    "number": note.number,
                    "note_date": note.note_date,
                    "invoice_number": invoice.number,
                    "amount": str(note.amount),
                    "place_of_supply": gst.place_of_supply,
                    "buyer_gstin": gst.buyer_gstin,
                    "lines": lines,
                    "breakup": services.breakup(lines),
                }
            )
        )

    @bp.route("/orders/<uuid:order_id>/taxes", methods=["GET"])
    @bp.response(200, envelope(OrderTaxesSchema))
    @requires("sales.order.read")
    def order_taxes(order_id: uuid.UUID) -> Any:
        """A confirmed order's GST lines and breakup per rate"""
        from udyog_sales.api import ORDERS

        order: Order = ORDERS.lookup(order_id)
        lines = services.gst_lines(order.lines, services.order_taxes(order))
        supply = services.order_supply(order)
        return ok(
            OrderTaxesSchema().dump(
                {
                    "order_id": order.id,
                    "place_of_supply": supply.pos,
                    "lines": lines,
                    "breakup": services.breakup(lines),
                    "round_off": str(order.round_off),
                    "total": str(order.total),
                }
            )
        )

    @bp.route("/gstr1", methods=["POST"])
    @bp.arguments(PeriodSchema)
    @bp.response(202, envelope(RunSchema))
    @requires("gst.return.generate")
    def gstr1_generate(data: dict[str, Any]) -> Any:
        """Generate GSTR-1 for a month (a background job)

        Answers 202 with the run; `GET /gstr1/runs/<run_id>` follows it.
        """
        period = data["period"]
        gstr1.parse_period(period)
        gstin = gstr1.filing_gstin(data.get("gstin"))
        run_id = enqueue("gst.gstr1", {"period": period, "gstin": gstin})
        db_session().commit()
        return ok(RunSchema().dump({"run_id": run_id, "state": "queued", "period": period}), message="queued"), 202

    @bp.route("/gstr1/runs/<uuid:run_id>", methods=["GET"])
    @bp.response(200, envelope(RunSchema))
    @requires("gst.return.read")
    def gstr1_run(run_id: uuid.UUID) -> Any:
        """A GSTR-1 run: its state and, once done, the return it wrote"""
        status = run_status(run_id)
        if status is None or status.task != "gst.gstr1":
            raise UdyogError("Run not found", status=404)
        result = status.result if isinstance(status.result, dict) else {}
        return ok(
            RunSchema().dump(
                {
                    "run_id": run_id,
                    "state": status.state,
                    "period": (status.kwargs or {}).get("period"),
                    "return_id": result.get("return_id"),
                    "error": status.error,
                }
            )
        )

    @bp.route("/gstr1", methods=["GET"])
    @bp.response(200, envelope(ReturnSchema, many=True))
    @requires("gst.return.read")
    def gstr1_list() -> Any:
        """Generated returns, newest first (without their data)"""
        rows = db_session().scalars(select(Return).order_by(Return.generated_at.desc()).limit(100))
        return ok(ReturnSchema(many=True, exclude=("data",)).dump(list(rows)))

    def _return(return_id: uuid.UUID) -> Return:
        row = db_session().scalar(select(Return).where(Return.id == return_id))
        if row is None:
            raise UdyogError("Return not found", status=404)
        return row

    @bp.route("/gstr1/<uuid:return_id>", methods=["GET"])
    @bp.response(200, envelope(ReturnSchema))
    @requires("gst.return.read")
    def gstr1_get(return_id: uuid.UUID) -> Any:
        """A generated return with its data"""
        return ok(ReturnSchema().dump(_return(return_id)))

    @bp.route("/gstr1/<uuid:return_id>/download", methods=["GET"])
    @bp.arguments(DownloadSchema, location="query")
    @bp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    @requires("gst.return.read")
    def gstr1_download(args: dict[str, Any], return_id: uuid.UUID) -> Response:
        """The return as the portal's JSON file (`format=json`) or an Excel workbook (`format=xlsx`)"""
        row = _return(return_id)
        name = f"GSTR1_{row.gstin}_{row.period}"
        if args["format"] == "xlsx":
            return file_response(gstr1.workbook(row.data), FORMATS["xlsx"], f"{name}.xlsx")
        return file_response(gstr1.portal_json(row.data).encode(), "application/json", f"{name}.json")

    return bp
