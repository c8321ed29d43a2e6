"""The jobs API: recent runs of the tenant's background tasks, and retrying failed ones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import select

from udyog.models import JobRun
from udyog_sdk import UdyogError, current_tenant, db_session
from udyog_sdk.api import Blueprint, Filter, Listing, envelope, ok
from udyog_sdk.models import utcnow
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires

STATES = ("queued", "running", "retrying", "succeeded", "failed", "cancelled")


class JobRunSchema(ma.Schema):
    """A run of a background task: its state, timing, progress and error."""

    id = ma.fields.UUID()
    task = ma.fields.String(metadata={"description": "the task's name, e.g. core.deliver_event"})
    title = ma.fields.String(metadata={"description": "the task's title"})
    state = ma.fields.String(metadata={"description": " | ".join(STATES)})
    user_id = ma.fields.UUID(allow_none=True, metadata={"description": "who queued it (None: a schedule or event)"})
    created_at = ma.fields.AwareDateTime()
    eta = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "when it is due (delay or retry)"})
    started_at = ma.fields.AwareDateTime(allow_none=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    duration = ma.fields.Float(allow_none=True, metadata={"description": "seconds from the last start to the end"})
    attempts = ma.fields.Integer()
    progress = ma.fields.Float(allow_none=True, metadata={"description": "percent, as the task last reported it"})
    message = ma.fields.String(metadata={"description": "the task's last progress message"})
    error = ma.fields.String(allow_none=True)
    result = ma.fields.Raw(
        allow_none=True,
        metadata={"description": "what the task returned, or what a refused run reports (an import's row errors)"},
    )


class TaskSchema(ma.Schema):
    """A task the tenant's enabled plugins provide."""

    name = ma.fields.String()
    title = ma.fields.String()
    plugin = ma.fields.String()


#: Recent runs, newest first.
RUNS = Listing(
    JobRun,
    filters={
        "state": Filter(JobRun.state, field=ma.fields.String(validate=ma.validate.OneOf(STATES))),
        "task": ("eq", "in"),
        "since": Filter(JobRun.created_at, "gte"),
        "until": Filter(JobRun.created_at, "lte"),
    },
    sort=("created_at",),
    default_sort="-created_at",
    name="JobRuns",
)


def duration(run: JobRun, now: datetime | None = None) -> float | None:
    """Seconds the run's last execution took (so far, while it runs)."""
    if run.started_at is None:
        return None
    end = run.finished_at or (now if run.state == "running" else None)
    if end is None:
        return None
    return round(max(0.0, (end - run.started_at).total_seconds()), 3)


def run_data(run: JobRun) -> dict[str, Any]:
    """A run as the API and the page show it."""
    tasks = current_app.extensions["udyog"].jobs.tasks
    entry = tasks.get(run.task)
    return {
        "id": run.id,
        "task": run.task,
        "title": (entry[1].title if entry else "") or run.task,
        "state": run.state,
        "user_id": run.user_id,
        "created_at": run.created_at,
        "eta": run.eta,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration": duration(run, utcnow()),
        "attempts": run.attempts,
        "progress": run.progress,
        "message": run.message,
        "error": run.error,
        "result": run.result,
    }


def get_run(run_id: uuid.UUID) -> JobRun:
    """The tenant's run ``run_id`` or 404."""
    run = db_session().scalar(select(JobRun).where(JobRun.id == run_id))
    if run is None:
        raise UdyogError("no such job run", status=404)
    return run


def retry_run(run_id: uuid.UUID) -> JobRun:
    """Queue a failed run again, committing; 404/409 when it cannot be."""
    kernel = current_app.extensions["udyog"]
    scope: Any = current_scope()
    run = kernel.jobs.retry(scope, run_id)
    scope.session.commit()
    return run


def create_jobs_blueprint() -> Blueprint:
    """A fresh blueprint with the jobs API."""
    bp = Blueprint("core_jobs", __name__, url_prefix="/api/v1", description="Background jobs of the tenant")

    @bp.route("/core/jobs")
    @bp.arguments(RUNS.schema, location="query")
    @bp.response(200, envelope(JobRunSchema, many=True, paginated=True))
    @requires("core.jobs.read")
    def list_jobs(args: dict[str, Any]) -> dict[str, Any]:
        """Recent runs of the tenant's background tasks, newest first (filter by state or task)."""
        rows, meta = RUNS.page(select(JobRun), args)
        return ok([run_data(run) for run in rows], meta=meta)

    @bp.route("/core/jobs/<uuid:run_id>")
    @bp.response(200, envelope(JobRunSchema))
    @requires("core.jobs.read")
    def get_job(run_id: uuid.UUID) -> dict[str, Any]:
        """One run, with its progress and error."""
        return ok(run_data(get_run(run_id)))

    @bp.route("/core/jobs/<uuid:run_id>/retry", methods=["POST"])
    @bp.response(200, envelope(JobRunSchema))
    @requires("core.jobs.retry")
    def retry_job(run_id: uuid.UUID) -> dict[str, Any]:
        """Queue a failed (or cancelled) run again; it keeps its id and history, and runs as you."""
        return ok(run_data(retry_run(run_id)), message="job queued again")

    @bp.route("/core/tasks")
    @bp.response(200, envelope(TaskSchema, many=True))
    @requires("core.jobs.read")
    def list_tasks() -> dict[str, Any]:
        """The background tasks the tenant's enabled plugins (and the core) provide."""
        tenant = current_tenant()
        tasks = current_app.extensions["udyog"].jobs.tasks
        rows = [
            {"name": name, "title": definition.title or name, "plugin": plugin}
            for name, (plugin, definition) in sorted(tasks.items())
            if plugin == "core" or tenant.is_enabled(plugin)
        ]
        return ok(rows)

    return bp
