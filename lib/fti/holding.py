"""Holding a data root's lock: re-entrance per thread, waiting with a notice, the timeout.

What every kind of root lock (:mod:`fti.locks`) shares, whatever it stands on: ``flock``
on a local folder, lease objects on an object store (:mod:`fti.lease`). A waiting process
says after a second who holds the lock and gives up after ``FTI_LOCK_TIMEOUT`` seconds; a
holder writes who it is (pid, host, what it does, since when); a holder can hand the lock
to helper processes that write for it (:meth:`Held.handed_over`, :meth:`Held.acting_for`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fti.errors import LockTimeoutError

#: Seconds of waiting before a waiting process says why it waits.
NOTICE_AFTER_S = 1.0
_DEFAULT_TIMEOUT_S = 600.0


def timeout_s() -> float:
    """How long a process waits for the lock: ``$FTI_LOCK_TIMEOUT`` seconds, else 600."""
    text = os.environ.get("FTI_LOCK_TIMEOUT", "")
    try:
        return float(text) if text else _DEFAULT_TIMEOUT_S
    except ValueError:
        return _DEFAULT_TIMEOUT_S


_this_thread = threading.local()  # lock key -> [mode, depth] held by this thread
SHARED, EXCLUSIVE = "shared", "exclusive"


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


def alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[call-overload]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Held:
    """What every root lock shares: re-entrance per thread, the hand-over to helpers, and
    waiting (a notice naming the holder after a second, an error after the timeout).

    A kind of lock implements ``_open`` (None: nothing to guard), ``_try`` (take it now or
    say no), ``_release``, ``_close`` and ``_holder_info`` (who holds it exclusively).
    """

    key: str  # the lock's identity in this process
    where: str  # the data root, for messages
    poll_max_s = 0.1  # the longest pause between two attempts

    def shared(self, doing: str) -> AbstractContextManager[None]:
        return self._hold(SHARED, doing)

    def exclusive(self, doing: str) -> AbstractContextManager[None]:
        return self._hold(EXCLUSIVE, doing)

    def confirm(self, doing: str) -> None:
        return None

    @contextlib.contextmanager
    def handed_over(self, doing: str) -> Iterator[str]:
        token = secrets.token_hex(16)
        with self._hold(EXCLUSIVE, doing, token):
            yield token

    @contextlib.contextmanager
    def acting_for(self, token: str) -> Iterator[None]:
        info = self._holder_info()
        if not token or info.get("token") != token:
            raise LockTimeoutError(
                f"{self.where}: this process was asked to write for the holder of its lock, "
                f"but the lock is not held with that token (holder: "
                f"{self.holder() or 'none'}). The run that started it has ended or failed.")
        _held()[self.key] = [EXCLUSIVE, 1]  # writes re-enter it as if this thread held it
        try:
            yield
        finally:
            del _held()[self.key]

    def holder(self) -> str:
        """Who holds (or last held) the lock exclusively, as a sentence; '' if unknown."""
        info = self._holder_info()
        if not info:
            return ""
        return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('process')}), "
                f"{info.get('doing')}, since {info.get('since')}")

    @staticmethod
    def holder_record(doing: str, token: str = "") -> dict[str, Any]:
        """What an exclusive holder writes about itself."""
        return {"pid": os.getpid(), "host": socket.gethostname(),
                "process": describe_process(), "doing": doing,
                "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                **({"token": token} if token else {})}

    @contextlib.contextmanager
    def _hold(self, mode: str, doing: str, token: str = "") -> Iterator[None]:
        mine = _held().get(self.key)
        if mine is not None:  # this thread holds it already
            if mode == EXCLUSIVE and mine[0] != EXCLUSIVE:
                raise RuntimeError(f"{self.where}: cannot write ({doing}) while this thread "
                                   f"holds the lock for reading; take it exclusively first.")
            mine[1] += 1
            try:
                yield
            finally:
                mine[1] -= 1
            return
        handle = self._open(mode)
        if handle is None:  # a root that does not exist (or cannot be written): no guard
            yield
            return
        try:
            self._acquire(handle, mode, doing, token)
            _held()[self.key] = [mode, 1]
            try:
                yield
            finally:
                del _held()[self.key]
                self._release(handle, mode)
        finally:
            self._close(handle)

    def _acquire(self, handle: Any, mode: str, doing: str, token: str) -> None:
        start = time.monotonic()
        limit, delay, told = timeout_s(), 0.002, False
        while not self._try(handle, mode, doing, token):
            waited = time.monotonic() - start
            if not told and waited >= NOTICE_AFTER_S:
                told = True
                print(f"waiting for the lock of {self.where} ({doing}): held by "
                      f"{self._holder_or_readers()}", file=sys.stderr, flush=True)
            if waited >= limit:
                raise LockTimeoutError(
                    f"{self.where} stayed locked for {waited:.0f} s while this process "
                    f"wanted to {doing}: held by {self._holder_or_readers()}. Wait for it "
                    f"to finish, or stop that process if it hangs ({self.released_by}). "
                    f"FTI_LOCK_TIMEOUT sets the wait in seconds.")
            time.sleep(delay)
            delay = min(delay * 2, self.poll_max_s)

    released_by = "a process that dies releases the lock"

    def _holder_or_readers(self) -> str:
        return self.holder() or "readers (a training, inference or monitoring run reading)"

    # --- what a kind of lock provides ------------------------------------------------------
    def _open(self, mode: str) -> Any:
        raise NotImplementedError

    def _try(self, handle: Any, mode: str, doing: str, token: str) -> bool:
        raise NotImplementedError

    def _release(self, handle: Any, mode: str) -> None:
        raise NotImplementedError

    def _close(self, handle: Any) -> None:
        return None

    def _holder_info(self) -> dict[str, Any]:
        raise NotImplementedError
