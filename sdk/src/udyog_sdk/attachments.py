"""Attachments: files attached to any record, and the storage interface behind them.

Inside a tenant scope a plugin attaches a file to one of its records with
:func:`attach` and lists a record's files with :func:`list_for`; :func:`read`
returns a file's bytes and :func:`delete` removes one. The core checks the
file's size and type (the declared content type *and* the content's magic
bytes), stores it outside the database (on local disk by default, one
directory per tenant) and records it in the caller's transaction: a rollback
leaves no row, and the file written for it is removed. These helpers act for
the plugin's own code and check no user permission; the REST API
(``/api/v1/core/attachments``) checks the caller's. See ``docs/attachments.md``.

A storage other than the local disk implements :class:`AttachmentStorage`
and is named by ``UDYOG_ATTACHMENT_STORAGE`` (``module:factory``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol, runtime_checkable

from udyog_sdk.runtime import current_scope


@dataclass(frozen=True)
class AttachmentInfo:
    """What is known about an attached file (its bytes are read with :func:`read`)."""

    id: uuid.UUID
    #: The table of the record the file is attached to, e.g. ``notes_note``.
    entity: str
    record_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: uuid.UUID | None
    uploaded_at: datetime


@runtime_checkable
class AttachmentStorage(Protocol):
    """Where attachment files live: keys are chosen by the storage, never by users.

    Every call names the tenant; an implementation keeps tenants apart (the
    local one uses a directory per tenant). ``open`` and ``delete`` raise
    ``FileNotFoundError`` for a key the tenant does not have.
    """

    def put(self, tenant_id: uuid.UUID, stream: BinaryIO) -> str:
        """Store the rest of ``stream`` as a new file of the tenant; return its key."""
        ...

    def open(self, tenant_id: uuid.UUID, key: str) -> BinaryIO:
        """Open the tenant's file ``key`` for reading (binary)."""
        ...

    def delete(self, tenant_id: uuid.UUID, key: str) -> None:
        """Remove the tenant's file ``key``."""
        ...


class AttachmentService(Protocol):
    """The attachments of the current scope (the host implements it; see :func:`attach`)."""

    @property
    def max_bytes(self) -> int:
        """The largest file the deployment accepts, in bytes (for upload forms and request limits)."""
        ...

    def attach(
        self, entity: str, record_id: str, filename: str, content_type: str, data: bytes | BinaryIO
    ) -> AttachmentInfo:
        """Attach a file to record ``record_id`` of table ``entity`` in the scope's transaction."""
        ...

    def list_for(self, entity: str, record_id: str) -> list[AttachmentInfo]:
        """The record's attachments, newest first."""
        ...

    def read(self, attachment_id: uuid.UUID) -> bytes:
        """The bytes of one attachment of the tenant."""
        ...

    def delete(self, attachment_id: uuid.UUID) -> None:
        """Remove one attachment in the scope's transaction (its file goes after the commit)."""
        ...


def record_ref(record: Any) -> tuple[str, str]:
    """``(table, id)`` of a tenant-scoped ORM record, flushing it first if it has no id yet."""
    table = getattr(record, "__table__", None)
    if table is None or not hasattr(record, "tenant_id"):
        raise TypeError(f"{type(record).__name__} is not a tenant-scoped record (a model with TenantMixin)")
    if getattr(record, "id", None) is None:
        current_scope().session.flush()
    return str(table.name), str(record.id)


def attach(record: Any, filename: str, content_type: str, data: bytes | BinaryIO) -> AttachmentInfo:
    """Attach a file to ``record`` (an ORM object of a tenant-scoped model), in the current transaction.

    ``filename`` is what users see and download (any directories in it are
    dropped); ``content_type`` is the declared type, e.g. ``application/pdf``.
    ``data`` is the content, as bytes or a binary stream. The file must fit
    the deployment's limits: too large raises :class:`udyog_sdk.UdyogError`
    with status 413; a type not allowed, or content whose magic bytes do not
    match the declared type, with 415. A record of a table that takes no
    attachments, or of a plugin the tenant did not enable, raises it with 404.
    The file is written at once and the row in the caller's transaction; if
    that rolls back, the file is removed. Returns what was recorded.
    """
    entity, record_id = record_ref(record)
    return current_scope().attachments().attach(entity, record_id, filename, content_type, data)


def list_for(record: Any) -> list[AttachmentInfo]:
    """The attachments of ``record`` (an ORM object of a tenant-scoped model), newest first."""
    entity, record_id = record_ref(record)
    return current_scope().attachments().list_for(entity, record_id)


def read(attachment_id: uuid.UUID) -> bytes:
    """The content of one of the tenant's attachments (:class:`udyog_sdk.UdyogError` 404 if unknown)."""
    return current_scope().attachments().read(attachment_id)


def delete(attachment_id: uuid.UUID) -> None:
    """Remove one of the tenant's attachments in the current transaction; its file goes after the commit."""
    current_scope().attachments().delete(attachment_id)


__all__ = [
    "AttachmentInfo",
    "AttachmentService",
    "AttachmentStorage",
    "attach",
    "delete",
    "list_for",
    "read",
    "record_ref",
]
