"""org.yaml on disk: written atomically the way the operator set it up (a symlink followed,
the permission bits kept, a read-only file left alone), read without failing when it is moved
away mid-copy, and an edit that cannot be published kept beside it as org.yaml.unpublished.
The roster versions (bot/roster_versions.py) and each instance's sync (bot/roster_sync.py)
use it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger("bot.roster_versions")  # the roster's log lines keep one name

__all__ = ["keep_unpublished", "read_or_none", "stamp_of", "write_copy", "write_org_text"]


def write_org_text(path: Path, text: str) -> None:
    """Replace the file atomically (a reader never sees half), as UTF-8 bytes exactly.

    A symlink is followed: its target is replaced and the link kept. The file keeps its
    permission bits, and a file made read-only (no write bit, or none for this process) is
    left as it is (PermissionError), though its directory would let it be replaced. The
    temporary file's name is this writer's own, so that instances sharing one org.yaml never
    write into each other's."""
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    if mode is not None and (not mode & 0o222 or not os.access(target, os.W_OK)):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself on disk too
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


async def write_copy(path: Path, text: str) -> OSError | None:
    """An imported version written to this org.yaml, once stored: None, or why it could not be
    (the import stands, every instance uses it; a restart reads the database's roster)."""
    try:
        await asyncio.to_thread(write_org_text, path, text)
    except OSError as e:
        log.warning("roster: cannot write the imported version to %s: %s", path,
                    e.strerror or e)
        return e
    return None


def stamp_of(path: Path) -> tuple[int, int] | None:
    """The file's (mtime, size), to tell whether it changed; None when it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None  # moved away mid-copy: the next tick looks again
    return st.st_mtime_ns, st.st_size


async def read_or_none(path: Path) -> bytes | None:
    """The file's bytes; None when it cannot be read (moved away since it was looked at)."""
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError:
        return None


async def keep_unpublished(path: Path, text: str) -> tuple[Path, OSError | None]:
    """An edit of `path` that is not published, kept beside it as `<name>.unpublished`:
    where, and why it could not be written there, if it could not."""
    aside = path.with_name(f"{path.name}.unpublished")
    try:
        await asyncio.to_thread(write_org_text, aside, text)
    except OSError as e:
        return aside, e
    return aside, None
