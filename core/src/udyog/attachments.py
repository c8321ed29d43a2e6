"""File attachments on any record: type and size checks, storage, access rules.

A file is attached to a record of an *attachable* table, named by its table
(``entity``) and id. The bytes live in an :class:`~udyog_sdk.attachments.AttachmentStorage`
(by default :class:`LocalStorage`: ``<UDYOG_ATTACHMENTS_DIR>/<tenant id>/<k>/<key>``
with random keys, never a path from user input), the row (``core_attachment``)
in the caller's transaction. Files written for a transaction that rolls back
are removed when it ends; files of rows deleted through the ORM are removed
after the commit.

Which tables take attachments: every tenant-scoped table of a plugin, unless
its model says ``__udyog_attachments__ = False``; of the core's own tables only
those that say ``True`` (branches). Who may reach a record's attachments
through the API: a user who may read the record, i.e. who holds the model's
``__udyog_read_permission__`` (or, where it declares none, some permission of
the plugin that owns the table) and sees the record under their record rules
(an ORM lookup). See ``docs/attachments.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import filetype
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from udyog.config import ConfigError, Settings
from udyog.db import TenantSession
from udyog.models import Attachment
from udyog.registry import CORE_NAME
from udyog_sdk import UdyogError
from udyog_sdk.attachments import AttachmentInfo, AttachmentStorage
from udyog_sdk.models import Base, is_tenant_model

if TYPE_CHECKING:
    from udyog.kernel import Kernel, TenantScope

log = logging.getLogger("udyog.attachments")

#: Bytes read to sniff a file's type.
SNIFF_BYTES = 8192
_CHUNK = 64 * 1024
_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
ENTITY_RE = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
FILENAME_MAX = 255


@dataclass(frozen=True)
class FileType:
    """A content type attachments may have, and how its content is recognised.

    ``check`` is ``magic`` (the ``filetype`` library must find this type in the
    first bytes), ``text`` (no known magic number and no NUL byte anywhere) or
    ``ooxml`` (a ZIP archive holding ``member``, as Office documents are).
    """

    mime: str
    extensions: tuple[str, ...]
    check: str
    member: str | None = None
    #: Other names clients send for it (a browser on Windows sends CSV as application/vnd.ms-excel).
    aliases: tuple[str, ...] = ()


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

#: Every type the core can check; ``UDYOG_ATTACHMENT_TYPES`` picks from these.
KNOWN_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        FileType("application/pdf", ("pdf",), "magic", aliases=("application/x-pdf",)),
        FileType("image/png", ("png",), "magic"),
        FileType("image/jpeg", ("jpg", "jpeg"), "magic", aliases=("image/jpg", "image/pjpeg")),
        FileType("image/webp", ("webp",), "magic"),
        FileType("image/gif", ("gif",), "magic"),
        FileType("image/tiff", ("tif", "tiff"), "magic"),
        FileType("text/plain", ("txt", "log", "md"), "text"),
        FileType(
            "text/csv",
            ("csv",),
            "text",
            aliases=("application/csv", "text/x-csv", "text/comma-separated-values", "application/vnd.ms-excel"),
        ),
        FileType(_XLSX, ("xlsx",), "ooxml", member="xl/workbook.xml"),
        FileType(_DOCX, ("docx",), "ooxml", member="word/document.xml"),
        FileType(_PPTX, ("pptx",), "ooxml", member="ppt/presentation.xml"),
    )
}

#: Allowed unless ``UDYOG_ATTACHMENT_TYPES`` says otherwise.
DEFAULT_TYPES = (
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "text/plain",
    "text/csv",
    _XLSX,
    _DOCX,
)


class LocalStorage:
    """Files on local disk: ``<root>/<tenant id>/<first two of key>/<key>``.

    Keys are random (uuid4 hex) and checked on every call, so no path is ever
    built from anything a user sent. Files are written to a temporary name,
    synced and renamed, so a reader never sees half a file.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def path(self, tenant_id: uuid.UUID, key: str) -> Path:
        """Where the tenant's file ``key`` lives (``FileNotFoundError`` for a malformed key)."""
        if not isinstance(tenant_id, uuid.UUID) or not _KEY_RE.match(key or ""):
            raise FileNotFoundError(f"no attachment file {key!r}")
        return self.root / str(tenant_id) / key[:2] / key

    def put(self, tenant_id: uuid.UUID, stream: BinaryIO) -> str:
        """Store the rest of ``stream``; return the new key."""
        key = uuid.uuid4().hex
        target = self.path(tenant_id, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return key

    def open(self, tenant_id: uuid.UUID, key: str) -> BinaryIO:
        """Open the tenant's file for reading."""
        return self.path(tenant_id, key).open("rb")

    def delete(self, tenant_id: uuid.UUID, key: str) -> None:
        """Remove the tenant's file."""
        self.path(tenant_id, key).unlink()


def load_storage(settings: Settings) -> AttachmentStorage:
    """The storage the settings name: ``local`` or ``module:factory`` (called with the settings)."""
    if settings.attachment_storage == "local":
        root = settings.attachments_dir or str(Path(settings.data_dir) / "attachments")
        return LocalStorage(root)
    module_name, _, factory_name = settings.attachment_storage.partition(":")
    if not module_name or not factory_name:
        raise ConfigError("UDYOG_ATTACHMENT_STORAGE must be 'local' or 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"UDYOG_ATTACHMENT_STORAGE {settings.attachment_storage!r}: {exc}") from exc
    storage = factory(settings)
    if not isinstance(storage, AttachmentStorage):
        raise ConfigError(f"UDYOG_ATTACHMENT_STORAGE {settings.attachment_storage!r} returned no AttachmentStorage")
    return storage


def attachable(cls: type) -> bool:
    """Whether records of ``cls`` take attachments: plugin tables unless they opt out, core's if they opt in."""
    if cls is Attachment or not is_tenant_model(cls):
        return False
    table = cls.__table__.name  # type: ignore[attr-defined]
    return bool(getattr(cls, "__udyog_attachments__", not table.startswith(f"{CORE_NAME}_")))


def allowed_types(names: Iterable[str] | None) -> dict[str, FileType]:
    """The allowed types by name (default: :data:`DEFAULT_TYPES`); an unknown name is a ``ConfigError``."""
    chosen = tuple(names) if names else DEFAULT_TYPES
    unknown = [n for n in chosen if n not in KNOWN_TYPES]
    if unknown:
        raise ConfigError(
            f"UDYOG_ATTACHMENT_TYPES: unknown type(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_TYPES))}"
        )
    return {n: KNOWN_TYPES[n] for n in chosen}


def clean_filename(name: str) -> str:
    """The name to show and download: directories, control and format characters dropped; 422 if none is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".").strip()
    if not base:
        raise UdyogError("the file needs a name", status=422, errors={"file": ["the file name is empty"]})
    if len(base) > FILENAME_MAX:
        stem, dot, ext = base.rpartition(".")
        ext = ext[:16] if dot else ""
        base = (stem if dot else base)[: FILENAME_MAX - len(ext) - 1].rstrip() + (f".{ext}" if ext else "")
    return base


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024  # type: ignore[assignment]
    return f"{size}"


def _refuse(message: str) -> UdyogError:
    return UdyogError(message, status=415, errors={"file": [message]})


@dataclass(frozen=True)
class Checked:
    """A file that passed the checks: its type, size and digest."""

    content_type: str
    size: int
    sha256: str


class Attachments:
    """The deployment's attachment service: limits, allowed types, storage, record access."""

    def __init__(self, kernel: Kernel) -> None:
        settings = kernel.settings
        self.kernel = kernel
        self.max_bytes = settings.attachment_max_bytes
        if self.max_bytes < 1:
            raise ConfigError("UDYOG_ATTACHMENT_MAX_BYTES must be at least 1")
        self.types = allowed_types(settings.attachment_types)
        self.storage = load_storage(settings)
        self._models: tuple[int, dict[str, type]] = (-1, {})

    # -- which records take attachments, and who may reach them -------------------

    def models(self) -> dict[str, type]:
        """Attachable tenant-scoped models by table name."""
        mappers = Base.registry.mappers
        if self._models[0] != len(mappers):
            found = {}
            for mapper in mappers:
                if attachable(mapper.class_):
                    found[mapper.local_table.name] = mapper.class_
            self._models = (len(mappers), found)
        return self._models[1]

    def owner_of(self, table: str) -> str:
        """The plugin owning ``table`` (tables are named ``<plugin>_<thing>``); ``core`` for the core's."""
        if table.startswith(f"{CORE_NAME}_"):
            return CORE_NAME
        names = [n for n in self.kernel.registry.loaded_names() if table.startswith(f"{n}_")]
        return max(names, key=len) if names else ""

    def model_for(self, scope: TenantScope, entity: str) -> type:
        """The attachable model of table ``entity`` in the scope's tenant (404 otherwise)."""
        cls = self.models().get(entity) if ENTITY_RE.match(entity or "") else None
        owner = self.owner_of(entity) if cls is not None else ""
        if cls is None or not (owner == CORE_NAME or scope.tenant.is_enabled(owner)):
            raise UdyogError(
                "no such record", status=404, errors={"entity": [f"{entity!r} is no table that takes attachments"]}
            )
        return cls

    def check_reader(self, scope: TenantScope, entity: str) -> type:
        """The model of ``entity``, if the scope's user may read its records (403 naming the permission)."""
        cls = self.model_for(scope, entity)
        user = scope.user
        if user is None:
            return cls
        permission = getattr(cls, "__udyog_read_permission__", None)
        if permission:
            if not user.can(permission):
                raise UdyogError(f"permission required: {permission}", status=403, errors={"permission": [permission]})
            return cls
        owner = self.owner_of(entity)
        declared = self.kernel.security.permissions
        if not any(plugin == owner and user.can(name) for name, (plugin, _) in declared.items()):
            wanted = f"{owner}.*"
            raise UdyogError(
                f"permission required: any permission of {owner} ({wanted})",
                status=403,
                errors={"permission": [wanted]},
            )
        return cls

    def find_record(self, scope: TenantScope, cls: type, record_id: str) -> Any:
        """The record, looked up through the scope's session (tenant filter and record rules); 404 if unseen."""
        id_attr = cls.id  # type: ignore[attr-defined]
        try:
            python_type = id_attr.type.python_type
        except (AttributeError, NotImplementedError):
            python_type = str
        try:
            value = python_type(record_id)
        except (TypeError, ValueError):
            value = None
        row = scope.session.scalar(select(cls).where(id_attr == value)) if value is not None else None
        if row is None:
            raise UdyogError("no such record", status=404, errors={"record_id": ["not found"]})
        return row

    def authorize(self, scope: TenantScope, entity: str, record_id: str) -> Any:
        """The record ``entity``/``record_id`` if the scope's user may read it (404, or 403 naming the permission)."""
        cls = self.check_reader(scope, entity)
        return self.find_record(scope, cls, record_id)

    def get(self, scope: TenantScope, attachment_id: uuid.UUID) -> Attachment:
        """One attachment whose record the scope's user may read (404 otherwise)."""
        row = scope.session.scalar(select(Attachment).where(Attachment.id == attachment_id))
        if row is None:
            raise UdyogError("attachment not found", status=404)
        self.authorize(scope, row.entity, row.record_id)
        return row

    # -- files ------------------------------------------------------------------------

    def resolve_type(self, filename: str, declared: str) -> FileType:
        """The allowed type of an upload from its declared type and its name's extension (415 otherwise)."""
        declared = (declared or "").split(";", 1)[0].strip().lower()
        ext = filename.rpartition(".")[2].lower() if "." in filename else ""
        if declared in ("", "application/octet-stream", "binary/octet-stream"):
            candidates = [t for t in self.types.values() if ext in t.extensions]
            if not candidates:
                raise _refuse(f"files named .{ext or '(no extension)'} are not allowed: {self._allowed_text()}")
        else:
            candidates = [t for t in self.types.values() if declared == t.mime or declared in t.aliases]
            if not candidates:
                raise _refuse(f"type {declared} is not allowed: {self._allowed_text()}")
        for candidate in candidates:
            if ext in candidate.extensions:
                return candidate
        wanted = ", ".join(f".{e}" for t in candidates for e in t.extensions)
        raise _refuse(f"the file name must end in {wanted} for type {candidates[0].mime}")

    def _allowed_text(self) -> str:
        return "allowed are " + ", ".join(sorted({e for t in self.types.values() for e in t.extensions[:1]}))

    def check(self, stream: BinaryIO, filename: str, declared: str) -> Checked:
        """Check size, declared type and content of a seekable stream (413, 415); the stream is rewound."""
        kind = self.resolve_type(filename, declared)
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        if size > self.max_bytes:
            raise UdyogError(
                f"the file is too large: {_human(size)}, at most {_human(self.max_bytes)}",
                status=413,
                errors={"file": [f"at most {self.max_bytes} bytes"]},
            )
        if size == 0:
            raise UdyogError("the file is empty", status=422, errors={"file": ["the file is empty"]})
        stream.seek(0)
        head = stream.read(SNIFF_BYTES)
        stream.seek(0)
        sniffed = filetype.guess_mime(head)
        digest = hashlib.sha256()
        nul = False
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            nul = nul or b"\x00" in chunk
        stream.seek(0)
        if kind.check == "magic" and sniffed != kind.mime:
            raise _refuse(f"the content is not {kind.mime}" + (f" (it looks like {sniffed})" if sniffed else ""))
        if kind.check == "text" and (sniffed is not None or nul):
            raise _refuse(f"the content is not {kind.mime}" + (f" (it looks like {sniffed})" if sniffed else ""))
        if kind.check == "ooxml" and not _zip_has(stream, kind.member or ""):
            raise _refuse(f"the content is not {kind.mime}" + (f" (it looks like {sniffed})" if sniffed else ""))
        stream.seek(0)
        return Checked(kind.mime, size, digest.hexdigest())

    def _seekable(self, data: bytes | BinaryIO) -> BinaryIO:
        import io

        if isinstance(data, (bytes, bytearray, memoryview)):
            return io.BytesIO(bytes(data))
        if data.seekable():
            return data
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - handed to the caller
        copied = 0
        while chunk := data.read(_CHUNK):
            copied += len(chunk)
            if copied > self.max_bytes:
                raise UdyogError(
                    f"the file is too large: at most {_human(self.max_bytes)}",
                    status=413,
                    errors={"file": [f"at most {self.max_bytes} bytes"]},
                )
            spool.write(chunk)
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def store(
        self,
        scope: TenantScope,
        entity: str,
        record_id: str,
        filename: str,
        content_type: str,
        data: bytes | BinaryIO,
    ) -> Attachment:
        """Check a file, write it to storage and add its row in the scope's transaction (the caller commits).

        The record must be attachable and visible in the scope (no user
        permission is checked here: routes call :meth:`authorize` first).
        """
        self.find_record(scope, self.model_for(scope, entity), record_id)
        name = clean_filename(filename)
        stream = self._seekable(data)
        checked = self.check(stream, name, content_type)
        tenant_id = scope.tenant.id
        key = self.storage.put(tenant_id, stream)
        # Until the transaction commits, the file belongs to no row: removed if it rolls back.
        _pending(scope.session).written.append((self.storage, tenant_id, key))
        row = Attachment(
            entity=entity,
            record_id=record_id,
            filename=name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            storage_key=key,
            uploaded_by=scope.user.user_id if scope.user is not None else None,
        )
        scope.session.add(row)
        scope.session.flush()
        return row

    def open(self, scope: TenantScope, row: Attachment) -> BinaryIO:
        """Open an attachment's file (404 if the storage lost it)."""
        try:
            return self.storage.open(scope.tenant.id, row.storage_key)
        except FileNotFoundError:
            log.warning("attachment %s of tenant %s: file %r missing", row.id, scope.tenant.id, row.storage_key)
            raise UdyogError("the file of this attachment is missing from storage", status=404) from None

    def list_query(self, entity: str, record_id: str) -> Any:
        """The select of a record's attachments (the session scopes it to the tenant)."""
        return select(Attachment).where(Attachment.entity == entity, Attachment.record_id == record_id)

    def bound(self, scope: TenantScope) -> ScopeAttachments:
        """The :class:`~udyog_sdk.attachments.AttachmentService` of one scope."""
        return ScopeAttachments(self, scope)

    def work_files(self, scope: TenantScope) -> ScopeWorkFiles:
        """The :class:`~udyog_sdk.workfiles.WorkFiles` of one scope (in the same storage)."""
        return ScopeWorkFiles(self.storage, scope)


def _zip_has(stream: BinaryIO, member: str) -> bool:
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return member in names and "[Content_Types].xml" in names


def info(row: Attachment) -> AttachmentInfo:
    """The SDK's view of an attachment row."""
    return AttachmentInfo(
        id=row.id,
        entity=row.entity,
        record_id=row.record_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


@dataclass
class ScopeAttachments:
    """Attachments for plugin code in one scope (no user permission checks; see :mod:`udyog_sdk.attachments`)."""

    service: Attachments
    scope: TenantScope

    @property
    def max_bytes(self) -> int:
        """The largest file the deployment accepts, in bytes."""
        return self.service.max_bytes

    def attach(
        self, entity: str, record_id: str, filename: str, content_type: str, data: bytes | BinaryIO
    ) -> AttachmentInfo:
        """Attach a file to a record in the scope's transaction."""
        return info(self.service.store(self.scope, entity, record_id, filename, content_type, data))

    def list_for(self, entity: str, record_id: str) -> list[AttachmentInfo]:
        """The record's attachments, newest first."""
        query = self.service.list_query(entity, record_id).order_by(Attachment.uploaded_at.desc(), Attachment.id.desc())
        return [info(row) for row in self.scope.session.scalars(query)]

    def _row(self, attachment_id: uuid.UUID) -> Attachment:
        row = self.scope.session.scalar(select(Attachment).where(Attachment.id == attachment_id))
        if row is None:
            raise UdyogError("attachment not found", status=404)
        return row

    def read(self, attachment_id: uuid.UUID) -> bytes:
        """The bytes of one attachment."""
        with self.service.open(self.scope, self._row(attachment_id)) as handle:
            return handle.read()

    def delete(self, attachment_id: uuid.UUID) -> None:
        """Remove one attachment in the scope's transaction."""
        self.scope.session.delete(self._row(attachment_id))
        self.scope.session.flush()


@dataclass
class ScopeWorkFiles:
    """A tenant's work files (uploads waiting for their job) in the attachment storage.

    Keys come from the storage (random, checked on every call) and every call
    names the scope's tenant, so a tenant reaches only its own files. A file
    put in a transaction that does not commit is removed when it ends.
    """

    storage: AttachmentStorage
    scope: TenantScope

    def put(self, data: bytes | BinaryIO) -> str:
        """Store ``data``; return its key (removed again unless the scope's transaction commits)."""
        import io

        stream = io.BytesIO(bytes(data)) if isinstance(data, (bytes, bytearray, memoryview)) else data
        tenant_id = self.scope.tenant.id
        key = self.storage.put(tenant_id, stream)
        _pending(self.scope.session).written.append((self.storage, tenant_id, key))
        return key

    def open(self, key: str) -> BinaryIO:
        """Open the tenant's file ``key`` (``FileNotFoundError`` if it has none)."""
        return self.storage.open(self.scope.tenant.id, key)

    def remove(self, key: str) -> None:
        """Remove the tenant's file ``key`` now; a missing file is no error."""
        with contextlib.suppress(FileNotFoundError):
            self.storage.delete(self.scope.tenant.id, key)


# -- files follow their transaction ------------------------------------------------------

_PENDING = "udyog_attachment_files"


@dataclass
class _Pending:
    """Files whose fate hangs on the session's current transaction."""

    #: Written for new rows: removed unless the transaction commits.
    written: list[tuple[AttachmentStorage, uuid.UUID, str]]
    #: Of deleted rows: removed once the transaction commits.
    removed: list[tuple[AttachmentStorage, uuid.UUID, str]]
    committed: bool = False


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_PENDING, _Pending([], []))  # type: ignore[no-any-return]


@event.listens_for(TenantSession, "before_flush")
def _delete_with_record(session: Session, flush_context: Any, instances: Any) -> None:
    """Records deleted through the ORM take their attachments with them (in the same flush, audited)."""
    doomed: dict[tuple[uuid.UUID, str], list[str]] = {}
    for obj in session.deleted:
        if attachable(type(obj)) and obj.id is not None:
            doomed.setdefault((obj.tenant_id, obj.__table__.name), []).append(str(obj.id))
    if not doomed:
        return
    with session.no_autoflush:
        for (tenant_id, table), record_ids in doomed.items():
            query = select(Attachment).where(
                Attachment.tenant_id == tenant_id, Attachment.entity == table, Attachment.record_id.in_(record_ids)
            )
            for row in session.scalars(query).all():
                session.delete(row)


@event.listens_for(TenantSession, "after_flush")
def _note_removed(session: Session, flush_context: Any) -> None:
    """Files of attachment rows deleted in this flush go once the transaction commits."""
    removed = [obj for obj in session.deleted if isinstance(obj, Attachment)]
    if not removed:
        return
    dispatcher = session.info.get("udyog_dispatcher")
    service: Attachments | None = getattr(getattr(dispatcher, "kernel", None), "attachments", None)
    if service is None:
        log.warning("attachment rows deleted in a session of no kernel: their files are kept")
        return
    _pending(session).removed.extend((service.storage, obj.tenant_id, obj.storage_key) for obj in removed)


@event.listens_for(TenantSession, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.committed = True


@event.listens_for(TenantSession, "after_transaction_end")
def _transaction_end(session: Session, transaction: Any) -> None:
    """Committed: remove the files of deleted rows. Otherwise: remove the files written for it."""
    if transaction.parent is not None:
        return
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    for storage, tenant_id, key in pending.removed if pending.committed else pending.written:
        try:
            storage.delete(tenant_id, key)
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("could not remove attachment file %s of tenant %s", key, tenant_id)


__all__ = [
    "DEFAULT_TYPES",
    "KNOWN_TYPES",
    "Attachments",
    "Checked",
    "FileType",
    "LocalStorage",
    "ScopeAttachments",
    "ScopeWorkFiles",
    "allowed_types",
    "clean_filename",
    "info",
    "load_storage",
]
