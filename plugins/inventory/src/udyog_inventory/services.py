"""Business logic of the plugin: plain functions over the current tenant's session.

Routes, CLI commands, tasks and tests call them alike; the session, the
tenant and the events come from ``udyog_sdk`` (a scope must be bound).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from udyog_sdk import UdyogError, db_session, emit

from .models import Item


def create_item(data: dict[str, Any]) -> Item:
    """Create an item; a code already taken is refused (409).

    Emits the event ``inventory.item.created``.
    """
    session = db_session()
    code = data["code"]
    if session.scalar(select(Item.id).where(Item.code == code)) is not None:
        raise UdyogError("code taken", status=409, errors={"code": [f"an item {code!r} already exists"]})
    item = Item(**data)
    session.add(item)
    session.flush()
    emit("inventory.item.created", {"item_id": str(item.id), "code": code})
    return item
