"""Web pages of FSSAI: the resources' generic pages, batch actions, the expiry watch, the recall report."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import check_version
from udyog_sdk.i18n import gettext as _
from udyog_sdk.security import requires
from udyog_sdk.ui import Table

from . import services
from .api import BATCHES, RECALLS, RESOURCES, XLSX, download, file_name, report_pdf, report_xlsx

#: The most batches the dashboard card lists.
WIDGET_ROWS = 8


def _version(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _act(back: str, record_id: uuid.UUID, work: Callable[[], Any], done: str) -> Response:
    """Run ``work`` and commit; flash the outcome or the refusal; back to the record's page."""
    try:
        work()
        db_session().commit()
    except UdyogError as exc:
        db_session().rollback()
        details = "; ".join(f"{k}: {m}" for k, messages in exc.errors.items() for m in messages)
        flash(exc.message + (f" ({details})" if details else ""), "danger")
    except StaleDataError:
        db_session().rollback()
        flash(_("This record was changed by someone else: reload the page and try again."), "danger")
    else:
        flash(done, "success")
    return redirect(url_for(f"{request.blueprint}.{back}", record_id=record_id), code=303)  # type: ignore[return-value]


@requires("fssai.batch.qc")
def batch_qc(record_id: uuid.UUID) -> Response:
    """Record a QC decision (the batch page's form)."""
    batch = BATCHES.lookup(record_id)

    def work() -> None:
        check_version(batch, _version(request.form.get("version")))
        services.record_qc(
            batch, request.form.get("status", ""), request.form.get("inspector", ""), request.form.get("notes", "")
        )

    return _act("batches_detail_page", record_id, work, _("QC of batch %(number)s recorded.", number=batch.number))


@requires("fssai.batch.hold")
def batch_hold(record_id: uuid.UUID) -> Response:
    """Put the batch on hold (the batch page's form)."""
    batch = BATCHES.lookup(record_id)

    def work() -> None:
        check_version(batch, _version(request.form.get("version")))
        services.hold_batch(batch, request.form.get("reason", ""))

    return _act("batches_detail_page", record_id, work, _("Batch %(number)s is on hold.", number=batch.number))


@requires("fssai.batch.hold")
def batch_release(record_id: uuid.UUID) -> Response:
    """Lift the batch's hold (the batch page's form)."""
    batch = BATCHES.lookup(record_id)

    def work() -> None:
        check_version(batch, _version(request.form.get("version")))
        services.release_batch(batch)

    return _act("batches_detail_page", record_id, work, _("Batch %(number)s released.", number=batch.number))


@requires("fssai.recovery.create")
def recall_recovery(record_id: uuid.UUID) -> Response:
    """Record a recovered quantity (the recall page's form)."""
    recall = RECALLS.lookup(record_id)

    def work() -> None:
        try:
            customer_id = uuid.UUID(request.form.get("customer_id") or "")
        except ValueError:
            raise UdyogError("choose a customer", status=422, errors={"customer_id": ["required"]}) from None
        try:
            quantity = Decimal((request.form.get("quantity") or "").strip())
        except InvalidOperation:
            raise UdyogError("invalid quantity", status=422, errors={"quantity": ["not a number"]}) from None
        if not quantity.is_finite() or quantity != quantity.quantize(Decimal("0.001")):
            raise UdyogError("invalid quantity", status=422, errors={"quantity": ["at most 3 decimals"]})
        services.record_recovery(
            recall, {"customer_id": customer_id, "quantity": quantity, "note": request.form.get("note", "")[:500]}
        )

    return _act("recalls_detail_page", record_id, work, _("Recovery recorded."))


@requires("fssai.recall.write")
def recall_close(record_id: uuid.UUID) -> Response:
    """Close the recall (the recall page's form)."""
    recall = RECALLS.lookup(record_id)

    def work() -> None:
        check_version(recall, _version(request.form.get("version")))
        services.close_recall(recall)

    return _act("recalls_detail_page", record_id, work, _("Recall %(number)s closed.", number=recall.number))


@requires("fssai.recall.read")
def recall_pdf(record_id: uuid.UUID) -> Response:
    """The recall report as a PDF download."""
    recall = RECALLS.lookup(record_id)
    result = services.trace(services.batch_of_recall(recall), recall=recall)
    return download(report_pdf(recall, result), "application/pdf", file_name(recall, "pdf"))


@requires("fssai.recall.read")
def recall_xlsx(record_id: uuid.UUID) -> Response:
    """The recall report as an Excel download."""
    recall = RECALLS.lookup(record_id)
    result = services.trace(services.batch_of_recall(recall), recall=recall)
    return download(report_xlsx(result), XLSX, file_name(recall, "xlsx"))


@requires("fssai.batch.read")
def expiry_page() -> str:
    """Batches with stock that expired or expire within the window (``?window_days=``)."""
    raw = request.args.get("window_days", "")
    window = int(raw) if raw.isdigit() and int(raw) <= 36500 else None
    rows = services.expiry_watch(window_days=window)
    return render_template(
        "fssai/expiry.html",
        rows=rows,
        window=window if window is not None else services.settings()["expiry_alert_days"],
        today=services.today(),
        breadcrumbs=[(_("Food safety"), None), (_("Expiry watch"), None)],
    )


def create_pages() -> Blueprint:
    """A fresh blueprint at ``/fssai``: the resources' pages, the actions, the expiry watch and report downloads."""
    bp = Blueprint("fssai_pages", __name__, url_prefix="/fssai", template_folder="templates")
    for resource in RESOURCES:
        resource.register_pages(bp)
    for name, view in (("qc", batch_qc), ("hold", batch_hold), ("release", batch_release)):
        bp.add_url_rule(f"/batches/<uuid:record_id>/{name}", f"batch_{name}", view, methods=["POST"])
    bp.add_url_rule("/recalls/<uuid:record_id>/recoveries", "recall_recovery", recall_recovery, methods=["POST"])
    bp.add_url_rule("/recalls/<uuid:record_id>/close", "recall_close", recall_close, methods=["POST"])
    bp.add_url_rule("/recalls/<uuid:record_id>/report.pdf", "recall_pdf", recall_pdf, methods=["GET"])
    bp.add_url_rule("/recalls/<uuid:record_id>/report.xlsx", "recall_xlsx", recall_xlsx, methods=["GET"])
    bp.add_url_rule("/expiry", "expiry", expiry_page, methods=["GET"])

    def batch_trace(batch: Any) -> services.Trace:
        return services.trace(batch)

    def recall_report(recall: Any) -> services.Trace:
        return services.trace(services.batch_of_recall(recall), recall=recall)

    bp.context_processor(lambda: {"fssai_trace": batch_trace, "fssai_recall_report": recall_report})
    return bp


def expiry_widget() -> Table:
    """The dashboard card: batches with stock that expired or expire soon, earliest first."""
    rows = services.expiry_watch()[:WIDGET_ROWS]
    return Table(
        columns=(_("Batch"), _("Product"), _("Use by"), _("Days left"), _("On hand")),
        rows=[(r.number, r.sku, r.expires_on.strftime("%d-%m-%Y"), r.days_left, r.on_hand) for r in rows],
        empty=_("No batch with stock is near its expiry."),
    )
