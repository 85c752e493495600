"""Bytes on disk: atomic writes of files, folders, JSON, text and Parquet, and content hashes.

The feature store, the model registry and the runner's run folders write through these
functions, so a reader never sees half of anything: a file is written to a hidden temporary
file in the same folder and then renamed over its target; a folder (a model version, a
training snapshot) is filled under a hidden temporary name and then renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas and Arrow load when a frame is written, not with the module
    import pandas as pd


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


def atomic_write_bytes(path: Path, write: Callable[[str], object]) -> None:
    """Call ``write(tmp)`` on a hidden temporary file in ``path``'s folder, then rename it
    over ``path``; on any failure the temporary file is removed and ``path`` is unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        os.chmod(tmp, folder_mode())
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
