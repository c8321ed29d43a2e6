"""Hook implementations of the ``crm`` plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Permission, RecordRule, RoleTemplate, TenantContext, current_user, hookimpl
from udyog_sdk.series import SeriesDefinition
from udyog_sdk.ui import DashboardWidget, ItemList, ListItem, MenuEntry

#: What a Sales Executive may do with each resource (besides Member's core permissions).
EXECUTIVE_RESOURCES = ("customer", "contact", "lead", "deal", "quote", "quote_line", "activity", "checkin")
#: The record rules a Sales Executive carries: own records only.
EXECUTIVE_RULES = (
    "crm.own_customers",
    "crm.own_contacts",
    "crm.own_leads",
    "crm.own_deals",
    "crm.own_quotes",
    "crm.own_quote_lines",
    "crm.own_activities",
    "crm.own_checkins",
)


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the API (``/api/v1/crm``) and the pages (``/crm``)."""
    from .api import create_api
    from .pages import create_pages

    return [create_api(), create_pages()]


@hookimpl
def udyog_resources() -> list[Any]:
    """Declare every resource (``crm.customer`` takes the fields sales and gst contribute)."""
    from .api import RESOURCES

    return list(RESOURCES)


@hookimpl
def udyog_permissions() -> list[Permission]:
    """Each resource's permissions, and ``crm.quote.convert``."""
    from .api import RESOURCES

    out: list[Permission] = []
    for resource in RESOURCES:
        out.extend(resource.permissions())
    out.append(Permission("crm.quote.convert", "Convert quotes (into sales orders)"))
    return out


@hookimpl
def udyog_record_rules() -> list[RecordRule]:
    """Own records only: customers, leads, deals, quotes and activities by owner, check-ins by user.

    Contacts and quote lines follow their customer and quote.
    """
    from sqlalchemy import select

    from .models import Activity, CheckIn, Contact, Customer, Deal, Lead, Quote, QuoteLine

    return [
        RecordRule("crm.own_customers", Customer, lambda p: Customer.owner_id == p.user_id, "Only own customers"),
        RecordRule(
            "crm.own_contacts",
            Contact,
            lambda p: Contact.customer_id.in_(select(Customer.id).where(Customer.owner_id == p.user_id)),
            "Only contacts of own customers",
        ),
        RecordRule(
            "crm.own_quote_lines",
            QuoteLine,
            lambda p: QuoteLine.quote_id.in_(select(Quote.id).where(Quote.owner_id == p.user_id)),
            "Only lines of own quotes",
        ),
        RecordRule("crm.own_leads", Lead, lambda p: Lead.owner_id == p.user_id, "Only own leads"),
        RecordRule("crm.own_deals", Deal, lambda p: Deal.owner_id == p.user_id, "Only own deals"),
        RecordRule("crm.own_quotes", Quote, lambda p: Quote.owner_id == p.user_id, "Only own quotes"),
        RecordRule("crm.own_activities", Activity, lambda p: Activity.owner_id == p.user_id, "Only own activities"),
        RecordRule("crm.own_checkins", CheckIn, lambda p: CheckIn.user_id == p.user_id, "Only own check-ins"),
    ]


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Sales Manager (all of crm) and Sales Executive (own customers, leads, deals, quotes, activities, visits)."""
    executive = [f"crm.{r}.{a}" for r in EXECUTIVE_RESOURCES for a in ("read", "create", "write")]
    executive += ["crm.stage.read", "crm.quote.convert"]
    return [
        RoleTemplate("Sales Manager", ("crm.*",), description="Manages customers, the pipeline, quotes and visits"),
        RoleTemplate(
            "Sales Executive",
            tuple(executive),
            record_rules=EXECUTIVE_RULES,
            description="Works own customers, leads, deals, quotes, activities and check-ins",
        ),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The CRM group: customers, contacts, leads, pipeline, deals, stages, quotes, activities, check-ins."""
    from .api import ACTIVITIES, CHECKINS, CONTACTS, CUSTOMERS, DEALS, LEADS, QUOTES, STAGES

    group = "crm.root"
    return [
        MenuEntry(group, "CRM", "", None, weight=20, icon="people"),
        CUSTOMERS.menu_entry(weight=10, parent=group),
        CONTACTS.menu_entry(weight=20, parent=group),
        LEADS.menu_entry(weight=30, parent=group),
        MenuEntry("crm.pipeline", "Pipeline", "/crm/pipeline", "crm.deal.read", weight=40, parent=group),
        DEALS.menu_entry(weight=50, parent=group),
        STAGES.menu_entry(weight=60, parent=group, label="Pipeline stages"),
        QUOTES.menu_entry(weight=70, parent=group),
        ACTIVITIES.menu_entry(weight=80, parent=group),
        CHECKINS.menu_entry(weight=90, parent=group),
        MenuEntry("crm.checkin", "Check in", "/crm/checkin", "crm.checkin.create", weight=95, parent=group),
    ]


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """The widget "My follow-ups due": the user's open activities (and unassigned ones) due today or earlier."""
    return [
        DashboardWidget(
            "crm.followups_due",
            "My follow-ups due",
            _followups_due,
            permission="crm.activity.read",
            url="/crm/activities?done=false",
            icon="alarm",
        )
    ]


def _followups_due() -> ItemList:
    from udyog_sdk.formatting import format_date, tenant_today
    from udyog_sdk.i18n import gettext as _

    from .services import followups_due

    me = current_user()
    if me is None:
        return ItemList([], empty=_("No follow-ups due."))
    items = [
        ListItem(
            f"{a.kind.capitalize()}: {a.subject}",
            url=f"/crm/activities/{a.id}",
            detail=format_date(a.due_on) + ("" if a.owner_id else " · " + _("unassigned")) if a.due_on else "",
        )
        for a in followups_due(me.user_id, tenant_today())
    ]
    return ItemList(items, empty=_("No follow-ups due."))


@hookimpl
def udyog_series() -> list[SeriesDefinition]:
    """Quotes are numbered from ``crm.quote`` (``QT/2026-27/0001``), restarting each financial year."""
    from .services import QUOTE_PATTERN, QUOTE_SERIES

    return [SeriesDefinition(QUOTE_SERIES, "Quote", QUOTE_PATTERN, reset="financial_year", max_length=32)]


@hookimpl
def udyog_tenant_setup(tenant: TenantContext, session: Any) -> None:
    """Seed the default pipeline stages (once: a tenant's own stages are kept when it enables crm again)."""
    from .services import seed_stages

    seed_stages(session)


@hookimpl
def udyog_demo_data(tenant: TenantContext, session: Any, progress: Any) -> None:
    """Customers, contacts, leads, deals across the stages, a quote, a check-in and activities (idempotent)."""
    from .demo import load_demo

    load_demo(session, progress)
