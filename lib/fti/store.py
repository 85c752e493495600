"""The feature store: versioned feature groups as daily Parquet partitions, plain files.

Layout under the data root (a local folder or ``s3://bucket/prefix``, see :mod:`fti.files`)::

    feature_groups/<name>/v<version>/schema.json
    feature_groups/<name>/v<version>/date=2013-06-01/part.parquet
    training_datasets/<name>/v<version>/data.parquet + metadata.json   (fti.snapshots)

Promises (each one is tested):

- a write is validated against the group's schema first (columns, dtypes, non-null and
  unique keys); a bad batch raises :class:`~fti.errors.SchemaError` and nothing is written;
- a partition is one file, serialized in memory and then replaced whole (locally a
  temporary file renamed over it, on an object store one PUT), so readers never see half
  a partition and writing the same day twice leaves the same bytes;
- reading a time range lists the group once and opens only the partitions in that range;
- a training dataset snapshot is immutable: writing an existing version is refused
  (:mod:`fti.snapshots`);
- writes hold the data root's lock exclusively, a range's read holds it shared: a read
  sees another process's write whole or not at all (:mod:`fti.locks`);
- a unit of several groups' partitions (a feature pipeline's day, :meth:`~FeatureStore.
  write_together`) that stopped half-way, or a damaged file, is refused when read, naming
  the command that writes it again (:mod:`fti.integrity`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from fti import integrity
from fti.config import TIME_DTYPE
from fti.dates import days
from fti.errors import NotFoundError, SchemaError
from fti.files import (
    Location,
    atomic_write_json,
    location,
    read_table,
    remove_leftovers,
    write_parquet,
)
from fti.locks import lock_for
from fti.snapshots import TrainingDataset, TrainingDatasets

__all__ = ["DTYPES", "FeatureGroup", "FeatureStore", "TrainingDataset", "validate"]

#: Partitions read at once from an object store (each is one GET: latency, not bandwidth).
_READ_THREADS = 8
#: The dtypes a schema may use.
DTYPES = ("str", "int64", "float64", "bool", TIME_DTYPE)
_SHOW_ROWS = 5


@dataclass(frozen=True)
class FeatureGroup:
    """A versioned table of features with a schema, a primary key and an event-time column.

    The event time is when a value became known (or the instant it describes, for a
    forecast); point-in-time joins only use values whose event time is strictly before the
    entity's.
    """

    name: str
    version: int
    description: str
    schema: Mapping[str, str]
    primary_key: tuple[str, ...]
    event_time: str

    def __post_init__(self) -> None:
        bad = {c: t for c, t in self.schema.items() if t not in DTYPES}
        if bad:
            raise SchemaError(f"{self.name}: unsupported dtypes {bad}; use one of {DTYPES}.")
        for col in (*self.primary_key, self.event_time):
            if col not in self.schema:
                raise SchemaError(f"{self.name}: key or event-time column {col!r} not in schema.")
        if self.schema[self.event_time] != TIME_DTYPE:
            raise SchemaError(f"{self.name}: event time {self.event_time!r} must be {TIME_DTYPE}.")

    @property
    def ref(self) -> str:
        return f"{self.name}/v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "schema": dict(self.schema),
            "primary_key": list(self.primary_key),
            "event_time": self.event_time,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureGroup:
        return cls(
            name=data["name"],
            version=int(data["version"]),
            description=data.get("description", ""),
            schema=dict(data["schema"]),
            primary_key=tuple(data["primary_key"]),
            event_time=data["event_time"],
        )

    def empty(self) -> pd.DataFrame:
        """An empty frame with this group's columns and dtypes."""
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in self.schema.items()})


def _show(frame: pd.DataFrame, mask: pd.Series) -> str:
    rows = frame.loc[mask]
    more = f"\n... and {len(rows) - _SHOW_ROWS} more" if len(rows) > _SHOW_ROWS else ""
    return rows.head(_SHOW_ROWS).to_string() + more


def validate(group: FeatureGroup, frame: pd.DataFrame) -> pd.DataFrame:
    """Check a batch against the group's schema; return it in schema column order.

    Raises:
        SchemaError: naming the column and showing the offending rows.
    """
    missing = [c for c in group.schema if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{group.ref}: the batch lacks column(s) {missing}. The schema expects "
            f"{list(group.schema)}; fix the feature function or create a new group version."
        )
    extra = [c for c in frame.columns if c not in group.schema]
    if extra:
        raise SchemaError(
            f"{group.ref}: the batch has column(s) {extra} that are not in the schema. "
            f"Drop them, or add them in a new version of the feature group."
        )
    for col, expected in group.schema.items():
        actual = str(frame[col].dtype)
        if actual != expected:
            raise SchemaError(
                f"{group.ref}: column {col!r} has dtype {actual}, the schema says {expected}. "
                f"First rows:\n{frame[[col]].head(_SHOW_ROWS).to_string()}"
            )
    keys = list(group.primary_key)
    null_keys = frame[keys].isna().any(axis=1)
    if null_keys.any():
        cols = [c for c in keys if frame[c].isna().any()]
        raise SchemaError(
            f"{group.ref}: {int(null_keys.sum())} row(s) have a null primary key in {cols}:\n"
            f"{_show(frame, null_keys)}"
        )
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        raise SchemaError(
            f"{group.ref}: {int(dup.sum())} row(s) share a primary key {keys}; each key may "
            f"appear once per batch:\n{_show(frame, dup)}"
        )
    return frame[list(group.schema)]


class FeatureStore(TrainingDatasets):
    """Feature groups and training datasets in plain files under ``root``."""

    def __init__(self, root: str | Path | Location) -> None:
        self.root = location(root)
        self.lock = lock_for(self.root)

    # --- feature groups ---------------------------------------------------------------
    def group_dir(self, name: str, version: int) -> Location:
        return self.root / "feature_groups" / name / f"v{version}"

    def partition_path(self, group: FeatureGroup, day: dt.date) -> Location:
        folder = self.group_dir(group.name, group.version)
        return folder / f"date={day.isoformat()}" / "part.parquet"

    def register(self, group: FeatureGroup) -> FeatureGroup:
        """Create the group's folder and schema.json, or check an existing one matches."""
        path = self.group_dir(group.name, group.version) / "schema.json"
        with self.lock.exclusive(f"register feature group {group.ref}"):
            if path.is_file():
                stored = self._schema(path)
                if (stored.to_json() != group.to_json()
                        or list(stored.schema) != list(group.schema)):
                    raise SchemaError(
                        f"Feature group {group.ref} already exists with a different "
                        f"definition ({path}). Changing a schema needs a new version: bump "
                        f"`version`.")
                return stored
            atomic_write_json(path, group.to_json())
        return group

    @staticmethod
    def _schema(path: Location) -> FeatureGroup:
        return FeatureGroup.from_json(integrity.read_json(path, "a schema",
                                                          integrity.SCHEMA_REPAIR))

    def get_group(self, name: str, version: int) -> FeatureGroup:
        """Load a group's definition from its schema.json."""
        path = self.group_dir(name, version) / "schema.json"
        if not path.is_file():
            raise NotFoundError(
                f"Feature group {name}/v{version} does not exist under {self.root}. "
                f"Run the feature pipeline (notebooks/01_feature_pipeline.ipynb) first."
            )
        return self._schema(path)

    def write(self, group: FeatureGroup, day: dt.date, frame: pd.DataFrame) -> Location:
        """Validate a day's batch, then replace that day's partition atomically."""
        return self._put(group, day, validate(group, frame))

    def _put(self, group: FeatureGroup, day: dt.date, frame: pd.DataFrame) -> Location:
        """Replace a partition with a validated batch, sorted by its key."""
        frame = frame.sort_values(list(group.primary_key), kind="stable").reset_index(drop=True)
        path = self.partition_path(group, day)
        with self.lock.exclusive(f"write {group.ref} {day}"):
            remove_leftovers(path.parent)  # of a writer that was killed
            self.lock.confirm(f"write {path}")
            write_parquet(frame, path)
        return path

    def write_together(self, name: str, writes: Sequence[tuple[FeatureGroup, dt.date,
                                                                  pd.DataFrame]],
                       repair: str) -> list[Location]:
        """Write the partitions of several groups as one unit, named ``name``.

        Each batch is validated first (nothing is written if one is refused). Until the
        last partition is in place a marker says the unit is pending; if the process
        stops before, reading any of them refuses and shows ``repair``, the command that
        writes the unit again (:mod:`fti.integrity`).
        """
        checked = [(group, day, validate(group, frame)) for group, day, frame in writes]
        partitions: dict[str, list[dt.date]] = {}
        for group, day, _ in checked:
            partitions.setdefault(group.ref, []).append(day)
        with self.lock.exclusive(f"write {name}"):
            integrity.begin(self.root, name, partitions, repair)
            paths = [self._put(group, day, frame) for group, day, frame in checked]
            self.lock.confirm(f"finish {name}")
            integrity.end(self.root, name)
        return paths

    def _partitions(self, group: FeatureGroup) -> dict[dt.date, Location]:
        """The group's partitions by day: one listing of its folder, all levels."""
        folder = self.group_dir(group.name, group.version)
        found = {}
        for path in folder.walk():
            day, _, name = path.relative_to(folder).partition("/")
            if name == "part.parquet" and day.startswith("date="):
                found[dt.date.fromisoformat(day.removeprefix("date="))] = path
        return found

    def days(self, group: FeatureGroup) -> list[dt.date]:
        """The days that have a partition (lists the group's folder once)."""
        with self.lock.shared(f"list {group.ref}"):
            integrity.check(self.root, group.ref)
            return sorted(self._partitions(group))

    def read(
        self,
        group: FeatureGroup,
        start: dt.date,
        end: dt.date,
        columns: list[str] | None = None,
        repair: Callable[[dt.date], str] | None = None,
    ) -> pd.DataFrame:
        """Rows of the partitions from ``start`` to ``end`` (inclusive); opens only those.

        A damaged partition raises DamagedFileError naming it with ``repair(day)`` (by
        default: run the pipeline that writes the group for that day again).
        """
        repair = repair or (lambda day: integrity.rerun_day(group.ref, day))
        wanted = list(days(start, end))
        with self.lock.shared(f"read {group.ref} {start}..{end}"):
            integrity.check(self.root, group.ref, wanted)
            found = self._partitions(group)
            parts = [(day, found[day]) for day in wanted if day in found]

            def load(part: tuple[dt.date, Location]) -> pa.Table:
                day, path = part
                return integrity.read(path, lambda p: read_table(p, columns),
                                      f"{group.ref}, {day}", repair(day))

            if self.root.s3 and len(parts) > 1:  # each GET waits on the network: overlap them
                with ThreadPoolExecutor(_READ_THREADS) as pool:
                    tables = list(pool.map(load, parts))
            else:
                tables = [load(part) for part in parts]
        if not tables:
            empty = group.empty()
            return empty[columns] if columns else empty
        return pa.concat_tables(tables).to_pandas()
