"""REST API of custom-field definitions: ``/api/v1/core/custom-fields``.

Routes stay thin; the rules are in :mod:`udyog.custom_fields`. Permissions:
``core.custom_field.read`` to see definitions, ``core.custom_field.manage``
to create, change and delete them. Values are read and written through the
resources themselves.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma
from sqlalchemy import bindparam, select

from udyog.custom_fields import (
    DEFAULT_PLACES,
    DEFAULT_TEXT,
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MAX_TEXT,
    NAME_RULE,
    STORED_PLACES,
    TYPES,
    available,
    create_definition,
    delete_definition,
    update_definition,
)
from udyog.models import CustomField
from udyog_sdk import UdyogError, db_session
from udyog_sdk.api import Blueprint, Listing, check_version, envelope, ok, version_field
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires

if TYPE_CHECKING:
    from udyog.kernel import TenantScope

_DEFAULT_DOC = (
    "the value a new record gets when none is sent (text, a number, a decimal or date as a string, "
    "a boolean, one of the options); links have none"
)


class CustomFieldSchema(ma.Schema):
    """A custom field of a resource, for one tenant."""

    id = ma.fields.UUID(dump_only=True)
    resource = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "the resource's key, e.g. ledger.voucher"},
    )
    name = ma.fields.String(
        required=True, validate=ma.validate.Length(min=3, max=40), metadata={"description": NAME_RULE}
    )
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(TYPES))
    label = ma.fields.String(
        load_default="", validate=ma.validate.Length(max=120), metadata={"description": "default: from the name"}
    )
    help = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    required = ma.fields.Boolean(load_default=False)
    default = ma.fields.Raw(load_default=None, allow_none=True, metadata={"description": _DEFAULT_DOC})
    options = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=MAX_OPTION_LENGTH)),
        load_default=list,
        validate=ma.validate.Length(max=MAX_OPTIONS),
        metadata={"description": "the choices of a choice field"},
    )
    target = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "the resource a link field points at"},
    )
    places = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=0, max=STORED_PLACES),
        metadata={"description": f"decimal places of a decimal field (default {DEFAULT_PLACES})"},
    )
    max_length = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=MAX_TEXT),
        metadata={"description": f"the longest text of a text field (default {DEFAULT_TEXT})"},
    )
    show_in_list = ma.fields.Boolean(load_default=False, metadata={"description": "a column of the list page"})
    position = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=-10000, max=10000))
    available = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "false while its resource's (or a link's target's) plugin is disabled"},
    )
    version = ma.fields.Integer(dump_only=True)


class CustomFieldUpdateSchema(ma.Schema):
    """A change to a custom field (its resource stays); fields left out keep their value."""

    version = version_field()
    name = ma.fields.String(validate=ma.validate.Length(min=3, max=40), metadata={"description": NAME_RULE})
    type = ma.fields.String(validate=ma.validate.OneOf(TYPES))
    label = ma.fields.String(validate=ma.validate.Length(max=120))
    help = ma.fields.String(validate=ma.validate.Length(max=500))
    required = ma.fields.Boolean()
    default = ma.fields.Raw(allow_none=True, metadata={"description": _DEFAULT_DOC})
    options = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=MAX_OPTION_LENGTH)),
        validate=ma.validate.Length(max=MAX_OPTIONS),
    )
    target = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=80))
    places = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=STORED_PLACES))
    max_length = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=MAX_TEXT))
    show_in_list = ma.fields.Boolean()
    position = ma.fields.Integer(validate=ma.validate.Range(min=-10000, max=10000))


class CustomFieldDeleteArgsSchema(ma.Schema):
    """Confirmation of a delete."""

    purge = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "delete the field's values too (required when records have values)"},
    )


#: Definitions by resource, then position and name.
CUSTOM_FIELDS = Listing(
    CustomField,
    filters={"resource": ("eq", "in"), "name": ("eq",), "type": ("eq", "in")},
    sort=("resource", "position", "name"),
    default_sort="resource,position,name",
    name="CustomField",
)

_BY_ID = select(CustomField).where(CustomField.id == bindparam("field_id"))
_SCHEMA = CustomFieldSchema()


def _scope() -> TenantScope:
    return cast("TenantScope", current_scope())


def _dump(row: CustomField) -> dict[str, Any]:
    scope = _scope()
    out: dict[str, Any] = _SCHEMA.dump(row)
    out["available"] = available(row, scope.tenant, scope.kernel.compositions)
    return out


def _get(field_id: uuid.UUID) -> CustomField:
    row = db_session().scalar(_BY_ID, {"field_id": field_id})
    if row is None:
        raise UdyogError("custom field not found", status=404)
    return row


def create_custom_fields_blueprint() -> Blueprint:
    """A fresh blueprint with the custom-field routes."""
    bp = Blueprint(
        "core_custom_fields",
        __name__,
        url_prefix="/api/v1/core",
        description="Custom fields: per-tenant fields on any declared resource",
    )

    @bp.route("/custom-fields")
    @bp.arguments(CUSTOM_FIELDS.schema, location="query")
    @bp.response(200, envelope(CustomFieldSchema, many=True, paginated=True))
    @requires("core.custom_field.read")
    def list_custom_fields(args: dict[str, Any]) -> dict[str, Any]:
        """The tenant's custom fields, by resource, position and name."""
        rows, meta = CUSTOM_FIELDS.page(select(CustomField), args)
        return ok([_dump(r) for r in rows], meta=meta)

    @bp.route("/custom-fields", methods=["POST"])
    @bp.arguments(CustomFieldSchema)
    @bp.response(201, envelope(CustomFieldSchema))
    @requires("core.custom_field.manage")
    def create_custom_field(data: dict[str, Any]) -> dict[str, Any]:
        """Add a custom field to a resource.

        Its values are read and written with the resource's records from now
        on, for this tenant only.
        """
        scope = _scope()
        row = create_definition(scope.session, scope.tenant, scope.kernel.compositions, data)
        scope.session.commit()
        return ok(_dump(row), message="custom field created")

    @bp.route("/custom-fields/<uuid:field_id>")
    @bp.response(200, envelope(CustomFieldSchema))
    @requires("core.custom_field.read")
    def get_custom_field(field_id: uuid.UUID) -> dict[str, Any]:
        """One custom field."""
        return ok(_dump(_get(field_id)))

    @bp.route("/custom-fields/<uuid:field_id>", methods=["PATCH"])
    @bp.arguments(CustomFieldUpdateSchema)
    @bp.response(200, envelope(CustomFieldSchema))
    @requires("core.custom_field.manage")
    def update_custom_field(data: dict[str, Any], field_id: uuid.UUID) -> dict[str, Any]:
        """Change a custom field.

        Send the `version` you read; a stale one answers 409. While records
        have values, its type and a link's target cannot change, options in
        use cannot be removed, and places or a text's length cannot drop
        below stored values (409).
        """
        scope = _scope()
        row = _get(field_id)
        check_version(row, data.pop("version"))
        update_definition(scope.session, scope.tenant, scope.kernel.compositions, row, data)
        scope.session.commit()
        return ok(_dump(row), message="custom field updated")

    @bp.route("/custom-fields/<uuid:field_id>", methods=["DELETE"])
    @bp.arguments(CustomFieldDeleteArgsSchema, location="query")
    @bp.response(200, envelope(CustomFieldSchema))
    @requires("core.custom_field.manage")
    def delete_custom_field(args: dict[str, Any], field_id: uuid.UUID) -> dict[str, Any]:
        """Delete a custom field.

        When records have values, it answers 409 unless `purge=true`
        confirms that the values go too (each deletion is in the audit log).
        """
        scope = _scope()
        row = _get(field_id)
        out = _dump(row)
        deleted = delete_definition(scope.session, scope.tenant, row, purge=bool(args.get("purge")))
        scope.session.commit()
        return ok(out, message=f"custom field deleted with {deleted} values" if deleted else "custom field deleted")

    return bp
