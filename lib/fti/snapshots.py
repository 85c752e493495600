"""Training dataset snapshots: immutable, versioned Parquet copies of a feature view's rows.

Layout under the data root::

    training_datasets/<name>/v<version>/data.parquet + metadata.json

A snapshot appears whole or not at all (filled under a hidden name, then renamed), is
never changed, and saving the same rows again reuses the snapshot that holds them. Saving
holds the data root's lock (:mod:`fti.locks`), so two processes never take one version
number, and first removes what a killed writer left behind. :class:`TrainingDatasets` is
the feature store's part that keeps them (:class:`fti.store.FeatureStore` inherits it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fti import integrity
from fti.errors import FTIError, NotFoundError
from fti.files import atomic_write_json, content_hash, new_folder, remove_leftovers
from fti.locks import RootLock


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
        return integrity.read(self.path / "data.parquet", pd.read_parquet,
                              f"training dataset {self.ref}", integrity.SNAPSHOT_REPAIR)


class TrainingDatasets:
    """The training dataset snapshots under ``root`` (a feature store's ``root``/``lock``)."""

    root: Path
    lock: RootLock

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
        with self.lock.exclusive(f"save training dataset {name}"):
            remove_leftovers(self.dataset_dir(name))  # of a writer that was killed
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
            with new_folder(final) as tmp:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                pq.write_table(table, tmp / "data.parquet")
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
        meta = integrity.read_json(meta_path, f"training dataset {name}/v{version}",
                                   integrity.SNAPSHOT_REPAIR)
        return TrainingDataset(name, version, path, meta)
