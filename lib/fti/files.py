"""Files and objects: one layer for every read and write of a data root, local or ``s3://``.

A data root is a :class:`Location`: a local folder, or a prefix in an object store
(``s3://bucket/prefix``). The feature store, training snapshots, predictions, monitoring
history, integrity markers and the model registry read, list and write through it, and
nothing else touches their files. It stands on ``pyarrow.fs``, because pyarrow is already
what reads and writes every Parquet file here: its wheel brings S3 with it (no second
stack such as fsspec/s3fs with aiobotocore's narrow botocore pins), one API covers the
local disk and S3, and it can be made to send each object in exactly one PUT
(:mod:`fti.objectstore`). Where it falls short, conditional PUTs for the lock's lease,
boto3 fills in (:mod:`fti.lease`).

Every write builds its complete bytes in memory first (a Parquet file, JSON, a skops
model), so bad input fails before anything is written, and then makes them visible whole:

- local folder: a hidden temporary file in the same folder, renamed over the target; a
  folder (a model version, a snapshot) is filled under a hidden name and renamed into place;
- object store: one PUT per object (all or nothing; there is no rename), and a folder's
  files are written straight to their place with the metadata object last (model.json,
  metadata.json): readers ignore a folder without it.

A write that fails removes what it started (a temporary file or folder, or the objects of
a folder it was filling); "no space left" becomes :class:`~fti.errors.DiskFullError` and an
object store that cannot be reached an :class:`~fti.errors.StorageError`, both naming the
file's path or URI. What a killed writer leaves behind is removed by the next writer of
that folder (:func:`remove_leftovers`). Reports and run folders are always local and use
the same functions.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import posixpath
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti import objectstore
from fti.errors import DiskFullError
from fti.location import Location, local_filesystem, location

__all__ = ["Location", "atomic_write_json", "atomic_write_text", "content_hash", "location",
           "new_folder", "parquet_bytes", "read_table", "remove_leftovers", "sha256_file",
           "whole_versions", "write_bytes", "write_parquet"]

if TYPE_CHECKING:  # pandas and Arrow load when they are used, not with the module
    import pandas as pd
    import pyarrow as pa

#: The hidden names of temporary files and folders: ``.<name>.<8 random>[.tmp]``.
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{8}(\.tmp)?")
_TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
# --- writing ------------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def folder_mode() -> int:
    """The mode a new folder gets under the current umask (mkdtemp would give 0700)."""
    return 0o777 & ~_umask()


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT, also when Arrow reports it (an OSError whose errno may be unset),
    or an object store out of space or quota."""
    words = ("No space left on device", "XMinioStorageFull", "QuotaExceeded",
             "InsufficientStorage")
    return isinstance(exc, OSError) and not isinstance(exc, DiskFullError) and (
        exc.errno in (errno.ENOSPC, errno.EDQUOT) or any(w in str(exc) for w in words))


def disk_full(where: Location | Path, exc: OSError) -> DiskFullError:
    """The error for a write to ``where`` that found no space left."""
    loc = location(where)
    if loc.s3:
        return DiskFullError(
            errno.ENOSPC, f"The object store has no space (or quota) left for {loc} ({exc}). "
            f"Nothing half-written is there. Free space or raise the bucket's quota, then "
            f"run the same step again.")
    folder = next(p for p in Path(loc.path).parents if p.exists())
    return DiskFullError(
        errno.ENOSPC, f"No space left on the device while writing {loc} ({exc}). Nothing "
        f"half-written was left there. Free some space on the disk that holds {folder} "
        f"(`df -h {folder}` shows it), then run the same step again.")


def _made_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; another writer may have filled one meanwhile
        with contextlib.suppress(OSError):
            folder.rmdir()


def _write_file(fs: Any, path: str, data: bytes) -> None:
    """Send ``data`` to ``path`` in one stream: on an object store, one PUT when it closes."""
    with fs.open_output_stream(path) as stream:
        stream.write(data)


def write_bytes(where: Location | Path, data: bytes) -> None:
    """Make ``data`` the whole content of ``where``, or leave it as it was."""
    loc = location(where)
    try:
        if loc.s3:
            with loc._named():
                if len(data) >= objectstore.ONE_PUT_LIMIT:
                    objectstore.put_large(loc.bucket, loc.path.split("/", 1)[1], data, str(loc))
                else:
                    _write_file(loc.fs, loc.path, data)
            return
        _replace(loc, data)
    except OSError as exc:
        if _is_disk_full(exc):
            raise disk_full(loc, exc) from exc
        raise


def _replace(loc: Location, data: bytes, attempts: int = 3) -> None:
    """Local: a hidden temporary file in the same folder, renamed over the target.

    A folder that another writer removes once it is empty (the pending markers' folder)
    may vanish between making it and writing into it: then it is made again.
    """
    for attempt in range(1, attempts + 1):
        made = _made_folders(Path(loc.path).parent)
        token = "".join(secrets.choice(_TOKEN) for _ in range(8))
        tmp = posixpath.join(posixpath.dirname(loc.path), f".{loc.name}.{token}.tmp")
        try:
            _write_file(loc.fs, tmp, data)
            loc.fs.move(tmp, loc.path)  # rename: atomic
            return
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            _remove_if_empty(made)
            vanished = isinstance(exc, FileNotFoundError) and not os.path.isdir(
                posixpath.dirname(loc.path))
            if not vanished or attempt == attempts:
                raise


def atomic_write_json(where: Location | Path, data: Any) -> None:
    """Write JSON whole, keys in insertion order (a schema's column order matters)."""
    write_bytes(where, (json.dumps(data, indent=2, default=str) + "\n").encode("utf-8"))


def atomic_write_text(where: Location | Path, text: str) -> None:
    """Write text (a report, a page) whole: readers see the old file or the new one."""
    write_bytes(where, text.encode("utf-8"))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet, deterministically (no index): the same rows, the same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def write_parquet(frame: pd.DataFrame, where: Location | Path) -> None:
    """Write a frame to Parquet whole (serialized first, then one write)."""
    write_bytes(where, parquet_bytes(frame))


def read_table(where: Location | Path, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's table (one GET on an object store, then parsed in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(location(where).read_bytes()), columns=columns)


@contextlib.contextmanager
def new_folder(final: Location | Path) -> Iterator[Location]:
    """Fill a folder that appears at ``final`` whole, or not at all.

    Local: yields a hidden temporary folder next to ``final``, renamed to ``final`` when
    the block ends (which fails if ``final`` exists meanwhile: another writer took the
    name). Object store: yields ``final`` itself, which must not hold anything yet; the
    caller writes the folder's metadata object last, and readers ignore a folder without
    it. On any failure what was written is removed.
    """
    loc = location(final)
    if loc.s3:
        if loc.walk():
            raise FileExistsError(errno.EEXIST, f"{loc} exists already", str(loc))
        try:
            yield loc
        except BaseException:
            with contextlib.suppress(Exception):
                loc.remove_tree()
            raise
        return
    made = _made_folders(Path(loc.path).parent)
    tmp = None
    try:
        tmp = tempfile.mkdtemp(prefix=f".{loc.name}.", dir=loc.parent.path)
        os.chmod(tmp, folder_mode())
        yield Location(tmp)
        loc.fs.move(tmp, loc.path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                local_filesystem().delete_dir(tmp)
        _remove_if_empty(made)
        if _is_disk_full(exc):
            raise disk_full(loc, exc) from exc  # type: ignore[arg-type]
        raise


def whole_versions(folder: Location | Path, complete: str) -> list[int]:
    """The versions ``v<N>`` under ``folder`` that are whole: their metadata object
    ``complete`` (e.g. "model.json") is there, as :func:`new_folder`'s callers write it
    last. One listing, sorted."""
    loc = location(folder)
    found = (p.relative_to(loc).split("/") for p in loc.walk())
    return sorted(int(parts[0][1:]) for parts in found
                  if parts[0][:1] == "v" and parts[0][1:].isdigit() and parts[1:] == [complete])


def remove_leftovers(folder: Location | Path, complete: str | None = None) -> list[str]:
    """Remove what a killed writer left in ``folder``; returns the names removed.

    Local: the hidden temporary files and folders. Object store: with ``complete`` (the
    metadata object a finished sub-folder holds, e.g. "model.json"), the sub-folders
    without it, whose writer stopped before the end. Only for a writer that holds the data
    root's lock exclusively (:mod:`fti.locks`): then no other writer is filling one.
    """
    loc = location(folder)
    removed = []
    if loc.s3:
        if complete is None:
            return []
        finished, started = set(), set()
        for file in loc.walk():
            top, _, rest = file.relative_to(loc).partition("/")
            if rest:  # in a sub-folder (not an object of this folder itself)
                (finished if rest == complete else started).add(top)
        for name in sorted(started - finished):
            (loc / name).remove_tree()
            removed.append(name)
        return removed
    for entry in loc.iterdir():
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        if entry.is_dir():
            entry.remove_tree()
        else:
            entry.unlink()
        removed.append(entry.name)
    return removed


# --- content hashes -----------------------------------------------------------------------
def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 of a frame's columns, dtypes and values (independent of the file format)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def sha256_file(where: Location | Path) -> str:
    """The sha256 of a file's bytes."""
    return hashlib.sha256(location(where).read_bytes()).hexdigest()
