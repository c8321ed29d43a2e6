"""The setup pages of the Administration menu: number series, organisation and branches, custom fields, audit log.

Each group lives in its own module; :func:`add_admin_setup_pages` adds them
all to the shell's blueprint ``web``.
"""

from __future__ import annotations

from flask import Blueprint

from udyog.web.audit_pages import add_audit_pages
from udyog.web.custom_field_pages import add_custom_field_pages
from udyog.web.series_pages import add_series_pages
from udyog.web.tenant_pages import add_tenant_pages


def add_admin_setup_pages(bp: Blueprint) -> None:
    """Add the series, organisation, branch, custom-field and audit-log pages to ``bp``."""
    add_series_pages(bp)
    add_tenant_pages(bp)
    add_custom_field_pages(bp)
    add_audit_pages(bp)


__all__ = ["add_admin_setup_pages"]
