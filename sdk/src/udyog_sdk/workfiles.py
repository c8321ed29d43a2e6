"""Work files: a tenant's private files for work in progress, such as an upload waiting for its job.

An import too large to run during the request stores the uploaded file with
:func:`put`, queues a background run naming the returned key, and the run
reads it back with :func:`open_file` and removes it with :func:`remove` when
it is done. Files live in the deployment's attachment storage (one directory
per tenant on local disk), under random keys chosen by the storage, never by
users; a tenant can reach only its own. They are not attachments: no record
owns them and no API lists them.

A file put in a transaction that rolls back is removed when it ends, so a
request that fails after :func:`put` leaves nothing behind.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol

from udyog_sdk.runtime import current_scope

__all__ = ["WorkFiles", "open_file", "put", "remove"]


class WorkFiles(Protocol):
    """The work files of one scope's tenant (the host implements it)."""

    def put(self, data: bytes | BinaryIO) -> str:
        """Store ``data``; return its key. Removed again if the scope's transaction rolls back."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the tenant's file ``key`` for reading (``FileNotFoundError`` if it has none)."""
        ...

    def remove(self, key: str) -> None:
        """Remove the tenant's file ``key`` now (nothing happens if it is gone already)."""
        ...


def put(data: bytes | BinaryIO) -> str:
    """Store ``data`` as a work file of the current tenant; returns the key to name it by.

    The file is written at once; if the current transaction rolls back, it is
    removed when that transaction ends.
    """
    return current_scope().work_files().put(data)


def open_file(key: str) -> BinaryIO:
    """Open the current tenant's work file ``key`` (``FileNotFoundError`` if it has none)."""
    return current_scope().work_files().open(key)


def remove(key: str) -> None:
    """Remove the current tenant's work file ``key`` (nothing happens if it is gone already)."""
    current_scope().work_files().remove(key)
