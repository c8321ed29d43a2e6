"""Demo data: the scheduled rules are evaluated once after the demo's commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from udyog_test_notes.services import create_note

pytestmark = pytest.mark.udyog_plugins("notes", "vigilance")


@pytest.fixture
def udyog_kernel(kernel_factory: Any, backend: str) -> Any:
    """Background jobs run in the queuing process when it commits (eager mode)."""
    return kernel_factory(("notes", "vigilance"), backend=backend, jobs_eager=True)


def test_demo_data_queues_each_schedule_once(udyog_tenant, udyog_client):
    from udyog_test_notes.models import Notebook

    from udyog_vigilance.hooks import udyog_demo_data
    from udyog_vigilance.models import Alert

    udyog_client.patch(
        "/api/v1/vigilance/rules/notes.note_count", json={"enabled": True, "thresholds": {"max_notes": 0}}, expect=200
    )
    said: list[str] = []
    with udyog_tenant.scope() as scope:
        book = scope.session.scalar(select(Notebook.id).limit(1))
        create_note(notebook_id=book, title="demo note")
        udyog_demo_data(tenant=scope.tenant, session=scope.session, progress=said.append)
        assert scope.session.scalars(select(Alert)).all() == []  # nothing before the commit
        scope.session.commit()
    with udyog_tenant.scope(write=False) as scope:
        assert [a.rule_key for a in scope.session.scalars(select(Alert))] == ["notes.note_count"]
    assert said == ["vigilance: 1 scheduled rule evaluations queued"]
