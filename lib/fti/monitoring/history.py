"""The monitoring history: one row per monitoring run, and the decision the runner reads.

The rows live in the ``monitoring_history`` table of the feature store, one partition per
run date, so re-running a date replaces its row. Version 2 of the table records which model
version the figures are about (version 1 stays on disk as it was; a data folder from before
starts a new history).
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
from fti.monitoring.verdict import DRIFT_VERDICTS, PERFORMANCE_VERDICTS, Recommendation
from fti.store import FeatureGroup, FeatureStore

HISTORY = FeatureGroup(
    name="monitoring_history",
    version=2,
    description="One row per monitoring run: the window, the champion (the drift reference), "
    "the model version whose predictions the performance figures are about, drift and "
    "performance with their verdicts (given only on enough data), and the retrain "
    "recommendation. Partition: the run date. Event time: the start (local midnight, in "
    "UTC) of the run date. Version 2: version 1 recorded the champion as the model of the "
    "figures even when an earlier version had made the predictions.",
    schema={
        "run_date": "str", "run_at": TIME_DTYPE, "window_start": "str", "window_end": "str",
        "model_name": "str", "champion_version": "int64", "model_version": "int64",
        "window_versions": "str", "current_rows": "int64", "current_days": "int64",
        "n_predictions": "int64", "n_labelled": "int64", "n_unlabelled": "int64",
        "labelled_days": "int64", "drift_share": "float64",
        "prediction_drift_score": "float64", "roc_auc": "float64", "roc_auc_se": "float64",
        "brier": "float64", "log_loss": "float64", "base_rate": "float64",
        "mean_prediction": "float64", "holdout_roc_auc": "float64", "drifted_columns": "str",
        "drift_verdict": "str", "performance_verdict": "str", "retrain_recommended": "bool",
        "reasons": "str",
    },  # fmt: skip
    primary_key=("run_date",),
    event_time="run_at",
)
#: History metrics a row may leave out or set to None (stored as NaN), e.g. before labels.
OPTIONAL_METRICS = ("drift_share", "prediction_drift_score", "roc_auc", "roc_auc_se", "brier",
                    "log_loss", "base_rate", "mean_prediction", "holdout_roc_auc")  # fmt: skip
#: The counts of the judged version's predictions, copied from its performance row.
_COUNTS = ("n_predictions", "n_labelled", "n_unlabelled", "labelled_days")


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
    for col, allowed in (("drift_verdict", DRIFT_VERDICTS),
                         ("performance_verdict", PERFORMANCE_VERDICTS)):
        if row[col] not in allowed:
            raise ParameterError(f"History column {col}={row[col]!r}: use one of {allowed}.")
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
               model_name: str, champion_version: int, performance: pd.DataFrame,
               current_rows: int, current_days: int, drift_share: float,
               prediction_drift_score: float, drifted_columns: list[str], advice: Recommendation,
               notes: list[str] = ()) -> None:
    """Write the history row of one monitoring run (what notebook 04 found and decided).

    ``performance`` is :func:`fti.monitoring.performance_by_version` with the holdout ROC
    AUC (:func:`fti.monitoring.with_holdout`); the row keeps the figures of the version
    the recommendation judged (``advice.judged_version``; the champion's when no version
    made predictions), and lists every version that made the window's predictions.
    ``notes`` are added to the reasons (e.g. stuck sensors).
    """
    version = champion_version if advice.judged_version is None else advice.judged_version
    figures: dict[str, Any] = {c: 0 for c in _COUNTS}
    if version in performance.index:
        row = performance.loc[version]
        figures = {c: row[c] for c in (*_COUNTS, *OPTIONAL_METRICS) if c in row.index}
    write_history(store, {
        "run_date": run_date.isoformat(), "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(), "model_name": model_name,
        "champion_version": champion_version, "model_version": version,
        "window_versions": ",".join(str(v) for v in performance.index),
        "current_rows": current_rows, "current_days": current_days, **figures,
        "drift_share": drift_share, "prediction_drift_score": prediction_drift_score,
        "drifted_columns": drifted_columns, "drift_verdict": advice.drift,
        "performance_verdict": advice.performance, "retrain_recommended": advice.retrain,
        "reasons": [*advice.reasons, *notes],
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
