"""What went wrong with the disk or the store, said so a person knows what to do.

SQLite and the OS report a full disk, a damaged store file or a data
directory that is not one as exceptions of a few types; `fault` turns each
into a `StoreFault` with one sentence that names the problem and the remedy.
The CLI prints it as `pnyx: error: ...` (daemon/cli/main.py), the HTTP server
answers it as JSON 503 or 507 (daemon/http/faults.py); nothing was stored.
"""

from __future__ import annotations

import errno
import sqlite3


class StoreFault(Exception):
    """The store cannot be used as it is; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


FULL = ("the disk holding the data directory is full: nothing was stored; free some space "
        "and try again")


def fault(exc: BaseException) -> StoreFault | None:
    """The StoreFault `exc` stands for, or None if it is not a disk or store fault."""
    if isinstance(exc, StoreFault):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return StoreFault(FULL, 507)
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreFault(f"the data directory cannot be written: {exc.strerror}: "
                          f"{exc.filename}; check its owner and permissions", 503)
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc)
    if "full" in text:
        return StoreFault(FULL, 507)
    if "readonly" in text or "read-only" in text:
        return StoreFault("the store is read-only: check the owner and permissions of the data "
                          "directory and of pnyx.sqlite", 503)
    if "unable to open" in text:
        return StoreFault("the store pnyx.sqlite cannot be opened (is it a directory, or is the "
                          "data directory missing or not writable?): move it aside or fix the "
                          "permissions", 503)
    if (isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)) \
            or "malformed" in text or "not a database" in text:
        return StoreFault(f"the store pnyx.sqlite is damaged ({text}): restore it from a backup, "
                          "or move it aside and sync again from a peer", 503)
    if "locked" in text or "busy" in text:
        return StoreFault("the store is busy with another process: try again", 503)
    return StoreFault(f"the store failed: {text}; run `pnyx verify`", 503)
