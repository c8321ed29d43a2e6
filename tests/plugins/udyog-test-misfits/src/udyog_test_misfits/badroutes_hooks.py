"""A plugin whose registration-time hook raises."""

from udyog_sdk import hookimpl


@hookimpl
def udyog_blueprints() -> list[object]:
    raise ValueError("cannot build routes")
