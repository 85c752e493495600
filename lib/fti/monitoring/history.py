"""The monitoring history: one row per monitoring run, and the decision the runner reads.

The rows live in the ``monitoring_history`` table of the feature store, one partition per
run date, so re-running a date replaces its row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from fti.config import TIME_DTYPE
from fti.dates import day_start_utc, parse_day
from fti.errors import ParameterError
from fti.store import FeatureGroup, FeatureStore

HISTORY = FeatureGroup(
    name="monitoring_history",
    version=1,
    description="One row per monitoring run: the window, the model, drift, performance on "
    "the labels that had arrived, and the retrain recommendation. Partition: the run date. "
    "Event time: the start (local midnight, in UTC) of the run date.",
    schema={
        "run_date": "str", "run_at": TIME_DTYPE, "window_start": "str", "window_end": "str",
        "model_name": "str", "model_version": "int64", "n_predictions": "int64",
        "n_labelled": "int64", "n_unlabelled": "int64", "drift_share": "float64",
        "prediction_drift_score": "float64", "roc_auc": "float64", "brier": "float64",
        "log_loss": "float64", "base_rate": "float64", "mean_prediction": "float64",
        "champion_roc_auc": "float64", "drifted_columns": "str",
        "retrain_recommended": "bool", "reasons": "str",
    },  # fmt: skip
    primary_key=("run_date",),
    event_time="run_at",
)
#: History metrics a row may leave out or set to None (stored as NaN), e.g. before labels.
OPTIONAL_METRICS = ("prediction_drift_score", "roc_auc", "brier", "log_loss", "base_rate",
                    "mean_prediction", "champion_roc_auc")  # fmt: skip


def write_history(store: FeatureStore, row: Mapping[str, Any]) -> None:
    """Store one monitoring run as the partition of its run date (a re-run replaces it).

    ``row`` holds every history column but ``run_at`` (derived from ``run_date``); the
    :data:`OPTIONAL_METRICS` may be left out or None. ``drifted_columns`` and ``reasons`` may
    be lists (stored joined by "," and "; ").
    """
    expected = set(HISTORY.schema) - {"run_at"}
    missing = sorted(expected - set(row) - set(OPTIONAL_METRICS))
    extra = sorted(set(row) - expected)
    if missing or extra:
        raise ParameterError(f"A monitoring history row needs {sorted(expected)}; this one "
                             f"lacks {missing} and has unknown {extra}.")
    day = parse_day(row["run_date"], "run_date")
    values = {**{c: row.get(c) for c in expected}, "run_date": day.isoformat(),
              "run_at": day_start_utc(day)}  # fmt: skip
    for col, sep in (("drifted_columns", ","), ("reasons", "; ")):
        if not isinstance(values[col], str):
            values[col] = sep.join(values[col])
    columns = {}
    for col, dtype in HISTORY.schema.items():
        value = math.nan if col in OPTIONAL_METRICS and values[col] is None else values[col]
        if value is None or (dtype != "float64" and pd.isna(value)):
            raise ParameterError(f"History column {col!r} is empty: give it a {dtype} value.")
        try:
            columns[col] = pd.Series([value]).astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"History column {col!r}={value!r} is not {dtype}.") from exc
    store.register(HISTORY)
    store.write(HISTORY, day, pd.DataFrame(columns))


def read_history(store: FeatureStore) -> pd.DataFrame:
    """All monitoring runs sorted by run date; an empty frame with the schema if none."""
    found = store.days(HISTORY)
    if not found:
        return HISTORY.empty()
    frame = store.read(HISTORY, found[0], found[-1])
    return frame.sort_values("run_date", kind="stable").reset_index(drop=True)


def run_of(history: pd.DataFrame, run_date: str | dt.date) -> pd.Series | None:
    """The history row of ``run_date`` from :func:`read_history`, or None without one."""
    rows = history.loc[history["run_date"] == parse_day(run_date, "run_date").isoformat()]
    return rows.iloc[-1] if len(rows) else None



def record_run(store: FeatureStore, *, run_date: dt.date, window: tuple[dt.date, dt.date],
               model_name: str, model_version: int, quality: Mapping[str, Any],
               drift_share: float, prediction_drift_score: float, champion_roc_auc: float,
               drifted_columns: list[str], retrain: bool, reasons: list[str]) -> None:
    """Write the history row of one monitoring run (what notebook 04 found and decided).

    ``quality`` is :func:`fti.monitoring.performance`'s result; the other values come from
    the drift check and the recommendation.
    """
    write_history(store, {
        "run_date": run_date.isoformat(), "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(), "model_name": model_name,
        "model_version": model_version, "n_predictions": quality["n_predictions"],
        "n_labelled": quality["n_labelled"], "n_unlabelled": quality["n_unlabelled"],
        "drift_share": drift_share, "prediction_drift_score": prediction_drift_score,
        "roc_auc": quality["roc_auc"], "brier": quality["brier"],
        "log_loss": quality["log_loss"], "base_rate": quality["base_rate"],
        "mean_prediction": quality["mean_prediction"], "champion_roc_auc": champion_roc_auc,
        "drifted_columns": drifted_columns, "retrain_recommended": retrain, "reasons": reasons,
    })  # fmt: skip


def decision(store: FeatureStore, run_date: dt.date) -> tuple[bool, str]:
    """Whether the monitoring run of ``run_date`` recommends retraining, and why (or why not).

    What the runner reads back to decide whether the training pipeline runs that day.
    """
    row = run_of(read_history(store), run_date)
    if row is None:
        return False, f"monitoring wrote no result for {run_date}"
    reasons = str(row.get("reasons", "") or "").strip()
    if bool(row["retrain_recommended"]):
        return True, "monitoring recommends retraining" + (f": {reasons}" if reasons else "")
    return False, "monitoring sees no need to retrain" + (f" ({reasons})" if reasons else "")
