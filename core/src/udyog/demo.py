"""The demo tenant loaded by ``udyog demo`` and ``make run``."""

from __future__ import annotations

import os
from collections.abc import Callable

from sqlalchemy import select

from udyog.auth import create_user, user_by_email
from udyog.kernel import Kernel
from udyog.models import Branch, Tenant
from udyog.tenancy import create_branch, create_tenant, enable_plugins

DEMO_SLUG = "demo"
DEMO_EMAIL = "owner@sunrise.example"
DEMO_PASSWORD = "sunrise-demo-2026"
DEMO_NAME = "Sunrise Foods Pvt Ltd"
DEMO_BRANCHES = (
    ("PUNE", "Pune factory", "Plot 12, MIDC Chakan, Pune 410501", "27"),
    ("BLR", "Bengaluru depot", "14 Peenya Industrial Area, Bengaluru 560058", "29"),
)


def load_demo(kernel: Kernel, report: Callable[[str], None] = print) -> str:
    """Create (or complete) the demo tenant with every loaded plugin enabled; idempotent.

    Its owner logs in as :data:`DEMO_EMAIL` with ``UDYOG_DEMO_PASSWORD`` (default
    :data:`DEMO_PASSWORD`).
    """
    with kernel.db.session(write=False) as session:
        exists = session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG)) is not None
    if not exists:
        report(f"creating tenant {DEMO_SLUG!r} ({DEMO_NAME})")
        create_tenant(kernel, DEMO_SLUG, DEMO_NAME)
    added = enable_plugins(kernel, DEMO_SLUG, kernel.registry.order)
    if added:
        report(f"enabled plugins: {', '.join(added)}")
    password = os.environ.get("UDYOG_DEMO_PASSWORD", DEMO_PASSWORD)
    if user_by_email(kernel, DEMO_EMAIL) is None:
        create_user(kernel, DEMO_EMAIL, "Asha Deshmukh", password, tenant=DEMO_SLUG, roles=["Owner"])
        report(f"user {DEMO_EMAIL} (Owner)")
    with kernel.tenant_scope(DEMO_SLUG) as scope:
        for code, name, address, state in DEMO_BRANCHES:
            if scope.session.scalar(select(Branch.id).where(Branch.code == code)) is None:
                create_branch(scope.session, code=code, name=name, address=address, state_code=state)
                report(f"branch {code}: {name}")
        for plugin in kernel.registry.order:
            if not scope.tenant.is_enabled(plugin):
                continue
            if scope.hooks.call_plugin(
                plugin, "udyog_demo_data", tenant=scope.tenant, session=scope.session, progress=report
            ):
                scope.session.flush()
                report(f"demo data: {plugin}")
        scope.session.commit()
    return DEMO_SLUG
