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
:func:`lock_for` is the seam for other kinds of data root: an object store would get a
lease object with an expiry instead of ``flock``, behind the same two methods.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from fti.errors import LockTimeoutError

#: The lock file under a local data root.
LOCK_FILE = ".lock"
#: Seconds of waiting before a waiting process says why it waits.
NOTICE_AFTER_S = 1.0
_DEFAULT_TIMEOUT_S = 600.0


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


def lock_for(root: str | os.PathLike[str]) -> RootLock:
    """The lock of a data root (a local folder: :class:`FileLock`)."""
    return FileLock(Path(root))


def timeout_s() -> float:
    """How long a process waits for the lock: ``$FTI_LOCK_TIMEOUT`` seconds, else 600."""
    text = os.environ.get("FTI_LOCK_TIMEOUT", "")
    try:
        return float(text) if text else _DEFAULT_TIMEOUT_S
    except ValueError:
        return _DEFAULT_TIMEOUT_S


_this_thread = threading.local()  # lock file -> [mode, depth] held by this thread


def _held() -> dict[str, list[int]]:
    if not hasattr(_this_thread, "held"):
        _this_thread.held = {}
    return _this_thread.held


def _command(pid: int) -> str:
    """A process's command line, shortened (Linux: /proc; elsewhere empty)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [w for w in raw.decode(errors="replace").split("\0") if w]
    if words:
        words[0] = Path(words[0]).name
    text = " ".join(words)
    return text if len(text) <= 160 else text[:157] + "..."


def describe_process() -> str:
    """Who this process is, for a waiting process: its command, or a kernel's notebook and
    the command that started the kernel."""
    argv0 = Path(sys.argv[0]).name if sys.argv else ""
    if not argv0.startswith("ipykernel"):
        return _command(os.getpid()) or " ".join(sys.argv)
    notebook = os.environ.get("JPY_SESSION_NAME", "")  # JupyterLab names the notebook
    parent = _command(os.getppid())
    return ("a notebook kernel" + (f" running {notebook}" if notebook else "")
            + (f" started by `{parent}`" if parent else ""))


def _alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[call-overload]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class FileLock:
    """``flock`` on ``<root>/.lock``: shared for readers, exclusive for writers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_FILE

    def shared(self, doing: str) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_SH, doing)

    def exclusive(self, doing: str) -> AbstractContextManager[None]:
        return self._hold(fcntl.LOCK_EX, doing)

    @contextlib.contextmanager
    def handed_over(self, doing: str) -> Iterator[str]:
        token = secrets.token_hex(16)
        with self._hold(fcntl.LOCK_EX, doing, token):
            yield token

    @contextlib.contextmanager
    def acting_for(self, token: str) -> Iterator[None]:
        info = self._holder_info()
        if not token or info.get("token") != token:
            raise LockTimeoutError(
                f"{self.root}: this process was asked to write for the holder of its lock, "
                f"but the lock is not held with that token (holder: "
                f"{self.holder() or 'none'}). The run that started it has ended or failed.")
        key = str(self.path)
        _held()[key] = [fcntl.LOCK_EX, 1]  # writes re-enter it as if this thread held it
        try:
            yield
        finally:
            del _held()[key]

    def _holder_info(self) -> dict:
        try:
            info = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(info, dict):
            return {}
        if info.get("host") == socket.gethostname() and not _alive(info.get("pid")):
            return {}  # left by a holder that died: the lock went with it
        return info

    def holder(self) -> str:
        """Who holds (or last held) the lock exclusively, as a sentence; '' if unknown."""
        info = self._holder_info()
        if not info:
            return ""
        return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('process')}), "
                f"{info.get('doing')}, since {info.get('since')}")

    @contextlib.contextmanager
    def _hold(self, mode: int, doing: str, token: str = "") -> Iterator[None]:
        key = str(self.path)
        mine = _held().get(key)
        if mine is not None:  # this thread holds it already
            if mode == fcntl.LOCK_EX and mine[0] != fcntl.LOCK_EX:
                raise RuntimeError(f"{self.path}: cannot write ({doing}) while this thread "
                                   f"holds the lock for reading; take it exclusively first.")
            mine[1] += 1
            try:
                yield
            finally:
                mine[1] -= 1
            return
        fd = self._open(mode)
        if fd is None:  # a root that does not exist (or cannot be written): nothing to guard
            yield
            return
        try:
            self._acquire(fd, mode, doing)
            if mode == fcntl.LOCK_EX:
                self._write_holder(fd, doing, token)
            _held()[key] = [mode, 1]
            try:
                yield
            finally:
                del _held()[key]
                if mode == fcntl.LOCK_EX:
                    os.ftruncate(fd, 0)  # no holder any more
        finally:
            os.close(fd)  # releases the lock

    def _open(self, mode: int) -> int | None:
        if mode == fcntl.LOCK_EX:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not self.root.is_dir():
            return None
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            if mode == fcntl.LOCK_EX:
                raise
            return None  # a read-only data root: nobody can write it, readers need no lock

    def _acquire(self, fd: int, mode: int, doing: str) -> None:
        start = time.monotonic()
        limit, delay, told = timeout_s(), 0.002, False
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            waited = time.monotonic() - start
            if not told and waited >= NOTICE_AFTER_S:
                told = True
                print(f"waiting for the lock of {self.root} ({doing}): held by "
                      f"{self._holder_or_readers()}", file=sys.stderr, flush=True)
            if waited >= limit:
                raise LockTimeoutError(
                    f"{self.root} stayed locked for {waited:.0f} s while this process "
                    f"wanted to {doing}: held by {self._holder_or_readers()}. Wait for it "
                    f"to finish, or stop that process if it hangs (a process that dies "
                    f"releases the lock). FTI_LOCK_TIMEOUT sets the wait in seconds.")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _holder_or_readers(self) -> str:
        return self.holder() or "readers (a training, inference or monitoring run reading)"

    def _write_holder(self, fd: int, doing: str, token: str = "") -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "process": describe_process(),
                "doing": doing,
                "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                **({"token": token} if token else {})}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only unnamed
            pass
