"""The feature store: versioned feature groups as daily Parquet partitions, plain files.

Layout under the data root::

    feature_groups/<name>/v<version>/schema.json
    feature_groups/<name>/v<version>/date=2013-06-01/part.parquet
    training_datasets/<name>/v<version>/data.parquet + metadata.json

Promises (each one is tested):

- a write is validated against the group's schema first (columns, dtypes, non-null and
  unique keys); a bad batch raises :class:`~fti.errors.SchemaError` and nothing is written;
- a partition is replaced atomically (temporary file, then rename), so readers never see
  half a partition and writing the same day twice leaves the same bytes;
- reading a time range opens only the partitions in that range;
- a training dataset snapshot is immutable: writing an existing version is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fti.config import TIME_DTYPE
from fti.dates import days
from fti.errors import FTIError, NotFoundError, SchemaError
from fti.files import atomic_write_json, content_hash, new_folder, write_parquet

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


@dataclass(frozen=True)
class TrainingDataset:
    """An immutable, versioned snapshot of a feature view over a time range."""

    name: str
    version: int
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}/v{self.version}"

    def load(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "data.parquet")


class FeatureStore:
    """Feature groups and training datasets in plain files under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # --- feature groups ---------------------------------------------------------------
    def group_dir(self, name: str, version: int) -> Path:
        return self.root / "feature_groups" / name / f"v{version}"

    def partition_path(self, group: FeatureGroup, day: dt.date) -> Path:
        folder = self.group_dir(group.name, group.version)
        return folder / f"date={day.isoformat()}" / "part.parquet"

    def register(self, group: FeatureGroup) -> FeatureGroup:
        """Create the group's folder and schema.json, or check an existing one matches."""
        path = self.group_dir(group.name, group.version) / "schema.json"
        if path.exists():
            stored = FeatureGroup.from_json(json.loads(path.read_text()))
            if stored.to_json() != group.to_json() or list(stored.schema) != list(group.schema):
                raise SchemaError(
                    f"Feature group {group.ref} already exists with a different definition "
                    f"({path}). Changing a schema needs a new version: bump `version`."
                )
            return stored
        atomic_write_json(path, group.to_json())
        return group

    def get_group(self, name: str, version: int) -> FeatureGroup:
        """Load a group's definition from its schema.json."""
        path = self.group_dir(name, version) / "schema.json"
        if not path.exists():
            raise NotFoundError(
                f"Feature group {name}/v{version} does not exist under {self.root}. "
                f"Run the feature pipeline (notebooks/01_feature_pipeline.ipynb) first."
            )
        return FeatureGroup.from_json(json.loads(path.read_text()))

    def write(self, group: FeatureGroup, day: dt.date, frame: pd.DataFrame) -> Path:
        """Validate a day's batch, then replace that day's partition atomically."""
        frame = validate(group, frame)
        frame = frame.sort_values(list(group.primary_key), kind="stable").reset_index(drop=True)
        path = self.partition_path(group, day)
        write_parquet(frame, path)
        return path

    def days(self, group: FeatureGroup) -> list[dt.date]:
        """The days that have a partition (lists the group's folder once)."""
        folder = self.group_dir(group.name, group.version)
        if not folder.exists():
            return []
        found = [
            dt.date.fromisoformat(p.name.removeprefix("date="))
            for p in folder.glob("date=*")
            if (p / "part.parquet").exists()
        ]
        return sorted(found)

    def read(
        self,
        group: FeatureGroup,
        start: dt.date,
        end: dt.date,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of the partitions from ``start`` to ``end`` (inclusive); opens only those."""
        paths = [self.partition_path(group, d) for d in days(start, end)]
        tables = [pq.read_table(p, columns=columns) for p in paths if p.exists()]
        if not tables:
            empty = group.empty()
            return empty[columns] if columns else empty
        return pa.concat_tables(tables).to_pandas()

    # --- training datasets ------------------------------------------------------------
    def dataset_dir(self, name: str) -> Path:
        return self.root / "training_datasets" / name

    def dataset_versions(self, name: str) -> list[int]:
        folder = self.dataset_dir(name)
        if not folder.exists():
            return []
        return sorted(int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit())

    def save_training_dataset(
        self,
        name: str,
        frame: pd.DataFrame,
        metadata: Mapping[str, Any],
        version: int | None = None,
    ) -> TrainingDataset:
        """Materialize ``frame`` as an immutable snapshot with its metadata.

        With ``version=None`` an existing snapshot with identical content is reused, else the
        next version is written. Asking for a version that exists is refused.
        """
        digest = content_hash(frame)
        existing = self.dataset_versions(name)
        if version is None:
            for v in existing:
                ds = self.load_training_dataset(name, v)
                if ds.metadata.get("content_hash") == digest:
                    return ds
            version = (existing[-1] + 1) if existing else 1
        elif version in existing:
            raise FTIError(
                f"Training dataset {name}/v{version} exists and snapshots are immutable. "
                f"Leave the version empty to write the next one."
            )
        meta = {
            **metadata,
            "name": name,
            "version": version,
            "row_count": len(frame),
            "columns": {c: str(t) for c, t in frame.dtypes.items()},
            "content_hash": digest,
        }
        final = self.dataset_dir(name) / f"v{version}"
        with new_folder(final) as tmp:  # the rename fails if another writer took the version
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp / "data.parquet")
            atomic_write_json(tmp / "metadata.json", meta)
        return TrainingDataset(name, version, final, meta)

    def load_training_dataset(self, name: str, version: int) -> TrainingDataset:
        path = self.dataset_dir(name) / f"v{version}"
        meta_path = path / "metadata.json"
        if not meta_path.exists():
            raise NotFoundError(
                f"Training dataset {name}/v{version} does not exist under {self.root}. "
                f"Run the training pipeline (notebooks/02_training_pipeline.ipynb)."
            )
        return TrainingDataset(name, version, path, json.loads(meta_path.read_text()))
