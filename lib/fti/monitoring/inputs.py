"""The two sides monitoring compares: the champion's reference and the current window.

The reference is a fixed-seed sample of the champion's training snapshot, scored by the
champion: drift always asks how far today's flights are from what the model in charge
learned from. The current window is the features of the window's flights with the
probability inference gave each one; only the flights that were served a prediction count.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fti.cache import Recent
from fti.dates import local_day
from fti.errors import NotEnoughDataError, ParameterError
from fti.store import FeatureStore

#: The column that holds a prediction, in the reference and in the current window.
PREDICTION_COLUMN = "probability"


def sample_reference(frame: pd.DataFrame, n: int = 20000, seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn with a fixed seed and kept in their order."""
    if int(n) < 1:
        raise ParameterError(f"n={n!r}: the reference sample needs at least one row.")
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.sample(n=int(n), random_state=seed).sort_index().reset_index(drop=True)


def reference_data(store: FeatureStore, champion: Any, model: Any, n: int = 20000,
                   seed: int = 0) -> pd.DataFrame:
    """The champion's reference: a sample of its training snapshot (:func:`sample_reference`)
    with the champion's own predictions for it in :data:`PREDICTION_COLUMN`.

    ``champion`` is the registry record (:class:`fti.registry.ModelRecord`), ``model`` the
    model loaded from it. Snapshots and registered models never change, so the result is
    kept per process, keyed by the snapshot's content hash and the model file's sha256: in
    a warm kernel only the first monitoring run of a champion loads and scores it.
    """
    snap = champion.info["lineage"]["training_dataset"]
    dataset = store.load_training_dataset(snap["name"], snap["version"])
    key = (dataset.metadata.get("content_hash"), champion.info.get("sha256"),
           tuple(champion.features), int(n), int(seed))

    def scored() -> pd.DataFrame:
        reference = sample_reference(dataset.load(), n, seed)
        reference[PREDICTION_COLUMN] = model.predict_proba(reference[champion.features])[:, 1]
        return reference

    if None in key[:2]:  # an old record without hashes: nothing safe to key it by
        return scored()
    return _REFERENCES.get(key, scored).copy()


_REFERENCES: Recent[pd.DataFrame] = Recent(2)



def current_window(features: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """The window's feature rows with the probability predicted for them (NaN if none was)."""
    if features.empty:
        raise NotEnoughDataError(
            "No features in the monitoring window: run the feature pipeline "
            "(notebooks/01_feature_pipeline.ipynb) for the days of the window first."
        )
    scored = predictions[["flight_id", PREDICTION_COLUMN]]
    return features.merge(scored, on="flight_id", how="left", validate="one_to_one")


def served(current: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`current_window` that were served a prediction: the flights a model
    actually saw, whatever else the window's days hold.

    Raises:
        NotEnoughDataError: no flight of the window has a prediction.
    """
    rows = current.loc[current[PREDICTION_COLUMN].notna()].reset_index(drop=True)
    if rows.empty:
        raise NotEnoughDataError(
            "No flight in the monitoring window has a prediction: there is nothing to monitor "
            "yet. Run the inference pipeline (notebooks/03_inference_pipeline.ipynb) for the "
            "window's days first; nothing was recorded.")
    return rows


def coverage(frame: pd.DataFrame) -> tuple[int, int]:
    """How many rows a frame of flights has, and over how many local days."""
    if frame.empty:
        return 0, 0
    return len(frame), int(local_day(frame["sched_dep_utc"]).nunique())
