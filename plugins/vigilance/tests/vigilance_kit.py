"""Helpers of vigilance's tests: notes made through the notes plugin, alerts read back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from udyog_test_notes.models import Notebook
from udyog_test_notes.services import create_note

from udyog_vigilance.models import Alert, RuleFailure


def note(tenant: Any, title: str, body: str = "one two three") -> None:
    """Create a note in the tenant's default notebook and commit (its event is evaluated on commit, eagerly)."""
    with tenant.scope() as scope:
        book = scope.session.scalar(select(Notebook.id).limit(1))
        create_note(notebook_id=book, title=title, body=body)
        scope.session.commit()


def alerts(tenant: Any) -> list[Alert]:
    """The tenant's alerts, oldest first (detached snapshots)."""
    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(Alert).order_by(Alert.first_seen, Alert.id)).all()
        scope.session.expunge_all()
        return list(rows)


def failures(tenant: Any) -> list[RuleFailure]:
    """The tenant's recorded rule failures."""
    with tenant.scope(write=False) as scope:
        rows = scope.session.scalars(select(RuleFailure).order_by(RuleFailure.occurred_at)).all()
        scope.session.expunge_all()
        return list(rows)
