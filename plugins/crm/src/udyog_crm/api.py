"""Resources of the crm plugin (REST routes, OpenAPI, generic pages, menu entries) and its own API routes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.models import utcnow
from udyog_sdk.resources import Resource
from udyog_sdk.security import requires

from . import services
from .models import Activity, CheckIn, Contact, Customer, Deal, Lead, Quote, QuoteLine, Stage
from .schemas import (
    ActivitySchema,
    CheckInSchema,
    CheckInUpdateSchema,
    ContactSchema,
    CustomerSchema,
    DealMoveSchema,
    DealSchema,
    LeadSchema,
    QuoteConvertSchema,
    QuoteLineSchema,
    QuoteSchema,
    QuoteUpdateSchema,
    StageSchema,
)


def _stage(stage_id: Any) -> Stage:
    """The stage ``stage_id``, or 422 naming ``stage_id``."""
    stage = db_session().scalar(select(Stage).where(Stage.id == stage_id))
    if stage is None:
        raise UdyogError("no such stage", status=422, errors={"stage_id": ["no such stage"]})
    return stage


class OwnedResource(Resource):
    """A resource whose records have an ``owner_id``: the creating user unless the client names one."""

    def create(self, data: dict[str, Any]) -> Any:
        """Create with the owner defaulted to the acting user."""
        return super().create(services.default_owner(data))


class CustomerResource(OwnedResource):
    """Customers at ``/api/v1/crm/customers`` and ``/crm/customers``; others contribute fields (``crm.customer``)."""

    model = Customer
    schema = CustomerSchema
    permission_prefix = "crm.customer"
    filters = ("code", "name", "billing_state_code", "shipping_state_code", "owner_id", "active")
    sort = ("name", "code", "credit_days")
    search = ("name", "code", "email", "phone")
    default_sort = "name"
    list_columns = ("code", "name", "billing_state_code", "phone", "credit_days", "active")

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A code is taken once per tenant (409 naming ``code``)."""
        code = data.get("code")
        if code is None or (obj is not None and obj.code == code):
            return
        if db_session().scalar(select(Customer.id).where(Customer.code == code)) is not None:
            raise UdyogError("code taken", status=409, errors={"code": [f"a customer {code!r} already exists"]})


class ContactResource(Resource):
    """Contacts of customers."""

    model = Contact
    schema = ContactSchema
    permission_prefix = "crm.contact"
    filters = ("customer_id", "name", "is_primary")
    sort = ("name",)
    search = ("name", "email", "phone")
    list_columns = ("name", "designation", "email", "phone", "is_primary")


class LeadResource(OwnedResource):
    """Leads."""

    model = Lead
    schema = LeadSchema
    permission_prefix = "crm.lead"
    filters = ("status", "source", "state_code", "owner_id", "customer_id")
    sort = ("name", "status")
    search = ("name", "company", "email", "phone")
    default_sort = "name"
    list_columns = ("name", "company", "status", "source", "phone")


class StageResource(Resource):
    """Pipeline stages (configurable per tenant; the defaults are seeded when crm is enabled)."""

    model = Stage
    schema = StageSchema
    permission_prefix = "crm.stage"
    filters = ("outcome",)
    sort = ("sequence", "name")
    default_sort = "sequence"
    list_columns = ("sequence", "name", "probability", "outcome")
    importable = False

    def validate(self, data: dict[str, Any], obj: Any | None) -> None:
        """A stage name is taken once per tenant (409 naming ``name``)."""
        name = data.get("name")
        if name is None or (obj is not None and obj.name == name):
            return
        if db_session().scalar(select(Stage.id).where(Stage.name == name)) is not None:
            raise UdyogError("name taken", status=409, errors={"name": [f"a stage {name!r} already exists"]})


class DealResource(OwnedResource):
    """Deals: CRUD here, moves through ``POST /deals/<id>/move`` and the pipeline page."""

    model = Deal
    schema = DealSchema
    permission_prefix = "crm.deal"
    filters = ("stage_id", "customer_id", "lead_id", "owner_id", "expected_close")
    sort = ("title", "amount", "expected_close")
    search = ("title",)
    default_sort = "title"
    list_columns = ("title", "amount", "expected_close", "closed_at")

    def create(self, data: dict[str, Any]) -> Deal:
        """Create the deal in its stage (a won or lost stage closes it; the references were checked)."""
        values = services.default_owner(data)
        stage = _stage(values.pop("stage_id"))
        deal = Deal(**values, stage_id=stage.id, closed_at=None if stage.outcome == "open" else utcnow())
        db_session().add(deal)
        db_session().flush()
        if stage.outcome == "won":
            services.deal_won(deal)
        return deal

    def update(self, obj: Deal, data: dict[str, Any]) -> Deal:
        """Change the deal; a new ``stage_id`` moves it as ``/move`` does."""
        values = dict(data)
        stage_id = values.pop("stage_id", None)
        super().update(obj, values)
        if stage_id is not None and stage_id != obj.stage_id:
            services.apply_stage(obj, _stage(stage_id))
            db_session().flush()
        return obj


class QuoteResource(OwnedResource):
    """Quotes, numbered from ``crm.quote``; lines with a new quote or through ``/quote-lines``."""

    model = Quote
    schema = QuoteSchema
    update_schema = QuoteUpdateSchema
    permission_prefix = "crm.quote"
    filters = ("number", "customer_id", "status", "quote_date", "owner_id", "deal_id")
    sort = ("quote_date", "number")
    search = ("number",)
    default_sort = "-quote_date"
    list_columns = ("number", "quote_date", "status", "total", "converted_number")
    title_field = "number"
    importable = False
    detail_template = "crm/quote_detail.html"

    def query(self) -> Select[Any]:
        """Quotes with their lines (one more query per page, not per quote)."""
        return select(Quote).options(selectinload(Quote.lines))

    def create(self, data: dict[str, Any]) -> Quote:
        """Number the quote, add its lines and total them, through the service."""
        values = dict(data)
        lines = values.pop("lines", []) or []
        return services.create_quote(values, lines)

    def update(self, obj: Quote, data: dict[str, Any]) -> Quote:
        """Change the header of a quote that is neither converted nor cancelled."""
        services.check_editable(obj)
        return super().update(obj, data)

    def delete(self, obj: Quote) -> None:
        """Only draft quotes are deleted (with their lines); others are cancelled (``status``)."""
        if obj.status != "draft":
            raise UdyogError(
                f"quote {obj.number} is {obj.status}: set its status to cancelled instead",
                status=409,
                errors={"status": [f"quote is {obj.status}"]},
            )
        super().delete(obj)


class QuoteLineResource(Resource):
    """Lines of quotes; each change re-totals its quote."""

    model = QuoteLine
    schema = QuoteLineSchema
    permission_prefix = "crm.quote_line"
    path = "quote-lines"
    label = "quote line"
    label_plural = "quote lines"
    filters = ("quote_id", "product_id")
    sort = ("sequence",)
    default_sort = "sequence"
    list_columns = ("sequence", "description", "quantity", "unit_price", "discount_pct", "amount")
    title_field = "description"
    create_only = ("quote_id",)
    importable = False

    def create(self, data: dict[str, Any]) -> QuoteLine:
        """Add the line and re-total its quote."""
        return services.add_line(data)

    def update(self, obj: QuoteLine, data: dict[str, Any]) -> QuoteLine:
        """Change the line and re-total its quote."""
        return services.change_line(obj, data)

    def delete(self, obj: QuoteLine) -> None:
        """Remove the line and re-total its quote."""
        services.remove_line(obj)


class ActivityResource(OwnedResource):
    """Activities and follow-ups; ``done`` stamps ``done_at``."""

    model = Activity
    schema = ActivitySchema
    permission_prefix = "crm.activity"
    label_plural = "activities"
    filters = ("kind", "done", "due_on", "owner_id", "customer_id", "lead_id", "deal_id")
    sort = ("due_on", "subject")
    search = ("subject",)
    default_sort = "due_on"
    list_columns = ("due_on", "kind", "subject", "done")
    title_field = "subject"

    def create(self, data: dict[str, Any]) -> Activity:
        """Create, stamping ``done_at`` when it is done already."""
        activity: Activity = super().create(data)
        services.complete_activity(activity, activity.done)
        db_session().flush()
        return activity

    def update(self, obj: Activity, data: dict[str, Any]) -> Activity:
        """Change, stamping ``done_at`` when it becomes done (and clearing it when reopened)."""
        values = dict(data)
        done = values.pop("done", None)
        super().update(obj, values)
        if done is not None:
            services.complete_activity(obj, done)
            db_session().flush()
        return obj


class CheckInResource(Resource):
    """GPS check-ins of field visits, stamped with the acting user; only the note changes afterwards."""

    model = CheckIn
    schema = CheckInSchema
    update_schema = CheckInUpdateSchema
    permission_prefix = "crm.checkin"
    path = "checkins"
    label = "check-in"
    label_plural = "check-ins"
    filters = ("customer_id", "user_id", "checked_at", "source")
    sort = ("checked_at",)
    default_sort = "-checked_at"
    list_columns = ("checked_at", "latitude", "longitude", "accuracy_m", "source")
    title_field = "checked_at"
    importable = False

    def create(self, data: dict[str, Any]) -> CheckIn:
        """Record through the service: the acting user, now unless given."""
        return services.record_checkin(data)


CUSTOMERS = CustomerResource()
CONTACTS = ContactResource()
LEADS = LeadResource()
STAGES = StageResource()
DEALS = DealResource()
QUOTES = QuoteResource()
QUOTE_LINES = QuoteLineResource()
ACTIVITIES = ActivityResource()
CHECKINS = CheckInResource()

#: Every resource, in menu order.
RESOURCES: tuple[Resource, ...] = (CUSTOMERS, CONTACTS, LEADS, DEALS, STAGES, QUOTES, QUOTE_LINES, ACTIVITIES, CHECKINS)


def create_api() -> Blueprint:
    """One blueprint ``crm`` at ``/api/v1/crm``: every resource's routes, deal moves and quote conversion."""
    bp = Blueprint("crm", __name__, url_prefix="/api/v1/crm", description="CRM: customers, pipeline, quotes, visits")
    for resource in RESOURCES:
        resource.register(bp)

    @bp.route("/deals/<uuid:deal_id>/move", methods=["POST"])
    @bp.arguments(DealMoveSchema)
    @bp.response(200, envelope(DealSchema))
    @requires("crm.deal.write")
    def move_deal(data: dict[str, Any], deal_id: Any) -> dict[str, Any]:
        """Move a deal to another stage

        Send the `version` you read; a stale one answers 409. Moving into a won
        stage emits `crm.deal.won`.
        """
        deal = DEALS.lookup(deal_id)
        services.move_deal(deal, data["stage_id"], data["version"])
        db_session().commit()
        return ok(DEALS.dump(deal), message="moved")

    @bp.route("/quotes/<uuid:quote_id>/convert", methods=["POST"])
    @bp.arguments(QuoteConvertSchema)
    @bp.response(200, envelope(QuoteSchema))
    @requires("crm.quote.convert")
    def convert_quote(data: dict[str, Any], quote_id: Any) -> dict[str, Any]:
        """Convert a quote (into a sales order, when sales is enabled)

        Calls the `crm_quote_convert` hook in this transaction with `options`
        passed through. 409 when no enabled plugin converts quotes, when the
        quote is converted or cancelled already, or for a stale `version`.
        """
        quote = QUOTES.lookup(quote_id)
        conversion = services.convert_quote(quote, data["version"], data.get("options") or {})
        db_session().commit()
        meta = {"conversion": {"kind": conversion.kind, "record_id": str(conversion.record_id),
                               "number": conversion.number, "url": conversion.url}}  # fmt: skip
        return ok(QUOTES.dump(quote), message=f"converted into {conversion.kind} {conversion.number}", meta=meta)

    return bp
