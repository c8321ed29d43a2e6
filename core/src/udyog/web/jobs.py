"""The jobs page: recent runs with their state, progress and errors; retry of failed runs."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, redirect, render_template, request, url_for
from sqlalchemy import select

from udyog.jobs_api import STATES, retry_run, run_data
from udyog.models import JobRun
from udyog_sdk import current_user, db_session
from udyog_sdk.security import requires

#: Runs shown on the page.
PAGE_SIZE = 50


def create_jobs_pages() -> Blueprint:
    """A fresh blueprint with the jobs page (part of the shell)."""
    bp = Blueprint("web_jobs", __name__)

    @bp.route("/core/jobs")
    @requires("core.jobs.read")
    def jobs() -> str:
        """Recent runs, newest first; the page refreshes itself while any runs or waits."""
        state = request.args.get("state", "")
        query = select(JobRun).order_by(JobRun.created_at.desc(), JobRun.id.desc()).limit(PAGE_SIZE)
        if state in STATES:
            query = query.where(JobRun.state == state)
        runs = [run_data(run) for run in db_session().scalars(query)]
        active = any(r["state"] in ("queued", "running", "retrying") for r in runs)
        principal = current_user()
        return render_template(
            "udyog/jobs.html",
            runs=runs,
            states=STATES,
            state=state if state in STATES else "",
            refresh=active,
            can_retry=principal is not None and principal.can("core.jobs.retry"),
        )

    @bp.route("/core/jobs/<uuid:run_id>/retry", methods=["POST"])
    @requires("core.jobs.retry")
    def retry(run_id: uuid.UUID) -> Response:
        """Queue a failed run again, then back to the list."""
        retry_run(run_id)
        return redirect(url_for("web_jobs.jobs"))

    return bp
