"""Building blocks for a plugin's REST API.

``Blueprint`` is flask-smorest's (its routes land in the OpenAPI document);
responses use the envelope ``{"success", "message", "data", "meta"}`` built
by :func:`ok`; errors are raised as :class:`udyog_sdk.UdyogError` and the core
renders them as ``{"success": false, "message", "errors"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint as _SmorestBlueprint

from udyog_sdk.runtime import UdyogError

__all__ = ["Blueprint", "EnvelopeSchema", "ErrorSchema", "UdyogError", "envelope", "ok"]


class Blueprint(_SmorestBlueprint):
    """A flask-smorest blueprint; name it after the plugin (``crm`` or ``crm_quotes``)."""


def ok(data: Any = None, *, message: str = "OK", meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A success envelope."""
    return {"success": True, "message": message, "data": data, "meta": dict(meta or {})}


class EnvelopeSchema(ma.Schema):
    """The success envelope, with untyped data (see :func:`envelope`)."""

    success = ma.fields.Boolean(required=True)
    message = ma.fields.String()
    data = ma.fields.Raw(allow_none=True)
    meta = ma.fields.Dict()


class ErrorSchema(ma.Schema):
    """The error envelope."""

    success = ma.fields.Boolean(required=True)
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))


_ENVELOPES: dict[tuple[type[ma.Schema], bool], type[ma.Schema]] = {}


def envelope(schema: type[ma.Schema], *, many: bool = False) -> type[ma.Schema]:
    """A schema class for the success envelope whose ``data`` is ``schema`` (or a list of it)."""
    key = (schema, many)
    cached = _ENVELOPES.get(key)
    if cached is not None:
        return cached
    name = schema.__name__.removesuffix("Schema") + ("ListEnvelope" if many else "Envelope")
    data_field: ma.fields.Field = (
        ma.fields.List(ma.fields.Nested(schema)) if many else ma.fields.Nested(schema, allow_none=True)
    )
    cls = type(
        name,
        (ma.Schema,),
        {
            "success": ma.fields.Boolean(required=True),
            "message": ma.fields.String(),
            "data": data_field,
            "meta": ma.fields.Dict(),
        },
    )
    _ENVELOPES[key] = cls
    return cls
