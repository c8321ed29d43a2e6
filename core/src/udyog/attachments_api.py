"""REST API of attachments: upload to a record, list a record's files, download, delete.

Routes stay thin; the checks (record access, size, type) are in :mod:`udyog.attachments`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

import marshmallow as ma
from flask import Response, send_file
from flask_smorest.fields import Upload

from udyog.attachments import ENTITY_RE, Attachments
from udyog.models import Attachment
from udyog_sdk.api import Blueprint, Listing, envelope, limit_upload, ok
from udyog_sdk.runtime import current_scope
from udyog_sdk.security import requires

if TYPE_CHECKING:
    from udyog.kernel import TenantScope


class AttachmentSchema(ma.Schema):
    """A file attached to a record."""

    id = ma.fields.UUID()
    entity = ma.fields.String(metadata={"description": "the record's table, e.g. notes_note"})
    record_id = ma.fields.String()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer(metadata={"description": "bytes"})
    sha256 = ma.fields.String(metadata={"description": "hex digest of the content"})
    uploaded_by = ma.fields.UUID(allow_none=True)
    uploaded_at = ma.fields.AwareDateTime()


class AttachmentRecordArgsSchema(ma.Schema):
    """The record the files belong to."""

    entity = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(ENTITY_RE, error="a table name such as notes_note"),
        metadata={"description": "the record's table, e.g. notes_note or core_branch"},
    )
    record_id = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=120), metadata={"description": "the record's id"}
    )


#: A record's attachments, newest first.
ATTACHMENTS = Listing(Attachment, sort=("uploaded_at",), default_sort="-uploaded_at", name="Attachments")


class AttachmentListArgsSchema(AttachmentRecordArgsSchema, ATTACHMENTS.schema):  # type: ignore[misc, valid-type]
    """The record, and the page of its files."""


class AttachmentUploadSchema(ma.Schema):
    """The file, as the part ``file`` of a multipart/form-data body."""

    file = Upload(
        required=True,
        metadata={"description": "the file; its part's Content-Type and file name decide the type checked"},
    )


def _scope() -> TenantScope:
    # The core binds its own TenantScope for every request that names a tenant.
    return cast("TenantScope", current_scope())


def _service() -> Attachments:
    return _scope().kernel.attachments


def create_attachments_blueprint() -> Blueprint:
    """A fresh blueprint with the attachment routes (owned by the core, never gated)."""
    bp = Blueprint(
        "core_attachments", __name__, url_prefix="/api/v1/core", description="Kernel: files attached to records"
    )

    @bp.route("/attachments")
    @bp.arguments(AttachmentListArgsSchema, location="query")
    @bp.response(200, envelope(AttachmentSchema, many=True, paginated=True))
    @requires("core.attachment.read")
    def list_attachments(args: dict[str, Any]) -> dict[str, Any]:
        """A record's files, newest first, a page at a time.

        The record must exist and be readable by you: 404 if not (or if its
        table takes no attachments), 403 naming the permission its table needs.
        """
        service = _service()
        entity, record_id = args.pop("entity"), args.pop("record_id")
        service.authorize(_scope(), entity, record_id)
        rows, meta = ATTACHMENTS.page(service.list_query(entity, record_id), args)
        return ok(AttachmentSchema(many=True).dump(rows), meta=meta)

    @bp.route("/attachments", methods=["POST"])
    @limit_upload(lambda: _service().max_bytes)
    @bp.arguments(AttachmentRecordArgsSchema, location="query")
    @bp.arguments(AttachmentUploadSchema, location="files")
    @bp.response(201, envelope(AttachmentSchema))
    @requires("core.attachment.write")
    def upload(args: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """Attach a file to a record (multipart/form-data, part ``file``).

        The record must be readable by you (404, or 403 naming the permission).
        A file larger than the limit answers 413; a type not allowed, a file
        name whose extension does not fit the type, or content whose magic
        bytes are not the declared type answer 415.
        """
        scope = _scope()
        service = _service()
        entity, record_id = args["entity"], args["record_id"]
        service.authorize(scope, entity, record_id)
        upload = files["file"]
        row = service.store(scope, entity, record_id, upload.filename or "", upload.mimetype or "", upload.stream)
        scope.session.commit()
        return ok(AttachmentSchema().dump(row), message="file attached")

    @bp.route("/attachments/<uuid:attachment_id>")
    @bp.response(200, envelope(AttachmentSchema))
    @requires("core.attachment.read")
    def get_attachment(attachment_id: uuid.UUID) -> dict[str, Any]:
        """One attachment's details (404 unless you may read its record)."""
        return ok(AttachmentSchema().dump(_service().get(_scope(), attachment_id)))

    @bp.route("/attachments/<uuid:attachment_id>/content")
    @bp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/octet-stream",
        description="the file, as a download (its own Content-Type)",
    )
    @requires("core.attachment.read")
    def download(attachment_id: uuid.UUID) -> Response:
        """Download a file (as an attachment, never shown inline; 404 unless you may read its record)."""
        scope = _scope()
        service = _service()
        row = service.get(scope, attachment_id)
        handle = service.open(scope, row)
        response = send_file(
            handle,
            mimetype=row.content_type,
            as_attachment=True,
            download_name=row.filename,
            etag=row.sha256,
            last_modified=row.uploaded_at,
            max_age=0,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, no-cache"
        response.content_length = row.size
        return response

    @bp.route("/attachments/<uuid:attachment_id>", methods=["DELETE"])
    @bp.response(200, envelope(AttachmentSchema))
    @requires("core.attachment.delete")
    def delete_attachment(attachment_id: uuid.UUID) -> dict[str, Any]:
        """Delete an attachment (404 unless you may read its record); its file is removed after the commit."""
        scope = _scope()
        row = _service().get(scope, attachment_id)
        data = AttachmentSchema().dump(row)
        scope.session.delete(row)
        scope.session.commit()
        return ok(data, message="attachment deleted")

    return bp


__all__ = ["AttachmentSchema", "create_attachments_blueprint"]
