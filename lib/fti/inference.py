"""Inference: score the flights of one day with a registered model; predictions are stored
as a partition of the ``predictions`` table, one per run date (re-running replaces it)."""

from __future__ import annotations

import datetime as dt
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


def write_predictions(store: FeatureStore, run_date: dt.date, predictions: pd.DataFrame) -> str:
    """Replace the run date's partition of the predictions table (idempotent)."""
    store.register(PREDICTIONS)
    return str(store.write(PREDICTIONS, run_date, predictions))


def read_predictions(store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Predictions of the run dates from ``start`` to ``end``."""
    return store.read(PREDICTIONS, start, end)
