"""Hook implementations of the ``crm`` plugin."""

from __future__ import annotations

from typing import Any

from udyog_sdk import Permission, RoleTemplate, hookimpl
from udyog_sdk.ui import MenuEntry


@hookimpl
def udyog_blueprints() -> list[Any]:
    """Fresh blueprints: the items API and its pages."""
    from .api import ITEMS

    return [ITEMS.blueprint(description="Crm: items"), ITEMS.page_blueprint()]


@hookimpl
def udyog_permissions() -> list[Permission]:
    """The items' permissions: ``read``, ``create``, ``write`` and ``delete``."""
    from .api import ITEMS

    return ITEMS.permissions()


@hookimpl
def udyog_roles() -> list[RoleTemplate]:
    """Default roles, seeded into each tenant that enables the plugin (editable there)."""
    return [
        RoleTemplate(
            "Crm Manager",
            ("crm.*",),
            description="Manages the plugin's items",
        ),
        RoleTemplate(
            "Crm Viewer",
            ("crm.item.read",),
            description="Sees the plugin's items",
        ),
    ]


@hookimpl
def udyog_menu() -> list[MenuEntry]:
    """The items list in the shell's menu, for users who may read items."""
    from .api import ITEMS

    return [ITEMS.menu_entry(weight=100)]
