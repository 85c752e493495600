"""Data and prediction drift, column by column, with Evidently.

How a drift verdict is read: ``Report([ValueDrift(column=c) for c in ...],
include_tests=True)`` gives one ``ValueDrift`` metric per column in
``snapshot.dict()["metrics"]`` (its ``config`` holds ``column``, ``method`` and
``threshold``; its ``value`` is the score) and one test per column in
``snapshot.dict()["tests"]``, linked by ``metric_config.metric_id``, whose ``status`` is
``FAIL`` when Evidently detected drift. The verdict is that status, never our
own comparison of score and threshold: with more than 1000 reference rows the score is a
distance (drift when large), with fewer a p-value (drift when small).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import FTIError, NotEnoughDataError, ParameterError
from fti.files import atomic_write_text
from fti.monitoring.inputs import PREDICTION_COLUMN

_DRIFT_COLUMNS = {"column": "str", "kind": "str", "method": "str", "score": "float64",
                  "threshold": "float64", "drifted": "bool", "note": "str"}  # fmt: skip


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-column drift verdicts and their summary.

    ``columns`` has one row per monitored column: column, kind (numerical or categorical),
    method, score, threshold, drifted, and a note saying why a column was not evaluated
    ("" if it was). ``share_drifted`` is the share of the *evaluated* columns that drifted.
    """

    columns: pd.DataFrame
    share_drifted: float
    drifted_columns: list[str]
    snapshot: Any = None  # Evidently's run (a Snapshot), for its HTML and the workspace

    def score(self, column: str) -> float:
        """The drift score of one column (NaN if it was not evaluated or not monitored)."""
        row = self.columns.loc[self.columns["column"] == column, "score"]
        return float(row.iloc[0]) if len(row) else math.nan


def _why_not_evaluable(frames: Mapping[str, pd.DataFrame], column: str, numeric: bool) -> str:
    for name, frame in frames.items():
        values = frame[column].replace([np.inf, -np.inf], np.nan) if numeric else frame[column]
        if values.isna().all():
            return f"not evaluated: no values in the {name} data"
    return ""


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    html_path: Path | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share_threshold: float = 0.5,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column with Evidently's ValueDrift.

    One ``ValueDrift`` metric per column, not the ``DataDriftPreset``: the verdicts are the
    same (the preset adds these metrics too), but the preset computes every column's drift
    twice more and renders a summary table whose plots took about 40 % of a monitoring run;
    the notebook draws its own summary (:func:`fti.plots.drift_scores`).

    ``thresholds`` sets per-column drift thresholds (see :mod:`fti.calibration`); numerical
    columns are then tested with the normed Wasserstein distance those thresholds are made
    for. Without it Evidently's defaults apply. The report also holds Evidently's own
    ``DriftedColumnsCount`` of the tested features (the prediction column left out), with
    the same methods and thresholds: the share of drifted features the dashboard plots
    (its test fails from ``drift_share_threshold`` on).

    A column without values in either frame cannot be tested (Evidently would raise): it is
    listed with ``drifted=False`` and a note, and left out of ``share_drifted``. With
    ``html_path`` the Evidently report is written there (atomically, folders created).

    Raises:
        ParameterError: a column is missing, listed twice, or not numeric when it should be.
        NotEnoughDataError: a frame has no rows, or no column has values in both frames.
    """
    frames = {"reference": reference, "current": current}
    kinds = {**{c: "numerical" for c in numerical}, **{c: "categorical" for c in categorical}}
    if len(kinds) < len(numerical) + len(categorical):
        raise ParameterError(f"A column is listed twice in numerical={numerical} or "
                             f"categorical={categorical}: list each column once.")
    for name, frame in frames.items():
        missing = [c for c in kinds if c not in frame.columns]
        if missing:
            raise ParameterError(f"The {name} data lacks column(s) {missing}: monitor only "
                                 f"columns that both the reference and the current data have.")
        if frame.empty:
            raise NotEnoughDataError(f"The {name} data has no rows: run the pipeline that "
                                     f"writes it (inference, or training for the reference).")
        wrong = [c for c in numerical if not pd.api.types.is_numeric_dtype(frame[c])]
        if wrong:
            raise ParameterError(f"Column(s) {wrong} are listed as numerical but hold "
                                 f"non-numbers in the {name} data: list them as categorical.")
    notes = {c: _why_not_evaluable(frames, c, k == "numerical") for c, k in kinds.items()}
    tested = [c for c in kinds if not notes[c]]
    if not tested:
        raise NotEnoughDataError(f"No monitored column has values in both the reference and the "
                                 f"current data ({notes}); check the feature pipeline's output.")

    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    definition = DataDefinition(numerical_columns=[c for c in tested if kinds[c] == "numerical"],
                                categorical_columns=[c for c in tested if c in categorical])
    cur, ref = (Dataset.from_pandas(f[tested].reset_index(drop=True), data_definition=definition)
                for f in (current, reference))  # fmt: skip
    thresholds = thresholds or {}
    metrics = [ValueDrift(column=c, method="wasserstein", threshold=float(thresholds[c]))
               if kinds[c] == "numerical" and c in thresholds else ValueDrift(column=c)
               for c in tested]  # fmt: skip
    features = [c for c in tested if c != PREDICTION_COLUMN]
    if features:
        wasserstein = [c for c in features if kinds[c] == "numerical" and c in thresholds]
        metrics.append(DriftedColumnsCount(
            columns=features, per_column_method={c: "wasserstein" for c in wasserstein},
            per_column_threshold={c: float(thresholds[c]) for c in wasserstein},
            drift_share=float(drift_share_threshold)))
    with warnings.catch_warnings():  # Evidently's correlations warn on constant or tiny data
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="numpy")
        snapshot = Report(metrics, include_tests=True).run(cur, ref)
    verdicts = _read_verdicts(snapshot.dict())
    lost = [c for c in tested if c not in verdicts]
    if lost:
        raise FTIError(f"Evidently returned no drift verdict for {lost}. The project expects "
                       f"evidently 0.7.x: reinstall the pinned environment (make clean install).")
    rows = [(c, k, *verdicts.get(c, ("", math.nan, math.nan, False)), notes[c])
            for c, k in kinds.items()]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(_DRIFT_COLUMNS)).astype(_DRIFT_COLUMNS)
    drifted = table.loc[table["drifted"], "column"].tolist()
    if html_path is not None:
        atomic_write_text(Path(html_path), snapshot.get_html_str(as_iframe=False))
    return DriftResult(table, len(drifted) / len(tested), drifted, snapshot)


def _read_verdicts(snapshot: Mapping[str, Any]) -> dict[str, tuple[str, float, float, bool]]:
    """``{column: (method, score, threshold, drifted)}`` from a drift snapshot's ``dict()``."""
    status = {}
    for test in snapshot.get("tests", []):
        value = test.get("status")  # a TestStatus enum in dict(), a string in json()
        status[(test.get("metric_config") or {}).get("metric_id")] = str(
            getattr(value, "value", value)
        ).upper()
    verdicts = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config") or {}
        verdict = status.get(metric.get("id"))
        if str(config.get("type")).endswith(":ValueDrift") and verdict in ("SUCCESS", "FAIL"):
            threshold = config.get("threshold")
            verdicts[config["column"]] = (str(config.get("method")), float(metric["value"]),
                                          math.nan if threshold is None else float(threshold),
                                          verdict == "FAIL")  # fmt: skip
    return verdicts



def monitored_columns(features: Sequence[str],
                      categorical: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a model's feature list into the numerical and categorical columns to monitor."""
    cats = [f for f in features if f in categorical]
    return [f for f in features if f not in cats], cats



def feature_drift_share(result: DriftResult) -> float:
    """Share of drifted *features*: the prediction column is reported, but not counted."""
    rows = result.columns[(result.columns["column"] != PREDICTION_COLUMN)
                          & (result.columns["note"] == "")]
    return float(rows["drifted"].mean()) if len(rows) else math.nan

