"""Hooks the inventory plugin publishes."""

from __future__ import annotations

import uuid

from udyog_sdk import hookspec


@hookspec
def inventory_lot_blocked(lot_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Say which of these lots must not be allocated, and why.

    Called by ``udyog_inventory.services.allocate`` with the lots that hold
    available stock of the product in the warehouse (in the current tenant's
    transaction). Plugins that hold lots back (QC failed, expired, recalled)
    return the blocked ones with a short reason; lots not named are free.
    The default allocation skips every lot any implementation blocks.

    Returns: a dict lot id → reason (empty when none is blocked). Broadcast.

    Since: inventory 0.1.
    """
