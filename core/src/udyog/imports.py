"""The core's background import task: large CSV and Excel imports of any resource.

Routes and pages (``udyog_sdk.imports``) store an uploaded file as a work file
and queue :data:`udyog_sdk.imports.IMPORT_TASK`; this task finds the resource
by its key and runs :func:`udyog_sdk.imports.run_import_job` for the tenant,
as the user who uploaded the file. See ``docs/import-export.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from udyog_sdk import JobFailed, TaskDefinition
from udyog_sdk.imports import IMPORT_TASK, app_resource, run_import_job
from udyog_sdk.runtime import current_scope

if TYPE_CHECKING:
    from udyog.kernel import TenantScope
    from udyog_sdk import JobContext
    from udyog_sdk.resources import Resource


def find_resource(scope: TenantScope, key: str) -> Resource | None:
    """The resource ``key``: declared through ``udyog_resources``, else one serving routes in this app."""
    declared = scope.kernel.compositions.declared(key)
    return declared if declared is not None else app_resource(key)


def import_records(
    ctx: JobContext, resource: str, file_key: str, filename: str, dry_run: bool = False
) -> dict[str, Any]:
    """Import a stored file into resource ``resource`` (its key), or refuse it with the row errors."""
    scope = cast("TenantScope", current_scope())
    found = find_resource(scope, resource)
    if found is None:
        raise JobFailed(f"no resource {resource!r} is installed here")
    return run_import_job(ctx, found, file_key, filename, dry_run)


def import_task() -> TaskDefinition:
    """The task's declaration (registered by the core's ``udyog_tasks``)."""
    # Retries only for transient database errors; row errors refuse at once (JobFailed).
    return TaskDefinition(IMPORT_TASK, import_records, title="Import records from a file", max_retries=3)
