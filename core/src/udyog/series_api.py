"""REST API of number series: list the tenant's series, change one, preview a pattern.

Routes stay thin; the work is in :mod:`udyog.series`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma

from udyog.series import (
    ALLOWED_CHARS_MAX_LENGTH,
    KEEP,
    MAX_LENGTH_LIMIT,
    PATTERN_MAX_LENGTH,
    get_series,
    list_series,
    preview,
    set_series,
)
from udyog_sdk import db_session
from udyog_sdk.api import Blueprint, envelope, ok
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires
from udyog_sdk.series import RESETS

if TYPE_CHECKING:
    from udyog.kernel import TenantScope


class LimitSchema(ma.Schema):
    """A limit in force on a series, and the plugin that set it."""

    plugin = ma.fields.String()
    reason = ma.fields.String()
    max_length = ma.fields.Integer(allow_none=True)
    allowed_chars = ma.fields.String(allow_none=True)
    resets = ma.fields.List(ma.fields.String(), allow_none=True)


class ComplianceSchema(ma.Schema):
    """The check a save runs: problems by field, and the longest number the pattern allows."""

    ok = ma.fields.Boolean()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    longest = ma.fields.String(allow_none=True)
    length = ma.fields.Integer(allow_none=True)


class SeriesSchema(ma.Schema):
    """A tenant's number series."""

    key = ma.fields.String()
    title = ma.fields.String()
    plugin = ma.fields.String(metadata={"description": "the plugin that registered the series"})
    pattern = ma.fields.String()
    default_pattern = ma.fields.String()
    reset = ma.fields.String(metadata={"description": f"one of {', '.join(RESETS)}"})
    gap_free = ma.fields.Boolean()
    gap_free_required = ma.fields.Boolean(metadata={"description": "the registering plugin requires gap-free numbers"})
    max_length = ma.fields.Integer(allow_none=True, metadata={"description": "the tenant's own limit"})
    allowed_chars = ma.fields.String(allow_none=True, metadata={"description": "the tenant's own limit"})
    version = ma.fields.Integer(metadata={"description": "send it back with a change (0: never saved)"})
    constraints = ma.fields.List(
        ma.fields.Nested(LimitSchema), metadata={"description": "limits set by plugins, all in force"}
    )
    effective_max_length = ma.fields.Integer(allow_none=True, metadata={"description": "the tightest length limit"})
    resets_allowed = ma.fields.List(ma.fields.String())
    compliance = ma.fields.Nested(ComplianceSchema)
    next_number = ma.fields.String(allow_none=True, metadata={"description": "the next number, not taken"})


class SeriesUpdateSchema(ma.Schema):
    """A change to a series; fields left out keep their value."""

    class Meta:
        unknown = ma.RAISE

    version = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "the version you read; a stale one answers 409"},
    )
    pattern = ma.fields.String(validate=ma.validate.Length(min=1, max=PATTERN_MAX_LENGTH))
    reset = ma.fields.String(validate=ma.validate.OneOf(RESETS))
    gap_free = ma.fields.Boolean()
    max_length = ma.fields.Integer(
        allow_none=True, strict=True, validate=ma.validate.Range(min=1, max=MAX_LENGTH_LIMIT)
    )
    allowed_chars = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=ALLOWED_CHARS_MAX_LENGTH))


class PreviewArgsSchema(ma.Schema):
    """Proposed settings to preview; parameters left out keep the stored value."""

    class Meta:
        unknown = ma.RAISE

    pattern = ma.fields.String(validate=ma.validate.Length(min=1, max=PATTERN_MAX_LENGTH))
    reset = ma.fields.String(validate=ma.validate.OneOf(RESETS))
    max_length = ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_LENGTH_LIMIT))
    allowed_chars = ma.fields.String(validate=ma.validate.Length(min=1, max=ALLOWED_CHARS_MAX_LENGTH))
    branch = ma.fields.String(
        validate=ma.validate.Length(min=1, max=16), metadata={"description": "branch code for {BRANCH}"}
    )


class PreviewSchema(ma.Schema):
    """A rendered preview of proposed settings."""

    key = ma.fields.String()
    pattern = ma.fields.String()
    reset = ma.fields.String()
    number = ma.fields.String(allow_none=True, metadata={"description": "the next number with these settings"})
    compliance = ma.fields.Nested(ComplianceSchema)


def _scope() -> TenantScope:
    # The core binds its own TenantScope for every request that names a tenant.
    return cast("TenantScope", current_scope())


def create_series_blueprint() -> Blueprint:
    """A fresh blueprint with the number-series routes (owned by the core, never gated)."""
    bp = Blueprint("core_series", __name__, url_prefix="/api/v1/core", description="Kernel: number series")

    @bp.route("/series")
    @bp.response(200, envelope(SeriesSchema, many=True))
    @requires("core.series.read")
    def list_all() -> dict[str, Any]:
        """The tenant's series: settings, constraints in force, compliance and the next number (not taken)."""
        return ok(list_series(_scope()))

    @bp.route("/series/<key>")
    @bp.response(200, envelope(SeriesSchema))
    @requires("core.series.read")
    def get_one(key: str) -> dict[str, Any]:
        """One series."""
        return ok(get_series(_scope(), key))

    @bp.route("/series/<key>", methods=["PUT"])
    @bp.arguments(SeriesUpdateSchema)
    @bp.response(200, envelope(SeriesSchema))
    @requires("core.series.manage")
    def put_one(data: dict[str, Any], key: str) -> dict[str, Any]:
        """Change a series' pattern, reset period, gap-free flag or own limits.

        The settings are checked against every limit in force (the longest
        number the pattern allows, its characters, allowed resets); a
        problem answers 422 naming the field and the reason. A stale
        ``version`` answers 409.
        """
        version = data.pop("version")
        changes = {name: data.get(name, KEEP) for name in SeriesUpdateSchema().fields if name != "version"}
        result = set_series(_scope(), key, version=version, **changes)
        db_session().commit()
        return ok(result, message="series updated")

    @bp.route("/series/<key>/preview")
    @bp.arguments(PreviewArgsSchema, location="query")
    @bp.response(200, envelope(PreviewSchema))
    @requires("core.series.read")
    def preview_one(args: dict[str, Any], key: str) -> dict[str, Any]:
        """Render proposed settings without saving (the UI's live preview), with the compliance check."""
        result = preview(
            _scope(),
            key,
            pattern=args.get("pattern"),
            reset=args.get("reset"),
            max_length=args.get("max_length", KEEP),
            allowed_chars=args.get("allowed_chars", KEEP),
            branch=args.get("branch"),
        )
        return ok(result)

    return bp
