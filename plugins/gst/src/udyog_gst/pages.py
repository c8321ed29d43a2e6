"""Web pages of GST: registrations and rates (generic pages), tax invoices and GSTR-1 with downloads."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from udyog_sales.models import Invoice
from udyog_sdk import UdyogError, db_session, enqueue, run_status
from udyog_sdk.exports import FORMATS, file_response
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires

from . import gstr1
from .api import RATES, REGISTRATIONS, invoice_view
from .documents import invoice_pdf
from .models import InvoiceTax, Return


@requires("gst.invoice.read")
def invoices_page() -> str:
    """The latest invoices issued with GST: number, date, place of supply, flags; each opens its tax invoice."""
    query = (
        select(Invoice, InvoiceTax)
        .join(InvoiceTax, InvoiceTax.record_id == Invoice.id)
        .order_by(Invoice.invoice_date.desc(), Invoice.number.desc())
        .limit(100)
    )
    return render_template("gst/invoices.html", rows=list(db_session().execute(query)))


@requires("gst.invoice.read")
def invoice_page(record_id: uuid.UUID) -> str:
    """One tax invoice: parties, place of supply, lines with HSN and heads, breakup, round-off, words, flags."""
    return render_template("gst/invoice.html", view=invoice_view(record_id))


@requires("gst.invoice.read")
def invoice_pdf_page(record_id: uuid.UUID) -> Response:
    """The tax invoice's PDF (a download)."""
    view = invoice_view(record_id)
    return file_response(invoice_pdf(view), FORMATS["pdf"], f"tax-invoice-{view['number'].replace('/', '-')}.pdf")


@requires("gst.return.read")
def returns_page() -> str:
    """Generated GSTR-1 returns with downloads, the runs in progress and a form to generate one."""
    rows = list(db_session().scalars(select(Return).order_by(Return.generated_at.desc()).limit(50)))
    runs = []
    for raw in request.args.getlist("run"):
        try:
            status = run_status(uuid.UUID(raw))
        except ValueError:
            continue
        if status is not None and status.task == "gst.gstr1":
            runs.append(status)
    return render_template("gst/returns.html", rows=rows, runs=runs, gstins=gstr1.registered_gstins())


@requires("gst.return.generate")
def returns_generate() -> Response:
    """Queue GSTR-1 for the month in the form (``period`` as MMYYYY or ``YYYY-MM``)."""
    raw = (request.form.get("period") or "").strip()
    period = f"{raw[5:7]}{raw[:4]}" if len(raw) == 7 and raw[4] == "-" else raw
    try:
        gstr1.parse_period(period)
        gstin = gstr1.filing_gstin(request.form.get("gstin") or None)
        run_id = enqueue("gst.gstr1", {"period": period, "gstin": gstin})
        db_session().commit()
    except UdyogError as exc:
        db_session().rollback()
        flash(f"{exc.message}: " + "; ".join(m for ms in exc.errors.values() for m in ms), "danger")
        return redirect(url_for(f"{request.blueprint}.returns"), code=303)  # type: ignore[return-value]
    flash(_("GSTR-1 for %(period)s is being generated.", period=period), "success")
    return redirect(url_for(f"{request.blueprint}.returns", run=str(run_id)), code=303)  # type: ignore[return-value]


@requires("gst.return.read")
def return_download(record_id: uuid.UUID) -> Response:
    """A return as the portal's JSON or as Excel (``?format=xlsx``)."""
    row = db_session().scalar(select(Return).where(Return.id == record_id))
    if row is None:
        raise UdyogError("Return not found", status=404)
    name = f"GSTR1_{row.gstin}_{row.period}"
    if request.args.get("format") == "xlsx":
        return file_response(gstr1.workbook(row.data), FORMATS["xlsx"], f"{name}.xlsx")
    return file_response(gstr1.portal_json(row.data).encode(), "application/json", f"{name}.json")


def create_pages() -> Blueprint:
    """A fresh blueprint at ``/gst``: registrations, rates, tax invoices and GSTR-1."""
    bp = Blueprint("gst_pages", __name__, url_prefix="/gst", template_folder="templates")
    for resource in RESOURCES_WITH_PAGES:
        resource.register_pages(bp)
    bp.add_url_rule("/invoices", "invoices", invoices_page, methods=["GET"])
    bp.add_url_rule("/invoices/<uuid:record_id>", "invoice", invoice_page, methods=["GET"])
    bp.add_url_rule("/invoices/<uuid:record_id>/pdf", "invoice_pdf", invoice_pdf_page, methods=["GET"])
    bp.add_url_rule("/returns", "returns", returns_page, methods=["GET"])
    bp.add_url_rule("/returns", "returns_generate", returns_generate, methods=["POST"])
    bp.add_url_rule("/returns/<uuid:record_id>/download", "return_download", return_download, methods=["GET"])
    return bp


RESOURCES_WITH_PAGES = (REGISTRATIONS, RATES)
