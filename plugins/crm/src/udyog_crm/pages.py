"""The crm plugin's web pages: the generic resource pages, the pipeline (kanban) and the check-in page.

Every form posts ``csrf_token`` (the shell checks it before the view runs)
and works without JavaScript. The check-in page loads the shell's ``geolocate.js``
to fill in the browser's position; typed coordinates work as well.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from udyog_sdk import UdyogError, current_user, db_session
from udyog_sdk.api import flatten_messages
from udyog_sdk.i18n import gettext as _
from udyog_sdk.pickers import add_choices_route, reference_field
from udyog_sdk.security import requires

from . import services
from .api import CHECKINS, DEALS, QUOTES, RESOURCES
from .models import Customer


def create_pages() -> Blueprint:
    """The blueprint ``crm_pages`` at ``/crm``: generic pages of every resource, the pipeline and the check-in page."""
    bp = Blueprint("crm_pages", __name__, url_prefix="/crm", template_folder="templates")
    for resource in RESOURCES:
        resource.register_pages(bp)

    @bp.route("/pipeline")
    @requires("crm.deal.read")
    def pipeline_page() -> Response:
        """The deal pipeline: a column per stage, a card per deal, and a small move form per card."""
        return _pipeline()

    @bp.route("/pipeline/<uuid:deal_id>/move", methods=["POST"])
    @requires("crm.deal.write")
    def pipeline_move(deal_id: uuid.UUID) -> Response:
        """Move a card (a deal) to the chosen stage, then back to the pipeline (303)."""
        deal = DEALS.lookup(deal_id)
        errors: dict[str, list[str]] = {}
        try:
            stage_id = uuid.UUID(request.form.get("stage_id", ""))
            version = int(request.form.get("version", ""))
        except ValueError:
            errors = {"stage_id": [_("Choose a stage.")]}
        else:
            try:
                services.move_deal(deal, stage_id, version)
            except UdyogError as exc:
                db_session().rollback()
                if exc.status == 409:
                    errors = {"version": [_("This deal was changed by someone else since you opened the pipeline.")]}
                else:
                    errors = dict(exc.errors) or {"_schema": [exc.message]}
                return _pipeline(status=exc.status, failed=deal_id, errors=errors)
            db_session().commit()
            flash(_("%(deal)s moved.", deal=deal.title), "success")
            return redirect(url_for(".pipeline_page"), 303)  # type: ignore[return-value]
        return _pipeline(status=422, failed=deal_id, errors=errors)

    @bp.route("/quotes/<uuid:quote_id>/convert", methods=["POST"])
    @requires("crm.quote.convert")
    def quote_convert(quote_id: uuid.UUID) -> Response:
        """Convert the quote (the quote page's button), then open what it became, or the quote with the reason."""
        quote = QUOTES.lookup(quote_id)
        number = quote.number
        try:
            version = int(request.form.get("version", ""))
        except ValueError:
            version = None
        try:
            conversion = services.convert_quote(quote, version, {})
        except UdyogError as exc:
            db_session().rollback()
            reasons = [m for messages in (exc.errors or {}).values() for m in messages if m != exc.message]
            flash(" ".join([_("Quote %(number)s was not converted:", number=number), exc.message, *reasons]), "error")
            return redirect(url_for(".quotes_detail_page", record_id=quote_id), 303)  # type: ignore[return-value]
        db_session().commit()
        flash(_("Quote %(number)s converted into %(kind)s %(record)s.", number=number, kind=conversion.kind,
                record=conversion.number), "success")  # fmt: skip
        target = (
            conversion.url
            if conversion.url and conversion.url.startswith("/") and not conversion.url.startswith("//")
            else None
        )
        return redirect(target or url_for(".quotes_detail_page", record_id=quote_id), 303)  # type: ignore[return-value]

    @bp.route("/checkin", methods=["GET", "POST"])
    @requires("crm.checkin.create")
    def checkin_page() -> Response:
        """Check in at a customer: the browser's position (script) or typed coordinates."""
        values: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        status = 200
        if request.method == "POST":
            values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
            data = _checkin_input(values)
            try:
                loaded = CHECKINS.input_schema().load(data)
                checkin = CHECKINS.perform_create(loaded)
            except ma.ValidationError as exc:
                errors = flatten_messages(exc.messages)
                status = 422
            except UdyogError as exc:
                db_session().rollback()
                errors = dict(exc.errors) or {"_schema": [exc.message]}
                status = exc.status
            else:
                flash(_("Checked in."), "success")
                return redirect(url_for(".checkins_detail_page", record_id=checkin.id), 303)  # type: ignore[return-value]
        customer = reference_field(
            "customer_id",
            _("Customer"),
            _active_customers(),
            Customer,
            values.get("customer_id", ""),
            choices_url=url_for(".checkin_customers"),
            required=True,
            blank=True,
            describe=_customer_label,
        )
        customer.errors = list(errors.get("customer_id", []))
        html = render_template(
            "crm/checkin.html",
            customer=customer,
            values=values,
            errors=errors,
            breadcrumbs=[(_("CRM"), None), (_("Check-ins"), url_for(".checkins_list_page")), (_("Check in"), None)],
        )
        return make_response(html, status)

    # The check-in form's customer picker (a select for a few customers, a search for many).
    add_choices_route(
        bp,
        "/checkin/customers",
        "checkin_customers",
        _active_customers,
        Customer,
        ("crm.checkin.create",),
        label=_customer_label,
        columns=(Customer.phone,),
    )
    return bp


def _active_customers() -> Any:
    """The customers one may check in at: the active ones (record rules apply as the session adds them)."""
    return select(Customer).where(Customer.active.is_(True))


def _customer_label(customer: Any) -> str:
    """A customer as the check-in form names them: ``name (code)``."""
    return f"{customer.name} ({customer.code})"


def _checkin_input(form: dict[str, str]) -> dict[str, Any]:
    """The check-in's API input from the form: typed coordinates if any, else the position the script filled in."""
    typed = form.get("latitude") or form.get("longitude")
    gps = not typed and form.get("gps_latitude") and form.get("gps_longitude")
    prefix = "gps_" if gps else ""
    data: dict[str, Any] = {"source": "gps" if gps else "manual"}
    for name in ("latitude", "longitude", "accuracy_m"):
        value = form.get(prefix + name, "")
        if value != "":
            data[name] = value
    for name in ("customer_id", "note"):
        if form.get(name):
            data[name] = form[name]
    return data


def _pipeline(
    status: int = 200, failed: uuid.UUID | None = None, errors: dict[str, list[str]] | None = None
) -> Response:
    user = current_user()
    columns = services.pipeline()
    customers = {
        c.id: c.name
        for c in db_session().scalars(
            select(Customer).where(
                Customer.id.in_({d.customer_id for _s, deals in columns for d in deals if d.customer_id})
            )
        )
    }
    html = render_template(
        "crm/pipeline.html",
        columns=columns,
        stages=[stage for stage, _deals in columns],
        customers=customers,
        can_move=bool(user and user.can("crm.deal.write")),
        can_create=bool(user and user.can("crm.deal.create")),
        failed=failed,
        errors=errors or {},
        deal_endpoint="crm_pages.deals_detail_page",
        breadcrumbs=[(_("CRM"), None), (_("Pipeline"), None)],
    )
    return make_response(html, status)
