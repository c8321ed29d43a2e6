"""The core's hook specifications — every hook the kernel calls, in one module.

Each docstring states what the hook receives, what it returns, its calling
mode and when it is called; ``docs/hooks.md`` is generated from them
(``udyog docs hooks``) and a test fails when a hook is missing there.

Conventions: hooks return data and the core validates and composes it;
broadcast hooks collect a list (order never matters — sort keys live in the
returned data); ``firstresult`` hooks let one provider decide, with the core's
own default registered ``trylast``. Per tenant, only plugins enabled for the
tenant take part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from udyog_sdk import hookspec

if TYPE_CHECKING:
    import click
    from flask import Blueprint
    from sqlalchemy.orm import Session

    from udyog_sdk import Listener, NotificationTemplate, Permission, RecordRule, RoleTemplate, TenantContext
    from udyog_sdk.fields import FieldContribution
    from udyog_sdk.jobs import Schedule, TaskDefinition
    from udyog_sdk.resources import Resource
    from udyog_sdk.series import SeriesConstraint, SeriesDefinition
    from udyog_sdk.settings import SettingsSchema
    from udyog_sdk.ui import DashboardWidget, MenuEntry


@hookspec
def udyog_blueprints() -> list[Blueprint]:
    """Contribute Flask (or flask-smorest) blueprints with the plugin's routes.

    Called once per application inside ``create_app()``. Return *fresh*
    blueprint objects (create them inside the function, never at import
    time). API routes live under ``/api/v1/<plugin>/``. A flask-smorest
    blueprint (``udyog_sdk.api.Blueprint``) is added to the OpenAPI document.

    For a tenant that has not enabled the plugin, its routes answer 404; no
    re-registration happens, so enabling needs no restart.

    Returns: a list of blueprints. Broadcast; results are collected with the
    contributing plugin recorded as the blueprints' owner.

    Since: SDK 1.0.
    """


@hookspec
def udyog_event_listeners() -> list[Listener]:
    """Declare listeners for domain events.

    Called once per application. Each :class:`udyog_sdk.Listener` names an
    event (or a glob such as ``sales.order.*``) and a handler. After the
    transaction that emitted an event commits, handlers of the plugins enabled
    for the event's tenant are called, each in its own tenant scope and
    transaction. Delivery is at least once: a handler must be idempotent
    (use ``event.id``).

    Returns: a list of listeners. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_tenant_setup(tenant: TenantContext, session: Session) -> None:
    """Prepare a tenant that has just enabled this plugin.

    Called for one plugin at a time — only the implementation of the plugin
    being enabled runs — inside the transaction that enables it, with a
    session scoped to ``tenant``. Seed per-tenant defaults here (roles,
    number series, settings). Must be idempotent: a plugin can be disabled
    and enabled again, and its data stays while it is disabled. Raising
    aborts the enablement and nothing is written.

    Returns: nothing.

    Since: SDK 1.0.
    """


@hookspec
def udyog_tenant_teardown(tenant: TenantContext, session: Session) -> None:
    """Tidy up for a tenant that is disabling this plugin.

    Called for one plugin at a time, inside the transaction that disables it.
    Business data must stay (disabling is not uninstalling); remove only what
    would mislead while disabled (scheduled reminders, for instance).

    Returns: nothing.

    Since: SDK 1.0.
    """


@hookspec
def udyog_cli_commands() -> list[click.Command]:
    """Add commands to the ``udyog`` command line.

    Called when the CLI starts. Return click commands or groups; their names
    must not clash with the core's or another plugin's (the CLI refuses the
    clash, naming both plugins).

    Returns: a list of click commands. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_demo_data(tenant: TenantContext, session: Session, progress: Any) -> None:
    """Load demo records for a tenant (``udyog demo`` and ``make run``).

    Called for every plugin enabled for the demo tenant, in dependency order
    (a plugin sees the demo data of the plugins it requires), each in the
    same transaction. ``progress(message)`` reports a step to the console.
    Must be idempotent: running the demo twice must not duplicate records.

    Returns: nothing.

    Since: SDK 1.0.
    """


@hookspec
def udyog_permissions() -> list[Permission]:
    """Declare the permissions this plugin's routes and pages check.

    Called once per application. Names are ``<plugin>.<resource>.<action>``
    and must start with the declaring plugin's name (the core's with
    ``core.``); a name declared twice is an error naming both plugins.

    Returns: a list of :class:`udyog_sdk.Permission`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_roles() -> list[RoleTemplate]:
    """Contribute default roles, seeded into a tenant when it enables the plugin.

    Templates with the same name from several plugins are merged (their
    permissions and record rules united), so a plugin extends the core's
    ``Owner`` by returning ``RoleTemplate("Owner", ("notes.*",))``. Seeding
    adds what is missing and never removes what an admin granted.

    Returns: a list of :class:`udyog_sdk.RoleTemplate`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_record_rules() -> list[RecordRule]:
    """Declare record rules: SQL predicates that narrow what a role's holders see.

    Called once per application. Keys are unique (``<plugin>.<name>``); roles
    refer to them by key. A rule applies to every select, update and delete
    of its model in requests and tasks acting as a user whose every role
    carries a rule on that model.

    Returns: a list of :class:`udyog_sdk.RecordRule`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_series() -> list[SeriesDefinition]:
    """Register number series keys with their default patterns.

    Called once per kernel, the first time series are needed. Keys are
    ``<plugin>.<thing>`` and must start with the registering plugin's name;
    a key registered twice is an error naming both plugins. The default
    pattern must parse (exactly one ``{seq:0N}``), name the period its reset
    restarts in (``{FY}`` for ``financial_year``), and keep the definition's
    own ``max_length`` and ``allowed_chars``, which hold for every tenant. A
    plugin with a refused registration keeps none of its series: enabling it
    fails, naming the problem; other plugins are unaffected.

    A tenant that enables the plugin gets each series with the default
    pattern and reset (seeded once; enabling again keeps the tenant's own);
    it may change them. Take numbers with
    ``udyog_sdk.series.next_number(key)``. Example::

        @hookimpl
        def udyog_series():
            return [SeriesDefinition("sales.invoice", "Tax invoice", "INV/{FY_SHORT}/{seq:05}",
                                     reset="financial_year", gap_free=True)]

    Returns: a list of :class:`udyog_sdk.series.SeriesDefinition`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_series_constraints(key: str) -> list[SeriesConstraint]:
    """Add constraints to a series (possibly another plugin's), checked on saving settings and on every number.

    Called with the series key, on the tenant's relay (only plugins the
    tenant enabled take part), when a tenant saves or previews settings of
    the series, when its series are listed, and for every number taken (the
    rendered number must keep every constraint, or it is refused and not
    taken). Keep it cheap and a pure function of ``key``. Return constraints
    for ``key`` (an empty list for other keys; constraints naming another key
    are ignored): maximum rendered length, allowed characters (ranges such
    as ``A-Za-z0-9/-``), allowed reset periods, each with the ``reason``
    shown when settings break it. Constraints combine with the series' own
    limits: all must hold, so the tightest wins. Example (GST on invoices)::

        @hookimpl
        def udyog_series_constraints(key):
            if key != "sales.invoice":
                return []
            return [SeriesConstraint(key, "GST rule 46: at most 16 characters", max_length=16,
                                     allowed_chars="A-Za-z0-9/-"),
                    SeriesConstraint(key, "GST rule 46: unique per financial year",
                                     resets=("financial_year", "monthly"))]

    Returns: a list of :class:`udyog_sdk.series.SeriesConstraint`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_menu() -> list[MenuEntry]:
    """Contribute entries to the web UI's menu.

    Called when the shell renders a page; only plugins the tenant enabled
    take part, and each entry is shown only to users holding its permission.
    Order comes from the entries' ``weight`` (then label), never from
    registration.

    Returns: a list of :class:`udyog_sdk.ui.MenuEntry`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_notification_templates() -> list[NotificationTemplate]:
    """Declare the notifications this plugin sends: one template per event, channel and language.

    Called once per kernel, the first time notifications are needed. Event
    names must start with the declaring plugin's name (the core's with
    ``core.``); an (event, channel, language) declared twice is refused,
    naming both plugins, and so is a subject or body that is not valid
    Jinja2. A plugin with a refused declaration keeps none of its templates
    (logged); other plugins are unaffected. The templates of one event must
    name the same ``permission`` (or none): its holders are notified when
    ``notify()`` names no recipients.

    A tenant may override any template (its own text, another language, or
    switched off) through ``/api/v1/core/notification-templates``. Only
    plugins the tenant enabled take part. Send with
    ``udyog_sdk.notify(event, payload)``. Example::

        @hookimpl
        def udyog_notification_templates():
            return [
                NotificationTemplate("sales.order.confirmed", "in_app", "Order {{ number }} confirmed",
                                     "{{ customer }}: {{ total }}", permission="sales.order.read"),
                NotificationTemplate("sales.order.confirmed", "email", "Order {{ number }} confirmed",
                                     "Dear {{ recipient.name }},\n\norder {{ number }} is confirmed.",
                                     permission="sales.order.read"),
                NotificationTemplate("sales.order.confirmed", "email", "ऑर्डर {{ number }} की पुष्टि",
                                     "ऑर्डर {{ number }} की पुष्टि हो गई है।", language="hi",
                                     permission="sales.order.read"),
            ]

    Returns: a list of :class:`udyog_sdk.NotificationTemplate`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_tasks() -> list[TaskDefinition]:
    """Register the plugin's background tasks.

    Called once when a kernel is built (web server, worker, beat, CLI); every
    task becomes a Celery task of the same name, acknowledged late and
    requeued if its worker dies. Names start with the plugin's name
    (``gst.gstr1_export``); a task registered twice, or under another
    plugin's prefix, unloads the plugin. Queue a run with
    ``udyog_sdk.enqueue(name, kwargs)``; it runs for the tenant and as the
    user that queued it, only while the tenant has the plugin enabled.
    Example::

        def export_gstr1(ctx, period):
            ctx.progress(10, "collecting invoices")
            ...

        @hookimpl
        def udyog_tasks():
            return [TaskDefinition("gst.gstr1_export", export_gstr1, title="GSTR-1 export")]

    Returns: a list of :class:`udyog_sdk.TaskDefinition`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_schedules() -> list[Schedule]:
    """Register periodic runs of the plugin's own tasks.

    Called once when a kernel is built; beat fires each schedule (``every``
    an interval, or ``cron`` in the deployment's timezone) and the task is
    queued once per slot for every active tenant that enabled the plugin —
    also when two beat processes run by mistake. A schedule naming a task
    the plugin does not register unloads the plugin. Example::

        @hookimpl
        def udyog_schedules():
            return [Schedule("fssai.expiry_scan", "fssai.scan_expiring", cron="30 1 * * *")]

    Returns: a list of :class:`udyog_sdk.Schedule`. Broadcast.

    Since: SDK 1.0.
    """


@hookspec
def udyog_settings() -> SettingsSchema | None:
    """Declare the plugin's per-tenant settings: a marshmallow schema with a default for every field.

    Called once per kernel, when it is built. Every field of the schema needs
    a ``load_default``; the defaults must load, and so must the deployment's
    values in ``plugins.toml`` (``[settings.<plugin>]``), which replace the
    defaults for every tenant of the deployment. A ``permission`` must be one
    the plugin declares. A plugin whose declaration breaks a rule is unloaded
    (with its dependants), like any plugin that fails to register.

    A tenant that enabled the plugin reads and changes its settings through
    ``/api/v1/core/settings/<plugin>`` (``core.settings.read``,
    ``core.settings.manage``) and the settings page; code running for the
    tenant reads them with ``udyog_sdk.plugin_settings(<plugin>)`` (or
    ``current_tenant().settings[<plugin>]``), already loaded, at no cost per
    request. Stored values are kept when the plugin is disabled. Example::

        class LedgerSettings(ma.Schema):
            recent_count = ma.fields.Integer(load_default=5, validate=ma.validate.Range(min=1, max=20))

        @hookimpl
        def udyog_settings():
            return SettingsSchema(LedgerSettings, title="Ledger")

    Returns: a :class:`udyog_sdk.SettingsSchema`, or None for no settings.
    Broadcast (one declaration per plugin).

    Since: SDK 1.1.
    """


@hookspec
def udyog_dashboard() -> list[DashboardWidget]:
    """Contribute cards to the landing page (the dashboard).

    Called when the landing page is shown, on the tenant's relay (only plugins
    the tenant enabled take part); each widget is shown only to users holding
    its ``permission``. The page calls every widget's ``render()`` in the
    request's tenant scope: a widget that raises is shown as unavailable (and
    logged), and a plugin whose implementation raises loses its widgets; the
    page always renders. Keys start with the plugin's name; order comes from
    ``weight`` (then title), never from registration. Example::

        @hookimpl
        def udyog_dashboard():
            return [DashboardWidget("sales.open_orders", "Open orders", count_open_orders,
                                    permission="sales.order.read", url="/sales/orders")]

    Returns: a list of :class:`udyog_sdk.ui.DashboardWidget`. Broadcast.

    Since: SDK 1.1.
    """


@hookspec
def udyog_resources() -> list[Resource]:
    """Declare the plugin's resources (``udyog_sdk.resources.Resource``) so the platform knows them by key.

    Called once when a kernel is built. A resource's key is its permission
    prefix (``ledger.voucher``) and must start with the declaring plugin's
    name; a key declared twice unloads the later plugin, naming both. Only a
    declared resource takes field contributions from other plugins and
    custom fields from implementers (see ``udyog_field_contributions`` and
    ``docs/custom-fields.md``). Declaring does not add routes: return the
    resource's blueprints from ``udyog_blueprints`` as before. Example::

        @hookimpl
        def udyog_resources():
            from .api import VOUCHERS

            return [VOUCHERS]

    Returns: a list of :class:`udyog_sdk.resources.Resource`. Broadcast.

    Since: SDK 1.1.
    """


@hookspec
def udyog_field_contributions() -> list[FieldContribution]:
    """Add fields to another plugin's resource, stored in a 1:1 side table of the contributing plugin.

    Called once when a kernel is built. Each
    :class:`udyog_sdk.fields.FieldContribution` names the owner resource by
    key, the plugin's side table (a ``udyog_sdk.fields.SideTable`` extending
    the owner's table, named ``<plugin>_<thing>``) and marshmallow fields.
    For tenants that enabled the contributing plugin, the fields appear in
    the owner's API input and output, its lists (declared ``filters``), forms,
    detail pages and OpenAPI document; they are written in the same
    transaction as the owner's record and deleted with it. For other tenants
    they do not exist; the owner's tables never change.

    The core refuses a contribution (unloading the contributing plugin, with
    a message naming both sides) when its resource is not declared (unless
    the owner is among the plugin's ``optional`` plugins and not installed),
    its model is not a side table of the owner's table or not the plugin's
    own table, or a field name clashes with the owner's fields, another
    contributor's, or the ``x_`` prefix of custom fields. Example::

        @hookimpl
        def udyog_field_contributions():
            return [FieldContribution("inventory.product", ProductTax,
                                      {"hsn_code": ma.fields.String(allow_none=True, load_default=None)},
                                      filters=["hsn_code"])]

    Returns: a list of :class:`udyog_sdk.fields.FieldContribution`. Broadcast.

    Since: SDK 1.1.
    """
