"""The FSSAI REST API under ``/api/v1/fssai``.

Declared resources: ``licences`` (CRUD), ``batches`` (list, get, create,
update of dates), ``recalls`` (list, get, create) and ``recoveries``
(read-only). Actions and reports: ``POST /batches/<id>/qc``, ``/hold``,
``/release``; ``GET /batches/<id>/trace``; ``GET /expiry``;
``POST /recalls/<id>/recoveries``, ``/close``; ``GET /recalls/<id>/report``
(JSON), ``/report.pdf`` and ``/report.xlsx``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from udyog_sdk import current_tenant, db_session
from udyog_sdk.api import Blueprint, check_version, envelope, ok
from udyog_sdk.exports import Column, PdfDocument, table_to_xlsx
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import services
from .models import Batch, Licence, Recall, Recovery
from .schemas import (
    BatchSchema,
    BatchUpdateSchema,
    ExpiryArgs,
    ExpiryRowSchema,
    HoldInput,
    LicenceSchema,
    QcInput,
    RecallSchema,
    RecoveryInput,
    RecoverySchema,
    TraceSchema,
    VersionInput,
)


class LicenceResource(Resource):
    """FSSAI licences: one per branch, 14 digits, with an expiry date."""

    model = Licence
    schema = LicenceSchema
    permission_prefix = "fssai.licence"
    filters = ("branch_id", "number", "kind", "expires_on")
    sort = ("expires_on", "number")
    search = ("number",)
    list_columns = ("branch_id", "number", "kind", "valid_from", "expires_on")
    title_field = "number"
    importable = False

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """14 digits, one licence per branch, a validity that ends after it starts."""
        services.check_licence_input(data, obj)


class BatchResource(Resource):
    """Food batches on inventory lots: dates, QC and hold; made with their lot (and optionally their stock)."""

    model = Batch
    schema = BatchSchema
    update_schema = BatchUpdateSchema
    permission_prefix = "fssai.batch"
    label_plural = "Batches"
    operations = ("list", "get", "create", "update")
    filters = ("product_id", "lot_id", "number", "qc_status", "on_hold", "expires_on", "produced_on")
    sort = ("expires_on", "produced_on", "number")
    default_sort = "expires_on"
    search = ("number",)
    list_columns = ("number", "product_id", "produced_on", "expires_on", "qc_status", "on_hold")
    create_only = ("product_id", "number")
    detail_template = "fssai/batch_detail.html"
    title_field = "number"
    importable = False

    def create(self, data: dict[str, Any]) -> Batch:
        """Make the batch through the service (series number, lot, derived expiry, optional receipt)."""
        return services.create_batch(data)

    def update(self, obj: Batch, data: dict[str, Any]) -> Batch:
        """Change the dates through the service (expiry after production)."""
        return services.update_batch(obj, data)


class RecallResource(Resource):
    """Recalls: starting one puts its batch on hold at once."""

    model = Recall
    schema = RecallSchema
    permission_prefix = "fssai.recall"
    operations = ("list", "get", "create")
    filters = ("lot_id", "state", "recall_class", "started_on", "number")
    sort = ("started_on", "number")
    default_sort = "-started_on"
    search = ("number", "reason")
    list_columns = ("number", "lot_id", "recall_class", "depth", "started_on", "deadline", "state")
    detail_template = "fssai/recall_detail.html"
    title_field = "number"
    importable = False

    def create(self, data: dict[str, Any]) -> Recall:
        """Start the recall through the service (number, hold, event)."""
        return services.create_recall(data)


class RecoveryResource(Resource):
    """Quantities recovered per customer (recorded through ``POST /recalls/<id>/recoveries``)."""

    model = Recovery
    schema = RecoverySchema
    permission_prefix = "fssai.recovery"
    label_plural = "Recoveries"
    operations = ("list", "get")
    filters = ("recall_id", "customer_id", "recovered_on")
    sort = ("recovered_on",)
    default_sort = "-recovered_on"
    list_columns = ("recall_id", "customer_id", "quantity", "recovered_on", "note")
    importable = False


LICENCES = LicenceResource()
BATCHES = BatchResource()
RECALLS = RecallResource()
RECOVERIES = RecoveryResource()
RESOURCES = (LICENCES, BATCHES, RECALLS, RECOVERIES)

#: The report's columns: per customer, then per order.
CUSTOMER_COLUMNS = (
    Column("customer_code", "Code"),
    Column("customer_name", "Customer"),
    Column("orders", "Orders", "number", 0),
    Column("despatched", "Despatched", "number", 3),
    Column("recovered", "Recovered", "number", 3),
    Column("outstanding", "Not recovered", "number", 3),
)
ORDER_COLUMNS = (
    Column("customer_name", "Customer"),
    Column("order_number", "Order"),
    Column("invoice_number", "Invoice"),
    Column("invoice_date", "Invoice date", "date"),
    Column("despatched_on", "Despatched", "datetime"),
    Column("quantity", "Quantity", "number", 3),
)


def report_rows(result: services.Trace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trace as plain rows for the PDF and the workbook: per customer, and per order."""
    customers = [
        {
            "customer_code": c.customer_code,
            "customer_name": c.customer_name,
            "orders": c.orders,
            "despatched": c.despatched,
            "recovered": c.recovered,
            "outstanding": c.outstanding,
        }
        for c in result.customers
    ]
    orders = [
        {
            "customer_name": t.customer_name,
            "order_number": t.order_number,
            "invoice_number": t.invoice_number or "",
            "invoice_date": t.invoice_date,
            "despatched_on": t.despatched_on,
            "quantity": t.quantity,
        }
        for t in result.rows
    ]
    return customers, orders


def report_pdf(recall: Recall, result: services.Trace) -> bytes:
    """The recall report as a PDF: the recall, then despatched vs recovered per customer, then the orders."""
    tz = current_tenant().timezone
    doc = PdfDocument(f"Recall {recall.number}", subtitle=f"Batch {result.batch.number} · {result.sku}", tz=tz)
    doc.key_values(
        [
            ("Product", f"{result.sku} {result.product_name}"),
            ("Pack size", result.pack_size),
            ("Batch", result.batch.number),
            ("Use by", result.batch.expires_on.strftime("%d-%m-%Y")),
            ("Class / depth", f"{recall.recall_class} / {recall.depth}"),
            ("Started", recall.started_on.strftime("%d-%m-%Y")),
            ("Deadline", recall.deadline.strftime("%d-%m-%Y")),
            ("State", recall.state),
            ("Reason", recall.reason),
        ]
    )
    customers, orders = report_rows(result)
    doc.heading("Despatched and recovered, per customer")
    doc.table(CUSTOMER_COLUMNS, customers)
    doc.paragraph(f"Despatched {result.despatched} · recovered {result.recovered}")
    doc.heading("Orders")
    doc.table(ORDER_COLUMNS, orders)
    return doc.output()


def report_xlsx(result: services.Trace) -> bytes:
    """The recall report's per-customer sheet as a workbook."""
    customers, _ = report_rows(result)
    return table_to_xlsx(CUSTOMER_COLUMNS, customers, sheet="Recall", tz=current_tenant().timezone)


def download(content: bytes, content_type: str, filename: str) -> Response:
    """A file download (never shown inline)."""
    response = Response(content, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_name(recall: Recall, ext: str) -> str:
    """``recall-RC-2026-27-001.pdf``."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in recall.number)
    return f"recall-{safe}.{ext}"


def create_blueprint() -> Blueprint:
    """The FSSAI API (fresh on every call)."""
    bp = Blueprint("fssai", __name__, url_prefix="/api/v1/fssai", description="FSSAI: licences, batches, recalls")
    for resource in RESOURCES:
        resource.register(bp)

    @bp.route("/batches/<uuid:batch_id>/qc", methods=["POST"])
    @bp.arguments(QcInput)
    @bp.response(200, envelope(BatchSchema))
    @requires("fssai.batch.qc")
    def post_qc(data: dict[str, Any], batch_id: uuid.UUID) -> Any:
        """Record a QC decision on a batch

        `passed` makes it allocatable; `failed` keeps it out of allocation and
        despatch. An inspector is required for a decision.
        """
        batch = BATCHES.lookup(batch_id)
        check_version(batch, data["version"])
        services.record_qc(batch, data["status"], data["inspector"], data["notes"])
        db_session().commit()
        return ok(BATCHES.dump(batch), message="QC recorded")

    @bp.route("/batches/<uuid:batch_id>/hold", methods=["POST"])
    @bp.arguments(HoldInput)
    @bp.response(200, envelope(BatchSchema))
    @requires("fssai.batch.hold")
    def post_hold(data: dict[str, Any], batch_id: uuid.UUID) -> Any:
        """Put a batch on hold

        At once, it is no longer allocated, and orders holding it are refused
        despatch and invoicing (409).
        """
        batch = BATCHES.lookup(batch_id)
        check_version(batch, data["version"])
        services.hold_batch(batch, data["reason"])
        db_session().commit()
        return ok(BATCHES.dump(batch), message="held")

    @bp.route("/batches/<uuid:batch_id>/release", methods=["POST"])
    @bp.arguments(VersionInput)
    @bp.response(200, envelope(BatchSchema))
    @requires("fssai.batch.hold")
    def post_release(data: dict[str, Any], batch_id: uuid.UUID) -> Any:
        """Lift a batch's hold (409 while an open recall holds it)"""
        batch = BATCHES.lookup(batch_id)
        check_version(batch, data["version"])
        services.release_batch(batch)
        db_session().commit()
        return ok(BATCHES.dump(batch), message="released")

    @bp.route("/batches/<uuid:batch_id>/trace", methods=["GET"])
    @bp.response(200, envelope(TraceSchema))
    @requires("fssai.recall.read")
    def get_trace(batch_id: uuid.UUID) -> Any:
        """The forward trace of a batch

        Every customer, order, invoice, quantity and despatch date, and the
        quantities despatched per customer.
        """
        batch = BATCHES.lookup(batch_id)
        return ok(TraceSchema().dump(services.trace(batch)))

    @bp.route("/expiry", methods=["GET"])
    @bp.arguments(ExpiryArgs, location="query")
    @bp.response(200, envelope(ExpiryRowSchema, many=True))
    @requires("fssai.batch.read")
    def get_expiry(args: dict[str, Any]) -> Any:
        """Batches with stock that expired or expire within the window

        `window_days` defaults to the tenant's setting `expiry_alert_days` (30).
        """
        rows = services.expiry_watch(window_days=args.get("window_days"))
        return ok(ExpiryRowSchema(many=True).dump(rows), meta={"today": services.today().isoformat()})

    def _recall(recall_id: uuid.UUID) -> tuple[Recall, services.Trace]:
        recall = RECALLS.lookup(recall_id)
        return recall, services.trace(services.batch_of_recall(recall), recall=recall)

    @bp.route("/recalls/<uuid:recall_id>/recoveries", methods=["POST"])
    @bp.arguments(RecoveryInput)
    @bp.response(201, envelope(RecoverySchema))
    @requires("fssai.recovery.create")
    def post_recovery(data: dict[str, Any], recall_id: uuid.UUID) -> Any:
        """Record a quantity recovered from a customer

        At most what was despatched to that customer and not recovered yet (422 naming `quantity`).
        """
        recall = RECALLS.lookup(recall_id)
        row = services.record_recovery(recall, data)
        db_session().commit()
        return ok(RecoverySchema().dump(row), message="recorded")

    @bp.route("/recalls/<uuid:recall_id>/close", methods=["POST"])
    @bp.arguments(VersionInput)
    @bp.response(200, envelope(RecallSchema))
    @requires("fssai.recall.write")
    def post_close(data: dict[str, Any], recall_id: uuid.UUID) -> Any:
        """Close a recall (the batch stays on hold until released)"""
        recall = RECALLS.lookup(recall_id)
        check_version(recall, data["version"])
        services.close_recall(recall)
        db_session().commit()
        return ok(RECALLS.dump(recall), message="closed")

    @bp.route("/recalls/<uuid:recall_id>/report", methods=["GET"])
    @bp.response(200, envelope(TraceSchema))
    @requires("fssai.recall.read")
    def get_report(recall_id: uuid.UUID) -> Any:
        """The recall report: despatched vs recovered per customer, and every order"""
        _, result = _recall(recall_id)
        return ok(TraceSchema().dump(result))

    @bp.route("/recalls/<uuid:recall_id>/report.pdf", methods=["GET"])
    @bp.response(200, {"format": "binary", "type": "string"}, content_type="application/pdf")
    @requires("fssai.recall.read")
    def get_report_pdf(recall_id: uuid.UUID) -> Response:
        """The recall report as a PDF"""
        recall, result = _recall(recall_id)
        return download(report_pdf(recall, result), "application/pdf", file_name(recall, "pdf"))

    @bp.route("/recalls/<uuid:recall_id>/report.xlsx", methods=["GET"])
    @bp.response(200, {"format": "binary", "type": "string"}, content_type=XLSX)
    @requires("fssai.recall.read")
    def get_report_xlsx(recall_id: uuid.UUID) -> Response:
        """The recall report as an Excel workbook"""
        recall, result = _recall(recall_id)
        return download(report_xlsx(result), XLSX, file_name(recall, "xlsx"))

    return bp
