"""Results of background runs, refusals (JobFailed), run_status, and tenants' work files."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from udyog_test_notes.models import Note

from udyog.app import create_app
from udyog.models import JobRun
from udyog.tenancy import create_tenant
from udyog.testing import create_member, login
from udyog_sdk import enqueue
from udyog_sdk.jobs import run_status
from udyog_sdk.workfiles import open_file, put, remove


@pytest.fixture
def world(kernel_factory, backend):
    kernel = kernel_factory(["notes"], backend=backend, jobs_eager=True)
    create_tenant(kernel, "acme", "Acme", plugins=["notes"])
    create_tenant(kernel, "globex", "Globex", plugins=["notes"])
    create_member(kernel, "acme", "owner@acme.test", roles=("Owner",))
    create_member(kernel, "globex", "owner@globex.test", roles=("Owner",))
    return kernel, create_app(kernel=kernel)


def queue(kernel, task, kwargs, tenant="acme"):
    with kernel.tenant_scope(tenant) as scope:
        run_id = enqueue(task, kwargs)
        scope.session.commit()
    return run_id


def titles(kernel, tenant="acme"):
    with kernel.tenant_scope(tenant, write=False) as scope:
        return sorted(scope.session.scalars(select(Note.title)).all())


def test_what_a_task_returns_is_its_runs_result(world):
    kernel, app = world
    run_id = queue(kernel, "notes.tally", {"title": "one"})
    with kernel.tenant_scope("acme", write=False):
        status = run_status(run_id)
    assert status is not None and status.state == "succeeded" and status.finished
    assert status.result == {"notes": 1} and status.error is None
    owner = login(app, "owner@acme.test")
    body = owner.get(f"/api/v1/core/jobs/{run_id}").get_json()
    assert body["data"]["result"] == {"notes": 1}
    # Tasks that return nothing keep no result.
    plain = queue(kernel, "notes.append", {"title": "two"})
    assert owner.get(f"/api/v1/core/jobs/{plain}").get_json()["data"]["result"] is None


def test_a_refused_run_fails_at_once_with_its_message_and_result_and_writes_nothing(world):
    kernel, app = world
    run_id = queue(kernel, "notes.refuse", {"title": "never"})
    with kernel.tenant_scope("acme", write=False) as scope:
        run = scope.session.scalar(select(JobRun).where(JobRun.id == run_id))
        assert run.state == "failed" and run.attempts == 1
        assert run.error == "refused never"  # for people: no traceback
        assert run.result == {"errors": [{"row": 2, "column": "Title", "messages": ["no"]}]}
    assert "never" not in titles(kernel)
    # A retry clears the result of the earlier attempt before it runs again.
    owner = login(app, "owner@acme.test")
    retried = owner.post(f"/api/v1/core/jobs/{run_id}/retry")
    assert retried.status_code == 200, retried.get_json()
    with kernel.tenant_scope("acme", write=False):
        status = run_status(run_id)
    assert status.state == "failed" and status.error == "refused never"
    assert status.result == {"errors": [{"row": 2, "column": "Title", "messages": ["no"]}]}


def test_run_status_sees_only_the_tenants_own_runs(world):
    kernel, _ = world
    run_id = queue(kernel, "notes.tally", {"title": "mine"})
    with kernel.tenant_scope("globex", write=False):
        assert run_status(run_id) is None
        assert run_status(uuid.uuid4()) is None


def test_work_files_are_per_tenant_and_follow_the_transaction(world):
    kernel, _ = world
    with kernel.tenant_scope("acme") as scope:
        key = put(b"a,b\n1,2\n")
        scope.session.commit()
    with kernel.tenant_scope("acme", write=False), open_file(key) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    with kernel.tenant_scope("globex", write=False), pytest.raises(FileNotFoundError):
        open_file(key)
    # Keys are the storage's own: anything else names no file.
    with kernel.tenant_scope("acme", write=False), pytest.raises(FileNotFoundError):
        open_file("../../etc/passwd")
    with kernel.tenant_scope("acme"):
        remove(key)
        remove(key)  # gone already: no error
        with pytest.raises(FileNotFoundError):
            open_file(key)
    # Put in a transaction that rolls back: removed when it ends.
    with kernel.tenant_scope("acme") as scope:
        lost = put(b"x")
        scope.session.rollback()
    with kernel.tenant_scope("acme", write=False), pytest.raises(FileNotFoundError):
        open_file(lost)
