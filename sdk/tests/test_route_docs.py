"""What a route's documentation holds, and what building it costs (udyog_sdk.api.Blueprint).

flask-smorest deep-copies a route's documentation at every decorator and
again when the route is added; the response schema in it is an envelope
instance, which is never changed after it is made, so the copies share it.
"""

from __future__ import annotations

import copy
from typing import Any

import marshmallow as ma
from flask import Flask

import udyog.models  # noqa: F401  (the core tables the test plugin's models refer to)
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.exports import export_args_schema


class ThingSchema(ma.Schema):
    """A small output schema."""

    name = ma.fields.String(required=True)
    size = ma.fields.Integer()


class ThingArgsSchema(ma.Schema):
    """A small input schema."""

    name = ma.fields.String(required=True)


def _blueprint() -> Blueprint:
    bp = Blueprint("things", __name__, url_prefix="/things")

    @bp.route("/", methods=["POST"])
    @bp.arguments(ThingArgsSchema)
    @bp.response(201, envelope(ThingSchema))
    @bp.alt_response(200, schema=envelope(ThingSchema), description="already there")
    def create(data: dict[str, Any]) -> Any:
        return ok({"name": data["name"], "size": len(data["name"])}, message="created")

    return bp


def _response_schema(bp: Blueprint, endpoint: str, method: str) -> Any:
    return bp._docs[endpoint][method]["response"]["responses"][201][0]["schema"]


def test_a_deep_copy_of_an_envelope_schema_is_the_schema_itself():
    schema = envelope(ThingSchema)()
    assert copy.deepcopy(schema) is schema
    assert copy.deepcopy({"schema": schema})["schema"] is schema
    # Other schemas are still copied as marshmallow copies them.
    plain = ThingSchema()
    assert copy.deepcopy(plain) is not plain


def test_route_docs_hold_the_response_schema_uncopied_and_the_route_still_validates_and_dumps():
    bp = _blueprint()
    schema = _response_schema(bp, "create", "post")
    assert isinstance(schema, envelope(ThingSchema))
    assert copy.deepcopy(bp._docs)["create"]["post"]["response"]["responses"][201][0]["schema"] is schema

    app = Flask(__name__)
    app.register_blueprint(bp)

    @app.errorhandler(422)
    def _invalid(exc: Any) -> Any:
        return {"errors": exc.data["messages"]}, 422

    client = app.test_client()
    made = client.post("/things/", json={"name": "bolt"})
    assert made.status_code == 201
    assert made.get_json() == {"success": True, "message": "created", "data": {"name": "bolt", "size": 4}, "meta": {}}
    refused = client.post("/things/", json={"size": 3})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["json"] == {
        "name": ["Missing data for required field."],
        "size": ["Unknown field."],
    }


def test_routes_and_applications_share_one_instance_of_an_envelope_class():
    first, second = _blueprint(), _blueprint()
    shared = _response_schema(first, "create", "post")
    assert _response_schema(second, "create", "post") is shared
    # A schema that is no envelope is instantiated per route, as flask-smorest does.
    bp = Blueprint("plain", __name__)

    @bp.route("/a")
    @bp.response(201, ThingSchema)
    def a() -> Any:
        return {"name": "a"}

    @bp.route("/b")
    @bp.response(201, ThingSchema)
    def b() -> Any:
        return {"name": "b"}

    assert _response_schema(bp, "a", "get") is not _response_schema(bp, "b", "get")

    first_alt = first._docs["create"]["post"]["response"]["responses"][200][0]["schema"]
    assert first_alt is shared
    assert second._docs["create"]["post"]["response"]["responses"][200][0]["schema"] is shared


def test_a_resources_export_arguments_are_one_class_until_its_list_schema_changes():
    from udyog_test_notes.api import NOTES

    schema = export_args_schema(NOTES)
    assert export_args_schema(NOTES) is schema
    assert set(schema().fields) == (set(NOTES.list_schema().fields) - {"limit", "cursor"}) | {"format"}
    original = NOTES.list_schema
    try:
        NOTES.list_schema = type(original.__name__, (original,), {"extra": ma.fields.Boolean()})
        changed = export_args_schema(NOTES)
        assert changed is not schema
        assert "extra" in changed().fields
    finally:
        NOTES.list_schema = original
    assert "extra" not in export_args_schema(NOTES)().fields
