"""Routes with access problems."""

from typing import Any

from udyog_sdk import Permission, hookimpl


@hookimpl
def udyog_permissions() -> list[Permission]:
    return [Permission("checkschema.part.read", "See parts")]


@hookimpl
def udyog_blueprints() -> list[Any]:
    from udyog_sdk.api import Blueprint, ok
    from udyog_sdk.security import requires

    bp = Blueprint("checkschema", __name__, url_prefix="/api/v1/checkschema")

    @bp.route("/open")
    def undeclared() -> dict[str, Any]:
        return ok([])

    @bp.route("/parts")
    @requires("checkschema.part.write")
    def undeclared_permission() -> dict[str, Any]:
        return ok([])

    return [bp]
