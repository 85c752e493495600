"""Inference: score the flights of a day with a registered model; predictions are stored
as a partition of the ``predictions`` table, one per run date (re-running replaces it).

A daily run scores one day. Catching up several days (notebook 03's ``days``) gives each
day the partition its own daily run would have written: every day's flights are scored
with the features known at the start of that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from fti.config import TIME_DTYPE
from fti.errors import NotFoundError, SchemaError
from fti.registry import ModelRecord
from fti.store import FeatureGroup, FeatureStore
from fti.views import FeatureView

PREDICTIONS = FeatureGroup(
    name="predictions",
    version=1,
    description="Delay probability of every flight scheduled on the run date, with the model "
    "that made it. Partition: the run date. Event time: scheduled departure.",
    schema={
        "flight_id": "str", "sched_dep_utc": TIME_DTYPE, "carrier": "str", "origin": "str",
        "dest": "str", "sched_hour": "int64", "probability": "float64", "flag": "bool",
        "threshold": "float64", "model_name": "str", "model_version": "int64",
        "run_date": "str",
    },
    primary_key=("flight_id",),
    event_time="sched_dep_utc",
)


def features_for_day(store: FeatureStore, view: FeatureView, day: dt.date) -> pd.DataFrame:
    """The feature rows of every flight scheduled on ``day``, from the shared feature view."""
    try:
        frame = view.get(store, day, day)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc} (needed to predict {day})") from None
    if frame.empty:
        raise NotFoundError(
            f"No features for flights scheduled on {day} in {store.root}. Run the feature "
            f"pipeline for that date first (notebooks/01_feature_pipeline.ipynb with "
            f"start_date='{day}' and end_date='{day}')."
        )
    return frame


def features_for_days(store: FeatureStore, view: FeatureView,
                      days: Sequence[dt.date]) -> dict[dt.date, pd.DataFrame]:
    """:func:`features_for_day` of each day, all read (and checked) before any is scored."""
    return {day: features_for_day(store, view, day) for day in days}


def check_features(record: ModelRecord, frame: pd.DataFrame) -> None:
    """Refuse to score when the view lacks a feature the model was trained with."""
    missing = [f for f in record.features if f not in frame.columns]
    if missing:
        raise SchemaError(
            f"Model {record.name} v{record.version} expects feature(s) {missing}, which the "
            f"feature view does not provide. Retrain the model on the current view, or "
            f"choose a version trained on it (model_version)."
        )


def score(model: Any, record: ModelRecord, frame: pd.DataFrame, threshold: float,
          run_date: dt.date) -> pd.DataFrame:
    """Predictions for the rows of ``frame``, shaped as the ``predictions`` table."""
    check_features(record, frame)
    proba = model.predict_proba(frame[record.features])[:, 1]
    out = frame[["flight_id", "sched_dep_utc", "carrier", "origin", "dest", "sched_hour"]].copy()
    out["probability"] = proba.astype("float64")
    out["flag"] = out["probability"] >= threshold
    out["threshold"] = float(threshold)
    out["model_name"] = record.name
    out["model_version"] = int(record.version)
    out["run_date"] = run_date.isoformat()
    return out.astype({"model_name": "str", "run_date": "str", "model_version": "int64"})


def score_days(model: Any, record: ModelRecord, features: Mapping[dt.date, pd.DataFrame],
               threshold: float) -> pd.DataFrame:
    """:func:`score` of each day's features, one frame (the days in order)."""
    return pd.concat([score(model, record, frame, threshold, day)
                      for day, frame in sorted(features.items())], ignore_index=True)


def write_days(store: FeatureStore, predictions: pd.DataFrame) -> list[str]:
    """Write the predictions of each run date as that date's partition (a re-run replaces
    it); returns the partitions' paths."""
    return [write_predictions(store, dt.date.fromisoformat(day), part.reset_index(drop=True))
            for day, part in predictions.groupby("run_date", sort=True)]


def write_predictions(store: FeatureStore, run_date: dt.date, predictions: pd.DataFrame) -> str:
    """Replace the run date's partition of the predictions table (idempotent)."""
    store.register(PREDICTIONS)
    return str(store.write(PREDICTIONS, run_date, predictions))


def read_predictions(store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Predictions of the run dates from ``start`` to ``end``."""
    return store.read(PREDICTIONS, start, end)
