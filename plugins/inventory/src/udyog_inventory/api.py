"""Resources of the plugin: REST routes, OpenAPI entries, pages and a menu entry."""

from __future__ import annotations

from typing import Any

from udyog_sdk.resources import Resource

from .models import Item
from .schemas import ItemSchema
from .services import create_item


class ItemResource(Resource):
    """Items: API routes, pages and permissions (``<plugin>.item.<action>``) come from this declaration."""

    model = Item
    schema = ItemSchema
    permission_prefix = "inventory.item"
    filters = ("code", "name", "quantity")
    sort = ("code", "name", "quantity")
    default_sort = "code"
    list_columns = ("code", "name", "quantity", "unit_price")

    def create(self, data: dict[str, Any]) -> Item:
        """Create through the service, so its rules and its event apply everywhere."""
        return create_item(data)


ITEMS = ItemResource()
