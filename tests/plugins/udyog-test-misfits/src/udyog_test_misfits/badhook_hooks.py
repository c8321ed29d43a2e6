"""A hook implementation with a misspelt name."""

from udyog_sdk import hookimpl


@hookimpl
def udyog_blueprint() -> list[object]:  # misspelt: the spec is udyog_blueprints
    return []
