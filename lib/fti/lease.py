"""The data-root lock on object storage: lease objects, taken and renewed by conditional PUTs.

An ``s3://`` data root has no ``flock``, and a crashed process cannot release anything. Its
lock (:func:`fti.locks.lock_for`) is made of small objects under ``<root>/.lock/``, written
with boto3 because they need conditional requests that pyarrow cannot send:

- ``writer``, the exclusive holder's lease. It is taken by creating it only if there is
  none (``If-None-Match: *``), renewed every sixth of its ttl by a thread of the holder,
  which replaces it only if it is still the one it wrote (``If-Match: <ETag>``), and given
  back by deleting it (``If-Match`` again). A lease that was not renewed for ``ttl``
  seconds has expired: its holder crashed or stands still. Another writer then takes it
  over by replacing exactly the version it read (``If-Match``), so of several waiting
  processes one wins. Age is judged on the server's clock (the response's ``Date`` minus
  the object's ``Last-Modified``), so the machines' clocks do not matter.
- ``readers/<id>``, one per reader (a shared holder), renewed the same way. A reader
  writes its object, then looks for a live writer lease: if there is one it deletes its
  object and waits. A writer holding ``writer`` waits until no live reader object is
  left. S3 is strongly consistent, so whichever comes second sees the other.

The ttl is ``$FTI_LEASE_TTL`` seconds (default 60; Date and Last-Modified have one-second
resolution, so keep it well above a few seconds). Renewing six times per ttl lets a renewal
come late by half the ttl before the lease is at risk. A crashed writer blocks others for
up to one ttl, and a waiting process says when the lease expires.

A holder that stood still for longer than its lease (a laptop asleep, a process stopped in
a debugger) may have lost it. :meth:`LeaseLock.confirm`, called just before a write is
made visible, renews the lease if it is not fresh, only if it is still the version this
process wrote, and otherwise refuses with :class:`~fti.errors.LeaseLostError`. A pause
between that check and the write itself is not covered: the known limit of a lease
without fencing tokens (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import threading
import time
import uuid
from typing import Any

from fti import objectstore
from fti.errors import LeaseLostError, LockTimeoutError
from fti.holding import EXCLUSIVE, Held
from fti.location import Location

#: The folder of the lease objects under an ``s3://`` data root.
LEASE_FOLDER = ".lock"
_DEFAULT_TTL_S = 60.0
_LOST = ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404", "412", "409")
_this_thread = threading.local()  # .leases: lock key -> the writer lease this thread holds


def _active() -> dict[str, _Lease]:
    if not hasattr(_this_thread, "leases"):
        _this_thread.leases = {}
    return _this_thread.leases


def ttl_s() -> float:
    """How long a lease lives without renewal: ``$FTI_LEASE_TTL`` seconds, else 60."""
    try:
        return max(2.0, float(os.environ.get("FTI_LEASE_TTL", "") or _DEFAULT_TTL_S))
    except ValueError:
        return _DEFAULT_TTL_S


def _clock() -> float:
    """Seconds that keep counting while the machine sleeps (a lease expires meanwhile)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.time()


def _server_age(response: dict[str, Any], last_modified: Any) -> float:
    """Seconds since ``last_modified`` on the server's clock (its Date header)."""
    now = email.utils.parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])
    return (now - last_modified).total_seconds()


class _Lease:
    """One lease object this process holds, and the daemon thread that renews it."""

    def __init__(self, lock: LeaseLock, key: str, record: dict[str, Any]) -> None:
        self.lock, self.key, self.ttl = lock, key, float(record["ttl"])
        self.body = json.dumps(record).encode()
        self.etag = ""
        self.renewed = 0.0  # _clock() before the last successful write of the lease
        self.lost = threading.Event()
        self._stop = threading.Event()

    def put(self, **condition: str) -> bool:
        """Write the lease under a condition; False if the condition does not hold."""
        sent = _clock()
        try:
            reply = self.lock.s3().put_object(Bucket=self.lock.bucket, Key=self.key,
                                              Body=self.body, **condition)
        except Exception as exc:
            if objectstore.error_code(exc) in _LOST:
                return False
            raise objectstore.explain(str(self.lock.root), exc) from exc
        self.etag, self.renewed = reply["ETag"], sent
        return True

    def start(self) -> None:
        threading.Thread(target=self._renew, daemon=True, name=f"lease {self.key}").start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 6):
            try:
                if not self.put(IfMatch=self.etag):
                    self.lost.set()  # replaced or deleted: someone took it over
                    return
            except Exception:  # the store is unreachable: try again, confirm() judges age
                continue

    def fresh(self) -> bool:
        """Renewed recently enough that it cannot have expired (with a second to spare
        for the server clock's resolution)."""
        margin = min(max(1.0, self.ttl / 10), self.ttl / 2)
        return not self.lost.is_set() and _clock() - self.renewed < self.ttl - margin

    def give_back(self) -> None:
        self._stop.set()
        # taken over already, or unreachable: then it expires by itself
        with contextlib.suppress(Exception):
            self.lock.s3().delete_object(Bucket=self.lock.bucket, Key=self.key,
                                         IfMatch=self.etag)


class _Handle:
    """One process's attempt to hold the lock (the leases it took so far)."""

    def __init__(self) -> None:
        self.lease: _Lease | None = None


class LeaseLock(Held):
    """The lock of an ``s3://`` data root: lease objects under ``<root>/.lock/``."""

    poll_max_s = 0.2
    released_by = "a lease that is not renewed expires after its ttl"

    def __init__(self, root: Location) -> None:
        self.root = root
        folder = root / LEASE_FOLDER
        self.key, self.where, self.bucket = str(folder), str(root), root.bucket
        self._prefix = folder.path.split("/", 1)[1] if "/" in folder.path else LEASE_FOLDER
        self.writer_key = f"{self._prefix}/writer"

    def s3(self) -> Any:
        return objectstore.client(self.where)

    # --- reading the leases -----------------------------------------------------------------
    def _read(self, key: str) -> tuple[dict[str, Any], str, float] | None:
        """(record, ETag, age in seconds) of a lease object, None if there is none."""
        try:
            reply = self.s3().get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if objectstore.error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise objectstore.explain(self.where, exc) from exc
        try:
            record = json.loads(reply["Body"].read())
        except ValueError:
            record = {}
        record = record if isinstance(record, dict) else {}
        return record, reply["ETag"], _server_age(reply, reply["LastModified"])

    @staticmethod
    def _alive(record: dict[str, Any], age: float) -> bool:
        return age <= float(record.get("ttl", ttl_s()))

    def _writer(self) -> tuple[dict[str, Any], str, float] | None:
        found = self._read(self.writer_key)
        return found if found is not None and self._alive(found[0], found[2]) else None

    def _holder_info(self) -> dict[str, Any]:
        found = self._writer()
        if found is None:
            return {}
        record, _, age = found
        ttl = float(record.get("ttl", ttl_s()))
        return {**record, "doing": f"{record.get('doing')} (lease renewed {age:.0f} s ago, "
                                   f"expires {max(0.0, ttl - age):.0f} s after its last "
                                   f"renewal)"}

    def _live_readers(self) -> list[str]:
        """The reader leases still alive; expired ones (crashed readers) are deleted."""
        try:
            reply = self.s3().list_objects_v2(Bucket=self.bucket, Prefix=f"{self._prefix}/readers/")
        except Exception as exc:
            raise objectstore.explain(self.where, exc) from exc
        alive = []
        for entry in reply.get("Contents", []):
            if _server_age(reply, entry["LastModified"]) <= ttl_s() * 2:
                alive.append(entry["Key"])
            else:
                with contextlib.suppress(Exception):
                    self.s3().delete_object(Bucket=self.bucket, Key=entry["Key"])
        return alive

    # --- what Held asks of a kind of lock --------------------------------------------------
    def _open(self, mode: str) -> _Handle:
        return _Handle()

    def _record(self, mode: str, doing: str, token: str) -> dict[str, Any]:
        return {**self.holder_record(doing, token), "mode": mode, "ttl": ttl_s()}

    def _try(self, handle: _Handle, mode: str, doing: str, token: str) -> bool:
        if mode == EXCLUSIVE:
            return self._try_writer(handle, doing, token)
        return self._try_reader(handle, doing)

    def _try_writer(self, handle: _Handle, doing: str, token: str) -> bool:
        if handle.lease is None:
            lease = _Lease(self, self.writer_key, self._record(EXCLUSIVE, doing, token))
            if not lease.put(IfNoneMatch="*"):
                current = self._read(self.writer_key)
                if current is None or self._alive(current[0], current[2]):
                    return False  # given back meanwhile (try again), or held
                if not lease.put(IfMatch=current[1]):  # expired: take it over, unless
                    return False                       # another waiting writer did
            lease.start()
            handle.lease = lease
            _active()[self.key] = lease
        return not self._live_readers()  # keep the lease while readers finish

    def _try_reader(self, handle: _Handle, doing: str) -> bool:
        if self._writer() is not None:
            return False
        lease = _Lease(self, f"{self._prefix}/readers/{uuid.uuid4().hex}",
                       self._record("shared", doing, ""))
        try:
            lease.put()
        except Exception as exc:
            if "AccessDenied" in str(exc) or "access denied" in str(exc):
                return True  # read-only credentials: nobody writes with them, read unguarded
            raise
        if self._writer() is not None:  # a writer came first: let it finish
            lease.give_back()
            return False
        lease.start()
        handle.lease = lease
        return True

    def _release(self, handle: _Handle, mode: str) -> None:
        self._close(handle)

    def _close(self, handle: _Handle) -> None:
        if handle.lease is not None:
            if _active().get(self.key) is handle.lease:
                del _active()[self.key]
            handle.lease.give_back()
            handle.lease = None

    def confirm(self, doing: str) -> None:
        """Refuse to make a write visible when this process's writer lease is lost.

        A lease renewed recently is ours. Otherwise it is renewed now, only if it is still
        the version this process wrote (``If-Match``): another writer must replace it
        before writing, so if that succeeds nobody has written since.
        """
        lease = _active().get(self.key)
        if lease is None or lease.fresh():
            return
        if lease.lost.is_set() or not lease.put(IfMatch=lease.etag):
            lease.lost.set()
            raise LeaseLostError(
                f"{self.where}: this process's lease on the data root was taken over before "
                f"it could {doing} (it stood still for longer than the lease's "
                f"{lease.ttl:.0f} s, and another writer took the root). Nothing more was "
                f"made visible; run the step again.")


__all__ = ["LEASE_FOLDER", "LeaseLock", "LockTimeoutError", "ttl_s"]
