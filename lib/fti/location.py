"""Where a file of a data root is: a local path or an ``s3://`` key, read through pyarrow.fs.

A :class:`Location` has pathlib's names (``/``, ``name``, ``parent``, ``exists()``,
``read_bytes()``, ``iterdir()``) and works the same on a local disk and in an object
store; a local one also works wherever a path does (``os.fspath``). It reads, lists and
deletes; writes go through :mod:`fti.files`, which makes them whole or nothing. Why
pyarrow.fs, and what each write guarantees: :mod:`fti.files`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from fti import objectstore
from fti.errors import ParameterError

_local_fs: Any = None


def local_filesystem() -> Any:
    global _local_fs
    if _local_fs is None:
        import pyarrow.fs as pafs

        _local_fs = pafs.LocalFileSystem()
    return _local_fs


class Location:
    """A file or folder of a data root: a local path, or a key under ``s3://bucket``.

    Joins with ``/`` and has pathlib's names (``name``, ``parent``, ``exists()``,
    ``read_bytes()``, ...); a local one also works wherever a path does (``os.fspath``).
    ``str()`` is its path or URI.
    """

    __slots__ = ("path", "s3")

    def __init__(self, path: str, s3: bool = False) -> None:
        self.path = path.rstrip("/") or "/"  # local: absolute; s3: "bucket/key"
        self.s3 = s3

    # --- names ----------------------------------------------------------------------------
    def __truediv__(self, name: str | os.PathLike[str]) -> Location:
        return Location(posixpath.join(self.path, os.fspath(name)), self.s3)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def parent(self) -> Location:
        if self.s3 and "/" not in self.path:
            return self
        return Location(posixpath.dirname(self.path), self.s3)

    @property
    def bucket(self) -> str:
        return self.path.split("/", 1)[0] if self.s3 else ""

    def relative_to(self, other: Location) -> str:
        return posixpath.relpath(self.path, other.path)

    def __str__(self) -> str:
        return f"s3://{self.path}" if self.s3 else self.path

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __fspath__(self) -> str:
        if self.s3:
            raise TypeError(f"{self} is an object in an object store, not a local file: "
                            f"read and write it through fti.files.")
        return self.path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and (self.s3, self.path) == (other.s3, other.path)

    def __lt__(self, other: Location) -> bool:
        return (self.s3, self.path) < (other.s3, other.path)

    def __hash__(self) -> int:
        return hash((self.s3, self.path))

    # --- reading --------------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        """pyarrow's filesystem this location lives on."""
        return objectstore.filesystem(self.bucket) if self.s3 else local_filesystem()

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """Object-store failures as errors that name this URI and what to check."""
        try:
            yield
        except (OSError, ValueError) as exc:
            better = objectstore.explain(str(self), exc) if self.s3 else exc
            if better is exc:
                raise
            raise better from None

    def _type(self) -> Any:
        with self._named():
            return self.fs.get_file_info(self.path).type

    def exists(self) -> bool:
        """A file, or a folder (on an object store: a prefix that holds objects)."""
        return self._type().name != "NotFound"

    def is_file(self) -> bool:
        return self._type().name == "File"

    def is_dir(self) -> bool:
        return self._type().name == "Directory"

    def read_bytes(self) -> bytes:
        with self._named(), self.fs.open_input_stream(self.path) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode("utf-8")

    def _listing(self, recursive: bool) -> list[Any]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(self.path, recursive=recursive, allow_not_found=True)
        with self._named():
            try:
                return self.fs.get_file_info(selector)
            except NotADirectoryError:  # a file: nothing under it
                return []

    def iterdir(self) -> list[Location]:
        """What is directly in this folder (one listing), sorted; [] if there is none."""
        return sorted(Location(i.path, self.s3) for i in self._listing(False))

    def glob(self, pattern: str) -> list[Location]:
        """The entries of this folder whose name matches ``pattern`` (no recursion)."""
        return [entry for entry in self.iterdir() if fnmatch(entry.name, pattern)]

    def walk(self) -> list[Location]:
        """Every file below this folder (one listing, all levels), sorted."""
        return sorted(Location(i.path, self.s3) for i in self._listing(True)
                      if i.type.name == "File")

    # --- deleting ---------------------------------------------------------------------------
    def unlink(self, missing_ok: bool = True) -> None:
        with self._named():
            try:
                self.fs.delete_file(self.path)
            except FileNotFoundError:
                if not missing_ok:
                    raise

    def remove_tree(self) -> None:
        """Delete this folder and everything under it (nothing if it does not exist)."""
        with self._named(), contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.path)


def location(where: str | os.PathLike[str] | Location) -> Location:
    """A :class:`Location` for a local path (made absolute) or an ``s3://bucket/prefix``."""
    if isinstance(where, Location):
        return where
    text = os.fspath(where)
    if "://" not in text:
        return Location(Path(text).expanduser().resolve().as_posix())
    scheme, _, rest = text.partition("://")
    if scheme == "file":
        return location(rest)
    bucket = rest.split("/", 1)[0]
    if scheme != "s3" or not bucket or "?" in rest or "//" in rest.rstrip("/"):
        raise ParameterError(
            f"{text!r} is not a data root this project can use: give a local folder or "
            f"s3://bucket/prefix. The endpoint, region and credentials come from the AWS "
            f"environment variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), not the URI.")
    return Location(rest, s3=True)
