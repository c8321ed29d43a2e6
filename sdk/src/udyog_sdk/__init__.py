"""udyog_sdk — the public plugin API of Udyog.

Everything a plugin needs from the platform is importable from here; plugins
never import the core package ``udyog``. The API is versioned by
:data:`SDK_VERSION`; a plugin's manifest states the range it targets
(``Plugin.sdk``) and the core refuses to load a plugin whose range excludes
the running SDK.
"""

from __future__ import annotations

from udyog_sdk._version import SDK_VERSION
from udyog_sdk.events import Event, Listener
from udyog_sdk.fields import FieldContribution, SideTable
from udyog_sdk.jobs import (
    JobContext,
    JobFailed,
    RunStatus,
    Schedule,
    TaskDefinition,
    TransientError,
    enqueue,
    run_status,
)
from udyog_sdk.manifest import Plugin
from udyog_sdk.markers import PROJECT_NAME, hookimpl, hookspec
from udyog_sdk.notifications import NotificationTemplate, notify
from udyog_sdk.runtime import (
    TenantContext,
    UdyogError,
    current_tenant,
    current_user,
    db_session,
    emit,
    emit_detached,
    hooks,
    insert_rows,
    read_records,
    read_rows,
    update_rows,
    write_records,
)
from udyog_sdk.security import Permission, Principal, RecordRule, RoleTemplate
from udyog_sdk.settings import SettingsSchema, plugin_settings

__all__ = [
    "PROJECT_NAME",
    "SDK_VERSION",
    "Event",
    "FieldContribution",
    "JobContext",
    "JobFailed",
    "Listener",
    "NotificationTemplate",
    "Permission",
    "Plugin",
    "Principal",
    "RecordRule",
    "RoleTemplate",
    "RunStatus",
    "Schedule",
    "SettingsSchema",
    "SideTable",
    "TaskDefinition",
    "TenantContext",
    "TransientError",
    "UdyogError",
    "current_tenant",
    "current_user",
    "db_session",
    "emit",
    "emit_detached",
    "enqueue",
    "hookimpl",
    "hooks",
    "hookspec",
    "insert_rows",
    "notify",
    "plugin_settings",
    "read_records",
    "read_rows",
    "run_status",
    "update_rows",
    "write_records",
]
