"""A small durable spool for DingTalk bot messages that are ACKed but not stored yet.

Why: a bot message is ACKed on receipt, so DingTalk never sends it again. When the dispatcher
cannot take it (database unreachable) the inbound keeps retrying; the spool keeps the message on
local disk meanwhile, so that an instance that dies during the outage handles it when it starts
again. Only a message whose first attempt failed is written (the common path costs no fsync).

One JSON file per message, `{"received_at": ISO time, "data": frame data}`, named after its
msgId: written to a temporary name, fsynced, renamed into place, so a reader never sees half a
file. A file that cannot be read back is renamed `*.bad` and left for a human."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from config.model import AppConfig

log = logging.getLogger(__name__)


@dataclass
class Spooled:
    """One ACKed message: the frame data as the SDK gave it, when it was received, and its file
    while it is on disk."""

    data: Mapping[str, Any]
    received_at: datetime
    path: Path | None = None


def spool_dir(config: AppConfig) -> Path:
    """`transports.dingtalk.stream.spool_dir`; by default `dingtalk-spool` next to the SQLite
    file, else `data/dingtalk-spool`. Relative to the working directory, like the database."""
    configured = config.transports.dingtalk.stream.spool_dir
    if configured:
        return Path(configured)
    url = make_url(config.storage.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "dingtalk-spool"
    return Path("data/dingtalk-spool")


class SpoolInUse(Exception):
    """Another running process holds the spool directory."""


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock: int | None = None

    def claim(self) -> None:
        """Hold the directory while this process runs (an exclusive lock on the directory
        itself): two instances sharing one would replay the messages the other is still
        retrying. Raises SpoolInUse, or OSError when the directory is unusable."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolInUse(str(self.directory)) from None
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the lock
            self._lock = None

    def put(self, key: str, entry: Spooled) -> None:
        """Write `entry` durably (blocking: call it in a thread); sets `entry.path`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
        tmp = path.with_suffix(".tmp")
        body = {"received_at": entry.received_at.isoformat(), "data": dict(entry.data)}
        with tmp.open("wb") as f:
            f.write(json.dumps(body, ensure_ascii=False).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(self.directory, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        entry.path = path

    def remove(self, entry: Spooled) -> None:
        """The message was handled or given up on: forget it."""
        if entry.path is not None:
            entry.path.unlink(missing_ok=True)
            entry.path = None

    def load(self) -> list[Spooled]:
        """Everything on disk, oldest first; unreadable files are set aside. Raises OSError when
        the directory cannot be created or listed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        entries: list[Spooled] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                raw = json.loads(path.read_bytes())
                received = datetime.fromisoformat(raw["received_at"])
                if received.tzinfo is None or not isinstance(raw["data"], dict):
                    raise ValueError("no time zone, or data is not an object")
            except (OSError, ValueError, KeyError, TypeError) as e:
                self.set_aside(path, f"{type(e).__name__}: {e}")
                continue
            entries.append(Spooled(raw["data"], received, path))
        for tmp in self.directory.glob("*.tmp"):  # a write cut short: that message was not kept
            tmp.unlink(missing_ok=True)
        return sorted(entries, key=lambda e: e.received_at)

    def set_aside(self, path: Path, why: str) -> None:
        """Rename a file that cannot be handled to `*.bad`, so it is neither lost nor retried."""
        bad = path.with_name(path.name + ".bad")
        log.warning("dingtalk spool: %s is unusable (%s); moved to %s", path, why, bad.name)
        try:
            path.replace(bad)
        except OSError as e:
            log.error("dingtalk spool: could not move %s aside: %s", path, e)
