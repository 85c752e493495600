"""Whether what is on disk is whole: unfinished writes and damaged files, named with the repair.

Each file is written atomically (:mod:`fti.files`), but some writes are several files that
only make sense together: a day of the feature pipeline writes five feature groups. Such a
write is marked as pending first, in ``<root>/_pending/<name>.json`` (the partitions it
will write and the command that writes them again), and the marker is removed when its
last file is in place. A crash or a full disk in between leaves the marker, and every read
of one of those partitions refuses with :class:`~fti.errors.IncompleteWriteError`, naming
the unfinished write and the command that repairs it, instead of taking four groups of a
day for the whole day. Running that command again writes the unit again and removes the
marker. (A marker is also there while a write is under way, but a reader never sees it
then: writers hold the data root's lock exclusively, readers shared; see :mod:`fti.locks`.)
A store written before markers existed has none, and is read as before. On an object
store the marker is an object like any other (one PUT, one DELETE), and finding the
markers is one listing of ``_pending/``.

A file that exists but cannot be read (a truncated Parquet file, JSON that is not JSON, a
pickle where a skops file should be) raises :class:`~fti.errors.DamagedFileError`, which
names the file and what writes it again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from fti.errors import DamagedFileError, IncompleteWriteError, StorageError
from fti.files import Location, atomic_write_json, location

PENDING = "_pending"
T = TypeVar("T")
SNAPSHOT_REPAIR = ("delete the snapshot's folder and run the training pipeline "
                   "(notebooks/02_training_pipeline.ipynb) for its range again; a snapshot "
                   "is made from the feature groups, so it comes back the same.")
SCHEMA_REPAIR = ("delete the file; the next run of the pipeline that writes the group "
                 "writes it again (for the feature groups: the feature pipeline).")


def rerun_day(group: str, day: dt.date) -> str:
    """The repair of a damaged partition of ``group`` for ``day``: write that day again."""
    return (f"write {group} for {day} again by running the pipeline that writes it for that "
            f"day; for a feature group that is the feature pipeline: fti run feature -p "
            f"start_date={day} -p end_date={day} (or notebooks/01_feature_pipeline.ipynb "
            f"with those dates).")


def _folder(root: Location | Path) -> Location:
    return location(root) / PENDING


def begin(root: Location | Path, name: str, partitions: Mapping[str, Iterable[dt.date]],
          repair: str) -> None:
    """Mark a write of several partitions (group ref -> days) as pending, before it starts."""
    atomic_write_json(_folder(root) / f"{name}.json", {
        "write": name, "repair": repair,
        "partitions": {ref: sorted(d.isoformat() for d in days)
                       for ref, days in partitions.items()},
    })


def end(root: Location | Path, name: str) -> None:
    """The write ``name`` is complete: remove its marker."""
    folder = _folder(root)
    (folder / f"{name}.json").unlink()
    if not folder.s3:  # only when empty: an empty root stays as it was
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def pending(root: Location | Path) -> list[dict[str, Any]]:
    """The markers of unfinished writes (normally none: one directory listing)."""
    markers = []
    for path in _folder(root).glob("*.json"):
        try:
            markers.append(json.loads(path.read_bytes()))
        except FileNotFoundError:  # ended meanwhile
            continue
        except ValueError:  # the marker itself was cut short: the write did not finish
            markers.append({"write": path.stem, "partitions": None,
                            "repair": f"run the pipeline of {path.stem} again"})
    return markers


def check(root: Location | Path, ref: str, days: Iterable[dt.date] | None = None) -> None:
    """Refuse to read partitions of ``ref`` (group/vN) that an unfinished write touched.

    ``days``: the partition days to be read; None means all of the group's days.
    """
    markers = pending(root)
    if not markers:
        return
    wanted = None if days is None else {d.isoformat() for d in days}
    hit = []
    for marker in markers:
        parts = marker.get("partitions")
        touched = None if parts is None else set(parts.get(ref, ()))
        if touched is None or (touched and (wanted is None or touched & wanted)):
            hit.append(marker)
    if hit:
        lines = "\n".join(f"  - {m.get('write')}: {m.get('repair')}" for m in hit)
        raise IncompleteWriteError(
            f"{ref} under {root}: a write did not finish (the process stopped or the disk "
            f"was full), so some of its partitions may be missing or from an older run. "
            f"Write it again:\n{lines}\n(The marker of each is {_folder(root)}/<write>.json; "
            f"the repair removes it.)")


def read(path: Location, load: Callable[[Location], T], what: str, repair: str) -> T:
    """``load(path)``; a file that exists but cannot be read raises DamagedFileError."""
    try:
        return load(path)
    except (FileNotFoundError, DamagedFileError, StorageError):
        raise
    except Exception as exc:  # Arrow's, json's, zipfile's own words for a broken file
        raise DamagedFileError(
            f"{path} is damaged and cannot be read ({what}): {type(exc).__name__}: "
            f"{str(exc).strip()[:300]}\nRepair: {repair}") from exc


def read_json(path: Location, what: str, repair: str) -> Any:
    """A JSON file, or DamagedFileError naming it and the repair."""
    return read(path, lambda p: json.loads(p.read_bytes()), what, repair)
