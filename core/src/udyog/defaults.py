"""The core's own hook implementations, registered like any plugin's (as ``core``).

Defaults that a plugin may override are ``trylast``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import marshmallow as ma

from udyog_sdk import Listener, Permission, RoleTemplate, SettingsSchema, TaskDefinition, hookimpl
from udyog_sdk.formatting import DEFAULT_LOCALE, LOCALES
from udyog_sdk.notifications import LANGUAGE_RE
from udyog_sdk.ui import DashboardWidget, MenuEntry

if TYPE_CHECKING:
    from flask import Blueprint

CORE_PERMISSIONS = (
    Permission("core.tenant.read", "See the tenant's profile and enabled plugins"),
    Permission("core.tenant.manage", "Change tenant settings and enable or disable plugins"),
    Permission("core.branch.read", "See branches"),
    Permission("core.branch.manage", "Create, change and delete branches"),
    Permission("core.plugin.read", "See installed plugins and their state"),
    Permission("core.user.read", "See the tenant's users and their roles"),
    Permission("core.user.manage", "Invite users, assign roles, disable users"),
    Permission("core.role.read", "See roles, permissions and record rules"),
    Permission("core.role.manage", "Create, change and delete roles"),
    Permission("core.audit.read", "Read the audit log"),
    Permission("core.series.read", "See number series"),
    Permission("core.series.manage", "Change number-series patterns"),
    Permission("core.jobs.read", "See the background jobs run for the tenant, their progress and errors"),
    Permission("core.jobs.retry", "Queue a failed background job again"),
    Permission("core.notification_template.read", "See notification templates"),
    Permission("core.notification_template.manage", "Change the tenant's notification templates"),
    Permission("core.attachment.read", "List and download files attached to records the user may read"),
    Permission("core.attachment.write", "Attach files to records the user may read"),
    Permission("core.attachment.delete", "Delete files attached to records the user may read"),
    Permission("core.custom_field.read", "See the custom fields defined on resources"),
    Permission("core.custom_field.manage", "Define, change and delete custom fields (and their values)"),
    Permission("core.settings.read", "See the tenant's settings of the core and its plugins"),
    Permission("core.settings.manage", "Change the tenant's settings of the core and its plugins"),
)


class CoreSettingsSchema(ma.Schema):
    """The core's per-tenant settings."""

    language = ma.fields.String(
        load_default="en",
        validate=ma.validate.Regexp(LANGUAGE_RE, error="a language tag such as en, hi, mr or en-IN"),
        metadata={
            "label": "Language",
            "description": "Notifications are sent in this language where a text exists in it (else English).",
        },
    )
    locale = ma.fields.String(
        load_default=DEFAULT_LOCALE,
        validate=ma.validate.OneOf(LOCALES),
        metadata={
            "label": "Locale",
            "description": "Numbers, amounts and dates are shown in this locale (lakh and crore grouping in "
            "both); hi_IN also shows the shell in Hindi where a translation exists.",
        },
    )


@hookimpl
def udyog_blueprints() -> list[Blueprint]:
    """The core's API (health, plugins, tenant, branches, users, roles, login, series, settings) and web UI."""
    from udyog.admin_api import create_admin_blueprint
    from udyog.api import create_blueprint
    from udyog.attachments_api import create_attachments_blueprint
    from udyog.auth_api import create_auth_blueprint
    from udyog.custom_fields_api import create_custom_fields_blueprint
    from udyog.jobs_api import create_jobs_blueprint
    from udyog.notifications_api import create_notifications_blueprint
    from udyog.series_api import create_series_blueprint
    from udyog.settings_api import create_settings_blueprint
    from udyog.web import create_web_blueprint
    from udyog.web.jobs import create_jobs_pages
    from udyog.web.settings import create_settings_pages

    return [
        create_blueprint(),
        create_auth_blueprint(),
        create_admin_blueprint(),
        create_series_blueprint(),
        create_notifications_blueprint(),
        create_jobs_blueprint(),
        create_attachments_blueprint(),
        create_custom_fields_blueprint(),
        create_settings_blueprint(),
        create_web_blueprint(),
        create_jobs_pages(),
        create_settings_pages(),
    ]


@hookimpl
def udyog_event_listeners() -> list[Listener]:
    """The core's listeners: sending queued notifications (e-mail, SMS, WhatsApp)."""
    from udyog.notifications import listeners

    return listeners()


@hookimpl
def udyog_tasks() -> list[TaskDefinition]:
    """The core's tasks: imports of any resource too large for one request."""
    from udyog.imports import import_task

    return [import_task()]


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The core's permissions."""
    return list(CORE_PERMISSIONS)


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """The core's default roles: Owner holds everything; Administrator the kernel; Member reads."""
    return [
        RoleTemplate("Owner", ("*",), description="Everything, in every enabled plugin"),
        RoleTemplate("Administrator", ("core.*",), description="Users, roles, branches, settings and plugins"),
        RoleTemplate(
            "Member",
            ("core.tenant.read", "core.branch.read", "core.attachment.read"),
            description="Any member: sees the tenant and its branches, and the files of records they may read",
        ),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The core's menu: Home, Branches, and Administration (organisation, users, roles, plugins, jobs, settings,
    number series, custom fields, audit log)."""
    return [
        MenuEntry("core.home", "Home", "/", None, weight=0, icon="house"),
        MenuEntry("core.branches", "Branches", "/core/branches", "core.branch.read", weight=10, icon="shop"),
        MenuEntry("core.admin", "Administration", "", None, weight=900, icon="gear"),
        MenuEntry("core.users", "Users", "/core/users", "core.user.read", 10, "core.admin", "people"),
        MenuEntry("core.roles", "Roles", "/core/roles", "core.role.read", 20, "core.admin", "shield-lock"),
        MenuEntry("core.plugins", "Plugins", "/core/plugins", "core.plugin.read", 30, "core.admin", "puzzle"),
        MenuEntry("core.jobs", "Jobs", "/core/jobs", "core.jobs.read", 40, "core.admin", "hourglass-split"),
        MenuEntry("core.settings", "Settings", "/core/settings", "core.settings.read", 50, "core.admin", "sliders"),
        MenuEntry("core.tenant", "Organisation", "/core/tenant", "core.tenant.manage", 5, "core.admin", "building"),
        MenuEntry("core.series", "Number series", "/core/series", "core.series.read", 60, "core.admin", "123"),
        MenuEntry(
            "core.custom_fields",
            "Custom fields",
            "/core/custom-fields",
            "core.custom_field.read",
            70,
            "core.admin",
            "input-cursor-text",
        ),
        MenuEntry("core.audit", "Audit log", "/core/audit", "core.audit.read", 80, "core.admin", "clock-history"),
    ]


@hookimpl
def udyog_settings() -> SettingsSchema:
    """The core's own settings: the tenant's language (notifications) and locale (formatting, shell language)."""
    return SettingsSchema(
        CoreSettingsSchema,
        title="General",
        description="Settings of the organisation that every module uses.",
        weight=0,
    )


@hookimpl
def udyog_dashboard() -> list[DashboardWidget]:
    """The core's cards: your unread notifications, and failed background jobs."""
    from udyog.web.dashboard import core_widgets

    return core_widgets()
