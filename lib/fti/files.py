"""Bytes on disk: atomic writes of files, folders, JSON, text and Parquet, and content hashes.

The feature store, the model registry and the runner's run folders write through these
functions, so a reader never sees half of anything: a file is written to a hidden temporary
file in the same folder and then renamed over its target; a folder (a model version, a
training snapshot) is filled under a hidden temporary name and then renamed into place.
A write that fails removes its temporary file or folder (and a folder it created for
nothing); "no space left on the device" becomes :class:`~fti.errors.DiskFullError` naming
the path. What a killed writer leaves behind (hidden ``.<name>.<random>`` entries) is
removed by the next writer of that folder (:func:`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti.errors import DiskFullError

if TYPE_CHECKING:  # pandas and Arrow load when a frame is written, not with the module
    import pandas as pd

#: The hidden names this module gives temporary files and folders: ``.<name>.<8 random>``
#: (mkdtemp) and ``.<name>.<8 random>.tmp`` (mkstemp).
_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{8}(\.tmp)?")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets under the current umask (mkstemp would give 0600)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode a new folder gets under the current umask (mkdtemp would give 0700)."""
    return 0o777 & ~_umask()


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC or EDQUOT, also when Arrow reports it (an OSError whose errno may be unset)."""
    return isinstance(exc, OSError) and not isinstance(exc, DiskFullError) and (
        exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc))


def disk_full(path: Path, exc: OSError) -> DiskFullError:
    """The error for a write to ``path`` that found no space left."""
    folder = next(p for p in path.parents if p.exists())
    return DiskFullError(
        errno.ENOSPC, f"No space left on the device while writing {path} ({exc}). Nothing "
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


def atomic_write_bytes(path: Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` on a hidden temporary file in ``path``'s folder, then rename it
    over ``path``; on any failure the temporary file (and a folder made for it) is removed
    and ``path`` is unchanged."""
    made = _made_folders(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        _remove_if_empty(made)
        if _is_disk_full(exc):
            raise disk_full(path, exc) from exc  # type: ignore[arg-type]
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, keys in insertion order (a schema's column order matters)."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(data, indent=2, default=str) + "\n")

    atomic_write_bytes(path, write)


def atomic_write_text(path: Path, text: str) -> None:
    """Write text (a report, a page) atomically: readers see the old file or the new one."""
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame to Parquet atomically and deterministically (no index)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp))


@contextlib.contextmanager
def new_folder(final: Path) -> Iterator[Path]:
    """Fill a folder that appears at ``final`` whole, or not at all.

    Yields a hidden temporary folder next to ``final``; when the block ends it is renamed to
    ``final``, which fails if ``final`` exists meanwhile (another writer took the name). On
    any failure the temporary folder is removed.
    """
    made = _made_folders(final.parent)
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        os.chmod(tmp, folder_mode())
        yield tmp
        os.rename(tmp, final)
    except BaseException as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_if_empty(made)
        if _is_disk_full(exc):
            raise disk_full(final, exc) from exc  # type: ignore[arg-type]
        raise


def remove_leftovers(folder: Path) -> list[str]:
    """Remove the temporary files and folders a killed writer left in ``folder``.

    Only for a writer that holds the data root's lock exclusively (:mod:`fti.locks`): then
    no other writer is filling one of them. Returns the names removed.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no folder yet: nothing left behind
        return []
    removed = []
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def content_hash(frame: pd.DataFrame) -> str:
    """A sha256 of a frame's columns, dtypes and values (independent of the file format)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([[c, str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
