"""One writer per data root: a lock that names its holder and is gone when its holder is.

Every write to the feature store and the model registry takes its data root's lock
*exclusively* for that one write operation: a feature run's partitions, a prediction or
history partition, a training snapshot, a model registration, an alias change. Readers that
need several partitions to agree (a feature view over a range: training, inference,
monitoring) take it *shared* for the length of their read. So a reader sees a feature run's
range whole or not at all, alias changes are read-modify-write without lost updates, and
two processes never pick the same version number.

Why per write operation and not per notebook run: the two kernels of
``fti simulate --features-ahead`` write side by side by design (features ahead beside the
day's inference and monitoring), and a student's notebook in JupyterLab should wait
seconds, not for a whole simulation. Each critical section is short (milliseconds to a few
seconds: the longest are a backfill's writes and a training range's read); nothing waits
for the lock while holding it, so there is no deadlock.

A local data root uses ``fcntl.flock`` on ``<root>/.lock``: the operating system releases
it when the holder's process dies, however it dies (a kill -9 included), so a crash never
leaves the root locked. The exclusive holder writes who it is into the file (pid, host,
what it does, since when); a process that has to wait says so after a second, naming the
holder, and gives up after ``FTI_LOCK_TIMEOUT`` seconds (default 600).

The lock is re-entrant per thread (a feature view's read holds it shared around the
store's own reads); taking it exclusively while holding it shared is a programming error.
A holder can hand it to helper processes that write for it (Spark's executors writing a
backfill's days): :meth:`FileLock.handed_over` records a token with the holder, and a
helper passing that token writes under the holder's lock (:meth:`FileLock.acting_for`),
so a reader still sees the backfill's range whole or not at all.
:func:`lock_for` is the seam for other kinds of data root: an ``s3://`` root gets a lease
object with an expiry instead of ``flock`` (:mod:`fti.lease`), behind the same methods;
:class:`Held` is what both share (re-entrance, waiting with a notice, the timeout).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from fti.holding import EXCLUSIVE, Held, alive
from fti.location import Location, location

#: The lock file under a local data root.
LOCK_FILE = ".lock"


class RootLock(Protocol):
    """What the store and the registry need from a data root's lock."""

    def shared(self, doing: str) -> AbstractContextManager[None]:
        """Held while reading what must not change under the reader."""
        ...

    def exclusive(self, doing: str) -> AbstractContextManager[None]:
        """Held while writing; ``doing`` tells a waiting process what the holder does."""
        ...

    def handed_over(self, doing: str) -> AbstractContextManager[str]:
        """Held exclusively for helper processes that write for this one; yields a token."""
        ...

    def acting_for(self, token: str) -> AbstractContextManager[None]:
        """In a helper process: write under the lock its owner handed over with ``token``."""
        ...

    def confirm(self, doing: str) -> None:
        """Just before making a write visible: raise if this process no longer holds the
        lock (a lease that expired while the process stood still)."""
        ...


def lock_for(root: str | os.PathLike[str] | Location) -> RootLock:
    """The lock of a data root: :class:`FileLock` for a local folder, a lease object
    (:class:`fti.lease.LeaseLock`) for ``s3://``."""
    where = location(root)
    if where.s3:
        from fti.lease import LeaseLock

        return LeaseLock(where)
    return FileLock(Path(where))


class FileLock(Held):
    """``flock`` on ``<root>/.lock``: shared for readers, exclusive for writers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self.key = str(self.path)
        self.where = str(self.root)

    def _holder_info(self) -> dict[str, Any]:
        try:
            info = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(info, dict):
            return {}
        if info.get("host") == socket.gethostname() and not alive(info.get("pid")):
            return {}  # left by a holder that died: the lock went with it
        return info

    def _open(self, mode: str) -> int | None:
        """The lock file, made with its root if need be: also for a reader, so that a
        read of a root that a writer creates meanwhile holds the lock for its whole length
        (without it, the first part of the read would see nothing and a later part the
        writer's range, whole or not)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError:
            if mode == EXCLUSIVE:
                raise
            return None  # a root that cannot be made: nobody can write it either
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            if mode == EXCLUSIVE:
                raise
            return None  # a read-only data root: nobody can write it, readers need no lock

    def _try(self, fd: int, mode: str, doing: str, token: str) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if mode == EXCLUSIVE else fcntl.LOCK_SH)
                        | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if mode == EXCLUSIVE:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(self.holder_record(doing, token)) + "\n").encode(), 0)
            except OSError:  # a full disk: the lock holds all the same, only unnamed
                pass
        return True

    def _release(self, fd: int, mode: str) -> None:
        if mode == EXCLUSIVE:
            os.ftruncate(fd, 0)  # no holder any more

    def _close(self, fd: int) -> None:
        os.close(fd)  # releases the lock
